"""`:dashboard` — the start screen: campaigns and what they are doing."""

from __future__ import annotations

from typing import Any

from tui.format import count, percent
from tui.screens.base import TableScreen


class DashboardScreen(TableScreen):
    crumb = "dashboard"
    columns = ("CAMPAIGN", "STATE", "SENT", "TOTAL", "DONE")
    empty_text = "No campaigns yet."

    def load_rows(self) -> list[tuple[Any, tuple[Any, ...]]]:
        return [
            (
                c["id"],
                (
                    c["name"],
                    c["state"],
                    count(c["sent"]),
                    count(c["total"]),
                    percent(c["sent"], c["total"]),
                ),
            )
            for c in self.store.campaigns.all()
        ]
