"""Campaigns outlive the console: attach to `postroom run`, and hand a send over to it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable

from core.engine import launch_campaign, running_engine
from core.store import Store
from tests.support.console import make_app
from tests.support.dns_server import DnsServer
from tests.support.engine_setup import add_account, addresses, ledger_states, make_campaign
from tests.support.live import build_live_db, live_app, row, settled, tap, wait_for
from tests.support.smtp_server import ScriptedSMTPServer
from tui.live import engine_log_path
from tui.screens.dialogs import ConfirmDialog
from tui.screens.steering import QuitDialog

ROOT = Path(__file__).resolve().parent.parent
ENTRY = "import sys; from tui.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture
def smtp():
    with ScriptedSMTPServer() as server:
        yield server


def received(smtp: ScriptedSMTPServer, prefix: str) -> int:
    return sum(n for rcpt, n in smtp.received_counts().items() if rcpt.startswith(prefix))


def wait_sync(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def stop(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)


async def test_a_console_attaches_to_postroom_run_and_leaves_it_running(db_path, smtp) -> None:
    store = Store(db_path)
    relay = add_account(store, "relay", smtp.port, rate=40.0, max_connections=1)
    spring = make_campaign(
        store, addresses(400, prefix="spring"), {relay: 1}, "spring", text_body="Hi {{ email }}"
    )
    # A second campaign keeps `postroom run` up while spring is paused: today it exits
    # as soon as no campaign is running (reported to the engine's owner).
    autumn = make_campaign(
        store, addresses(400, prefix="autumn"), {relay: 1}, "autumn", text_body="Hi {{ email }}"
    )
    for campaign in (spring, autumn):
        launch_campaign(store, campaign, "ana", time.time())
    store.close()
    engine = subprocess.Popen(
        [sys.executable, "-c", ENTRY, "--db", str(db_path), "run"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_sync(lambda: received(smtp, "spring") >= 3)
        app = make_app(db_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.3)
            assert "engine attached" in app.status_line()
            table = app.screen.query_one("#campaigns", DataTable)
            table.move_cursor(row=table.get_row_index(str(spring)))
            await tap(pilot, "p")
            assert row(app, "campaigns", str(spring))[1] == "paused"  # before the engine applied it
            await settled(pilot, app)
            await asyncio.sleep(0.3)  # in-flight transactions finish
            at_pause = received(smtp, "spring")
            await asyncio.sleep(0.6)
            assert received(smtp, "spring") == at_pause
            assert row(app, "campaigns", str(spring))[1] == "paused"  # now from the engine
            await tap(pilot, "p")
            await settled(pilot, app)
            await wait_for(pilot, lambda: received(smtp, "spring") > at_pause)
            await tap(pilot, ":", "q", "enter")
            await wait_for(pilot, lambda: not app.is_running)
        assert engine.poll() is None  # the console left; the engine did not
        after_console = len(smtp.received)
        wait_sync(lambda: len(smtp.received) > after_console + 10)
    finally:
        engine.send_signal(signal.SIGTERM)
        _, err = engine.communicate(timeout=20)
    assert engine.returncode == 0, err.decode()
    store = Store(db_path)
    audit = [(e["user"], e["action"]) for e in store.audit.recent()]
    store.close()
    assert (app.user, "campaign_paused") in audit and (app.user, "campaign_running") in audit
    states = ledger_states(db_path, spring)
    assert "sending" not in states.values()
    assert max(smtp.received_counts().values()) == 1


async def test_quitting_hands_the_send_over_to_a_detached_engine(db_path, smtp) -> None:
    with DnsServer() as dns:
        campaign = build_live_db(db_path, dns, smtp.port, 300, rate=40.0)
        app = live_app(db_path, dns, start_view="campaigns")
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("l")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await settled(pilot, app)
            await wait_for(pilot, lambda: len(smtp.received) >= 5)
            console_pid = os.getpid()
            await tap(pilot, "ctrl+c")
            await wait_for(pilot, lambda: isinstance(app.screen, QuitDialog))
            assert app.focused.id == "background"  # a stray Enter keeps the send going
            await tap(pilot, "enter")
            await wait_for(pilot, lambda: not app.is_running)
    holder: dict = {}

    def detached() -> bool:
        holder.update(running_engine(db_path) or {})
        return bool(holder) and holder["pid"] != console_pid

    try:
        wait_sync(detached)
        at_handover = len(smtp.received)
        wait_sync(lambda: len(smtp.received) > at_handover + 10)
        assert engine_log_path(db_path).exists()
    finally:
        if holder.get("pid") and holder["pid"] != console_pid:
            stop(holder["pid"])
            wait_sync(lambda: running_engine(db_path) is None, timeout=20)
    states = ledger_states(db_path, campaign)
    assert "sending" not in states.values() and "unknown" not in states.values()
    sent = {email for email, state in states.items() if state == "sent"}
    assert sent == set(smtp.received_counts())
    assert max(smtp.received_counts().values()) == 1  # nothing sent twice across the hand-over
