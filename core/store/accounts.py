"""SQL for sending accounts."""

from __future__ import annotations

from typing import Any

from core.store.db import Database, StoreError, now

# Columns an operator may set; everything else is managed by Postroom.
ACCOUNT_FIELDS = (
    "name",
    "provider",
    "host",
    "port",
    "tls",
    "auth",
    "username",
    "secret",
    "oauth_token_cmd",
    "allow_plaintext_auth",
    "verify_tls",
    "envelope_from",
    "rate",
    "max_connections",
    "max_messages_per_connection",
    "max_per_hour",
    "max_per_day",
    "max_message_bytes",
    "warmup",
    "warmup_started_at",
    "limits_source",
)


def _only_known(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(ACCOUNT_FIELDS)
    if unknown:
        raise StoreError(f"unknown account field(s): {', '.join(sorted(unknown))}")
    return values


class Accounts:
    def __init__(self, db: Database) -> None:
        self.db = db

    def all(self) -> list[dict[str, Any]]:
        return self.db.all("SELECT * FROM accounts ORDER BY name")

    def get(self, account_id: int) -> dict[str, Any] | None:
        return self.db.one("SELECT * FROM accounts WHERE id = ?", (account_id,))

    def by_name(self, name: str) -> dict[str, Any] | None:
        return self.db.one("SELECT * FROM accounts WHERE name = ?", (name,))

    def require(self, name: str) -> dict[str, Any]:
        account = self.by_name(name)
        if account is None:
            raise StoreError(f"no account named {name!r}")
        return account

    def create(self, **values: Any) -> int:
        return self.db.insert_row("accounts", _only_known(values))

    def update(self, account_id: int, **values: Any) -> None:
        self.db.update_row("accounts", account_id, _only_known(values))

    def set_state(self, account_id: int, state: str, reason: str | None = None) -> None:
        with self.db.transaction():
            self.db.execute(
                "UPDATE accounts SET state = ?, state_reason = ?, updated_at = ? WHERE id = ?",
                (state, reason, now(), account_id),
            )

    def record_error(self, account_id: int, error: str) -> None:
        with self.db.transaction():
            self.db.execute(
                "UPDATE accounts SET last_error = ?, last_error_at = ? WHERE id = ?",
                (error, now(), account_id),
            )

    def delete(self, account_id: int) -> None:
        with self.db.transaction():
            self.db.execute("DELETE FROM accounts WHERE id = ?", (account_id,))

    def sent_since(self, account_id: int, since: float) -> int:
        """Messages this account delivered since ``since`` (survives restarts)."""
        return self.db.scalar(
            "SELECT count(*) FROM delivery_attempts"
            " WHERE account_id = ? AND finished_at >= ? AND outcome = 'sent'",
            (account_id, since),
        )

    def usage(self, account_id: int) -> dict[str, Any]:
        """What refers to an account: campaigns by name, and its delivery history."""
        campaigns = [
            row["name"]
            for row in self.db.all(
                "SELECT c.name FROM campaign_accounts ca JOIN campaigns c ON c.id = ca.campaign_id"
                " WHERE ca.account_id = ? ORDER BY c.name",
                (account_id,),
            )
        ]
        deliveries = self.db.scalar(
            "SELECT count(*) FROM deliveries WHERE account_id = ?", (account_id,)
        )
        attempts = self.db.scalar(
            "SELECT count(*) FROM delivery_attempts WHERE account_id = ?", (account_id,)
        )
        return {"campaigns": campaigns, "deliveries": deliveries, "attempts": attempts}

    def duplicate(self, account_id: int, new_name: str) -> int:
        """A copy of an account's settings (not its state or errors) under ``new_name``."""
        source = self.get(account_id)
        if source is None:
            raise StoreError(f"no account with id {account_id}")
        values = {field: source[field] for field in ACCOUNT_FIELDS}
        return self.create(**{**values, "name": new_name, "warmup_started_at": None})

    def sent_since_by_account(self, since: float) -> dict[int, int]:
        """Messages delivered since ``since``, per account id (one query for a table)."""
        rows = self.db.all(
            "SELECT account_id, count(*) AS n FROM delivery_attempts"
            " WHERE finished_at >= ? AND outcome = 'sent' AND account_id IS NOT NULL"
            " GROUP BY account_id",
            (since,),
        )
        return {row["account_id"]: row["n"] for row in rows}
