"""Opening the console: on the operator's database, or on the demo."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from core.demo import build_demo
from core.sink import CaptureServer
from tui.cli import common


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    console = subparsers.add_parser(
        "console", parents=[parent], help="open the console (the default command)"
    )
    console.add_argument("--view", default="dashboard", help="view to start on")
    console.set_defaults(handler=open_console)

    demo = subparsers.add_parser(
        "demo",
        parents=[parent],
        help="open the console on a demo database with a local capture SMTP server",
    )
    demo.add_argument("--view", default="dashboard", help="view to start on")
    demo.set_defaults(handler=open_demo)


def _run_console(db: Path, args: argparse.Namespace) -> int:
    from tui.app import PostroomApp  # textual loads only when a console opens

    app = PostroomApp(
        db,
        readonly=common.readonly(args),
        config=common.config(args),
        start_view=getattr(args, "view", "dashboard"),
    )
    app.run(mouse=app.config.get("console", "mouse"))
    return 0


def open_console(args: argparse.Namespace) -> int:
    return _run_console(common.db_path(args), args)


def open_demo(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="postroom-demo-") as workdir, CaptureServer() as sink:
        db = Path(workdir) / "demo.db"
        build_demo(db, sink.port).close()
        status = _run_console(db, args)
    print(f"demo: the capture server received {sink.handler.count} message(s).")
    return status
