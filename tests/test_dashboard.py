"""The dashboard: live snapshots drawn by key, alerts, toasts, and no engine at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable

from core.store import Store
from tests.support.snapshots import AT, StaticSource, busy_snapshot, campaign
from tui.app import PostroomApp
from tui.screens.audit import AuditScreen
from tui.screens.dashboard import DashboardScreen
from tui.widgets.alert_strip import AlertStrip, BounceWatch, alerts_in, events
from tui.widgets.gauges import duration, progress_bar, sparkline


def live_app(db_path: Path, snapshot: dict | None = None) -> tuple[PostroomApp, StaticSource]:
    app = PostroomApp(db_path)
    source = StaticSource(snapshot or busy_snapshot())
    app.feed.source = source
    app.where = "ops@mx1"  # the header names them: keep them fixed
    return app, source


def cells(app: PostroomApp, table: str) -> dict[str, list[str]]:
    data = app.screen.query_one(f"#{table}", DataTable)
    return {str(key.value): [str(c).strip() for c in data.get_row(key)] for key in data.rows}


async def test_campaigns_and_accounts_show_the_engine_numbers(db_path: Path) -> None:
    app, _ = live_app(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        campaigns = cells(app, "campaigns")
        assert campaigns["1"][:4] == ["spring-sale", "running", "██░░░  41%", "48,210"]
        assert campaigns["1"][-2:] == ["42/s", "28m08s"]
        assert "paused" in campaigns["3"]
        accounts = cells(app, "accounts")
        assert accounts["3"][1] == "auto-paused"
        assert accounts["1"][3] == "21,400/h"
        alerts = app.screen.query_one(AlertStrip).alerts
        assert [a.key for a in alerts] == ["paused:3", "unknown:2"]
        assert "engine in-process 50/s" in app.status_line()


async def test_a_tick_updates_cells_in_place_and_keeps_the_selection(db_path: Path) -> None:
    app, source = live_app(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        table = app.screen.query_one("#campaigns", DataTable)
        await pilot.press("down")  # weekly-digest
        assert app.screen.selected_key("campaigns") == "2"
        source.snapshot["campaigns"]["2"]["counts"]["sent"] = 7_700
        del source.snapshot["campaigns"]["3"]
        source.snapshot["campaigns"]["4"] = campaign("autumn", "scheduled", 900, queued=900)
        await pilot.pause(0.6)
        assert cells(app, "campaigns")["2"][3] == "7,700"
        assert set(cells(app, "campaigns")) == {"1", "2", "4"}
        assert app.screen.selected_key("campaigns") == "2"
        assert table.row_count == 3


async def test_a_hidden_dashboard_draws_nothing(db_path: Path) -> None:
    app, source = live_app(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        dashboard = app.screen
        assert isinstance(dashboard, DashboardScreen)
        await pilot.press(":", *"logs", "enter")
        await pilot.pause()
        draws, polls = dashboard.draws, source.calls
        await pilot.pause(0.8)
        assert source.calls > polls  # the header and toasts still follow the engine
        assert dashboard.draws == draws
        await pilot.press(":", *"dashboard", "enter")
        await pilot.pause()
        assert dashboard.draws > draws


async def test_finished_campaign_and_auto_paused_account_toast(db_path: Path) -> None:
    app, source = live_app(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        source.snapshot["campaigns"]["2"]["state"] = "completed"
        source.snapshot["accounts"]["2"]["state"] = "paused_auto"
        source.snapshot["accounts"]["2"]["state_reason"] = "auth failed"
        await pilot.pause(0.6)
        messages = [n.message for n in app._notifications]
        assert any("weekly-digest finished" in m for m in messages)
        assert any("Postroom paused account own-mta: auth failed" in m for m in messages)


async def test_without_an_engine_the_ledger_is_shown(db_path: Path) -> None:
    store = Store(db_path)
    cid = store.campaigns.create(name="spring")
    store.campaigns.set_state(cid, "paused")
    store.accounts.create(name="ses", host="h", port=25, max_per_hour=500)
    store.close()
    app = PostroomApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        assert cells(app, "campaigns")[str(cid)][:2] == ["spring", "paused"]
        assert cells(app, "accounts")["1"][3] == "500/h"
        assert "engine none" in app.status_line()


async def test_dashboard_reflows_when_resized(db_path: Path) -> None:
    app, _ = live_app(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        table = app.screen.query_one("#campaigns", DataTable)
        assert "spark" not in [c.value for c in table.columns]
        await pilot.resize_terminal(120, 40)
        await pilot.pause(0.3)
        assert "spark" in [c.value for c in table.columns]
        assert cells(app, "campaigns")["2"][-1] == "████████████████████"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_dashboard_snapshot(snap_compare, db_path: Path, size) -> None:  # noqa: ANN001
    app, _ = live_app(db_path)
    assert snap_compare(app, terminal_size=size, run_before=_settle)


async def _settle(pilot) -> None:  # noqa: ANN001 - textual Pilot
    await pilot.pause(0.3)


async def test_audit_view_lists_actions_newest_first(db_path: Path) -> None:
    store = Store(db_path)
    store.audit.record("alice", "pause", "campaign spring", "")
    store.audit.record("bob", "rate", "account ses", "10/s -> 5/s")
    store.close()
    app = PostroomApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(":", *"audit", "enter")
        await pilot.pause()
        assert isinstance(app.screen, AuditScreen)
        rows = [app.screen.table.get_row_at(i) for i in range(app.screen.table.row_count)]
        assert [tuple(r[1:4]) for r in rows] == [
            ("bob", "rate", "account ses"),
            ("alice", "pause", "campaign spring"),
        ]


# -- the pieces -------------------------------------------------------------------


def test_gauges() -> None:
    assert progress_bar(1, 4, 8) == "██░░░░░░  25%"
    assert progress_bar(0, 0, 4) == "░░░░   0%"
    assert sparkline([0, 1, 2, 4], 4) == " ▂▄█"
    assert sparkline([1] * 60, 20) == "█" * 20  # three buckets per cell
    assert sparkline([3], 4) == "   █"
    assert [duration(s) for s in (None, 5, 125, 3_900, 90_000)] == [
        "—",
        "5s",
        "2m05s",
        "1h05m",
        "1d01h",
    ]


def test_unknown_outcomes_alert_only_when_there_are_many() -> None:
    few = {"campaigns": {"1": campaign("a", "running", 100_000, unknown=3)}}
    many = {"campaigns": {"1": campaign("a", "running", 100_000, unknown=10)}}
    small = {"campaigns": {"1": campaign("a", "running", 50, unknown=1)}}
    assert alerts_in(few) == []
    assert [a.key for a in alerts_in(many)] == ["unknown:1"]
    assert [a.key for a in alerts_in(small)] == ["unknown:1"]  # 2% of a small send


def test_bounce_rate_rising_needs_a_recent_jump() -> None:
    watch = BounceWatch()

    def snap(at: float, sent: int, bounced: int) -> dict:
        return {
            "at": AT + at,
            "campaigns": {"1": campaign("a", "running", 10_000, sent=sent, bounced=bounced)},
        }

    assert watch.observe(snap(0, 1_000, 10)) == []
    assert watch.observe(snap(60, 1_500, 15)) == []  # steady 1%
    alerts = watch.observe(snap(120, 1_600, 60))  # 7.7% of the last 650 outcomes
    assert [a.key for a in alerts] == ["bounce:1"]
    assert "bounce rate rising" in alerts[0].text


def test_events_are_transitions_not_states() -> None:
    before = {"campaigns": {"1": campaign("a", "running", 10)}, "accounts": {}}
    after = {"campaigns": {"1": campaign("a", "completed", 10, sent=10)}, "accounts": {}}
    assert [e.key for e in events(before, after)] == ["finished:1"]
    assert events(after, after) == []
    assert events(None, after) == []  # opening the console is not an event
