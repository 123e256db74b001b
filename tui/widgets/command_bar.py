"""The `:` command line (k9s style), with completion from the known views."""

from __future__ import annotations

from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Input


class CommandBar(Input):
    """Hidden until `:`; Enter posts ``CommandBar.Submitted``, Esc closes it."""

    DEFAULT_CSS = """
    CommandBar { dock: bottom; display: none; padding: 0 1; }
    CommandBar.-open { display: block; }
    """
    BINDINGS = [Binding("escape", "close", "Close", show=False)]

    class Run(Message):
        def __init__(self, command: str, argument: str) -> None:
            super().__init__()
            self.command = command
            self.argument = argument

    def __init__(self) -> None:
        # Compact: a focused Input's tall border would leave no line for the text.
        super().__init__(placeholder="view or command (tab completes, esc closes)", compact=True)
        self.can_focus = False  # only while open, so views keep their focus

    def on_mount(self) -> None:
        commands = getattr(self.app, "command_names", [])
        self.suggester = SuggestFromList(commands, case_sensitive=False)

    def open(self) -> None:
        self.value = ""
        self.can_focus = True
        self.add_class("-open")
        self.screen.set_focus(self)  # at once: the keys after `:` come here (app.py)

    def action_close(self) -> None:
        self.remove_class("-open")
        self.value = ""
        self.can_focus = False
        self.screen.set_focus(None)
        self.screen.focus_next()

    def on_key(self, event) -> None:  # noqa: ANN001 - textual.events.Key
        # Tab accepts the suggestion, as in a shell.
        if event.key == "tab" and self._suggestion:
            self.value = self._suggestion
            self.cursor_position = len(self.value)
            event.prevent_default()
            event.stop()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip().lstrip(":")
        self.action_close()
        if text:
            command, _, argument = text.partition(" ")
            self.post_message(self.Run(command.lower(), argument.strip()))
