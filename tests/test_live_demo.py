"""`make run` is a rehearsal: `l` on the dashboard launches the welcome campaign
to the demo's capture server, and the dashboard follows it."""

from __future__ import annotations

from core.demo import build_demo
from core.sink import CaptureServer
from tests.support.live import settled, tap, wait_for
from tests.support.screen import screen_text
from tui.app import PostroomApp
from tui.cli.console import demo_dns
from tui.screens.dialogs import ConfirmDialog


async def test_the_demo_launches_welcome_to_the_capture_server(tmp_path) -> None:
    db = tmp_path / "demo.db"
    with CaptureServer() as sink:
        build_demo(db, sink.port).close()
        app = PostroomApp(db)
        app.check_options = {"resolver": demo_dns(db), "use_spamassassin": False}
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("l")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            # The dialog is on the stack before it has painted: wait for its text.
            await wait_for(pilot, lambda: "Launch welcome now?" in screen_text(app))
            assert "ready to launch" in screen_text(app)
            await pilot.press("y")
            await settled(pilot, app)
            await wait_for(pilot, lambda: sink.handler.count >= 20)
            await pilot.pause(0.5)
            assert "welcome" in screen_text(app) and "running" in screen_text(app)
            assert "engine in-process" in app.status_line()
            await tap(pilot, "p")  # pause before quitting: nothing to hand over
            await settled(pilot, app)


async def test_quitting_the_demo_while_sending_offers_no_hand_over(tmp_path) -> None:
    # The demo's capture server and temporary database end with the console:
    # a detached engine would be left sending into nothing.
    db = tmp_path / "demo.db"
    with CaptureServer() as sink:
        build_demo(db, sink.port).close()
        app = PostroomApp(db)
        app.check_options = {"resolver": demo_dns(db), "use_spamassassin": False}
        app.can_hand_over = False
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("l")
            await wait_for(pilot, lambda: "Launch welcome now?" in screen_text(app))
            await pilot.press("y")
            await settled(pilot, app)
            await wait_for(pilot, lambda: sink.handler.count >= 5)
            await tap(pilot, "ctrl+c")
            await wait_for(pilot, lambda: "Pause the campaigns and quit?" in screen_text(app))
            assert "Keep sending" not in screen_text(app)
            assert app.focused is not None and app.focused.id == "stay"
            await tap(pilot, "escape")  # stays: the send goes on
            await wait_for(pilot, lambda: "Pause the campaigns and quit?" not in screen_text(app))
            await tap(pilot, "p")
            await settled(pilot, app)
