"""Scheduled campaigns: a running engine launches them when their time comes."""

from __future__ import annotations

import asyncio

from core.engine import Engine
from core.engine.launch import schedule_campaign
from core.store import Store
from tests.support.engine_setup import (
    FakeClock,
    add_account,
    addresses,
    engine_config,
    ledger_states,
    make_campaign,
    simple_compile,
    until,
)
from tests.support.smtp_server import ScriptedSMTPServer


async def test_a_scheduled_campaign_starts_at_its_time_and_run_waits_for_it(db_path):
    clock = FakeClock()
    with ScriptedSMTPServer() as server:
        store = Store(db_path)
        account = add_account(store, "relay", server.port)
        campaign = make_campaign(store, addresses(5), {account: 1})
        schedule_campaign(store, campaign, clock.now + 3600, "ana")
        store.close()

        engine = Engine(db_path, engine_config(), clock=clock, compile=simple_compile)
        await engine.start()
        run = asyncio.create_task(engine.run())  # stays up: something is scheduled
        await asyncio.sleep(0.3)
        assert not run.done()
        assert engine.start_due() == []
        assert engine.store.campaigns.get(campaign)["state"] == "scheduled"
        assert server.received == []

        clock.advance(3600)  # the engine's own poll picks it up (no call from the test)
        await asyncio.wait_for(run, 15)

    states = ledger_states(db_path, campaign)
    assert sorted(states.values()) == ["sent"] * 5
    store = Store(db_path)
    assert store.campaigns.get(campaign)["state"] == "completed"
    actions = [row["action"] for row in store.db.all("SELECT action FROM audit_log")]
    store.close()
    assert "campaign_scheduled" in actions and "campaign_launch" in actions


async def test_a_scheduled_campaign_that_cannot_launch_goes_back_to_draft(db_path):
    clock = FakeClock()
    store = Store(db_path)
    account = add_account(store, "relay", 2525)
    campaign = make_campaign(store, addresses(2), {account: 1})
    schedule_campaign(store, campaign, clock.now - 1, "ana")
    store.campaigns.set_accounts(campaign, {})  # the pool was emptied after scheduling
    store.close()
    engine = Engine(db_path, engine_config(), clock=clock, compile=simple_compile)
    await engine.start()
    try:
        row = engine.store.campaigns.get(campaign)
        assert row["state"] == "draft"
        reason = engine.store.db.scalar(
            "SELECT detail FROM audit_log WHERE action = 'campaign_schedule_failed'"
        )
        assert "has no sending account" in reason
    finally:
        await engine.stop()


async def test_stats_show_scheduled_campaigns_and_why_a_running_one_waits(db_path):
    """The dashboard's "running and scheduled campaigns" comes from stats() alone."""
    clock = FakeClock()
    with ScriptedSMTPServer() as server:
        store = Store(db_path)
        account = add_account(store, "relay", server.port)
        running = make_campaign(store, addresses(5), {account: 1})
        later = make_campaign(store, addresses(6, prefix="later"), {account: 1}, name="later")
        store.suppressions.add("later0@example.com", "complained")
        engine = Engine(db_path, engine_config(), clock=clock, compile=simple_compile)
        await engine.start()
        try:
            store.accounts.set_state(account, "paused", "by ana")  # e.g. `postroom accounts pause`
            engine.launch(running, user="ana")
            schedule_campaign(store, later, clock.now + 600, "ana")  # e.g. launch --at elsewhere

            def scheduled() -> dict:
                return engine.stats()["campaigns"].get(str(later), {})

            await until(lambda: scheduled().get("state") == "scheduled", 5)
            assert scheduled()["scheduled_at"] == clock.now + 600
            assert scheduled()["starts_in_seconds"] == 600
            assert scheduled()["audience"] == 5 and scheduled()["total"] == 5  # one suppressed
            now = engine.stats()["campaigns"][str(running)]
            assert now["state"] == "running"
            assert now["waiting_reason"] == "no account available (relay: paused: by ana)"
            assert server.received == []

            clock.advance(600)
            await until(lambda: scheduled().get("state") == "running", 5)
        finally:
            await engine.stop()
            store.close()
