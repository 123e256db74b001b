"""The Postroom console: k9s-style views over one database."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import App
from textual.binding import Binding

from core.config import Config
from core.store import Store
from tui.screens import VIEWS
from tui.screens.dialogs import HelpScreen
from tui.widgets.command_bar import CommandBar

QUIT_COMMANDS = ("q", "q!", "quit", "exit")


class PostroomApp(App):
    TITLE = "postroom"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = False
    MODES: ClassVar = dict(VIEWS)
    DEFAULT_MODE = "dashboard"
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("colon", "command", "Jump to view", key_display=":"),
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
    ) -> None:
        super().__init__()
        self.db_path = Path(db_path)
        self.readonly = readonly
        self.config = config or Config()
        self.start_view = start_view if start_view in VIEWS else "dashboard"
        self.user = getpass.getuser()
        self.where = f"{self.user}@{os.uname().nodename}"  # tests pin this for snapshots
        self.store = Store(self.db_path)

    def on_mount(self) -> None:
        self.switch_mode(self.start_view)
        if warning := self.store.permissions_warning():
            self.notify(warning, severity="warning", timeout=10)

    @property
    def command_names(self) -> list[str]:
        return [*VIEWS, "quit"]

    def status_line(self) -> str:
        return f"{self.where}  {self.db_path.name}"

    # -- navigation ---------------------------------------------------------

    def action_command(self) -> None:
        self.screen.query_one(CommandBar).open()

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
            self.exit()
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

    def on_unmount(self) -> None:
        self.store.close()
