"""`:logs` — the delivery log, newest first."""

from __future__ import annotations

from typing import Any

from tui.format import stamp
from tui.screens.base import TableScreen


class LogsScreen(TableScreen):
    crumb = "logs"
    columns = ("TIME", "CAMPAIGN", "RECIPIENT", "STATE", "CODE", "ACCOUNT", "REPLY")
    empty_text = "No deliveries yet. Launch a campaign to fill the log."
    PAGE = 500

    def load_rows(self) -> list[tuple[Any, tuple[Any, ...]]]:
        return [
            (
                d["id"],
                (
                    stamp(d["updated_at"]),
                    d["campaign_name"],
                    d["email"],
                    d["state"],
                    d["last_code"] or "",
                    d["account_name"] or "",
                    (d["last_reply"] or "")[:60],
                ),
            )
            for d in self.store.deliveries.page(limit=self.PAGE)
        ]
