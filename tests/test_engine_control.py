"""Driving the engine: LocalControl (own thread), RemoteControl (through the database)."""

from __future__ import annotations

import time

import pytest

from core.engine import Engine, EngineBusy, LocalControl, RemoteControl, running_engine
from core.store import Store, StoreError
from tests.support.engine_setup import (
    add_account,
    addresses,
    engine_config,
    ledger_states,
    make_campaign,
    simple_compile,
    wait_until,
)
from tests.support.smtp_server import ScriptedSMTPServer


def campaign_stats(control, campaign_id: int) -> dict:
    return control.stats().get("campaigns", {}).get(str(campaign_id), {})


@pytest.fixture
def server():
    with ScriptedSMTPServer() as running:
        yield running


def test_local_control_sends_and_reports_stats(db_path, server):
    store = Store(db_path)
    account = add_account(store, "relay", server.port)
    campaign = make_campaign(store, addresses(30), {account: 1})
    store.close()

    control = LocalControl(Engine(db_path, engine_config(), compile=simple_compile))
    try:
        assert control.mode == "in-process"
        assert running_engine(db_path)["pid"] > 0
        control.launch(campaign, user="ana")
        wait_until(lambda: campaign_stats(control, campaign).get("state") == "completed")
        stats = campaign_stats(control, campaign)
        assert stats["counts"]["sent"] == 30
        assert stats["total"] == 30
        assert len(stats["history"]) == 60 and sum(stats["history"]) == 30
        account_stats = control.stats()["accounts"][str(account)]
        assert account_stats["sent_day"] == 30
        assert account_stats["name"] == "relay"
    finally:
        control.close()
    assert running_engine(db_path) is None
    assert server.received_counts() == {a: 1 for a in addresses(30)}


def test_a_second_engine_is_refused_naming_the_holder(db_path, server):
    Store(db_path).close()
    control = LocalControl(Engine(db_path, engine_config(), compile=simple_compile))
    try:
        with pytest.raises(EngineBusy, match=r"pid \d+ on "):
            LocalControl(Engine(db_path, engine_config(), compile=simple_compile))
    finally:
        control.close()


def test_pause_stops_new_transactions_and_resume_finishes(db_path, server):
    store = Store(db_path)
    account = add_account(store, "relay", server.port, rate=40.0)
    campaign = make_campaign(store, addresses(40), {account: 1})
    store.close()

    control = LocalControl(Engine(db_path, engine_config(), compile=simple_compile))
    try:
        control.launch(campaign, user="ana")
        wait_until(lambda: len(server.received) >= 5)
        control.pause_campaign(campaign, user="ana")
        at_pause = len(server.received)
        time.sleep(0.3)
        # In-flight transactions may finish; nothing new starts after pause() returns.
        assert len(server.received) <= at_pause + 2
        assert campaign_stats(control, campaign)["state"] == "paused"
        control.resume_campaign(campaign, user="ana")
        wait_until(lambda: campaign_stats(control, campaign).get("state") == "completed")
    finally:
        control.close()
    assert server.received_counts() == {a: 1 for a in addresses(40)}


def test_remote_control_applies_commands_and_reads_stats(db_path, server):
    store = Store(db_path)
    account = add_account(store, "relay", server.port, rate=20.0)
    campaign = make_campaign(store, addresses(200), {account: 1})
    store.close()

    control = LocalControl(Engine(db_path, engine_config(), compile=simple_compile))
    remote = RemoteControl(db_path)
    try:
        assert remote.mode == "attached"
        remote.launch(campaign, user="bob")
        wait_until(lambda: campaign_stats(remote, campaign).get("counts", {}).get("sent", 0) > 0)
        remote.pause_campaign(campaign, user="bob")
        assert campaign_stats(control, campaign)["state"] == "paused"
        remote.set_rate("account", account, 500.0, user="bob")
        with pytest.raises(StoreError, match="no account"):
            remote.set_rate("account", 999, 5.0, user="bob")
        remote.resume_campaign(campaign, user="bob")
        wait_until(lambda: campaign_stats(remote, campaign).get("state") == "completed")
    finally:
        remote.close()
        control.close()
    store = Store(db_path)
    log = store.audit.recent()
    assert any(e["action"] == "set_rate" and e["user"] == "bob" for e in log)
    store.close()
    assert set(ledger_states(db_path, campaign).values()) == {"sent"}


def test_a_malformed_command_is_refused_and_later_commands_still_apply(db_path, server):
    """A command row another console wrote wrong must not stop the engine's housekeeping."""
    store = Store(db_path)
    account = add_account(store, "relay", server.port)
    store.close()
    control = LocalControl(Engine(db_path, engine_config(), compile=simple_compile))
    remote = RemoteControl(db_path)
    try:
        with pytest.raises(StoreError, match="pause_account: TypeError"):
            remote._submit("pause_account", "bob", account=account)  # not account_id
        remote.pause_account(account, user="bob")
        assert remote.store.accounts.get(account)["state"] == "paused"
    finally:
        remote.close()
        control.close()
