"""The delivery log: most recent activity first; a million rows open at once, filters and
scrolling stay cheap."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from core.store import SCHEMA_VERSION, Outcome, Store
from core.store.deliveries import LogFilter
from tests.support.ledger import T0, build_ledger
from tui.app import PostroomApp
from tui.screens.logs import AttemptsScreen, LogsScreen, parse_filter
from tui.widgets.log_view import PAGE_SIZE, LogView

MILLION = 1_000_000
LEDGER_VERSION = 2  # bump when tests/support/ledger.py changes what it writes


@pytest.fixture(scope="session")
def million_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1,000,000-row ledger, built once and kept in pytest's cache between runs.

    Tests open it read-only in spirit: nothing here writes to it.
    """
    cache = request.config.cache
    if cache is None:  # -p no:cacheprovider
        folder = tmp_path_factory.mktemp("ledger")
    else:
        folder = cache.mkdir(f"ledger-{MILLION}-v{LEDGER_VERSION}-s{SCHEMA_VERSION}")
    path = folder / "postroom.db"
    done = folder / "complete"
    if not done.exists():
        for stale in folder.glob("postroom.db*"):
            stale.unlink()
        build_ledger(path, MILLION).close()
        done.touch()
    return path


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def visible_emails(view: LogView) -> list[str]:
    top = round(view.scroll_offset.y)
    rows = (view.row(top + i) for i in range(view.scrollable_content_region.height - 1))
    return [row["email"] for row in rows if row is not None]


async def open_logs(pilot) -> LogView:  # noqa: ANN001 - textual Pilot
    await pilot.pause()
    assert isinstance(pilot.app.screen, LogsScreen)
    return pilot.app.screen.query_one(LogView)


UNTOUCHED = ("queued", "suppressed")  # rows the synthetic send never reached


def keys(rows: list[dict]) -> list[tuple[float, int]]:
    return [(r["updated_at"], r["id"]) for r in rows]


async def test_a_million_rows_open_most_recent_first_with_two_queries(million_db: Path) -> None:
    app = PostroomApp(million_db, start_view="logs")
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_logs(pilot)
        assert view.total == MILLION
        # Rows 999999 (suppressed) and 999998 (queued) were materialised at
        # launch and never touched: the last outcomes come first.
        assert visible_emails(view)[:2] == ["user999997@outlook.com", "user999996@yahoo.com"]
        before = app.store.db.queries
        view.load(LogFilter())  # what opening the view costs: head and count, one page
        await pilot.pause()
        assert app.store.db.queries - before <= 3


async def test_scrolling_costs_one_query_per_new_page(million_db: Path) -> None:
    app = PostroomApp(million_db, start_view="logs")
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_logs(pilot)
        before = app.store.db.queries
        for _ in range(40):
            await pilot.press("pagedown")
        await pilot.pause()
        rows_seen = 40 * 22
        assert app.store.db.queries - before <= rows_seen // PAGE_SIZE + 2
        seen = [view.row(i) for i in range(view.cursor + 1)]
        assert keys(seen) == sorted(keys(seen), reverse=True)  # most recent activity first
        assert not {r["state"] for r in seen} & set(UNTOUCHED)

        before = app.store.db.queries
        await pilot.press("end")  # a jump to the oldest row: one query from that end
        await pilot.pause()
        assert app.store.db.queries - before <= 2
        assert view.selected["email"] == "user0@gmail.com"  # the oldest activity
        assert "user0@gmail.com" in visible_emails(view)

        before = app.store.db.queries
        for _ in range(6):  # up through the rows that all share the launch time
            await pilot.press("pageup")
        await pilot.pause()
        assert MILLION - view.cursor > PAGE_SIZE  # on the page above the last
        assert app.store.db.queries - before <= 3  # its keyset neighbour inside the tie
        tied = [view.row(i) for i in range(view.cursor, MILLION - 1)]
        assert {r["state"] for r in tied} <= set(UNTOUCHED)
        assert keys(tied) == sorted(keys(tied), reverse=True)

        before = app.store.db.queries
        await pilot.press("home")
        await pilot.press("down")
        await pilot.pause()
        assert app.store.db.queries - before <= 2  # cached pages
        assert view.selected["email"] == "user999996@yahoo.com"


async def test_filters_from_the_command_line_and_the_filter_bar(million_db: Path) -> None:
    app = PostroomApp(million_db, start_view="logs")
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_logs(pilot)
        before = app.store.db.queries
        await pilot.press(":", *"logs bounced", "enter")
        await pilot.pause()
        assert view.total == 50_000
        assert {view.row(i)["state"] for i in range(20)} == {"bounced"}
        assert app.store.db.queries - before <= 4

        before = app.store.db.queries
        await pilot.press("slash", *"campaign:spring-2 @gmail.com 5xx", "enter")
        await pilot.pause()
        assert app.store.db.queries - before <= 6  # name lookup, newest, count, page
        rows = [view.row(i) for i in range(view.total)][:50]
        assert view.total > 0
        assert all(r["campaign_name"] == "spring-2" and r["domain"] == "gmail.com" for r in rows)
        assert all(500 <= r["last_code"] <= 599 for r in rows)
        bar = str(app.screen.query_one("#filterbar").render())
        assert "campaign:spring-2 @gmail.com 5xx" in bar

        await pilot.press("slash", "ctrl+u", *"user12345@", "enter")
        await pilot.pause()
        assert [view.row(i)["email"] for i in range(view.total)] == ["user12345@gmail.com"]

        await pilot.press("escape")  # clears the filter
        await pilot.pause()
        assert view.total == MILLION


async def test_a_bad_filter_is_explained_and_the_view_is_kept(million_db: Path) -> None:
    app = PostroomApp(million_db, start_view="logs")
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_logs(pilot)
        await pilot.press("slash", *"campaign:nope", "enter")
        await pilot.pause()
        assert view.total == MILLION
        assert any("no campaign named 'nope'" in n.message for n in app._notifications)


def test_filter_words(store: Store) -> None:
    campaign = store.campaigns.create(name="spring")
    account = store.accounts.create(name="ses", host="h", port=25)
    log = parse_filter("bounced deferred campaign:spring a:ses @Gmail.com 4xx mailbox full", store)
    assert log == LogFilter(
        campaign_id=campaign,
        states=("bounced", "deferred"),
        account_id=account,
        domain="gmail.com",
        code_min=400,
        code_max=499,
        text="mailbox full",
    )
    assert parse_filter("code:550", store).code_min == 550


@pytest.fixture
def small_db(tmp_path: Path) -> Path:
    path = tmp_path / "small.db"
    store = build_ledger(path, 300, campaigns=2)
    store.db.execute(
        "INSERT INTO delivery_attempts (delivery_id, run_id, account_id, outcome, code,"
        " enhanced, reply, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            298,  # row 297, the last outcome (299 and 298 were never sent)
            "run-1",
            1,
            "deferred",
            451,
            "4.2.0",
            "4.2.0 Mailbox busy, please retry later (greylisted for 300 seconds)",
            T0,
            T0 + 1,
        ),
    )
    store.close()
    return path


async def test_enter_shows_every_attempt_with_its_full_reply(small_db: Path) -> None:
    app = PostroomApp(small_db, start_view="logs")
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_logs(pilot)
        assert view.selected["id"] == 298
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, AttemptsScreen)
        text = str(app.screen.query_one("Static").render())
        assert "greylisted for 300 seconds" in text
        assert "451 4.2.0" in text
        await pilot.press("escape")
        assert isinstance(app.screen, LogsScreen)


async def test_follow_shows_new_rows_on_top(small_db: Path) -> None:
    app = PostroomApp(small_db, start_view="logs")
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_logs(pilot)
        writer = Store(small_db)
        writer.db.execute("PRAGMA foreign_keys=OFF")  # no subscriber row needed
        writer.db.execute(
            "INSERT INTO deliveries (campaign_id, subscriber_id, email, domain, state,"
            " created_at, updated_at) VALUES (1, 100000, 'new@example.net', 'example.net',"
            " 'queued', ?, ?)",
            (T0 + 1000, T0 + 1000),
        )
        await pilot.pause()
        assert view.total == 300  # pinned until following
        await pilot.press("f")
        await pilot.pause()
        assert view.total == 301
        assert visible_emails(view)[0] == "new@example.net"
        writer.db.execute(
            "UPDATE deliveries SET state = 'sent', updated_at = ? WHERE email = 'new@example.net'",
            (T0 + 1001,),
        )
        await pilot.pause(0.6)  # one refresh tick at the default 4 Hz
        assert view.row(0)["state"] == "sent"
        writer.close()

        before = app.store.db.queries
        await pilot.pause(0.6)  # idle ticks: one look at the head each, nothing re-read
        assert app.store.db.queries - before <= 4


def record_outcome(db_path: Path, delivery_id: int, at: float) -> None:
    """What the engine does for one queued row: claim it, then record a bounce."""
    writer = Store(db_path)
    writer.db.execute(
        "UPDATE deliveries SET state = 'sending', run_id = 'run-2', updated_at = ? WHERE id = ?",
        (at, delivery_id),
    )
    writer.ledger.record(
        "run-2",
        [
            Outcome(
                delivery_id=delivery_id,
                state="bounced",
                attempt_outcome="bounced",
                account_id=1,
                started_at=at,
                finished_at=at + 1,
                code=550,
                enhanced="5.1.1",
                reply="5.1.1 No such user",
            )
        ],
    )
    writer.close()


async def test_a_delivery_that_gets_an_outcome_moves_to_the_top_when_following(
    small_db: Path,
) -> None:
    app = PostroomApp(small_db, start_view="logs")
    async with app.run_test(size=(80, 24)) as pilot:
        view = await open_logs(pilot)
        rows = [view.row(i) for i in range(view.total)]
        active = sum(r["updated_at"] > T0 for r in rows)
        assert all(r["updated_at"] > T0 for r in rows[:active])
        # Queued rows come after every recently active one (user0 got its outcome at T0).
        assert {r["state"] for r in rows[active:-1]} == set(UNTOUCHED)
        assert rows[-1]["email"] == "user0@gmail.com"

        await pilot.press("down", "down")
        selected = view.selected["id"]
        record_outcome(small_db, 19, T0 + 500)  # user18, queued since launch
        await pilot.pause(0.6)
        assert view.selected["id"] == selected  # not following: nothing moves
        assert view.row(0)["id"] != 19

        await pilot.press("f")
        await pilot.pause()
        assert view.cursor == 0
        assert view.selected["email"] == "user18@example.org"
        assert view.selected["state"] == "bounced" and view.selected["last_code"] == 550
        assert view.total == 300  # moved, not added
        assert "300 deliveries" in str(app.screen.query_one("#filterbar").render())

        record_outcome(small_db, 39, T0 + 600)  # another one while following
        await pilot.pause(0.6)
        assert visible_emails(view)[:2] == ["user38@example.org", "user18@example.org"]

        await pilot.press("down")  # reading a row stops following: it stays put
        await pilot.pause()
        bar = str(app.screen.query_one("#filterbar").render())
        assert "f follows" in bar
        record_outcome(small_db, 59, T0 + 700)
        await pilot.pause(0.6)
        assert view.selected["email"] == "user18@example.org"


async def test_export_writes_the_filtered_view_to_csv(small_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "bounces.csv"
    target.parent.mkdir()
    app = PostroomApp(small_db, start_view="logs")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_logs(pilot)
        view = await open_logs(pilot)
        await pilot.press(":", *"logs bounced", "enter")
        await pilot.press("e", "ctrl+u", *str(target), "enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        shown = [str(view.row(i)["id"]) for i in range(view.total)]
    with target.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["id"] for r in rows] == shown  # the same rows in the same order
    assert len(rows) == 15
    assert {r["state"] for r in rows} == {"bounced"}
    assert rows[0]["code"] == "550" and "does not exist" in rows[0]["reply"]
    assert target.stat().st_mode & 0o077 == 0  # addresses are personal data
    assert list(target.parent.iterdir()) == [target]  # no temporary file left behind


def test_export_defuses_spreadsheet_formulas(small_db: Path, tmp_path: Path) -> None:
    from tui.screens.logs import export_csv

    store = Store(small_db)
    store.db.execute("UPDATE deliveries SET last_reply = '=HYPERLINK(\"x\")' WHERE id = 1")
    store.close()
    target = tmp_path / "all.csv"
    assert export_csv(small_db, LogFilter(), target) == 300
    last = list(csv.DictReader(target.open(newline="")))[-1]
    assert last["reply"] == '\'=HYPERLINK("x")'


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_log_snapshot(snap_compare, million_db: Path, utc, size) -> None:  # noqa: ANN001
    app = PostroomApp(million_db, start_view="logs")
    app.where = "ops@mx1"  # the header names them: keep them fixed
    assert snap_compare(app, press=["down", "down"], terminal_size=size)


@pytest.mark.parametrize(
    ("log", "index"),
    [
        (LogFilter(), "deliveries_updated"),
        (LogFilter(campaign_id=2), "deliveries_campaign_activity"),
        (LogFilter(states=("bounced",)), "deliveries_state_activity"),
        (LogFilter(domain="gmail.com"), "deliveries_domain_activity"),
    ],
)
def test_common_filters_read_pages_in_order_from_an_index(
    small_db: Path, log: LogFilter, index: str
) -> None:
    """Every page of a common filter walks an index in log order: no sort of the matches."""
    store = Store(small_db)
    statements: list[tuple[str, tuple]] = []
    execute = store.db.execute

    def recording(sql: str, params: tuple = ()):  # noqa: ANN202 - passes the cursor through
        statements.append((sql, tuple(params)))
        return execute(sql, params)

    store.db.execute = recording
    deliveries = store.deliveries
    pinned, total = deliveries.log_open(log)
    first = deliveries.log_page(pinned, limit=5)
    below = deliveries.log_page(pinned, before=(first[-1]["updated_at"], first[-1]["id"]), limit=5)
    above = deliveries.log_page(pinned, after=(below[0]["updated_at"], below[0]["id"]), limit=5)
    deliveries.log_page(pinned, offset=3, from_oldest=True, limit=5)
    assert keys(above) == keys(first) and total > 10
    store.db.execute = execute
    for sql, params in statements[1:]:  # the pages (the first statement counts)
        plan = [row[3] for row in store.db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
        reads = [line for line in plan if line.startswith("SEARCH d USING") and "INDEX" in line]
        assert reads and all(index in line for line in reads if "PRIMARY KEY" not in line), plan
        # One sort is allowed: the outer one, over the page's ids (at most two pages).
        assert sum("TEMP B-TREE" in line for line in plan) == 1, plan
    store.close()
