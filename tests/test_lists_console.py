"""The lists view in the console: paging a million members, import, segments, delete."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import ProgressBar, Static

from core.lists import importer
from core.lists.segments import parse
from core.store import Store
from tui import app as tui_app
from tui.app import PostroomApp
from tui.screens.list_dialogs import ImportDialog, SegmentEditor
from tui.screens.lists import SubscribersScreen
from tui.widgets.paged_table import PagedTable


class PinnedApp(PostroomApp):
    """Status line without the user, host or temp path (stable snapshots)."""

    CSS_PATH = Path(tui_app.__file__).with_name("app.tcss")

    def status_line(self) -> str:
        return "op@host  postroom.db"


@pytest.fixture(scope="module")
def million_db(tmp_path_factory) -> Path:
    """A list with 1,000,000 members, written straight into SQLite (~3 s)."""
    path = tmp_path_factory.mktemp("million") / "postroom.db"
    store = Store(path)
    with store.db.transaction():
        store.db.execute("INSERT INTO lists (name, created_at) VALUES ('big', 0)")
        store.db.execute(
            """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000)
            INSERT INTO subscribers (id, email, domain, fields, created_at, updated_at)
            SELECT i, 'user' || i || '@example.com', 'example.com',
                   json_object('n', i), 0, 0 FROM n
            """
        )
        store.db.execute(
            "INSERT INTO list_members (list_id, subscriber_id, added_at)"
            " SELECT 1, id, 0 FROM subscribers"
        )
    store.close()
    return path


async def test_million_member_list_opens_and_pages_with_bounded_queries(million_db):
    app = PinnedApp(million_db, start_view="lists")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        before = app.store.db.queries
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SubscribersScreen)
        table = screen.query_one(PagedTable)
        assert table.total == 1_000_000
        assert screen.crumb == "lists › big"
        assert "1,000,000 members" in str(screen.query_one("#found").render())
        assert app.store.db.queries - before <= 3  # a count and the first page

        step = table.size.height - 2  # a page is the visible rows less one
        for _ in range(10):
            await pilot.press("pagedown")
        await pilot.pause()
        assert table.selected_key == 10 * step + 1
        assert app.store.db.queries - before <= 6  # ~210 rows: a few 100-row pages

        await pilot.press("end")
        await pilot.pause()
        assert table.selected_key == 1_000_000
        assert app.store.db.queries - before <= 10  # one offset lookup, then keyset
        await pilot.press("pageup", "pageup", "up")
        await pilot.pause()
        assert table.selected_key == 1_000_000 - 2 * step - 1
        assert app.store.db.queries - before <= 12

        await pilot.press("slash", *"user99999@", "enter")
        await pilot.pause()
        assert table.total == 1 and table.selected_key == 99999
        assert "1 of 1,000,000 members match 'user99999@'" in str(
            screen.query_one("#found").render()
        )
        await pilot.press("escape")
        await pilot.pause()
        assert table.total == 1_000_000


async def test_import_from_the_console_shows_progress(db_path, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "BATCH", 1000)  # several progress steps on a small file
    csv_path = tmp_path / "people.csv"
    with csv_path.open("w", encoding="utf-8") as out:
        out.write("email,n\n")
        out.writelines(f"p{i}@example.com,{i}\n" for i in range(5000))
    app = PinnedApp(db_path, start_view="lists")
    seen: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("i")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ImportDialog)
        original = dialog._progress

        def spy(progress):
            original(progress)
            seen.append(str(dialog.query_one("#status", Static).render()))

        dialog._progress = spy
        dialog.query_one("#path").value = str(csv_path)
        await pilot.click("#list")
        await pilot.press(*"people", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert dialog.query_one("#bar", ProgressBar).progress == 100
        status = str(dialog.query_one("#status", Static).render())
        assert "added 5,000" in status
        await pilot.press("escape")
        await pilot.pause()
        assert "people" in str(app.screen.rows)
    assert any("rows/s" in line and "ETA" in line for line in seen)
    assert len([s for s in seen if s.startswith("reading")]) >= 5
    assert Store(db_path).subscribers.count(Store(db_path).lists.require("people")["id"]) == 5000


async def test_cancelled_console_import_changes_nothing(db_path, tmp_path):
    csv_path = tmp_path / "p.csv"
    csv_path.write_text("email\n" + "".join(f"c{i}@example.com\n" for i in range(20000)))
    app = PinnedApp(db_path, start_view="lists")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("i")
        await pilot.pause()
        dialog = app.screen
        dialog.cancel.set()  # as if Esc came before the first batch was staged
        dialog.cancel.clear = lambda: None
        dialog.query_one("#path").value = str(csv_path)
        dialog.query_one("#list").value = "p"
        await pilot.click("#start")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "nothing was changed" in str(dialog.query_one("#status", Static).render())
    assert Store(db_path).lists.by_name("p") is None


async def test_segment_editor_counts_as_you_type_and_saves(demo_db):
    app = PinnedApp(demo_db, start_view="lists")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        await pilot.pause()
        editor = app.screen
        assert isinstance(editor, SegmentEditor)
        await pilot.press(*'country = "DE"')
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        await pilot.pause()
        label = str(editor.query_one("#count", Static).render())
        expected = app.store.subscribers.count(
            app.store.lists.require("demo")["id"],
            where=parse('country = "DE"'),
        )
        assert label == f"{expected:,} subscribers match"
        assert editor.counted == 1  # typing 14 keys ran one count (debounced)

        await pilot.press(*" and")
        await pilot.pause()
        assert "expected a field name, found the end" in str(
            editor.query_one("#count", Static).render()
        )
        await pilot.press(*" not role", "tab", *"de-people", "ctrl+s")
        await pilot.pause()
        assert (
            app.store.segments.require("de-people")["expression"] == 'country = "DE" and not role'
        )


async def test_delete_list_asks_first_and_readonly_refuses(demo_db):
    app = PinnedApp(demo_db, start_view="lists", readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert app.store.lists.by_name("demo") is not None
        assert not isinstance(app.screen, ImportDialog)
    app = PinnedApp(demo_db, start_view="lists")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+d", "y")  # the demo campaign uses this list
        await pilot.pause()
        assert app.store.lists.by_name("demo") is not None
        assert any("in use by campaign 'welcome" in n.message for n in app._notifications)
        app.store.lists.create("spare")
        app.screen.reload()
        await pilot.press("down", "ctrl+d")
        await pilot.pause()
        await pilot.press("enter")  # focus starts on No
        await pilot.pause()
        assert app.store.lists.by_name("spare") is not None
        await pilot.press("ctrl+d", "y")
        await pilot.pause()
        assert app.store.lists.by_name("spare") is None


def test_lists_screen_snapshot(demo_db, snap_compare):
    assert snap_compare(PinnedApp(demo_db, start_view="lists"), terminal_size=(80, 24))


def test_members_screen_snapshot(demo_db, snap_compare):
    assert snap_compare(
        PinnedApp(demo_db, start_view="lists"), press=["enter", "down"], terminal_size=(80, 24)
    )
