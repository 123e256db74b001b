"""`postroom unsubscribe-server` — the one-click unsubscribe endpoint (RFC 8058)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading

from core.unsubscribe_server import UnsubscribeServer
from tui.cli import common


def register(subparsers: argparse._SubParsersAction, parent: argparse.ArgumentParser) -> None:
    server = subparsers.add_parser(
        "unsubscribe-server",
        parents=[parent],
        help="serve the one-click unsubscribe links (put it behind your TLS proxy)",
        description="Serves the links in List-Unsubscribe and in the bodies. GET shows a "
        "confirmation page; POST with List-Unsubscribe=One-Click suppresses the address at "
        "once. Plain HTTP: listen on loopback and let your TLS proxy serve "
        "[unsubscribe] base_url. Ctrl-C stops it.",
    )
    server.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    server.add_argument("--port", type=int, default=8025, help="port (default 8025)")
    server.set_defaults(handler=run_server)


def run_server(args: argparse.Namespace) -> int:
    common.require_writable(args, "record unsubscribes")
    httpd = UnsubscribeServer(common.db_path(args), args.host, args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    thread = threading.Thread(target=httpd.serve_forever, name="unsubscribe", daemon=True)
    thread.start()
    print(
        f"unsubscribe-server: listening on http://{args.host}:{httpd.port}; Ctrl-C stops",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    httpd.shutdown()
    httpd.server_close()
    return 0
