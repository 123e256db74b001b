"""SQL for lists, subscribers, list membership, segments and suppressions."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from core.store.db import Database, StoreError, now


class Lists:
    def __init__(self, db: Database) -> None:
        self.db = db

    def all_with_counts(self) -> list[dict[str, Any]]:
        """Each list with its total, valid and suppressed member counts."""
        return self.db.all(
            """
            SELECT l.id, l.name, l.description, l.created_at,
                   count(m.subscriber_id) AS total,
                   coalesce(sum(s.valid), 0) AS valid,
                   count(x.email) AS suppressed
            FROM lists l
            LEFT JOIN list_members m ON m.list_id = l.id
            LEFT JOIN subscribers s ON s.id = m.subscriber_id
            LEFT JOIN suppressions x ON x.email = s.email
            GROUP BY l.id ORDER BY l.name
            """
        )

    def by_name(self, name: str) -> dict[str, Any] | None:
        return self.db.one("SELECT * FROM lists WHERE name = ?", (name,))

    def require(self, name: str) -> dict[str, Any]:
        found = self.by_name(name)
        if found is None:
            raise StoreError(f"no list named {name!r}")
        return found

    def create(self, name: str, description: str = "") -> int:
        with self.db.transaction():
            cursor = self.db.execute(
                "INSERT INTO lists (name, description, created_at) VALUES (?, ?, ?)",
                (name, description, now()),
            )
        return int(cursor.lastrowid)

    def ensure(self, name: str) -> int:
        found = self.by_name(name)
        return found["id"] if found else self.create(name)

    def delete(self, list_id: int) -> None:
        with self.db.transaction():
            self.db.execute("DELETE FROM lists WHERE id = ?", (list_id,))


class Subscribers:
    def __init__(self, db: Database) -> None:
        self.db = db

    def upsert_many(self, rows: Iterable[dict[str, Any]], list_id: int | None = None) -> int:
        """Insert or update subscribers by email; fields are merged, not replaced.

        Each row has ``email`` and ``domain`` (already normalised), and may
        have ``fields`` (dict), ``valid`` and ``role``. Returns rows written.
        """
        stamp = now()
        written = 0
        with self.db.transaction():
            for row in rows:
                self.db.execute(
                    """
                    INSERT INTO subscribers (email, domain, fields, valid, role,
                                             created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (email) DO UPDATE SET
                        fields = json_patch(subscribers.fields, excluded.fields),
                        valid = excluded.valid, role = excluded.role,
                        updated_at = excluded.updated_at
                    """,
                    (
                        row["email"],
                        row["domain"],
                        json.dumps(row.get("fields", {}), ensure_ascii=False),
                        int(row.get("valid", 1)),
                        int(row.get("role", 0)),
                        stamp,
                        stamp,
                    ),
                )
                if list_id is not None:
                    self.db.execute(
                        "INSERT OR IGNORE INTO list_members (list_id, subscriber_id, added_at)"
                        " SELECT ?, id, ? FROM subscribers WHERE email = ?",
                        (list_id, stamp, row["email"]),
                    )
                written += 1
        return written

    def by_email(self, email: str) -> dict[str, Any] | None:
        return self.db.one("SELECT * FROM subscribers WHERE email = ?", (email,))

    def page(
        self, list_id: int, *, after_id: int = 0, limit: int = 100, search: str = ""
    ) -> list[dict[str, Any]]:
        """One page of a list's members, keyset-paged by subscriber id."""
        like = f"%{search}%"
        return self.db.all(
            """
            SELECT s.* FROM list_members m JOIN subscribers s ON s.id = m.subscriber_id
            WHERE m.list_id = ? AND s.id > ?
              AND (? = '' OR s.email LIKE ? OR s.fields LIKE ?)
            ORDER BY s.id LIMIT ?
            """,
            (list_id, after_id, search, like, like, limit),
        )

    def count_in_list(self, list_id: int) -> int:
        return self.db.scalar("SELECT count(*) FROM list_members WHERE list_id = ?", (list_id,))


class Segments:
    def __init__(self, db: Database) -> None:
        self.db = db

    def all(self) -> list[dict[str, Any]]:
        return self.db.all("SELECT * FROM segments ORDER BY name")

    def by_name(self, name: str) -> dict[str, Any] | None:
        return self.db.one("SELECT * FROM segments WHERE name = ?", (name,))

    def create(self, name: str, expression: str, list_id: int | None = None) -> int:
        with self.db.transaction():
            cursor = self.db.execute(
                "INSERT INTO segments (name, list_id, expression, created_at) VALUES (?, ?, ?, ?)",
                (name, list_id, expression, now()),
            )
        return int(cursor.lastrowid)


SUPPRESSION_REASONS = ("unsubscribed", "bounced", "complained", "manual")


class Suppressions:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, email: str, reason: str, source: str = "", detail: str = "") -> None:
        if reason not in SUPPRESSION_REASONS:
            raise StoreError(
                f"suppression reason must be one of {', '.join(SUPPRESSION_REASONS)}, not {reason!r}"
            )
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO suppressions (email, reason, source, detail, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING",
                (email, reason, source, detail, now()),
            )

    def remove(self, email: str) -> bool:
        with self.db.transaction():
            cursor = self.db.execute("DELETE FROM suppressions WHERE email = ?", (email,))
        return cursor.rowcount > 0

    def contains(self, email: str) -> bool:
        return self.db.one("SELECT 1 FROM suppressions WHERE email = ?", (email,)) is not None

    def all(self, limit: int = 1000) -> list[dict[str, Any]]:
        return self.db.all("SELECT * FROM suppressions ORDER BY created_at DESC LIMIT ?", (limit,))

    def count(self) -> int:
        return self.db.scalar("SELECT count(*) FROM suppressions")
