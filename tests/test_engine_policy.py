"""Reply classes, backoff, throttling, failover, quotas: ledger vs the server's log."""

from __future__ import annotations

import json
import random

import pytest

from core.engine import Engine
from core.store import Store
from tests.support.engine_setup import (
    FakeClock,
    add_account,
    addresses,
    engine_config,
    make_campaign,
    simple_compile,
    until,
)
from tests.support.smtp_server import (
    ACCEPT,
    ScriptedSMTPServer,
    close_421,
    drop_mid_data,
    reply,
    stall,
    throttle_454,
)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
async def server():
    with ScriptedSMTPServer() as running:
        yield running


@pytest.fixture(params=[True, False], ids=["pipelined", "one-command-at-a-time"])
async def either_server(request):
    """Both transaction paths: relays with and without PIPELINING."""
    with ScriptedSMTPServer(pipelining=request.param) as running:
        yield running


def rows(engine: Engine, campaign: int) -> dict[str, dict]:
    engine.writer.flush()
    found = engine.store.db.all("SELECT * FROM deliveries WHERE campaign_id = ?", (campaign,))
    return {row["email"]: row for row in found}


async def started(db_path, clock, server, recipients, **account_values):
    store = Store(db_path)
    account = add_account(store, "relay", server.port, **account_values)
    campaign = make_campaign(store, recipients, {account: 1})
    store.close()
    engine = Engine(
        db_path,
        engine_config(smtp_timeout_seconds=0.5),
        clock=clock,
        compile=simple_compile,
        rng=random.Random(1),
    )
    await engine.start()
    engine.launch(campaign, user="ana")
    return engine, campaign, account


def settled(engine: Engine, campaign: int) -> bool:
    return engine.campaigns[campaign].counts.get("sending", 0) == 0 and not engine.campaigns[
        campaign
    ].counts.get("queued", 0)


async def test_each_reply_class_ends_in_its_ledger_state(db_path, clock, either_server):
    server = either_server
    server.script("gone@example.com", reply("550 5.1.1 No such user"))
    server.script("full@example.com", reply("552 5.2.2 Mailbox full"))
    server.script("later@example.com", reply("451 4.3.0 Try again later"))
    server.script("spam@example.com", reply("554 5.7.1 Message rejected as spam", at="data"))
    server.script("cut@example.com", drop_mid_data())
    server.script("slow@example.com", stall(1.0))
    ok = addresses(5)
    everyone = ok + [f"{n}@example.com" for n in ("gone", "full", "later", "spam", "cut", "slow")]
    engine, campaign, _ = await started(db_path, clock, server, everyone)
    try:
        await until(lambda: settled(engine, campaign))
        ledger = rows(engine, campaign)
        state = {email: row["state"] for email, row in ledger.items()}
        assert {e: state[e] for e in ok} == dict.fromkeys(ok, "sent")
        assert state["gone@example.com"] == "bounced"
        assert engine.store.suppressions.contains("gone@example.com")
        assert ledger["gone@example.com"]["last_enhanced"] == "5.1.1"
        for soft in ("full", "later", "slow"):
            assert state[f"{soft}@example.com"] == "deferred", soft
        assert state["cut@example.com"] == "unknown"  # the body went out: maybe accepted
        assert state["spam@example.com"] == "failed"
        assert not engine.store.suppressions.contains("spam@example.com")
        assert "check SPF, DKIM, DMARC" in engine.stats()["campaigns"][str(campaign)]["alert"]
        assert server.received_counts() == dict.fromkeys(ok, 1)
    finally:
        await engine.stop()


async def test_deferred_messages_back_off_then_go_out_once(db_path, clock, server):
    server.script(
        "later@example.com",
        [
            reply("451 4.3.0 Try again later"),
            reply("450 4.7.1 Greylisted, try again in 900 seconds"),
        ],
    )
    engine, campaign, _ = await started(db_path, clock, server, ["later@example.com"])
    try:
        first = clock()
        await until(lambda: rows(engine, campaign)["later@example.com"]["state"] == "deferred")
        row = rows(engine, campaign)["later@example.com"]
        assert 300 * 0.8 <= row["next_attempt_at"] - first <= 300 * 1.2
        assert row["attempts"] == 1

        clock.advance(250)  # not due yet: nothing is retried
        await until(lambda: engine.campaigns[campaign].idle_reason is not None)
        assert server.rcpt_attempts["later@example.com"] == 1

        clock.advance(row["next_attempt_at"] - clock() + 1)
        await until(lambda: rows(engine, campaign)["later@example.com"]["attempts"] == 2)
        row = rows(engine, campaign)["later@example.com"]
        assert row["next_attempt_at"] - clock() >= 900  # the named wait beats 600 s +/- 20 %

        clock.advance(901)
        await until(lambda: engine.campaigns[campaign].state == "completed")
        assert rows(engine, campaign)["later@example.com"]["state"] == "sent"
        assert server.received_by("later@example.com") == 1
    finally:
        await engine.stop()


async def test_a_message_failing_longer_than_the_give_up_age_fails(db_path, clock, server):
    server.script("never@example.com", reply("451 4.3.0 Try again later"))
    engine, campaign, _ = await started(db_path, clock, server, ["never@example.com"])
    try:
        engine.config.values["engine"]["give_up_after_seconds"] = 3000
        for attempts in (1, 2, 3, 4, 5):
            await until(
                lambda a=attempts: rows(engine, campaign)["never@example.com"]["attempts"] == a
            )
            row = rows(engine, campaign)["never@example.com"]
            if row["state"] == "failed":
                break
            clock.advance(row["next_attempt_at"] - clock())
        assert attempts == 5  # ~300 + 600 + 1200 + 2400 s: the 5th attempt is past 3000 s
        await until(lambda: engine.campaigns[campaign].state == "completed")
        row = rows(engine, campaign)["never@example.com"]
        assert row["state"] == "failed"
        assert row["reason"].startswith("gave up after")
    finally:
        await engine.stop()


async def test_throttling_slows_the_account_and_requeues_without_an_attempt(db_path, clock, server):
    server.script("a@example.com", [throttle_454(), ACCEPT])
    engine, campaign, account = await started(db_path, clock, server, ["a@example.com"], rate=100.0)
    try:
        await until(lambda: rows(engine, campaign)["a@example.com"]["last_code"] == 454)
        row = rows(engine, campaign)["a@example.com"]
        assert row["state"] == "queued"
        assert row["attempts"] == 0
        assert row["next_attempt_at"] - clock() >= 60
        acc = engine.stats()["accounts"][str(account)]
        assert acc["rate"] == 50.0 and acc["configured_rate"] == 100.0
        assert "Throttling" in acc["last_error"]
        clock.advance(61)
        await until(lambda: engine.campaigns[campaign].state == "completed")
        assert server.received_by("a@example.com") == 1
        # Slow recovery: a step every 30 s without throttling, back to the configured rate.
        assert engine.stats()["accounts"][str(account)]["rate"] == 50.0 * 1.25**2  # 61 s later
        clock.advance(600)
        assert engine.stats()["accounts"][str(account)]["rate"] == 100.0
        attempts = engine.store.deliveries.attempts(row["id"])
        assert [a["outcome"] for a in attempts] == ["throttled", "sent"]
    finally:
        await engine.stop()


async def test_421_closes_the_session_and_the_message_goes_out_on_a_new_one(
    db_path, clock, either_server
):
    server = either_server
    server.script_count(3, close_421())
    recipients = addresses(6)
    engine, campaign, _ = await started(db_path, clock, server, recipients, max_connections=1)
    try:
        await until(lambda: engine.campaigns[campaign].state == "completed")
        assert server.received_counts() == dict.fromkeys(recipients, 1)
        assert server.sessions == 2
    finally:
        await engine.stop()


async def test_sessions_are_recycled_after_the_per_connection_cap(db_path, clock, server):
    recipients = addresses(10)
    engine, campaign, _ = await started(
        db_path, clock, server, recipients, max_connections=1, max_messages_per_connection=3
    )
    try:
        await until(lambda: engine.campaigns[campaign].state == "completed")
        assert server.sessions == 4
    finally:
        await engine.stop()


async def test_suppressed_after_launch_is_not_sent(db_path, clock, server):
    store = Store(db_path)
    account = add_account(store, "relay", server.port)
    campaign = make_campaign(store, addresses(3), {account: 1})
    store.close()
    engine = Engine(db_path, engine_config(), clock=clock, compile=simple_compile)
    await engine.start()
    try:
        engine.launch(campaign, user="ana")  # connections are still opening
        engine.store.suppressions.add("user1@example.com", "unsubscribed")
        await until(lambda: engine.campaigns[campaign].state == "completed")
        ledger = rows(engine, campaign)
        assert ledger["user1@example.com"]["state"] == "suppressed"
        assert ledger["user1@example.com"]["reason"] == "unsubscribed"
        assert server.received_by("user1@example.com") == 0
        assert server.received_by("user0@example.com") == 1
    finally:
        await engine.stop()


async def test_hourly_quota_holds_across_restarts_and_reopens_with_time(db_path, clock, server):
    recipients = addresses(8)
    engine, campaign, account = await started(db_path, clock, server, recipients, max_per_hour=5)
    try:
        await until(lambda: len(server.received) == 5)
        await until(
            lambda: (
                "hourly quota reached"
                in (engine.stats()["campaigns"][str(campaign)]["waiting_reason"] or "")
            )
        )
        assert engine.stats()["accounts"][str(account)]["quota_left_hour"] == 0
    finally:
        await engine.stop()
    assert len(server.received) == 5

    again = Engine(db_path, engine_config(), clock=clock, compile=simple_compile)
    await again.start()
    try:
        await until(lambda: again.stats()["campaigns"][str(campaign)]["waiting_reason"] is not None)
        assert "hourly quota" in again.stats()["campaigns"][str(campaign)]["waiting_reason"]
        assert len(server.received) == 5
        clock.advance(3700)
        await until(lambda: again.campaigns[campaign].state == "completed")
        assert server.received_counts() == dict.fromkeys(recipients, 1)
    finally:
        await again.stop()


async def test_a_warm_up_plan_caps_the_first_day(db_path, clock, server):
    engine, campaign, account = await started(
        db_path, clock, server, addresses(6), warmup=json.dumps([2, 4])
    )
    try:
        await until(lambda: len(server.received) == 2)
        await until(
            lambda: (
                "warm-up day 1 cap reached (2)"
                in (engine.stats()["campaigns"][str(campaign)]["waiting_reason"] or "")
            )
        )
        clock.advance(86400 + 60)  # day 2: cap 4 over the rolling day
        await until(lambda: len(server.received) == 6)
        assert engine.stats()["accounts"][str(account)]["warmup_day"] == 2
    finally:
        await engine.stop()


async def test_an_auth_failure_pauses_that_account_and_the_other_carries_on(db_path, clock):
    bad = ScriptedSMTPServer(auth_fail=True, auth_require_tls=False).start()
    good = ScriptedSMTPServer().start()
    try:
        store = Store(db_path)
        broken = add_account(
            store,
            "broken",
            bad.port,
            auth="password",
            username="news",
            secret="db:wrong",
            allow_plaintext_auth=1,
        )
        healthy = add_account(store, "healthy", good.port)
        recipients = addresses(20)
        campaign = make_campaign(store, recipients, {broken: 3, healthy: 1})
        store.close()
        engine = Engine(db_path, engine_config(), clock=clock, compile=simple_compile)
        await engine.start()
        engine.launch(campaign, user="ana")
        await until(lambda: engine.campaigns[campaign].state == "completed")
        stats = engine.stats()
        assert stats["accounts"][str(broken)]["state"] == "paused_auto"
        assert "535" in stats["accounts"][str(broken)]["state_reason"]
        assert good.received_counts() == dict.fromkeys(recipients, 1)
        assert bad.received == []
        assert engine.store.accounts.get(broken)["state"] == "paused_auto"
        await engine.stop()
    finally:
        bad.stop()
        good.stop()


async def test_when_every_account_is_unavailable_the_campaign_waits(db_path, clock, server):
    engine, campaign, account = await started(db_path, clock, server, addresses(3))
    try:
        engine.pause_account(account, user="ana")
        await until(lambda: True)
        reason = engine.stats()["campaigns"][str(campaign)]["waiting_reason"]
        assert reason == "no account available (relay: paused)"
        engine.resume_account(account, user="ana")
        await until(lambda: engine.campaigns[campaign].state == "completed")
    finally:
        await engine.stop()


async def test_weights_share_the_load_between_healthy_accounts(db_path, clock):
    one, two = ScriptedSMTPServer().start(), ScriptedSMTPServer().start()
    try:
        store = Store(db_path)
        a = add_account(store, "a", one.port, max_connections=2)
        b = add_account(store, "b", two.port, max_connections=2)
        campaign = make_campaign(store, addresses(80), {a: 3, b: 1})
        store.close()
        engine = Engine(db_path, engine_config(), clock=clock, compile=simple_compile)
        await engine.start()
        engine.launch(campaign, user="ana")
        await until(lambda: engine.campaigns[campaign].state == "completed")
        await engine.stop()
        assert len(one.received) + len(two.received) == 80
        assert 50 <= len(one.received) <= 70
    finally:
        one.stop()
        two.stop()


async def test_cancel_mid_send_stops_the_rest(db_path, clock, server):
    engine, campaign, _ = await started(db_path, clock, server, addresses(200), rate=50.0)
    try:
        await until(lambda: len(server.received) >= 3)
        engine.cancel_campaign(campaign, user="ana")
        await until(lambda: engine.campaigns[campaign].counts.get("sending", 0) == 0)
        counts = engine.store.ledger.counts(campaign)
        assert counts["cancelled"] > 150
        assert counts["sent"] == len(server.received)
        assert set(counts) == {"sent", "cancelled"}
    finally:
        await engine.stop()


async def test_a_template_error_fails_only_that_recipient(db_path, clock, server):
    store = Store(db_path)
    account = add_account(store, "relay", server.port)
    campaign = make_campaign(
        store, addresses(3), {account: 1}, fields={"user1@example.com": {"broken": 1}}
    )
    store.close()
    engine = Engine(db_path, engine_config(), clock=clock, compile=simple_compile)
    await engine.start()
    try:
        engine.launch(campaign, user="ana")
        await until(lambda: engine.campaigns[campaign].state == "completed")
        ledger = rows(engine, campaign)
        assert ledger["user1@example.com"]["state"] == "failed"
        assert "first_name" in ledger["user1@example.com"]["reason"]
        assert len(server.received) == 2
    finally:
        await engine.stop()


async def test_a_live_rate_change_applies_without_a_restart_and_is_logged(db_path, clock, server):
    recipients = addresses(100)
    engine, campaign, account = await started(db_path, clock, server, recipients, rate=2.0)
    try:
        await until(lambda: len(server.received) >= 1)
        # At 2/s the rest would take ~50 s; the new rate must apply to the next token.
        engine.set_rate("account", account, 2000.0, user="ana")
        assert engine.stats()["accounts"][str(account)]["configured_rate"] == 2000.0
        await until(lambda: engine.campaigns[campaign].state == "completed", timeout=10)
        engine.set_rate("campaign", campaign, 5.0, user="bob")
        log = engine.store.audit.recent()
        assert [
            (e["user"], e["target"], e["detail"]) for e in log if e["action"] == "set_rate"
        ] == [
            ("bob", f"campaign:{campaign}", "None -> 5.0 msg/s"),
            ("ana", f"account:{account}", "2.0 -> 2000.0 msg/s"),
        ]
        assert engine.store.accounts.get(account)["rate"] == 2000.0
    finally:
        await engine.stop()


@pytest.mark.parametrize("fate", ["late_250", "dropped"])
async def test_a_lost_reply_after_the_message_went_out_is_unknown_not_resent(
    db_path, clock, either_server, fate
):
    """RFC 1047: once the final dot is sent, a lost reply may hide an accepted message."""
    server = either_server
    action = stall(1.0, at="data") if fate == "late_250" else drop_mid_data()
    server.script("lost@example.com", [action])  # accepted on any later attempt
    engine, campaign, _ = await started(db_path, clock, server, ["lost@example.com", "ok@x.com"])
    try:
        await until(lambda: engine.campaigns[campaign].state == "completed")
        row = rows(engine, campaign)["lost@example.com"]
        assert row["state"] == "unknown"
        assert "may have" in row["reason"]
        assert server.rcpt_attempts["lost@example.com"] == 1
        assert server.received_by("lost@example.com") == (1 if fate == "late_250" else 0)
        assert rows(engine, campaign)["ok@x.com"]["state"] == "sent"
    finally:
        await engine.stop()


async def test_a_reply_arriving_after_cancel_does_not_leave_a_row_waiting(db_path, clock, server):
    server.script("slow@example.com", stall(0.3))  # then 451 4.4.2: a deferral
    engine, campaign, _ = await started(db_path, clock, server, ["slow@example.com"])
    try:
        await until(lambda: engine.campaigns[campaign].in_flight == 1)
        engine.cancel_campaign(campaign, user="ana")
        await until(lambda: engine.campaigns[campaign].in_flight == 0)
        assert rows(engine, campaign)["slow@example.com"]["state"] == "cancelled"
        assert engine.store.ledger.pending(campaign) == 0
    finally:
        await engine.stop()
