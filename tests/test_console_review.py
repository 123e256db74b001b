"""Defects an operator meets at 80x24: what they type must show, and keys go where they look."""

from __future__ import annotations

from textual import events

from tests.support.console import make_app
from tests.support.screen import screen_text


async def test_the_colon_line_shows_what_is_typed(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(":", *"camp")
        await pilot.pause()
        bottom = screen_text(app).splitlines()[-1]
        assert "camp" in bottom


async def test_the_log_filter_and_export_lines_show_what_is_typed(demo_db):
    app = make_app(demo_db, start_view="logs")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash", *"bounced")
        await pilot.pause()
        assert "bounced" in screen_text(app).splitlines()[-1]
        await pilot.press("escape", "e")
        await pilot.pause()
        assert "postroom-log.csv" in screen_text(app).splitlines()[-1]


def _burst(app, keys: list[tuple[str, str | None]]) -> None:
    """Keys arriving together, as a fast typist or a slow SSH link delivers them."""
    for key, char in keys:
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)


async def test_a_burst_of_colon_lists_goes_to_the_colon_line_not_the_dashboard(demo_db):
    app = make_app(demo_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        _burst(app, [("colon", ":"), *((c, c) for c in "lists"), ("enter", "\r")])
        await pilot.pause()
        await pilot.pause()
        assert app.current_mode == "lists"  # `l` did not start a launch on the dashboard
        assert not any("launch" in str(n.message) for n in app._notifications)


async def test_a_burst_after_slash_filters_instead_of_pausing_an_account(demo_db):
    app = make_app(demo_db, start_view="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        _burst(app, [("slash", "/"), ("p", "p")])
        await pilot.pause()
        await pilot.pause()
        assert app.screen.filter_text == "p"
        assert app.store.accounts.all()[0]["state"] == "active"


async def test_colon_and_slash_typed_into_a_field_are_text(demo_db):
    app = make_app(demo_db, start_view="logs")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash", *"campaign:welcome", "space", *"a/b")
        await pilot.pause()
        assert app.screen.query_one("#filter").value == "campaign:welcome a/b"


async def test_enter_on_an_account_opens_its_form(demo_db):
    from tui.screens.account_form import AccountForm

    app = make_app(demo_db, start_view="accounts")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, AccountForm)
        assert app.screen.crumb == "accounts › demo-sink"


async def test_saving_a_preview_where_it_cannot_be_written_says_why(demo_db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app(demo_db, start_view="campaigns")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("v")
        await pilot.pause()
        preview = app.screen.preview
        (tmp_path / f"{app.screen.compiled.campaign_id}-{preview.subscriber_id}.eml").mkdir()
        await pilot.press("s")
        await pilot.pause()
        assert app.is_running
        assert any("cannot save" in str(n.message) for n in app._notifications)
