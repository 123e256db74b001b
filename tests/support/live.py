"""A console with a real engine on a small test database, and ways to wait for it.

The campaign is a real one (core.content), its From domain is published on
the loopback DNS server so the pre-launch check passes, and its account
points at the scripted SMTP server.
"""

from __future__ import annotations

import asyncio
import time
import unicodedata
from pathlib import Path
from typing import Any

from textual import events
from textual.keys import _character_to_key, _get_unicode_name_from_key
from textual.widgets import DataTable

from core.config import Config
from core.engine import Engine
from core.store import Store
from tests.support.campaigns import make_campaign
from tests.support.dns_server import DnsServer
from tests.support.domains import publish_good_domain
from tests.support.engine_setup import engine_config
from tui.app import PostroomApp


def live_config() -> Config:
    config = engine_config(connection_idle_seconds=1)
    config.values["unsubscribe"].update(
        base_url="https://unsub.good.example/u", mailto="unsubscribe@good.example"
    )
    return config


def people(n: int) -> list[tuple[str, dict[str, Any]]]:
    return [(f"user{i}@example.com", {"first_name": f"U{i}", "plan": "pro"}) for i in range(n)]


def build_live_db(db_path: Path, dns: DnsServer, port: int, n: int, rate: float) -> int:
    """A draft campaign of ``n`` recipients through account "relay" on ``port``."""
    store = Store(db_path)
    try:
        publish_good_domain(dns, store)
        campaign = make_campaign(store, people(n), from_email="news@good.example", reply_to="")
        relay = store.accounts.require("relay")["id"]
        store.accounts.update(relay, port=port, rate=rate, max_connections=2)
        return campaign
    finally:
        store.close()


def live_app(db_path: Path, dns: DnsServer, **options: Any) -> PostroomApp:
    config = live_config()
    app = PostroomApp(db_path, config=config, **options)
    app.engine_factory = lambda: Engine(db_path, config, user=app.user)
    app.check_options = {"resolver": dns.resolver(timeout=0.5), "use_spamassassin": False}
    app.where = "operator@server"
    return app


async def wait_for(pilot, predicate, timeout: float = 8.0) -> None:  # noqa: ANN001 - Pilot
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await pilot.pause(0.02)


async def tap(pilot, *keys: str) -> None:  # noqa: ANN001 - Pilot
    """Press keys as a terminal would, without Pilot's wait for an idle process.

    Pilot.press waits until the process's CPU time stops advancing; with an
    engine and an SMTP server sending in this process that is up to 2 s a
    key. The console itself answers within milliseconds.
    """
    for key in keys:
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        try:
            char = unicodedata.lookup(_get_unicode_name_from_key(key))
        except KeyError:
            char = key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(pilot.app)
        pilot.app._driver.send_message(event)
        await pilot.pause(0.03)


async def settled(pilot, app: PostroomApp) -> None:  # noqa: ANN001 - Pilot
    """Until every control call the keys started has been applied."""
    await wait_for(pilot, lambda: app.controls_pending == 0)
    await pilot.pause(0.05)


def campaign_stats(app: PostroomApp, campaign_id: int) -> dict[str, Any]:
    control = app.control or app.feed.source
    return (control.stats().get("campaigns") or {}).get(str(campaign_id), {})


def account_stats(app: PostroomApp, account_id: int) -> dict[str, Any]:
    control = app.control or app.feed.source
    return (control.stats().get("accounts") or {}).get(str(account_id), {})


def row(app: PostroomApp, table: str, key: str) -> list[str]:
    data = app.screen.query_one(f"#{table}", DataTable)
    return [str(cell).strip() for cell in data.get_row(key)]


async def quiet(seconds: float) -> None:
    """Real time passing while the engine works in its own thread."""
    await asyncio.sleep(seconds)
