"""The console shell: k9s navigation over the demo database, with Pilot."""

from __future__ import annotations

from core.store import Store
from tests.support.console import make_app
from tui.screens.dialogs import HelpScreen


async def test_colon_jumps_to_every_view_with_real_rows(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.current_mode == "dashboard"
        for view, first_cell in [
            ("accounts", "demo-sink"),
            ("lists", "demo"),
            ("campaigns", "welcome"),
        ]:
            await pilot.press(":", *view, "enter")
            await pilot.pause()
            assert app.current_mode == view
            table = app.screen.query_one("#table")
            assert table.get_row_at(0)[0] == first_cell
        await pilot.press(":", *"logs", "enter")
        await pilot.pause()
        assert app.current_mode == "logs"


async def test_tab_completes_a_partial_view_name(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(":", *"camp", "tab", "enter")
        await pilot.pause()
        assert app.current_mode == "campaigns"


async def test_unknown_view_says_so_and_stays(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(":", *"nonsense", "enter")
        await pilot.pause()
        assert app.current_mode == "dashboard"
        assert any("Unknown view" in str(n.message) for n in app._notifications)


async def test_enter_drills_into_a_list_and_escape_comes_back(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(":", *"lists", "enter", "enter")
        await pilot.pause()
        assert app.screen.crumb.startswith("lists › demo")
        members = app.screen.table
        assert all("@" in members.row(i)[1][0] for i in range(3))
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.crumb == "lists"


async def test_slash_filters_the_current_table_and_escape_clears(demo_db):
    store = Store(demo_db)
    for name in ("customers-de", "customers-fr", "press"):
        store.lists.create(name)
    store.close()
    app = make_app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(":", *"lists", "enter")
        await pilot.pause()
        table = app.screen.table
        assert table.row_count == 4
        await pilot.press("/", *"customers")
        await pilot.pause()
        assert [table.get_row_at(i)[0] for i in range(table.row_count)] == [
            "customers-de",
            "customers-fr",
        ]
        await pilot.press("escape")
        await pilot.pause()
        assert table.row_count == 4
        await pilot.press("/", *"!customers")
        await pilot.pause()
        assert sorted(table.get_row_at(i)[0] for i in range(table.row_count)) == ["demo", "press"]


async def test_slash_searches_list_members_by_address(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(":", *"lists", "enter", "enter")
        await pilot.pause()
        members = app.screen.table
        everyone = members.total
        await pilot.press("/", *"example.net", "enter")
        await pilot.pause()
        assert 0 < members.total < everyone
        assert all("example.net" in members.row(i)[1][0] for i in range(min(members.total, 20)))
        await pilot.press("escape")
        await pilot.pause()
        assert members.total == everyone


async def test_question_mark_lists_the_keys_of_this_view(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(":", *"lists", "enter", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert app.screen.under.crumb == "lists"
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.crumb == "lists"


async def test_colon_q_quits(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(":", "q", "enter")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


async def test_readonly_is_shown_in_the_header(demo_db):
    plain = make_app(demo_db)
    async with plain.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "READ-ONLY" not in str(plain.screen.query_one("ViewHeader").render())

    app = make_app(demo_db, readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        header = app.screen.query_one("ViewHeader")
        assert "READ-ONLY" in str(header.render())
