"""`:lists` — lists with their counts; Enter pages through the members.

Keys: Enter members, `i` import a CSV (progress, cancellable), `e` export,
`s` segment editor with a live count, `n` new list, ctrl+d delete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Static

from core.lists.export import export_subscribers
from core.store import Store, StoreError
from tui.format import count
from tui.readonly import mutating
from tui.screens.base import SLASH, BaseScreen, TableScreen
from tui.screens.dialogs import ConfirmDialog
from tui.screens.list_dialogs import ImportDialog, PromptDialog, SegmentEditor
from tui.widgets.paged_table import PagedTable, Row


class ListsScreen(TableScreen):
    crumb = "lists"
    columns = ("NAME", "TOTAL", "VALID", "SUPPRESSED", "DESCRIPTION")
    empty_text = "No lists yet. Press i to import a CSV, or `postroom lists import NAME FILE.csv`."
    BINDINGS: ClassVar = [
        Binding("enter", "open", "Members"),
        Binding("i", "import_csv", "Import"),
        Binding("s", "segments", "Segments"),
        Binding("e", "export", "Export"),
        Binding("n", "new_list", "New", show=False),
        Binding("ctrl+d", "delete", "Delete"),
        *TableScreen.BINDINGS,
    ]

    def load_rows(self) -> list[tuple[Any, tuple[Any, ...]]]:
        return [
            (
                row["id"],
                (
                    row["name"],
                    count(row["total"]),
                    count(row["valid"]),
                    count(row["suppressed"]),
                    row["description"],
                ),
            )
            for row in self.store.lists.all_with_counts()
        ]

    def _selected(self) -> tuple[int, str] | None:
        key = self.selected_key
        if key is None:
            return None
        name = next(cells[0] for k, cells in self.rows if str(k) == key)
        return int(key), name

    def action_open(self) -> None:
        if selected := self._selected():
            self.app.push_screen(SubscribersScreen(*selected))

    def on_data_table_row_selected(self, event: object) -> None:
        self.action_open()

    @mutating
    def action_import_csv(self) -> None:
        selected = self._selected()
        dialog = ImportDialog(self.app.db_path, list_name=selected[1] if selected else "")
        self.app.push_screen(dialog, lambda _changed: self.reload())

    def action_segments(self) -> None:
        selected = self._selected()
        self.app.push_screen(
            SegmentEditor(self.app.db_path, list_name=selected[1] if selected else None),
            lambda _saved: self.reload(),
        )

    def action_export(self) -> None:
        if not (selected := self._selected()):
            return
        list_id, name = selected

        def export(path: str | None) -> None:
            if path:
                self._export(list_id, name, Path(path).expanduser())

        self.app.push_screen(
            PromptDialog(f"Export list {name!r} to CSV file:", f"{name}.csv"), export
        )

    @work(thread=True, exclusive=True, group="export")
    def _export(self, list_id: int, name: str, path: Path) -> None:
        store = Store(self.app.db_path)  # this thread's own connection
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            with tmp.open("w", encoding="utf-8", newline="") as out:
                written = export_subscribers(store, out, list_id=list_id)
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            self.app.call_from_thread(self.app.notify, f"export failed: {exc}", severity="error")
            return
        finally:
            store.close()
        self.app.call_from_thread(self.app.notify, f"exported {written:,} from {name!r} to {path}")

    @mutating
    def action_new_list(self) -> None:
        def create(name: str | None) -> None:
            if not name:
                return
            try:
                self.store.lists.create(name)
            except StoreError as exc:
                self.app.notify(str(exc), severity="error")
                return
            self.store.audit.record(self.app.user, "lists.create", name)
            self.reload()

        self.app.push_screen(PromptDialog("Name of the new list:"), create)

    @mutating
    def action_delete(self) -> None:
        if not (selected := self._selected()):
            return
        list_id, name = selected
        members = self.store.subscribers.count_in_list(list_id)

        def confirmed(yes: bool | None) -> None:
            if yes:
                try:
                    self.store.lists.delete(list_id)
                except StoreError as exc:
                    self.app.notify(f"not deleted: {exc}", severity="error")
                    return
                self.store.audit.record(self.app.user, "lists.delete", name, f"members={members}")
                self.app.notify(f"deleted list {name!r}")
                self.reload()

        self.app.push_screen(
            ConfirmDialog(
                f"Delete list {name!r} with {members:,} members?\n"
                "The subscribers themselves and the suppression list stay.",
                yes="Delete",
            ),
            confirmed,
        )


class SubscriberSource:
    """A list's members (optionally searched) for ``PagedTable``."""

    columns = (("EMAIL", 38), ("FLAGS", 7), ("FIELDS", 0))

    def __init__(self, store: Store, list_id: int, search: str = "") -> None:
        self.store = store
        self.list_id = list_id
        self.search = search

    def count(self) -> int:
        return self.store.subscribers.count(self.list_id, search=self.search)

    def page(self, *, after: Any = None, before: Any = None, limit: int) -> list[Row]:
        rows = self.store.subscribers.page(
            self.list_id, after_id=after or 0, before_id=before, limit=limit, search=self.search
        )
        return [(r["id"], self._cells(r)) for r in rows]

    def key_at(self, offset: int) -> Any:
        return self.store.subscribers.id_at(self.list_id, offset, search=self.search)

    def _cells(self, r: dict[str, Any]) -> tuple[str, str, str]:
        flags = " ".join(f for f, on in (("invalid", not r["valid"]), ("role", r["role"])) if on)
        fields = json.loads(r["fields"])
        return r["email"], flags, "  ".join(f"{k}={v}" for k, v in fields.items())


class SubscribersScreen(BaseScreen):
    """One list's members, paged from the database; `/` searches address and
    fields (live on lists up to LIVE_SEARCH members, on Enter above)."""

    DEFAULT_CSS = """
    SubscribersScreen #found { dock: bottom; height: 1; color: $text-muted; padding: 0 1; }
    SubscribersScreen #search { dock: bottom; display: none; height: 1; border: none; padding: 0 1; }
    SubscribersScreen #search.-open { display: block; }
    """
    BINDINGS: ClassVar = [
        Binding(action="search", description="Search", **SLASH),
        Binding("escape", "back", "Back", show=False),
    ]
    LIVE_SEARCH = 100_000  # a search is a scan: as-you-type only while it is cheap

    def __init__(self, list_id: int, list_name: str) -> None:
        super().__init__()
        self.list_id = list_id
        self.list_name = list_name
        self.search = ""
        self.members = 0
        self.crumb = f"lists › {list_name}"

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        yield PagedTable(empty_text="No members match.", id="members")
        box = Input(placeholder="search address or fields (!x excludes, esc clears)", id="search")
        box.can_focus = False
        yield box
        yield Static("", id="found")

    def on_mount(self) -> None:
        self.table.set_source(SubscriberSource(self.store, self.list_id))
        self.members = self.table.total
        self._show_found()
        self.table.focus()

    @property
    def table(self) -> PagedTable:
        return self.query_one("#members", PagedTable)

    def _apply(self, text: str) -> None:
        self.search = text
        self.table.set_source(SubscriberSource(self.store, self.list_id, text))
        self._show_found()

    def _show_found(self) -> None:
        text = f"{self.members:,} members"
        if self.search:
            text = f"{self.table.total:,} of {text} match {self.search!r}"
        self.query_one("#found", Static).update(text)

    def action_search(self) -> None:
        self.open_line(self.query_one("#search", Input))

    @on(Input.Changed, "#search")
    def _search_typed(self, event: Input.Changed) -> None:
        if self.members <= self.LIVE_SEARCH:
            self._apply(event.value.strip())

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        self._apply(event.value.strip())
        self.table.focus()

    def action_back(self) -> None:
        box = self.query_one("#search", Input)
        if box.has_class("-open") or self.search:
            with box.prevent(Input.Changed):
                box.value = ""
            box.can_focus = False
            box.remove_class("-open")
            if self.search:
                self._apply("")
            self.table.focus()
        else:
            self.app.action_back()
