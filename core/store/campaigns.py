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
        return self.db.insert_row("campaigns", _encode(values))

    def update(self, campaign_id: int, **values: Any) -> None:
        self.db.update_row("campaigns", campaign_id, _encode(values))

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
        """Replace the pool; stamps the campaign so a running engine picks the change up."""
        with self.db.transaction():
            self.db.execute(
                "UPDATE campaigns SET updated_at = ? WHERE id = ?", (now(), campaign_id)
            )
            self.db.execute("DELETE FROM campaign_accounts WHERE campaign_id = ?", (campaign_id,))
            self.db.executemany(
                "INSERT INTO campaign_accounts (campaign_id, account_id, weight) VALUES (?, ?, ?)",
                [(campaign_id, account_id, weight) for account_id, weight in weights.items()],
            )

    def segment_list_id(self, segment_id: int) -> int | None:
        return self.db.scalar("SELECT list_id FROM segments WHERE id = ?", (segment_id,))

    def audience_names(self, campaign_id: int) -> dict[str, Any]:
        """The campaign's list and segment names (None when unset)."""
        return self.db.one(
            "SELECT l.name AS list_name, g.name AS segment_name FROM campaigns c"
            " LEFT JOIN lists l ON l.id = c.list_id"
            " LEFT JOIN segments g ON g.id = c.segment_id WHERE c.id = ?",
            (campaign_id,),
        ) or {"list_name": None, "segment_name": None}

    def audience_list_id(self, campaign: dict[str, Any]) -> int | None:
        """The list whose members a campaign goes to (a segment's list for a segment)."""
        if campaign["list_id"] is not None:
            return campaign["list_id"]
        if campaign["segment_id"] is not None:
            return self.segment_list_id(campaign["segment_id"])
        return None

    def audience_counts(self, list_id: int) -> dict[str, int]:
        """Members, and how many are suppressed, invalid, role addresses, sendable."""
        row = self.db.one(
            """
            SELECT count(*) AS total,
                   coalesce(sum(x.email IS NOT NULL), 0) AS suppressed,
                   coalesce(sum(s.valid = 0), 0) AS invalid,
                   coalesce(sum(s.role = 1), 0) AS role,
                   coalesce(sum(s.valid = 1 AND x.email IS NULL), 0) AS sendable
            FROM list_members m JOIN subscribers s ON s.id = m.subscriber_id
            LEFT JOIN suppressions x ON x.email = s.email
            WHERE m.list_id = ?
            """,
            (list_id,),
        )
        return {key: int(value) for key, value in row.items()}

    def audience_page(
        self, list_id: int, *, after_id: int = 0, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Sendable members (valid, not suppressed), keyset-paged by subscriber id."""
        return self.db.all(
            """
            SELECT s.id, s.email, s.fields, s.role FROM list_members m
            JOIN subscribers s ON s.id = m.subscriber_id
            WHERE m.list_id = ? AND s.id > ? AND s.valid = 1
              AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.email = s.email)
            ORDER BY s.id LIMIT ?
            """,
            (list_id, after_id, limit),
        )

    def audience_member(self, list_id: int, email: str) -> dict[str, Any] | None:
        """One member of the list by address (the preview's chosen subscriber)."""
        return self.db.one(
            "SELECT s.id, s.email, s.fields, s.role FROM list_members m"
            " JOIN subscribers s ON s.id = m.subscriber_id WHERE m.list_id = ? AND s.email = ?",
            (list_id, email),
        )

    def audience_neighbour(
        self, list_id: int, subscriber_id: int, step: int
    ) -> dict[str, Any] | None:
        """The next (step > 0) or previous member of the list, for preview stepping."""
        if step > 0:
            sql = (
                "SELECT s.id, s.email, s.fields, s.role FROM list_members m"
                " JOIN subscribers s ON s.id = m.subscriber_id"
                " WHERE m.list_id = ? AND s.id > ? ORDER BY s.id LIMIT 1"
            )
        else:
            sql = (
                "SELECT s.id, s.email, s.fields, s.role FROM list_members m"
                " JOIN subscribers s ON s.id = m.subscriber_id"
                " WHERE m.list_id = ? AND s.id < ? ORDER BY s.id DESC LIMIT 1"
            )
        return self.db.one(sql, (list_id, subscriber_id))
