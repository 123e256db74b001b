"""SQL for settings and the audit log."""

from __future__ import annotations

import json
from typing import Any

from core.store.db import Database, now


class Settings:
    """Small key/value settings kept in the database (JSON values)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, key: str, default: Any = None) -> Any:
        value = self.db.scalar("SELECT value FROM settings WHERE key = ?", (key,))
        return default if value is None else json.loads(value)

    def set(self, key: str, value: Any) -> None:
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )


class Audit:
    """Who did what, when: every operator action that changes something."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, user: str, action: str, target: str = "", detail: str = "") -> None:
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO audit_log (at, user, action, target, detail) VALUES (?, ?, ?, ?, ?)",
                (now(), user, action, target, detail),
            )

    def recent(self, limit: int = 200) -> list[dict[str, Any]]:
        return self.db.all("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?", (limit,))
