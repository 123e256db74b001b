"""SQL for the delivery ledger and its attempts (read side for screens).

The engine's write path (materialise, claim, record outcomes) belongs here
too, next to the queries that read it.
"""

from __future__ import annotations

from typing import Any

from core.store.db import Database

DELIVERY_STATES = (
    "queued",
    "sending",
    "sent",
    "deferred",
    "bounced",
    "failed",
    "unknown",
    "suppressed",
    "cancelled",
    "skipped",
)


class Deliveries:
    def __init__(self, db: Database) -> None:
        self.db = db

    def counts_by_state(self, campaign_id: int) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT state, count(*) FROM deliveries WHERE campaign_id = ? GROUP BY state",
            (campaign_id,),
        ).fetchall()
        counts = dict.fromkeys(DELIVERY_STATES, 0)
        counts.update({state: n for state, n in rows})
        return counts

    def page(self, *, before_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Newest deliveries first, keyset-paged by id."""
        return self.db.all(
            "SELECT d.*, c.name AS campaign_name, a.name AS account_name FROM deliveries d"
            " JOIN campaigns c ON c.id = d.campaign_id"
            " LEFT JOIN accounts a ON a.id = d.account_id"
            " WHERE (? IS NULL OR d.id < ?) ORDER BY d.id DESC LIMIT ?",
            (before_id, before_id, limit),
        )

    def attempts(self, delivery_id: int) -> list[dict[str, Any]]:
        return self.db.all(
            "SELECT t.*, a.name AS account_name FROM delivery_attempts t"
            " LEFT JOIN accounts a ON a.id = t.account_id"
            " WHERE t.delivery_id = ? ORDER BY t.id",
            (delivery_id,),
        )
