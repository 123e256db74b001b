"""Dialogs of the lists view: CSV import with progress, a one-line prompt,
and the segment editor with a live count.

Imports and counts run in thread workers on their own database connection
(the importer's staging table lives on it, and a count over a million rows
must not freeze the keyboard); they report back with ``call_from_thread``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Button, Input, ProgressBar, Select, Static

from core.lists import segments
from core.lists.importer import ImportCancelled, ImportFailed, Progress, import_csv
from core.store import Store, StoreError
from core.store.lists import IMPORT_MODES
from tui.readonly import mutating

_DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 76; max-width: 100%; height: auto; max-height: 100%;
                    border: round $accent; background: $surface; padding: 0 1; }}
{name} Input, {name} Select {{ margin: 0 0 1 0; }}
{name} .label {{ color: $text-muted; }}
{name} Horizontal {{ height: auto; align: right middle; }}
{name} Button {{ margin-left: 2; }}
"""


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 60}:{seconds % 60:02d}"


def progress_text(p: Progress) -> str:
    eta = "" if p.eta_s is None else f" · ETA {_duration(p.eta_s)}"
    return f"{p.phase}: {p.rows:,} rows · {p.rows_per_s:,.0f} rows/s{eta}"


class PromptDialog(ModalScreen[str | None]):
    """One line of text; Enter answers, Esc cancels (None)."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="PromptDialog")
    BINDINGS: ClassVar = [Binding("escape", "cancel", show=False)]

    def __init__(self, question: str, value: str = "") -> None:
        super().__init__()
        self.question = question
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question)
            yield Input(value=self.value, id="answer")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ImportDialog(ModalScreen[bool]):
    """File path, list and mode; then a progress bar until done. Esc cancels
    a running import (nothing is changed) or closes the dialog."""

    DEFAULT_CSS = (
        _DIALOG_CSS.format(name="ImportDialog")
        + """
    ImportDialog ProgressBar { margin: 1 0 0 0; }
    ImportDialog #status { height: auto; margin: 0 0 1 0; }
    """
    )
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, db_path: Path, *, list_name: str = "") -> None:
        super().__init__()
        self.db_path = db_path
        self.list_name = list_name
        self.cancel = threading.Event()
        self.running = False
        self.changed = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]Import a CSV[/b]")
            yield Static("file", classes="label")
            yield Input(placeholder="path to the CSV file", id="path")
            yield Static("into list (created if missing)", classes="label")
            yield Input(value=self.list_name, placeholder="list name", id="list")
            yield Select(
                [(f"mode: {m}", m) for m in IMPORT_MODES], value="add", allow_blank=False, id="mode"
            )
            yield ProgressBar(total=100, show_eta=False, id="bar")
            yield Static("Enter starts; Esc cancels.", id="status")
            with Horizontal():
                yield Button("Import", id="start", variant="primary")
                yield Button("Close", id="close")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#start")
    def _start(self, event: object) -> None:
        if self.running:
            return
        path = self.query_one("#path", Input).value.strip()
        name = self.query_one("#list", Input).value.strip()
        if not path or not name:
            self._status("Give a file and a list name.")
            return
        self.running = True
        self.cancel.clear()
        self.query_one("#start", Button).disabled = True
        self._status("starting…")
        self._import(Path(path).expanduser(), name, str(self.query_one("#mode", Select).value))

    @work(thread=True, exclusive=True, group="import")
    def _import(self, path: Path, name: str, mode: str) -> None:
        store = Store(self.db_path)
        try:
            summary = import_csv(
                store,
                name,
                path,
                mode=mode,
                cancel=self.cancel,
                progress=lambda p: self.app.call_from_thread(self._progress, p),
            )
            store.audit.record(
                self.app.user, "lists.import", name, f"{path} mode={mode} added={summary.added}"
            )
            self.app.call_from_thread(self._finished, "\n".join(summary.lines()), True)
        except (ImportFailed, ImportCancelled, StoreError) as exc:
            self.app.call_from_thread(self._finished, str(exc), False)
        finally:
            store.close()

    def _progress(self, p: Progress) -> None:
        self.query_one("#bar", ProgressBar).update(progress=round(p.fraction * 100))
        self._status(progress_text(p))

    def _finished(self, text: str, changed: bool) -> None:
        self.running = False
        self.changed = self.changed or changed
        self.query_one("#start", Button).disabled = False
        if changed:
            self.query_one("#bar", ProgressBar).update(progress=100)
        self._status(text)
        self.query_one("#close", Button).focus()

    def _status(self, text: str) -> None:
        self.query_one("#status", Static).update(text)

    @on(Button.Pressed, "#close")
    def action_cancel(self) -> None:
        if self.running:
            self.cancel.set()
            self._status("cancelling… (nothing will be changed)")
        else:
            self.dismiss(self.changed)


class SegmentEditor(ModalScreen[bool]):
    """Type a filter, see how many it selects (debounced, counted off the UI
    thread); ctrl+s saves it under a name."""

    DEFAULT_CSS = (
        _DIALOG_CSS.format(name="SegmentEditor")
        + """
    SegmentEditor #count { height: auto; margin: 0 0 1 0; }
    SegmentEditor #count.-error { color: $error; }
    """
    )
    BINDINGS: ClassVar = [
        Binding("escape", "close", "Close", show=False),
        Binding("ctrl+s", "save", "Save", show=False),
    ]
    DEBOUNCE = 0.3

    def __init__(self, db_path: Path, *, list_name: str | None = None) -> None:
        super().__init__()
        self.db_path = db_path
        self.list_name = list_name
        self._timer: Timer | None = None
        self.saved = False
        self.counted = 0  # counts run, for tests of the debounce

    def compose(self) -> ComposeResult:
        scope = f"members of {self.list_name!r}" if self.list_name else "all subscribers"
        with Vertical():
            yield Static(f"[b]Segment[/b] over {scope}")
            yield Input(placeholder='country = "DE" and plan in ("pro","team")', id="expr")
            yield Static("Type a filter.", id="count")
            yield Input(placeholder="name to save it under (ctrl+s saves)", id="name")

    def on_mount(self) -> None:
        self.query_one("#expr", Input).focus()

    @on(Input.Changed, "#expr")
    def _changed(self, event: Input.Changed) -> None:
        if self._timer is not None:
            self._timer.stop()
        try:
            segments.parse(event.value)
        except segments.SegmentError as exc:
            self._show(f"{exc}\n{event.value}\n{' ' * (exc.column - 1)}^", error=True)
            return
        self._show("counting…")
        self._timer = self.set_timer(self.DEBOUNCE, lambda: self._count(event.value))

    def _show(self, text: str, *, error: bool = False) -> None:
        label = self.query_one("#count", Static)
        label.update(text)
        label.set_class(error, "-error")

    @work(thread=True, exclusive=True, group="segment-count")
    def _count(self, text: str) -> None:
        store = Store(self.db_path)
        try:
            list_id = self._list_id(store)
            found = store.subscribers.count(list_id, where=segments.parse(text))
        finally:
            store.close()
        self.app.call_from_thread(self._counted, text, found)

    def _counted(self, text: str, found: int) -> None:
        self.counted += 1
        if self.query_one("#expr", Input).value == text:  # not stale
            self._show(f"{found:,} subscribers match")

    def _list_id(self, store: Store) -> int | None:
        return store.lists.require(self.list_name)["id"] if self.list_name else None

    @mutating
    def action_save(self) -> None:
        text = self.query_one("#expr", Input).value
        name = self.query_one("#name", Input).value.strip()
        if not name:
            self._show("Give the segment a name first.", error=True)
            return
        try:
            segments.parse(text)
            store = self.app.store
            store.segments.create(name, text, self._list_id(store))
        except (segments.SegmentError, StoreError) as exc:
            self._show(str(exc), error=True)
            return
        self.app.store.audit.record(self.app.user, "segments.create", name, text)
        self.app.notify(f"saved segment {name!r}")
        self.saved = True
        self.dismiss(True)

    def action_close(self) -> None:
        self.dismiss(self.saved)
