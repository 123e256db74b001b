"""Options and helpers every subcommand shares."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from core.config import Config, default_config_path, default_db_path, load_config
from core.store import Store


class CliError(Exception):
    """A one-line error for the operator."""


def common_options() -> argparse.ArgumentParser:
    """--db, --config and --readonly, accepted before or after the command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        type=Path,
        default=argparse.SUPPRESS,
        help="database file (default: $POSTROOM_DB, else $XDG_DATA_HOME/postroom/postroom.db)",
    )
    common.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help="settings file (default: $POSTROOM_CONFIG, else $XDG_CONFIG_HOME/postroom/config.toml)",
    )
    common.add_argument(
        "--readonly",
        action="store_true",
        default=argparse.SUPPRESS,
        help="refuse every action that changes data or sends mail",
    )
    return common


def db_path(args: argparse.Namespace) -> Path:
    return getattr(args, "db", None) or default_db_path()


def config(args: argparse.Namespace) -> Config:
    return load_config(getattr(args, "config", None) or default_config_path())


def readonly(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "readonly", False))


def open_store(args: argparse.Namespace) -> Store:
    return Store(db_path(args))


def require_writable(args: argparse.Namespace, what: str) -> None:
    if readonly(args):
        raise CliError(f"read-only: refusing to {what}")


def current_user() -> str:
    return getpass.getuser()


def command_group(
    subparsers: argparse._SubParsersAction,
    parent: argparse.ArgumentParser,
    name: str,
    help: str,
) -> argparse._SubParsersAction:
    """The actions of ``postroom NAME``, shared by every module that adds one.

    Several modules add actions to one group (the engine adds ``campaigns
    launch``, the campaigns module ``campaigns create``): the first call
    creates the group, later calls get the same one.
    """
    # Kept on the subparsers object itself: a module-level cache keyed by id()
    # could hand a new parser the group of a collected one.
    groups = subparsers.__dict__.setdefault("postroom_groups", {})
    if name not in groups:
        group = subparsers.add_parser(name, parents=[parent], help=help)
        groups[name] = group.add_subparsers(dest="action", metavar="ACTION", required=True)
    return groups[name]
