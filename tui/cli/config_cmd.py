"""`postroom config` — write and check the settings file."""

from __future__ import annotations

import argparse

from core.config import default_config_path, load_config, write_default_config
from tui.cli import common


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    actions = common.command_group(subparsers, parent, "config", "settings file")
    init = actions.add_parser(
        "init", parents=[parent], help="write a commented default settings file (mode 0600)"
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(handler=init_config)
    check = actions.add_parser("check", parents=[parent], help="read the settings file and report")
    check.set_defaults(handler=check_config)
    path = actions.add_parser("path", parents=[parent], help="print where the settings file is")
    path.set_defaults(handler=lambda args: print(_path(args)) or 0)


def _path(args: argparse.Namespace):  # noqa: ANN202
    return getattr(args, "config", None) or default_config_path()


def init_config(args: argparse.Namespace) -> int:
    common.require_writable(args, "write the settings file")
    path = _path(args)
    write_default_config(path, force=args.force)
    print(f"wrote {path}")
    return 0


def check_config(args: argparse.Namespace) -> int:
    path = _path(args)
    load_config(path)
    print(f"{path}: ok" if path.exists() else f"{path}: not found; using defaults")
    return 0
