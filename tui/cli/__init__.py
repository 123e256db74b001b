"""`postroom` — the console, and subcommands for scripting and headless runs.

Each subcommand module has ``register(subparsers, common)``; a handler gets
the parsed arguments and returns the exit status. Errors the operator can fix
(``StoreError``, ``ConfigError``, ``CliError``) print one line and exit 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from core.config import ConfigError
from core.store import StoreError
from tui.cli import (
    accounts,
    campaigns,
    config_cmd,
    console,
    dns_cmd,
    engine_cmd,
    lists,
    sink,
    unsubscribe_cmd,
)
from tui.cli.common import CliError, common_options

# Subcommand modules, in the order `postroom --help` lists them.
# One per line so that parallel branches merge cleanly.
COMMAND_MODULES = [
    console,
    sink,
    config_cmd,
    accounts,
    lists,
    campaigns,
    engine_cmd,
    dns_cmd,
    unsubscribe_cmd,
]


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = argparse.ArgumentParser(
        prog="postroom",
        description="Terminal operations console for email campaigns.",
        parents=[common],
        epilog="Run without a command to open the console. Each command has --help.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None) or console.open_console
    try:
        return int(handler(args) or 0)
    except (StoreError, ConfigError, CliError) as exc:
        print(f"postroom: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `postroom lists export ... | head`: the reader left; that is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
