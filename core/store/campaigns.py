"""SQL for campaigns and their account pools."""

from __future__ import annotations

import json
from typing import Any

from core.store.db import Database, StoreError, now

CAMPAIGN_FIELDS = (
    "name",
    "list_id",
    "segment_id",
    "from_name",
    "from_email",
    "reply_to",
    "subject",
    "text_body",
    "html_body",
    "headers",
    "attachments",
    "feedback_id",
    "rate",
    "scheduled_at",
)
_JSON_FIELDS = ("headers", "attachments")


def _encode(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise StoreError(f"unknown campaign field(s): {', '.join(sorted(unknown))}")
    return {k: json.dumps(v) if k in _JSON_FIELDS else v for k, v in values.items()}


def _decode(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is not None:
        for key in _JSON_FIELDS:
            row[key] = json.loads(row[key])
    return row


class Campaigns:
    def __init__(self, db: Database) -> None:
        self.db = db

    def all(self) -> list[dict[str, Any]]:
        """Campaigns with their audience name and ledger counts by state."""
        rows = self.db.all(
            """
            SELECT c.*, l.name AS list_name, g.name AS segment_name,
                   (SELECT count(*) FROM deliveries d WHERE d.campaign_id = c.id) AS total,
                   (SELECT count(*) FROM deliveries d
                     WHERE d.campaign_id = c.id AND d.state = 'sent') AS sent
            FROM campaigns c
            LEFT JOIN lists l ON l.id = c.list_id
            LEFT JOIN segments g ON g.id = c.segment_id
            ORDER BY c.created_at DESC, c.id DESC
            """
        )
        return [_decode(row) for row in rows]

    def get(self, campaign_id: int) -> dict[str, Any] | None:
        return _decode(self.db.one("SELECT * FROM campaigns WHERE id = ?", (campaign_id,)))

    def by_name(self, name: str) -> dict[str, Any] | None:
        return _decode(self.db.one("SELECT * FROM campaigns WHERE name = ?", (name,)))

    def require(self, name: str) -> dict[str, Any]:
        found = self.by_name(name)
        if found is None:
            raise StoreError(f"no campaign named {name!r}")
        return found

    def create(self, **values: Any) -> int:
        values = _encode(values)
        stamp = now()
        values = {**values, "created_at": stamp, "updated_at": stamp}
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self.db.transaction():
            cursor = self.db.execute(
                f"INSERT INTO campaigns ({columns}) VALUES ({marks})",  # noqa: S608 - names checked
                tuple(values.values()),
            )
        return int(cursor.lastrowid)

    def update(self, campaign_id: int, **values: Any) -> None:
        values = _encode(values)
        if not values:
            return
        assignments = ", ".join(f"{column} = ?" for column in values)
        with self.db.transaction():
            self.db.execute(
                f"UPDATE campaigns SET {assignments}, updated_at = ? WHERE id = ?",  # noqa: S608
                (*values.values(), now(), campaign_id),
            )

    def set_state(self, campaign_id: int, state: str) -> None:
        stamp = now()
        with self.db.transaction():
            self.db.execute(
                """
                UPDATE campaigns SET state = ?, updated_at = ?,
                    launched_at = CASE WHEN ? = 'running' THEN coalesce(launched_at, ?)
                                       ELSE launched_at END,
                    finished_at = CASE WHEN ? IN ('completed', 'cancelled') THEN ?
                                       ELSE finished_at END
                WHERE id = ?
                """,
                (state, stamp, state, stamp, state, stamp, campaign_id),
            )

    def delete(self, campaign_id: int) -> None:
        with self.db.transaction():
            self.db.execute("DELETE FROM campaigns WHERE id = ?", (campaign_id,))

    def accounts(self, campaign_id: int) -> list[dict[str, Any]]:
        """The campaign's account pool: each account row plus its weight."""
        return self.db.all(
            "SELECT a.*, ca.weight FROM campaign_accounts ca"
            " JOIN accounts a ON a.id = ca.account_id WHERE ca.campaign_id = ? ORDER BY a.name",
            (campaign_id,),
        )

    def set_accounts(self, campaign_id: int, weights: dict[int, int]) -> None:
        with self.db.transaction():
            self.db.execute("DELETE FROM campaign_accounts WHERE campaign_id = ?", (campaign_id,))
            self.db.executemany(
                "INSERT INTO campaign_accounts (campaign_id, account_id, weight) VALUES (?, ?, ?)",
                [(campaign_id, account_id, weight) for account_id, weight in weights.items()],
            )

    def segment_list_id(self, segment_id: int) -> int | None:
        return self.db.scalar("SELECT list_id FROM segments WHERE id = ?", (segment_id,))
