"""Opening the console: on the operator's database, or on the demo."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from core.demo import build_demo
from core.dkim import generate_key
from core.dnscheck.resolver import Lookup, Resolver
from core.sink import CaptureServer
from core.store import Store
from tui.cli import common

DEMO_DOMAIN = "demo.postroom.test"  # sample_data/welcome.toml sends From it


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


class DemoDns(Resolver):
    """The demo domain's DNS, answered in-process: SPF, DKIM and DMARC as they
    should be published, so the pre-launch check passes with no network."""

    def __init__(self, records: dict[tuple[str, str], tuple[Any, ...]]) -> None:
        super().__init__(timeout=1.0)
        self.records = records

    async def _query(self, name: str, rdtype: str) -> Lookup:
        records = self.records.get((name, rdtype))
        if records is None:
            return Lookup(name, rdtype, "nxdomain", ttl=300.0)
        return Lookup(name, rdtype, "ok", records, 300.0)


def demo_dns(db: Path) -> DemoDns:
    """A DKIM key for the demo domain in the demo's data directory, and its records."""
    store = Store(db)
    try:
        name, value = generate_key(store, DEMO_DOMAIN, "demo").public_dns_record()
    finally:
        store.close()
    return DemoDns(
        {
            (DEMO_DOMAIN, "TXT"): ("v=spf1 ip4:127.0.0.1 -all",),
            (f"_dmarc.{DEMO_DOMAIN}", "TXT"): (
                f"v=DMARC1; p=none; rua=mailto:dmarc@{DEMO_DOMAIN}",
            ),
            (name.rstrip(".").lower(), "TXT"): (value,),
            (DEMO_DOMAIN, "MX"): ((10, f"mx.{DEMO_DOMAIN}"),),
            (f"mx.{DEMO_DOMAIN}", "A"): ("127.0.0.1",),
        }
    )


def _run_console(
    db: Path, args: argparse.Namespace, *, can_hand_over: bool = True, **check_options: Any
) -> int:
    from tui.app import PostroomApp  # textual loads only when a console opens

    app = PostroomApp(
        db,
        readonly=common.readonly(args),
        config=common.config(args),
        start_view=getattr(args, "view", "dashboard"),
    )
    app.check_options = check_options
    app.can_hand_over = can_hand_over
    app.run(mouse=app.config.get("console", "mouse"))
    return 0


def open_console(args: argparse.Namespace) -> int:
    return _run_console(common.db_path(args), args)


def open_demo(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="postroom-demo-") as workdir, CaptureServer() as sink:
        # The demo's keys and files stay in its own directory, never the operator's.
        os.environ["XDG_DATA_HOME"] = workdir
        db = Path(workdir) / "demo.db"
        build_demo(db, sink.port).close()
        # `l` launches the welcome campaign to the capture server: a full rehearsal.
        status = _run_console(
            db, args, can_hand_over=False, resolver=demo_dns(db), use_spamassassin=False
        )
    print(f"demo: the capture server received {sink.handler.count} message(s).")
    return status
