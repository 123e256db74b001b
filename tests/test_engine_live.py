"""A running engine follows edits of an account's settings; the engine lock and its takeover."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from core.engine import Engine, EngineBusy
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
from tests.support.smtp_server import ScriptedSMTPServer, stall


async def test_account_edits_apply_to_a_running_engine_without_restart(db_path):
    with ScriptedSMTPServer() as server:
        store = Store(db_path)
        account = add_account(store, "relay", server.port, rate=20.0, max_connections=1)
        campaign = make_campaign(store, addresses(2000), {account: 1})
        engine = Engine(db_path, engine_config(), clock=FakeClock(), compile=simple_compile)
        await engine.start()
        try:
            engine.launch(campaign, user="ana")
            live = engine.accounts[account]
            await until(lambda: live.connections == 1)

            # Edited elsewhere (the accounts form, another process): only the database changes.
            store.accounts.update(account, rate=300.0, max_connections=3, max_per_hour=5000)
            await until(lambda: live.bucket.rate == 300.0 and live.connections == 3)
            stats = engine.stats()["accounts"][str(account)]
            assert stats["configured_rate"] == 300.0 and stats["max_per_hour"] == 5000

            store.accounts.update(account, rate=50.0, max_connections=1)
            await until(lambda: live.bucket.rate == 50.0 and live.connections == 1)
            assert engine.campaigns[campaign].running
        finally:
            await engine.stop()
            store.close()


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def hold_lock(store: Store, pid: int, host: str, heartbeat_at: float) -> None:
    with store.db.transaction():
        store.db.execute(
            "INSERT INTO engine_lock (id, run_id, pid, host, started_at, heartbeat_at)"
            " VALUES (1, 'other-run', ?, ?, ?, ?)",
            (pid, host, heartbeat_at, heartbeat_at),
        )


def audit(store: Store, action: str) -> list[str]:
    rows = store.db.all("SELECT detail FROM audit_log WHERE action = ?", (action,))
    return [row["detail"] for row in rows]


@pytest.mark.parametrize(
    "holder",
    ["dead pid on this host", "stale heartbeat on another host"],
)
async def test_the_lock_of_a_dead_engine_is_taken_over_and_logged(db_path, holder):
    store = Store(db_path)
    if holder == "dead pid on this host":
        pid, host, beat = dead_pid(), socket.gethostname(), time.time()  # fresh, but gone
    else:
        pid, host, beat = 4242, "elsewhere.example", time.time() - 60
    hold_lock(store, pid, host, beat)
    engine = Engine(db_path, engine_config(), compile=simple_compile)
    await engine.start()
    try:
        assert store.engine_state.holder()["run_id"] == engine.run_id
        assert audit(store, "engine_lock_taken_over") == [
            f"from pid {pid} on {host} (no heartbeat, or process gone)"
        ]
    finally:
        await engine.stop()
        store.close()


@pytest.mark.parametrize("host", ["this host", "another host"])
async def test_a_live_holder_refuses_a_second_engine_naming_its_pid_and_host(db_path, host):
    store = Store(db_path)
    holder_host = socket.gethostname() if host == "this host" else "mail-1.example"
    hold_lock(store, os.getpid(), holder_host, time.time())
    engine = Engine(db_path, engine_config(), compile=simple_compile)
    with pytest.raises(EngineBusy) as busy:
        await engine.start()
    assert f"pid {os.getpid()} on {holder_host}" in str(busy.value)
    assert store.engine_state.holder()["run_id"] == "other-run"  # untouched
    store.close()


async def test_a_slow_session_does_not_hold_up_a_raised_connection_limit(db_path):
    """Raising max_connections opens new sessions even while one is stuck in a transaction."""
    with ScriptedSMTPServer() as server:
        server.script("user0@example.com", stall(1.5))
        store = Store(db_path)
        account = add_account(store, "relay", server.port, max_connections=1)
        campaign = make_campaign(store, addresses(50), {account: 1})
        engine = Engine(db_path, engine_config(), compile=simple_compile)
        await engine.start()
        try:
            engine.launch(campaign, user="ana")
            await until(lambda: server.rcpt_attempts["user0@example.com"] == 1)
            store.accounts.update(account, max_connections=2)
            await until(lambda: server.received_by("user1@example.com") == 1)
            assert engine.accounts[account].slots.limit == 2
        finally:
            await engine.stop()
            store.close()
