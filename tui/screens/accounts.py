"""`:accounts` — sending accounts and their health."""

from __future__ import annotations

from typing import Any, ClassVar

from tui.format import limit, rate
from tui.screens.base import TableScreen


class AccountsScreen(TableScreen):
    crumb = "accounts"
    columns = ("NAME", "PROVIDER", "HOST", "TLS", "STATE", "RATE", "PER HOUR", "PER DAY")
    empty_text = "No accounts yet. Add one with `postroom accounts add`."
    BINDINGS: ClassVar = [*TableScreen.BINDINGS]

    def load_rows(self) -> list[tuple[Any, tuple[Any, ...]]]:
        return [
            (
                a["id"],
                (
                    a["name"],
                    a["provider"],
                    f"{a['host']}:{a['port']}",
                    a["tls"],
                    a["state"],
                    rate(a["rate"]),
                    limit(a["max_per_hour"]),
                    limit(a["max_per_day"]),
                ),
            )
            for a in self.store.accounts.all()
        ]
