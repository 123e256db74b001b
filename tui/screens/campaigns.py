"""`:campaigns` — campaigns with their progress; Enter shows the ledger counts."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding

from tui.format import count, percent
from tui.screens.base import TableScreen


class CampaignsScreen(TableScreen):
    crumb = "campaigns"
    columns = ("NAME", "STATE", "AUDIENCE", "FROM", "SUBJECT", "SENT", "DONE")
    empty_text = "No campaigns yet. Create one with `postroom campaigns create FILE.toml`."
    BINDINGS: ClassVar = [
        Binding("enter", "open", "Details"),
        *TableScreen.BINDINGS,
    ]

    def load_rows(self) -> list[tuple[Any, tuple[Any, ...]]]:
        return [
            (
                c["id"],
                (
                    c["name"],
                    c["state"],
                    c["segment_name"] or c["list_name"] or "—",
                    c["from_email"],
                    c["subject"],
                    count(c["sent"]),
                    percent(c["sent"], c["total"]),
                ),
            )
            for c in self.store.campaigns.all()
        ]

    def action_open(self) -> None:
        key = self.selected_key
        if key is not None:
            name = next(cells[0] for k, cells in self.rows if str(k) == key)
            self.app.push_screen(CampaignLedgerScreen(int(key), name))

    def on_data_table_row_selected(self, event: object) -> None:
        self.action_open()


class CampaignLedgerScreen(TableScreen):
    """One campaign's deliveries counted by state."""

    columns = ("STATE", "COUNT")

    def __init__(self, campaign_id: int, name: str) -> None:
        super().__init__()
        self.campaign_id = campaign_id
        self.crumb = f"campaigns › {name}"

    def load_rows(self) -> list[tuple[Any, tuple[Any, ...]]]:
        counts = self.store.deliveries.counts_by_state(self.campaign_id)
        return [(state, (state, count(n))) for state, n in counts.items()]
