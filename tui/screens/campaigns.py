"""`:campaigns` — campaigns with their progress; Enter shows the ledger counts.

`n` new, `e` edit a draft, `v` preview, `c` the pre-launch check, `l` launch
(the check runs first; blocking failures refuse the launch).
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding

from tui.format import count, percent
from tui.readonly import mutating
from tui.screens.base import TableScreen
from tui.screens.campaign_form import CampaignForm
from tui.screens.check import CheckScreen
from tui.screens.preview import PreviewScreen
from tui.screens.steering import start_launch


class CampaignsScreen(TableScreen):
    crumb = "campaigns"
    columns = ("NAME", "STATE", "AUDIENCE", "FROM", "SUBJECT", "SENT", "DONE")
    empty_text = "No campaigns yet. Create one with `postroom campaigns create FILE.toml`."
    BINDINGS: ClassVar = [
        Binding("enter", "open", "Details"),
        Binding("n", "new", "New"),
        Binding("e", "edit", "Edit"),
        Binding("v", "preview", "Preview"),
        Binding("c", "check", "Check"),
        Binding("l", "launch", "Launch"),
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

    def _after_form(self, campaign_id: int | None) -> None:
        self.reload()

    @mutating
    def action_new(self) -> None:
        self.app.push_screen(CampaignForm(), self._after_form)

    @mutating
    def action_edit(self) -> None:
        key = self.selected_key
        if key is None:
            return
        campaign = self.store.campaigns.get(int(key))
        if campaign["state"] not in ("draft", "scheduled"):
            self.notify(f"{campaign['name']} is {campaign['state']}: only drafts can be edited")
            return
        self.app.push_screen(CampaignForm(campaign), self._after_form)

    def action_preview(self) -> None:
        if (key := self.selected_key) is not None:
            self.app.push_screen(PreviewScreen(int(key)))

    def action_check(self) -> None:
        if (key := self.selected_key) is not None:
            self.app.push_screen(CheckScreen(int(key)))

    @mutating
    def action_launch(self) -> None:
        if (key := self.selected_key) is not None:
            start_launch(self.app, int(key))


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
