"""`:lists` — subscriber lists with their counts; Enter opens the members."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from textual.binding import Binding

from tui.format import count
from tui.screens.base import TableScreen


class ListsScreen(TableScreen):
    crumb = "lists"
    columns = ("NAME", "TOTAL", "VALID", "SUPPRESSED", "DESCRIPTION")
    empty_text = "No lists yet. Import one with `postroom lists import NAME FILE.csv`."
    BINDINGS: ClassVar = [
        Binding("enter", "open", "Members"),
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

    def action_open(self) -> None:
        key = self.selected_key
        if key is not None:
            name = next(cells[0] for k, cells in self.rows if str(k) == key)
            self.app.push_screen(SubscribersScreen(int(key), name))

    def on_data_table_row_selected(self, event: object) -> None:
        self.action_open()


class SubscribersScreen(TableScreen):
    """The first members of a list (the paged view replaces this for big lists)."""

    columns = ("EMAIL", "VALID", "ROLE", "FIELDS")
    PAGE = 500

    def __init__(self, list_id: int, list_name: str) -> None:
        super().__init__()
        self.list_id = list_id
        self.crumb = f"lists › {list_name}"

    def load_rows(self) -> list[tuple[Any, tuple[Any, ...]]]:
        rows = self.store.subscribers.page(self.list_id, limit=self.PAGE)
        return [
            (
                r["id"],
                (
                    r["email"],
                    "yes" if r["valid"] else "no",
                    "role" if r["role"] else "",
                    ", ".join(f"{k}={v}" for k, v in json.loads(r["fields"]).items()),
                ),
            )
            for r in rows
        ]
