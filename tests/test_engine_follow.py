"""A running engine follows state changed through the database by other tools:
`postroom accounts pause/resume`, an edited account pool, a campaign paused or
cancelled by a store write; and `postroom campaigns pause|resume|cancel|retry`."""

from __future__ import annotations

import getpass
import time

import pytest

from core.engine import Engine, LocalControl
from core.store import Store
from tests.support.engine_setup import (
    add_account,
    addresses,
    engine_config,
    ledger_states,
    make_campaign,
    simple_compile,
    wait_until,
)
from tests.support.smtp_server import ScriptedSMTPServer, reply
from tui.cli import main

# Generous bounds: the engine re-reads edited rows each second; a busy CI core may lag.
FOLLOW_TIMEOUT = 5.0


def quiet(control: LocalControl, account_id: int) -> bool:
    """No transaction of ``account_id`` is in flight (what pause promises to reach)."""
    return control.stats()["accounts"][str(account_id)]["in_flight"] == 0


def assert_nothing_new(server: ScriptedSMTPServer, seconds: float = 0.4) -> None:
    before = len(server.received)
    time.sleep(seconds)
    assert len(server.received) == before


@pytest.fixture
def server():
    with ScriptedSMTPServer() as running:
        yield running


def cli(db_path, *argv: str) -> int:
    return main(["--db", str(db_path), *argv])


def test_accounts_pause_from_another_shell_stops_a_running_engine_and_resume_restarts(
    db_path, server, capsys
):
    store = Store(db_path)
    account = add_account(store, "relay", server.port, rate=100.0)
    campaign = make_campaign(store, addresses(300), {account: 1})
    store.close()
    control = LocalControl(Engine(db_path, engine_config(), compile=simple_compile))
    try:
        control.launch(campaign, user="ana")
        wait_until(lambda: len(server.received) >= 10)

        assert cli(db_path, "accounts", "pause", "relay") == 0  # only writes the database
        wait_until(
            lambda: control.stats()["accounts"][str(account)]["state"] == "paused", FOLLOW_TIMEOUT
        )
        wait_until(lambda: quiet(control, account))
        assert_nothing_new(server)
        reason = control.stats()["campaigns"][str(campaign)]["waiting_reason"]
        assert reason.startswith("no account available (relay: paused")

        assert cli(db_path, "accounts", "resume", "relay") == 0
        wait_until(lambda: control.stats()["campaigns"][str(campaign)]["state"] == "completed")
    finally:
        control.close()
    assert server.received_counts() == {a: 1 for a in addresses(300)}


def test_an_edited_account_pool_moves_new_messages_to_the_accounts_left(db_path):
    with ScriptedSMTPServer() as first, ScriptedSMTPServer() as second:
        store = Store(db_path)
        a = add_account(store, "first", first.port, rate=60.0)
        b = add_account(store, "second", second.port, rate=60.0)
        campaign = make_campaign(store, addresses(200), {a: 1, b: 1})
        control = LocalControl(Engine(db_path, engine_config(), compile=simple_compile))
        try:
            control.launch(campaign, user="ana")
            wait_until(lambda: len(first.received) >= 5 and len(second.received) >= 5)

            store.campaigns.set_accounts(campaign, {b: 3})  # e.g. the campaign form, elsewhere
            wait_until(
                lambda: control.stats()["campaigns"][str(campaign)]["pool"] == {str(b): 3},
                FOLLOW_TIMEOUT,
            )
            wait_until(lambda: control.stats()["accounts"][str(a)]["connections"] == 0)
            assert_nothing_new(first)
            wait_until(lambda: control.stats()["campaigns"][str(campaign)]["state"] == "completed")
        finally:
            control.close()
            store.close()
        received = first.received_counts() + second.received_counts()
        assert received == {x: 1 for x in addresses(200)}
        assert set(ledger_states(db_path, campaign).values()) == {"sent"}


def test_a_campaign_paused_or_cancelled_through_the_store_is_followed(db_path, server):
    store = Store(db_path)
    account = add_account(store, "relay", server.port, rate=100.0)
    campaign = make_campaign(store, addresses(300), {account: 1})
    control = LocalControl(Engine(db_path, engine_config(), compile=simple_compile))
    try:
        control.launch(campaign, user="ana")
        wait_until(lambda: len(server.received) >= 10)

        store.campaigns.set_state(campaign, "paused")  # another tool, straight to the store
        wait_until(
            lambda: control.stats()["campaigns"][str(campaign)]["state"] == "paused",
            FOLLOW_TIMEOUT,
        )
        wait_until(lambda: quiet(control, account))
        assert_nothing_new(server)

        store.campaigns.update(campaign, rate=400.0)
        store.campaigns.set_state(campaign, "running")
        wait_until(lambda: len(server.received) >= 40, FOLLOW_TIMEOUT)
        store.campaigns.set_state(campaign, "cancelled")
        wait_until(
            lambda: control.stats()["campaigns"][str(campaign)]["state"] == "cancelled",
            FOLLOW_TIMEOUT,
        )
        wait_until(lambda: quiet(control, account))
        assert_nothing_new(server)
    finally:
        control.close()
        store.close()
    states = ledger_states(db_path, campaign)
    sent = {email for email, state in states.items() if state == "sent"}
    assert set(states.values()) <= {"sent", "cancelled"} and "cancelled" in states.values()
    assert set(server.received_counts()) == sent  # exactly the sent ones, once each
    assert set(server.received_counts().values()) == {1}


def audit_users(db_path, action: str) -> list[str]:
    store = Store(db_path)
    try:
        rows = store.db.all("SELECT user FROM audit_log WHERE action = ?", (action,))
    finally:
        store.close()
    return [row["user"] for row in rows]


def test_campaigns_pause_resume_retry_cancel_without_an_engine(db_path, server, capsys):
    store = Store(db_path)
    account = add_account(store, "relay", server.port)
    campaign = make_campaign(store, addresses(5), {account: 1})
    store.ledger.materialise(campaign)
    store.campaigns.set_state(campaign, "running")
    store.close()

    assert cli(db_path, "campaigns", "pause", "spring") == 0
    assert "campaign spring: paused" in capsys.readouterr().out
    assert cli(db_path, "campaigns", "pause", "spring") == 1
    assert "is paused; only a running campaign can be paused" in capsys.readouterr().err
    assert cli(db_path, "campaigns", "resume", "spring") == 0

    assert cli(db_path, "campaigns", "cancel", "spring") == 1  # no terminal to ask on
    assert "cancelling a campaign needs confirmation: pass --yes" in capsys.readouterr().err
    assert set(ledger_states(db_path, campaign).values()) == {"queued"}
    assert cli(db_path, "campaigns", "cancel", "spring", "--yes") == 0
    assert "cancelled; 5 deliveries withdrawn" in capsys.readouterr().out
    assert set(ledger_states(db_path, campaign).values()) == {"cancelled"}
    assert audit_users(db_path, "campaign_cancelled") == [getpass.getuser()]
    assert audit_users(db_path, "campaign_paused") == [getpass.getuser()]

    assert cli(db_path, "campaigns", "retry", "spring", "--states", "sent") == 1
    assert "--states takes failed, deferred, unknown" in capsys.readouterr().err


def test_campaigns_commands_go_through_a_running_engine(db_path, server, capsys):
    server.script("user3@example.com", [reply("554 5.3.0 Transaction failed")])
    store = Store(db_path)
    account = add_account(store, "relay", server.port, rate=100.0)
    campaign = make_campaign(store, addresses(300), {account: 1})
    store.close()
    control = LocalControl(Engine(db_path, engine_config(), compile=simple_compile))
    try:
        control.launch(campaign, user="ana")
        wait_until(lambda: len(server.received) >= 10)
        assert cli(db_path, "campaigns", "pause", "spring") == 0
        # Applied by the engine before the command returns: nothing new starts.
        assert control.stats()["campaigns"][str(campaign)]["state"] == "paused"
        wait_until(lambda: quiet(control, account))
        assert_nothing_new(server)
        assert cli(db_path, "campaigns", "resume", "spring") == 0
        wait_until(lambda: control.stats()["campaigns"][str(campaign)]["state"] == "completed")
        assert ledger_states(db_path, campaign)["user3@example.com"] == "failed"

        assert cli(db_path, "campaigns", "retry", "spring") == 0
        assert "1 deliveries queued again" in capsys.readouterr().out
        wait_until(lambda: server.received_by("user3@example.com") == 1)
    finally:
        control.close()
    assert set(ledger_states(db_path, campaign).values()) == {"sent"}
    assert getpass.getuser() in audit_users(db_path, "campaign_paused")
