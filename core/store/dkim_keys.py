"""SQL for DKIM keys: which private key file signs for which domain and selector."""

from __future__ import annotations

from typing import Any

from core.store.db import Database, StoreError, now


class DkimKeys:
    def __init__(self, db: Database) -> None:
        self.db = db

    def all(self) -> list[dict[str, Any]]:
        return self.db.all("SELECT * FROM dkim_keys ORDER BY domain, created_at DESC, selector")

    def for_domain(self, domain: str) -> list[dict[str, Any]]:
        """The domain's keys, newest first (the first one signs)."""
        return self.db.all(
            "SELECT * FROM dkim_keys WHERE domain = ? ORDER BY created_at DESC, selector",
            (domain.lower(),),
        )

    def get(self, domain: str, selector: str) -> dict[str, Any] | None:
        return self.db.one(
            "SELECT * FROM dkim_keys WHERE domain = ? AND selector = ?",
            (domain.lower(), selector),
        )

    def add(self, domain: str, selector: str, key_path: str) -> None:
        if self.get(domain, selector) is not None:
            raise StoreError(f"a DKIM key for selector {selector!r} of {domain} already exists")
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO dkim_keys (domain, selector, key_path, created_at)"
                " VALUES (?, ?, ?, ?)",
                (domain.lower(), selector, key_path, now()),
            )

    def delete(self, domain: str, selector: str) -> None:
        with self.db.transaction():
            self.db.execute(
                "DELETE FROM dkim_keys WHERE domain = ? AND selector = ?",
                (domain.lower(), selector),
            )
