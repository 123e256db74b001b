"""Per recipient-provider rate caps grouped by MX ([providers] in settings)."""

from __future__ import annotations

import asyncio

import pytest

from core.engine import Engine
from core.engine.providers import provider_of
from core.store import Store
from tests.support.dns_server import DnsServer
from tests.support.engine_setup import (
    FakeClock,
    add_account,
    addresses,
    engine_config,
    make_campaign,
    simple_compile,
    until,
)
from tests.support.smtp_server import ScriptedSMTPServer

GOOGLE_RATE = 5.0


def provider_config(**rates: float):
    config = engine_config()
    config.values["providers"].update({"enabled": True, **rates})
    return config


@pytest.fixture
def dns():
    with DnsServer() as server:
        server.mx("gmail.test", 5, "gmail-smtp-in.l.google.com")
        server.mx("company.test", 1, "aspmx.l.google.com")  # Workspace: Google's MX too
        server.mx("company.test", 5, "alt1.aspmx.l.google.com")
        server.mx("small.test", 10, "mx.small.test")
        yield server


def rows(store: Store, campaign: int) -> list[dict]:
    return store.db.all(
        "SELECT email, domain, state, next_attempt_at, reason, attempts FROM deliveries"
        " WHERE campaign_id = ? ORDER BY next_attempt_at",
        (campaign,),
    )


def test_mx_hosts_map_to_provider_groups():
    assert provider_of("ALT2.ASPMX.L.GOOGLE.COM.") == "google"
    assert provider_of("example-com.mail.protection.outlook.com") == "microsoft"
    assert provider_of("mta5.am0.yahoodns.net") == "yahoo"
    assert provider_of("mx01.mail.icloud.com") == "icloud"
    assert provider_of("notgoogle.com") is None


async def test_domains_sharing_googles_mx_share_one_budget_and_others_carry_on(db_path, dns):
    clock = FakeClock()  # frozen: the cap's schedule shows in the ledger instead of in time
    with ScriptedSMTPServer() as server:
        store = Store(db_path)
        account = add_account(store, "relay", server.port)
        google = addresses(6, "gmail.test") + addresses(6, "company.test", prefix="staff")
        small = addresses(8, "small.test")
        campaign = make_campaign(store, google + small, {account: 1})
        config = provider_config(google_rate=GOOGLE_RATE, other_rate=0.0)
        engine = Engine(
            db_path, config, clock=clock, compile=simple_compile, resolver=dns.resolver()
        )
        await engine.start()
        try:
            engine.launch(campaign, user="ana")
            # Uncapped small.test all goes; of the 12 Google-hosted recipients, one.
            await until(lambda: len(server.received) == 9)
            await asyncio.sleep(0.3)
            received = server.received_counts()
            assert set(small) <= set(received) and len(received) == 9
            waiting = [r for r in rows(store, campaign) if r["state"] == "queued"]
            assert len(waiting) == 11 and {r["domain"] for r in waiting} == {
                "gmail.test",
                "company.test",
            }
            # One timeline for both domains: a slot every 1/rate, no attempt counted.
            slots = [r["next_attempt_at"] - clock.now for r in waiting]
            assert slots == pytest.approx([(k + 1) / GOOGLE_RATE for k in range(11)])
            assert {r["reason"] for r in waiting} == {"google rate cap"}
            assert {r["attempts"] for r in waiting} == {0}
            assert dns.queried("gmail.test", "MX") == 1 and dns.queried("company.test", "MX") == 1

            clock.advance(1 / GOOGLE_RATE)  # the next slot comes: exactly one more goes
            await until(lambda: len(server.received) == 10)
            await asyncio.sleep(0.3)
            assert len(server.received) == 10

            clock.advance(60)  # every reserved slot has come: the rest go out
            await until(lambda: engine.campaigns[campaign].state == "completed")
        finally:
            await engine.stop()
            store.close()
    assert server.received_counts() == {a: 1 for a in google + small}


async def test_provider_caps_are_off_by_default(db_path, dns):
    with ScriptedSMTPServer() as server:
        store = Store(db_path)
        account = add_account(store, "relay", server.port)
        campaign = make_campaign(store, addresses(10, "gmail.test"), {account: 1})
        engine = Engine(db_path, engine_config(), compile=simple_compile, resolver=dns.resolver())
        await engine.start()
        try:
            assert engine.providers is None
            engine.launch(campaign, user="ana")
            await until(lambda: engine.campaigns[campaign].state == "completed")
        finally:
            await engine.stop()
            store.close()
    assert dns.queried("gmail.test") == 0
