"""`:audit` — who changed what, when: every operator action, newest first."""

from __future__ import annotations

from typing import Any

from tui.format import stamp
from tui.screens.base import TableScreen

SHOWN = 1000  # the newest entries; `postroom` keeps them all in the database


class AuditScreen(TableScreen):
    crumb = "audit"
    columns = ("WHEN", "USER", "ACTION", "TARGET", "DETAIL")
    empty_text = "No actions recorded yet. Pauses, rate changes, retries and launches land here."

    def load_rows(self) -> list[tuple[Any, tuple[Any, ...]]]:
        return [
            (e["id"], (stamp(e["at"]), e["user"], e["action"], e["target"], e["detail"]))
            for e in self.store.audit.recent(SHOWN)
        ]
