"""Steering a real send from the console: launch, pause, rates, retry, cancel, read-only.

A real engine (in the console's process) sends to the scripted SMTP server
on loopback; the pre-launch check reads DNS from the loopback DNS server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.store import Store
from tests.support.dns_server import DnsServer
from tests.support.live import (
    account_stats,
    build_live_db,
    campaign_stats,
    live_app,
    quiet,
    row,
    settled,
    tap,
    wait_for,
)
from tests.support.screen import screen_text
from tests.support.smtp_server import ACCEPT, ScriptedSMTPServer, reply
from tui.screens.dialogs import ConfirmDialog
from tui.screens.steering import RateDialog


@pytest.fixture
def dns():
    with DnsServer() as server:
        yield server


@pytest.fixture
def smtp():
    with ScriptedSMTPServer() as server:
        yield server


async def launch(pilot, app) -> None:  # noqa: ANN001
    """`l` on :campaigns, read the check in the dialog, answer Yes."""
    await pilot.press(":", *"campaigns", "enter")
    await pilot.press("l")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
    await wait_for(pilot, lambda: app.focused is not None and app.focused.screen is app.screen)
    assert app.focused.id == "no"
    text = screen_text(app)
    assert "Launch spring now?" in text and "ready to launch" in text and "ETA" in text
    await pilot.press("y")
    await settled(pilot, app)
    app.switch_mode("dashboard")
    await pilot.pause(0.1)


def audit_actions(db_path: Path) -> list[tuple[str, str]]:
    store = Store(db_path)
    try:
        return [(e["user"], e["action"]) for e in store.audit.recent()]
    finally:
        store.close()


async def test_launch_then_pause_stops_the_server_receiving(db_path, dns, smtp) -> None:
    campaign = build_live_db(db_path, dns, smtp.port, 200, rate=50.0)
    app = live_app(db_path, dns, start_view="campaigns")
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.feed.mode == "none"
        await launch(pilot, app)
        assert "engine in-process" in app.status_line()
        await wait_for(pilot, lambda: len(smtp.received) >= 10)
        await tap(pilot, "p")
        assert row(app, "campaigns", str(campaign))[1] == "paused"  # at once, before the engine
        await settled(pilot, app)
        await quiet(0.4)  # in-flight transactions finish
        at_pause = len(smtp.received)
        await quiet(0.8)
        assert len(smtp.received) == at_pause  # nothing new after the pause
        assert campaign_stats(app, campaign)["state"] == "paused"
        assert at_pause < 200
        await tap(pilot, "p")
        await settled(pilot, app)
        await wait_for(pilot, lambda: len(smtp.received) > at_pause + 5)
        assert campaign_stats(app, campaign)["state"] == "running"
    assert max(smtp.received_counts().values()) == 1  # nothing sent twice
    actions = audit_actions(db_path)
    assert (app.user, "campaign_paused") in actions and (app.user, "campaign_running") in actions
    assert (app.user, "campaign_launch") in actions


async def test_rate_keys_change_the_engine_rate(db_path, dns, smtp) -> None:
    build_live_db(db_path, dns, smtp.port, 400, rate=20.0)
    app = live_app(db_path, dns, start_view="campaigns")
    async with app.run_test(size=(80, 24)) as pilot:
        await launch(pilot, app)
        relay = 1 + 1  # publish_good_domain's SES account is 1, relay is 2
        await tap(pilot, "tab", "plus")  # on the accounts table
        assert row(app, "accounts", str(relay))[2].endswith("/50/s")  # shown before applied
        await settled(pilot, app)
        assert account_stats(app, relay)["configured_rate"] == 50.0
        await tap(pilot, "minus", "minus")
        await settled(pilot, app)
        assert account_stats(app, relay)["configured_rate"] == 10.0
        await tap(pilot, "equals_sign")
        await wait_for(pilot, lambda: isinstance(app.screen, RateDialog))
        await tap(pilot, *"7.5", "enter")
        await settled(pilot, app)
        assert account_stats(app, relay)["configured_rate"] == 7.5
        await tap(pilot, "tab", "ctrl+d", "y")  # cancel the campaign: the test ends sooner
        await settled(pilot, app)
    assert [a for a in audit_actions(db_path) if a[1] == "set_rate"] == [(app.user, "set_rate")] * 4


async def test_retry_requeues_failed_rows(db_path, dns, smtp) -> None:
    campaign = build_live_db(db_path, dns, smtp.port, 20, rate=200.0)
    rejected = [f"user{i}@example.com" for i in (3, 7, 11)]
    for address in rejected:  # refused once, accepted when retried
        smtp.script(address, [reply("554 5.6.0 Message content rejected"), ACCEPT])
    app = live_app(db_path, dns, start_view="campaigns")
    async with app.run_test(size=(80, 24)) as pilot:
        await launch(pilot, app)
        await wait_for(pilot, lambda: campaign_stats(app, campaign).get("state") == "completed")
        assert campaign_stats(app, campaign)["counts"]["failed"] == 3
        # Engine race (reported): a retry while the finished run's connections are still
        # closing reuses the run whose dispatcher has ended, and nothing sends. Wait them out.
        run = app.control.engine.campaigns[campaign]
        await wait_for(pilot, lambda: all(task.done() for task in run.tasks))
        await tap(pilot, "r")
        await wait_for(pilot, lambda: "Retry 3 deliveries of spring" in screen_text(app))
        assert "Retry 3 deliveries of spring (3 failed)" in screen_text(app)
        assert app.focused.id == "no"
        await tap(pilot, "y")
        await settled(pilot, app)
        await wait_for(pilot, lambda: campaign_stats(app, campaign)["counts"].get("sent") == 20)
    assert all(smtp.received_by(address) == 1 for address in rejected)
    assert (app.user, "campaign_retry") in audit_actions(db_path)


async def test_cancel_then_no_changes_nothing(db_path, dns, smtp) -> None:
    campaign = build_live_db(db_path, dns, smtp.port, 200, rate=30.0)
    app = live_app(db_path, dns, start_view="campaigns")
    async with app.run_test(size=(80, 24)) as pilot:
        await launch(pilot, app)
        await tap(pilot, "ctrl+d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await wait_for(pilot, lambda: app.focused is not None and app.focused.screen is app.screen)
        assert app.focused.id == "no"
        assert "Cancel campaign spring?" in screen_text(app)
        await tap(pilot, "enter")  # the focused No
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmDialog)
        assert app.controls_pending == 0
        before = len(smtp.received)
        await wait_for(pilot, lambda: len(smtp.received) > before)  # still sending
        assert campaign_stats(app, campaign)["state"] == "running"
        await tap(pilot, "p")
        await settled(pilot, app)
    assert not [a for a in audit_actions(db_path) if "cancel" in a[1]]


async def test_readonly_refuses_every_steering_key(db_path, dns, smtp) -> None:
    campaign = build_live_db(db_path, dns, smtp.port, 10, rate=10.0)
    store = Store(db_path)
    from core.engine import launch_campaign

    launch_campaign(store, campaign, "ana", 0.0)  # running, but no engine sends it
    before = (store.campaigns.get(campaign), store.accounts.get(2), len(store.audit.recent()))
    store.close()
    app = live_app(db_path, dns, readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        await tap(pilot, "p", "plus", "minus", "equals_sign", "r", "ctrl+d", "l", "tab", "p", "d")
        app.switch_mode("campaigns")
        await tap(pilot, "l")
        app.switch_mode("accounts")
        await tap(pilot, "p")
        await pilot.pause(0.2)
        refused = [n.message for n in app._notifications if n.message.startswith("Read-only")]
        assert len(refused) == 11
        assert app.control is None and app.controls_pending == 0
        assert not isinstance(app.screen, ConfirmDialog | RateDialog)
    store = Store(db_path)
    after = (store.campaigns.get(campaign), store.accounts.get(2), len(store.audit.recent()))
    store.close()
    assert after == before
    assert len(smtp.received) == 0


async def test_a_blocking_check_refuses_the_launch(db_path, dns, smtp) -> None:
    campaign = build_live_db(db_path, dns, smtp.port, 5, rate=10.0)
    store = Store(db_path)
    store.campaigns.update(campaign, from_email="news@unpublished.example")
    store.close()
    app = live_app(db_path, dns, start_view="campaigns")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l")
        await wait_for(pilot, lambda: any("cannot launch" in n.message for n in app._notifications))
        assert not isinstance(app.screen, ConfirmDialog)
        assert app.control is None
    store = Store(db_path)
    assert store.campaigns.get(campaign)["state"] == "draft"
    store.close()


async def test_accounts_view_pauses_through_the_engine(db_path, dns, smtp) -> None:
    build_live_db(db_path, dns, smtp.port, 200, rate=30.0)
    app = live_app(db_path, dns, start_view="campaigns")
    async with app.run_test(size=(80, 24)) as pilot:
        await launch(pilot, app)
        app.switch_mode("accounts")
        await pilot.pause(0.1)
        table = app.screen.table
        table.move_cursor(row=table.get_row_index("2"))  # relay
        await tap(pilot, "p")
        await settled(pilot, app)
        assert account_stats(app, 2)["state"] == "paused"  # the engine stopped using it
        await quiet(0.3)
        at_pause = len(smtp.received)
        await quiet(0.5)
        assert len(smtp.received) == at_pause
        await tap(pilot, "ctrl+d")  # on :accounts this is delete: refused, it has history
        app.switch_mode("dashboard")
        await tap(pilot, "ctrl+d", "y")
        await settled(pilot, app)
    assert (app.user, "account_paused") in audit_actions(db_path)
