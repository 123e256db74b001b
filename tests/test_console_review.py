"""Defects an operator meets at 80x24: what they type must show, and keys go where they look."""

from __future__ import annotations

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
