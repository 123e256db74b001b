"""The Postroom console: k9s-style views over one database."""

from __future__ import annotations

import asyncio
import concurrent.futures
import getpass
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.actions import SkipAction
from textual.app import App
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Input

from core.config import Config
from core.engine import Engine, LocalControl, RemoteControl
from core.store import Store, StoreError
from tui.live import OfflineControl, StatsFeed, engine_log_path, spawn_detached_engine
from tui.screens import VIEWS
from tui.screens.dialogs import HelpScreen
from tui.screens.steering import QuitDialog
from tui.widgets.alert_strip import events
from tui.widgets.command_bar import CommandBar
from tui.widgets.gauges import per_second
from tui.widgets.header import ViewHeader

QUIT_COMMANDS = ("q", "q!", "quit", "exit")
# Control calls that send mail need an engine: without one, the console starts its own.
NEEDS_ENGINE = ("launch", "resume_campaign", "retry", "resolve_unknown")
ENGINE_CHECK_SECONDS = 2.0  # how often the console looks for an engine appearing or going


class PostroomApp(App):
    TITLE = "postroom"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = False
    MODES: ClassVar = dict(VIEWS)
    DEFAULT_MODE = "dashboard"
    BINDINGS: ClassVar[list[Binding]] = [
        # Priority: the `:` is handled as it arrives, so the keys typed after it
        # reach the command line even when they come in one burst (slow link).
        Binding("colon", "command", "Jump to view", key_display=":", priority=True),
        Binding("question_mark", "help", "Keys", key_display="?"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        db_path: Path,
        *,
        readonly: bool = False,
        config: Config | None = None,
        start_view: str = "dashboard",
        engine_factory: Callable[[], Engine] | None = None,
    ) -> None:
        super().__init__()
        self.db_path = Path(db_path)
        self.readonly = readonly
        self.config = config or Config()
        # How an in-process engine is made (tests inject a TLS context or a compile).
        self.engine_factory = engine_factory or (
            lambda: Engine(self.db_path, self.config, user=self.user)
        )
        self.check_options: dict[str, Any] = {}  # extra run_check arguments (the demo's DNS)
        # The demo's capture server and temporary database end with the console:
        # there is nothing for a detached engine to hand the send over to.
        self.can_hand_over = True
        self.control: Any = None  # LocalControl or RemoteControl; used on the control thread
        # One thread runs control calls in order: RemoteControl blocks until the engine
        # applied a command, and the UI thread must never wait for that.
        self._control_thread = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="postroom-control"
        )
        self.controls_pending = 0
        self._engine_checked = 0.0
        self.start_view = start_view if start_view in VIEWS else "dashboard"
        self.user = getpass.getuser()
        self.where = f"{self.user}@{os.uname().nodename}"  # tests pin this for snapshots
        self.store = Store(self.db_path)
        self.feed = StatsFeed(self.store)
        self._last_status = ""

    def on_mount(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._look_for_engine(force=True)
        self.switch_mode(self.start_view)
        if warning := self.store.permissions_warning():
            self.notify(warning, severity="warning", timeout=10)
        hz = max(1.0, min(10.0, float(self.config.get("console", "refresh_hz"))))
        self.set_interval(1 / hz, self.refresh_live)

    # -- live numbers ---------------------------------------------------------

    def refresh_live(self) -> None:
        """One poll of the engine's numbers, drawn only on the screen on display.

        Runs on the UI loop; the next tick waits for this one to finish.
        """
        viewer = None
        for shown in reversed(self.screen_stack):  # a dialog may sit on the dashboard
            if hasattr(shown, "show_snapshot"):
                viewer = shown
            if viewer or not isinstance(shown, ModalScreen):
                break
        self._look_for_engine()
        before = self.feed.latest
        snapshot = self.feed.poll(shown=viewer is not None)
        for event in events(before, snapshot):
            self.notify(event.text, severity=event.severity, timeout=10)
            self.bell()
        if viewer is not None:
            viewer.show_snapshot(snapshot)
        status = self.status_line()
        if status != self._last_status:
            self._last_status = status
            for header in self.screen.query(ViewHeader):
                header.refresh()

    @property
    def command_names(self) -> list[str]:
        return [*VIEWS, "quit"]

    def status_line(self) -> str:
        engine = f"engine {self.feed.mode}"
        if self.feed.mode != "none":
            engine += f" {per_second(self.feed.total_rate())}"
        return f"{engine}  {self.where}  {self.db_path.name}"

    # -- navigation ---------------------------------------------------------

    def action_command(self) -> None:
        bars = self.screen.query(CommandBar)
        if not bars or isinstance(self.focused, Input):
            raise SkipAction  # a dialog, or a `:` typed into a field
        bars.first().open()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_back(self) -> None:
        """Esc: leave a drilled-in view, else return to the dashboard."""
        if len(self.screen_stack) > 1:
            self.pop_screen()
        elif self.current_mode != "dashboard":
            self.switch_mode("dashboard")

    @on(CommandBar.Run)
    def run_command(self, message: CommandBar.Run) -> None:
        command = message.command
        if command in QUIT_COMMANDS:
            self.request_quit()
            return
        matches = [name for name in VIEWS if name.startswith(command)]
        if command in VIEWS:
            matches = [command]
        if len(matches) != 1:
            self.notify(f"Unknown view ':{command}'. Try {', '.join(VIEWS)}.", severity="error")
            return
        self.switch_mode(matches[0])
        screen = self.screen
        if message.argument and hasattr(screen, "apply_argument"):
            screen.apply_argument(message.argument)

    # -- the engine: attach, start, steer ---------------------------------------

    def _look_for_engine(self, force: bool = False) -> None:
        """Attach to an engine that runs elsewhere; notice when it has gone."""
        now = time.monotonic()
        if not force and now - self._engine_checked < ENGINE_CHECK_SECONDS:
            return
        self._engine_checked = now
        if isinstance(self.control, LocalControl):
            return
        state = self.store.engine_state
        holder = state.holder()
        alive = holder is not None and state.holder_alive(holder, time.time())
        if alive and self.feed.source is None:
            self.feed.source = RemoteControl(self.db_path)  # read on this thread only
        elif not alive and isinstance(self.feed.source, RemoteControl):
            self.feed.source.close()
            self.feed.source = None
            self.feed.invalidate()  # the control thread closes its own connection next call

    def _control_for(self, method: str) -> Any:
        """The control a call goes to (runs on the control thread)."""
        if isinstance(self.control, LocalControl):
            return self.control
        if isinstance(self.feed.source, RemoteControl):
            if self.control is None:
                self.control = RemoteControl(self.db_path)  # this thread's own connection
            return self.control
        if self.control is not None:  # the attached engine went away
            self.control.close()
            self.control = None
        if method not in NEEDS_ENGINE:
            return OfflineControl(self.db_path)
        control = LocalControl(self.engine_factory())
        self.control = control
        self.feed.source = control
        return control

    def steer(
        self,
        method: str,
        *args: Any,
        expect: tuple[str, str, dict[str, Any]] | None = None,
        done: Callable[[Any], None] | None = None,
        success: str | None = None,
    ) -> None:
        """Call ``control.method(*args, user=...)`` off the UI thread.

        ``expect`` = (section, key, fields) is shown at once and kept until
        the engine's snapshots agree; ``done(result)`` runs on the UI thread.
        """
        if expect is not None:
            self.feed.expected.expect(*expect)
        self.controls_pending += 1
        self.refresh_live()
        self._control_thread.submit(self._steer_job, method, args, expect, done, success)

    def _steer_job(self, method, args, expect, done, success) -> None:  # noqa: ANN001
        try:
            control = self._control_for(method)
            result, error = getattr(control, method)(*args, user=self.user), None
        except (StoreError, OSError) as exc:
            result, error = None, str(exc)
        except Exception as exc:  # one line for the operator; the console stays up
            result, error = None, f"{type(exc).__name__}: {exc}"
        self._loop.call_soon_threadsafe(self._steered, expect, done, success, result, error)

    def _steered(self, expect, done, success, result, error) -> None:  # noqa: ANN001
        self.controls_pending -= 1
        if expect is not None:
            self.feed.expected.applied(expect[0], expect[1], error is None)
        self.feed.invalidate()
        if error is not None:
            self.notify(error, severity="error", timeout=8)
        else:
            if success:
                self.notify(success.format(result=result))
            if done is not None:
                done(result)
        self.refresh_live()

    @property
    def owns_engine(self) -> bool:
        return isinstance(self.control, LocalControl)

    def running_campaigns(self) -> list[tuple[int, str]]:
        campaigns = (self.feed.latest.get("campaigns") or {}).items()
        return [(int(k), c.get("name", k)) for k, c in campaigns if c.get("state") == "running"]

    # -- quitting -------------------------------------------------------------------

    async def action_quit(self) -> None:
        self.request_quit()

    def request_quit(self) -> None:
        """Quit; a console whose own engine is sending asks what becomes of the send."""
        running = self.running_campaigns() if self.owns_engine else []
        if not running:
            self.exit()
            return
        if isinstance(self.screen, QuitDialog):
            return
        names = ", ".join(name for _, name in running)
        self.push_screen(QuitDialog(names, can_hand_over=self.can_hand_over), self._quit_answer)

    def _quit_answer(self, answer: str | None) -> None:
        if answer in ("background", "pause"):
            self.notify("Stopping the console's engine: in-flight messages finish first…")
            self._control_thread.submit(self._quit_job, answer, self.running_campaigns())

    def _quit_job(self, answer: str, running: list[tuple[int, str]]) -> None:
        control = self.control
        message = ""
        try:
            if answer == "pause":
                for campaign_id, _ in running:
                    control.pause_campaign(campaign_id, user=self.user)
                control.close()
                message = "Paused: " + ", ".join(name for _, name in running)
            else:
                control.close()  # clean stop: nothing left `sending`
                process = spawn_detached_engine(self.db_path, self.config.path)
                message = (
                    f"Sending continues in `postroom run` (pid {process.pid});"
                    f" its log: {engine_log_path(self.db_path)}"
                )
        except Exception as exc:  # the operator must see why, and the console stays
            self._loop.call_soon_threadsafe(
                self.notify, f"Could not hand over: {exc}", severity="error"
            )
            return
        self.control = None
        self.feed.source = None
        self._loop.call_soon_threadsafe(lambda: self.exit(message=message))

    def on_unmount(self) -> None:
        self._control_thread.shutdown(wait=True)
        if self.control is not None:
            self.control.close()  # an in-process engine stops cleanly; a detached one runs on
        if isinstance(self.feed.source, RemoteControl):
            self.feed.source.close()
        self.store.close()
