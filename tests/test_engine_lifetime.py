"""How long an engine runs: until the work is done, or with serve until stopped;
and a campaign can be retried the moment it completes."""

from __future__ import annotations

import asyncio

from core.engine import Engine
from core.store import Store
from tests.support.engine_setup import (
    add_account,
    addresses,
    engine_config,
    ledger_states,
    make_campaign,
    simple_compile,
    until,
)
from tests.support.smtp_server import ACCEPT, ScriptedSMTPServer, reply


async def test_a_paused_campaign_keeps_the_engine_up_until_it_is_resumed_and_done(db_path):
    with ScriptedSMTPServer() as server:
        store = Store(db_path)
        account = add_account(store, "relay", server.port, rate=50.0)
        campaign = make_campaign(store, addresses(20), {account: 1})
        store.close()
        engine = Engine(db_path, engine_config(), compile=simple_compile)
        await engine.start()
        engine.launch(campaign)
        engine.pause_campaign(campaign)
        run = asyncio.create_task(engine.run())
        await asyncio.sleep(1.0)  # several turns of run()'s loop
        assert not run.done(), "the engine left while a campaign was paused"
        engine.resume_campaign(campaign)
        await asyncio.wait_for(run, 30)
    assert set(ledger_states(db_path, campaign).values()) == {"sent"}
    assert len(server.received) == 20


async def test_serve_stays_up_with_nothing_to_send_and_sends_what_is_launched(db_path):
    with ScriptedSMTPServer() as server:
        store = Store(db_path)
        account = add_account(store, "relay", server.port)
        campaign = make_campaign(store, addresses(5), {account: 1})
        store.close()
        engine = Engine(db_path, engine_config(), compile=simple_compile)
        run = asyncio.create_task(engine.run(serve=True))
        await asyncio.sleep(1.0)
        assert not run.done(), "a serving engine left with nothing to send"
        engine.launch(campaign)
        await until(lambda: len(server.received) == 5)
        assert not run.done()
        engine.request_stop()
        await asyncio.wait_for(run, 30)
    assert set(ledger_states(db_path, campaign).values()) == {"sent"}


async def test_retry_right_after_completion_sends_the_requeued_rows(db_path):
    with ScriptedSMTPServer() as server:
        rejected = addresses(3, prefix="later")
        for address in rejected:
            server.script(address, [reply("554 5.7.1 Policy rejection"), ACCEPT])
        store = Store(db_path)
        account = add_account(store, "relay", server.port)
        campaign = make_campaign(store, addresses(10) + rejected, {account: 1})
        store.close()
        engine = Engine(db_path, engine_config(), compile=simple_compile)
        await engine.start()
        engine.launch(campaign)
        await until(lambda: engine.campaigns[campaign].state == "completed")
        assert engine.retry(campaign, states=("failed",)) == 3  # no wait for closing tasks
        await until(lambda: engine.campaigns[campaign].state == "completed", timeout=15)
        await engine.stop()
    assert set(ledger_states(db_path, campaign).values()) == {"sent"}
    assert server.received_counts() == {a: 1 for a in addresses(10) + rejected}


async def test_a_failing_housekeeping_turn_does_not_stop_heartbeat_or_commands(db_path):
    from core.engine import RemoteControl

    with ScriptedSMTPServer() as server:
        store = Store(db_path)
        account = add_account(store, "relay", server.port, rate=20.0)
        campaign = make_campaign(store, addresses(200), {account: 1})
        store.close()
        engine = Engine(db_path, engine_config(), compile=simple_compile)
        await engine.start()
        engine.launch(campaign)
        reload_campaigns = engine.reload_campaigns
        failures = []

        def flaky() -> None:  # e.g. "database is locked" once
            if not failures:
                failures.append(1)
                raise RuntimeError("database is locked")
            reload_campaigns()

        engine.reload_campaigns = flaky
        await until(lambda: failures)
        first_beat = Store(db_path).engine_state.holder()["heartbeat_at"]
        # A command from an attached console is still applied after the failure.
        remote = RemoteControl(db_path)
        pause = asyncio.get_running_loop().run_in_executor(
            None, lambda: remote.pause_campaign(campaign, user="ana")
        )
        await until(lambda: engine.campaigns[campaign].state == "paused")
        await pause
        await until(lambda: Store(db_path).engine_state.holder()["heartbeat_at"] > first_beat)
        await engine.stop()
    assert len(server.received) < 200
