"""`postroom sink` — the capture SMTP server on its own, to rehearse a send."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from pathlib import Path

from core.sink import Captured, CaptureServer


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    sink = subparsers.add_parser(
        "sink",
        parents=[parent],
        help="run a capture SMTP server that accepts and keeps every message",
        description="Accepts every message on HOST:PORT and prints one line per message. "
        "Point an account at it to rehearse a campaign. Ctrl-C stops it.",
    )
    sink.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    sink.add_argument("--port", type=int, default=2525, help="port to listen on (default 2525)")
    sink.add_argument("--maildir", type=Path, help="also store each message in this Maildir")
    sink.set_defaults(handler=run_sink)


def run_sink(args: argparse.Namespace) -> int:
    def show(message: Captured) -> None:
        print(message.summary(), flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with CaptureServer(args.host, args.port, args.maildir, on_message=show) as server:
        print(f"sink: listening on {server.host}:{server.port}; Ctrl-C stops", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    print(f"sink: received {server.handler.count} message(s)", flush=True)
    return 0
