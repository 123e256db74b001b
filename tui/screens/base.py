"""What every view shares: the header, `/` filtering, `?` help and `Esc`."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from typing import Any, ClassVar

from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static
from textual.widgets.data_table import RowDoesNotExist

from tui.widgets.command_bar import CommandBar
from tui.widgets.header import ViewHeader

# `/` is handled as it arrives (priority), like `:`: the keys typed after it are
# text even when they come in one burst, never single-key actions on the view.
SLASH = {"key": "slash", "key_display": "/", "priority": True}


class BaseScreen(Screen):
    crumb: ClassVar[str] = ""
    BINDINGS: ClassVar[list[Binding]] = []

    def compose_header(self) -> ComposeResult:
        """The header and the (hidden) `:` command line every view has."""
        yield ViewHeader()
        yield CommandBar()

    def refresh_header(self) -> None:
        for header in self.query(ViewHeader):
            header.refresh()

    def open_line(self, box: Input) -> None:
        """Show a one-line input (filter, search) and focus it at once."""
        if isinstance(self.focused, Input):
            raise SkipAction  # a `/` typed into a field is text
        box.can_focus = True
        box.add_class("-open")
        self.set_focus(box)

    @property
    def store(self):  # noqa: ANN201 - core.store.Store
        return self.app.store


def row_matches(pattern: str, cells: Sequence[Any]) -> bool:
    """k9s filter: case-insensitive regex over the row; a leading ``!`` excludes."""
    if not pattern:
        return True
    negate = pattern.startswith("!")
    pattern = pattern[1:] if negate else pattern
    text = " ".join(str(cell) for cell in cells)
    try:
        found = re.search(pattern, text, re.IGNORECASE) is not None
    except re.error:
        found = pattern.lower() in text.lower()
    return found != negate


class TableScreen(BaseScreen):
    """A view of one table: rows come from ``load_rows()``, ``/`` filters them."""

    DEFAULT_CSS = """
    TableScreen #filter { dock: bottom; display: none; height: 1; border: none; padding: 0 1; }
    TableScreen #filter.-open { display: block; }
    TableScreen #empty { color: $text-muted; padding: 1 2; display: none; }
    TableScreen #empty.-shown { display: block; }
    """
    BINDINGS: ClassVar[list[Binding]] = [
        Binding(action="filter", description="Filter", **SLASH),
        Binding("escape", "clear_filter", "Clear filter / back", key_display="esc", show=False),
    ]
    columns: ClassVar[tuple[str, ...]] = ()
    empty_text: ClassVar[str] = "Nothing here yet."

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[Any, tuple[Any, ...]]] = []  # (key, cells)
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Vertical():
            yield DataTable(id="table", cursor_type="row", zebra_stripes=True)
            yield Static(self.empty_text, id="empty")
        box = Input(placeholder="filter (regex, !x excludes, esc clears)", id="filter")
        box.can_focus = False  # only while open
        yield box

    def on_mount(self) -> None:
        self.table.add_columns(*self.columns)
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    @property
    def table(self) -> DataTable:
        return self.query_one("#table", DataTable)

    def load_rows(self) -> list[tuple[Any, tuple[Any, ...]]]:
        """Return ``(key, cells)`` pairs from the store."""
        raise NotImplementedError

    def reload(self) -> None:
        self.rows = self.load_rows()
        self._show()

    def _show(self) -> None:
        table = self.table
        selected = self.selected_key
        table.clear()
        for key, cells in self.rows:
            if row_matches(self.filter_text, cells):
                table.add_row(*cells, key=str(key))
        self.query_one("#empty").set_class(table.row_count == 0, "-shown")
        if selected is not None:
            with contextlib.suppress(RowDoesNotExist):  # gone, or filtered out
                table.move_cursor(row=table.get_row_index(str(selected)))
        self.refresh_header()

    @property
    def selected_key(self) -> str | None:
        table = self.table
        if table.row_count == 0:
            return None
        try:
            return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except RowDoesNotExist:
            return None

    def apply_argument(self, argument: str) -> None:
        """`:view ARG` filters the view by ARG."""
        box = self.query_one("#filter", Input)
        box.value = argument
        box.can_focus = True
        box.add_class("-open")
        self.filter_text = argument
        self._show()

    def action_filter(self) -> None:
        self.open_line(self.query_one("#filter", Input))

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_class("-open") or self.filter_text:
            box.value = ""
            box.can_focus = False
            box.remove_class("-open")
            self.filter_text = ""
            self._show()
            self.table.focus()
        else:
            self.app.action_back()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self._show()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()
