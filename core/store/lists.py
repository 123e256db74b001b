"""SQL for lists, subscribers, list membership, segments and suppressions."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from core.lists import segments as seg
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
            users = self.db.all("SELECT name FROM campaigns WHERE list_id = ?", (list_id,))
            if users:
                names = ", ".join(repr(u["name"]) for u in users)
                raise StoreError(f"the list is still in use by campaign {names}; delete that first")
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
        self,
        list_id: int | None,
        *,
        after_id: int = 0,
        before_id: int | None = None,
        limit: int = 100,
        search: str = "",
        where: seg.Node | None = None,
    ) -> list[dict[str, Any]]:
        """One page of subscribers (of a list, or all), keyset-paged by id.

        ``after_id`` pages forward; ``before_id`` pages backward (rows still
        come back in ascending id order). ``search`` matches the address or
        any field value (substring, case-insensitive; a leading ``!``
        excludes); ``where`` is a parsed segment filter.
        """
        source, clauses, params = self._filters(list_id, search, where)
        key = self._key(list_id)
        if before_id is not None:
            clauses.append(f"{key} < ?")
            params.append(before_id)
            order = "DESC"
        else:
            clauses.append(f"{key} > ?")
            params.append(after_id)
            order = "ASC"
        rows = self.db.all(
            f"SELECT s.* FROM {source} WHERE {' AND '.join(clauses)}"  # noqa: S608 - fixed fragments, values bound
            f" ORDER BY {key} {order} LIMIT ?",
            (*params, limit),
        )
        return rows[::-1] if before_id is not None else rows

    def id_at(
        self,
        list_id: int | None,
        offset: int,
        *,
        search: str = "",
        where: seg.Node | None = None,
    ) -> int | None:
        """The id of the row at ``offset`` (0-based) in id order: one index
        scan, used only to jump far (End, scrollbar drag), never to page."""
        source, clauses, params = self._filters(list_id, search, where)
        key = self._key(list_id)
        return self.db.scalar(
            f"SELECT {key} FROM {source} WHERE {' AND '.join(clauses)}"  # noqa: S608 - fixed fragments, values bound
            f" ORDER BY {key} LIMIT 1 OFFSET ?",
            (*params, offset),
        )

    def count(
        self, list_id: int | None = None, *, search: str = "", where: seg.Node | None = None
    ) -> int:
        if list_id is not None and not search and where is None:
            return self.count_in_list(list_id)
        source, clauses, params = self._filters(list_id, search, where)
        return self.db.scalar(
            f"SELECT count(*) FROM {source} WHERE {' AND '.join(clauses)}",  # noqa: S608 - fixed fragments, values bound
            params,
        )

    def iterate(
        self, list_id: int | None = None, *, where: seg.Node | None = None, batch: int = 5000
    ) -> Iterator[dict[str, Any]]:
        """Every matching subscriber in id order, a keyset batch at a time
        (exports stream: memory stays flat)."""
        after = 0
        while True:
            rows = self.page(list_id, after_id=after, limit=batch, where=where)
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1]["id"]

    def field_names(
        self, list_id: int | None = None, *, where: seg.Node | None = None
    ) -> list[str]:
        """Every custom field name used by the matching subscribers, sorted."""
        source, clauses, params = self._filters(list_id, "", where)
        rows = self.db.all(
            f"SELECT DISTINCT f.key AS name FROM {source}, json_each(s.fields) f"  # noqa: S608 - fixed fragments, values bound
            f" WHERE {' AND '.join(clauses)} ORDER BY f.key",
            params,
        )
        return [r["name"] for r in rows]

    @staticmethod
    def _key(list_id: int | None) -> str:
        # Keyset column: for a list, the membership index's own column, so
        # SQLite walks (list_id, subscriber_id) in order without sorting.
        return "s.id" if list_id is None else "m.subscriber_id"

    def _filters(
        self, list_id: int | None, search: str, where: seg.Node | None
    ) -> tuple[str, list[str], list[Any]]:
        """FROM clause, WHERE clauses and their parameters for a query over
        subscribers ``s``; a list's members are read through its membership
        index (list_id, subscriber_id), in subscriber id order."""
        source = "subscribers s"
        clauses: list[str] = ["1"]
        params: list[Any] = []
        if list_id is not None:
            source = "list_members m JOIN subscribers s ON s.id = m.subscriber_id"
            clauses.append("m.list_id = ?")
            params.append(list_id)
        exclude = search.startswith("!")
        search = search.removeprefix("!").lower()
        if search:
            match = "(instr(s.email, ?) > 0 OR instr(lower(s.fields), ?) > 0)"
            clauses.append(f"NOT {match}" if exclude else match)
            params += [search, search]
        if where is not None:
            sql, more = render_filter(where)
            clauses.append(sql)
            params += more
        return source, clauses, params

    def count_in_list(self, list_id: int) -> int:
        return self.db.scalar("SELECT count(*) FROM list_members WHERE list_id = ?", (list_id,))


# -- segment filters as SQL ------------------------------------------------------
# Every fragment below is fixed text chosen by node type; every value, field
# name (as a JSON path) and list name is a bound parameter.

_BUILTIN_SQL = {
    "email": "s.email",
    "domain": "s.domain",
    "valid": "s.valid",
    "role": "s.role",
    "suppressed": "EXISTS (SELECT 1 FROM suppressions x WHERE x.email = s.email)",
}
_OPERATORS = {"=": "=", "!=": "IS NOT", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _field_sql(field: seg.Field) -> tuple[str, list[Any]]:
    if field.builtin:
        return _BUILTIN_SQL[field.name], []
    return "json_extract(s.fields, ?)", [f'$."{field.name}"']


def _bound(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


def render_filter(node: seg.Node) -> tuple[str, list[Any]]:
    """A parsed segment filter as a SQL boolean over ``subscribers s``."""
    if isinstance(node, seg.And | seg.Or):
        parts = [render_filter(item) for item in node.items]
        joiner = " AND " if isinstance(node, seg.And) else " OR "
        return "(" + joiner.join(p[0] for p in parts) + ")", [v for p in parts for v in p[1]]
    if isinstance(node, seg.Not):
        # Missing fields compare as NULL; "not" of unknown is true, as people expect.
        sql, params = render_filter(node.item)
        return f"(NOT coalesce({sql}, 0))", params
    if isinstance(node, seg.InList):
        return (
            "EXISTS (SELECT 1 FROM list_members lm JOIN lists l ON l.id = lm.list_id"
            " WHERE lm.subscriber_id = s.id AND l.name = ?)",
            [node.name],
        )
    column, params = _field_sql(node.field)
    if isinstance(node, seg.Truthy):
        return f"(coalesce({column}, 0) NOT IN (0, '', 'false'))", params
    if isinstance(node, seg.InSet):
        marks = ", ".join("?" for _ in node.values)
        values = [_bound(v) for v in node.values]
        if node.negated:
            return f"({column} IS NULL OR {column} NOT IN ({marks}))", params * 2 + values
        return f"({column} IN ({marks}))", params + values
    if node.op == "contains":
        return f"(instr(lower({column}), lower(?)) > 0)", [*params, node.value]
    return f"({column} {_OPERATORS[node.op]} ?)", [*params, _bound(node.value)]


class Segments:
    def __init__(self, db: Database) -> None:
        self.db = db

    def all(self) -> list[dict[str, Any]]:
        return self.db.all(
            "SELECT g.*, l.name AS list_name FROM segments g"
            " LEFT JOIN lists l ON l.id = g.list_id ORDER BY g.name"
        )

    def by_name(self, name: str) -> dict[str, Any] | None:
        return self.db.one("SELECT * FROM segments WHERE name = ?", (name,))

    def require(self, name: str) -> dict[str, Any]:
        found = self.by_name(name)
        if found is None:
            raise StoreError(f"no segment named {name!r}")
        return found

    def create(self, name: str, expression: str, list_id: int | None = None) -> int:
        with self.db.transaction():
            cursor = self.db.execute(
                "INSERT INTO segments (name, list_id, expression, created_at) VALUES (?, ?, ?, ?)",
                (name, list_id, expression, now()),
            )
        return int(cursor.lastrowid)

    def delete(self, segment_id: int) -> None:
        with self.db.transaction():
            self.db.execute("DELETE FROM segments WHERE id = ?", (segment_id,))


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

    def count(self, reason: str | None = None) -> int:
        if reason is None:
            return self.db.scalar("SELECT count(*) FROM suppressions")
        return self.db.scalar("SELECT count(*) FROM suppressions WHERE reason = ?", (reason,))

    def add_many(self, rows: list[tuple[str, str, str, str, float]]) -> int:
        """Insert ``(email, reason, source, detail, created_at)`` rows; an
        address already suppressed keeps its first reason and time. Call
        inside ``db.transaction()`` to make a whole file one change.
        Returns how many were new."""
        cursor = self.db.executemany(
            "INSERT INTO suppressions (email, reason, source, detail, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING",
            rows,
        )
        return max(cursor.rowcount, 0)

    def page(
        self, *, after_email: str = "", limit: int = 1000, reason: str | None = None
    ) -> list[dict[str, Any]]:
        """Suppressions in address order, keyset-paged (for listing and export)."""
        return self.db.all(
            "SELECT * FROM suppressions WHERE email > ? AND (? IS NULL OR reason = ?)"
            " ORDER BY email LIMIT ?",
            (after_email, reason, reason, limit),
        )

    def which(self, emails: Iterable[str]) -> set[str]:
        """The suppressed addresses among ``emails`` (for checks before sending)."""
        found: set[str] = set()
        batch = list(emails)
        for i in range(0, len(batch), 500):
            chunk = batch[i : i + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = self.db.all(
                f"SELECT email FROM suppressions WHERE email IN ({marks})",  # noqa: S608 - placeholders only
                chunk,
            )
            found.update(r["email"] for r in rows)
        return found


IMPORT_MODES = ("add", "update", "replace")


class ImportStaging:
    """A per-connection TEMP table that holds an import until it is merged.

    Rows are parsed into ``temp.import_rows`` (outside any write lock on the
    main database, deduplicated by email as they arrive), then ``merge``
    applies them to subscribers and membership in one transaction: an
    import that fails or is cancelled before ``merge`` changes nothing.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def begin(self) -> None:
        self.db.execute("DROP TABLE IF EXISTS temp.import_rows")
        # Room for the staging B-tree in memory, bounded; the rest spills to
        # SQLite's temp file.
        self.db.execute("PRAGMA temp.cache_size = -65536")
        self.db.execute(
            """
            CREATE TEMP TABLE import_rows (
                email TEXT PRIMARY KEY,
                domain TEXT NOT NULL,
                fields TEXT NOT NULL,
                role INTEGER NOT NULL,
                line INTEGER NOT NULL,
                valid INTEGER NOT NULL DEFAULT 1
            ) WITHOUT ROWID
            """
        )

    def add(self, rows: list[tuple[str, str, str, int, int]]) -> None:
        """Stage ``(email, domain, fields_json, role, line)`` rows; a repeated
        email merges its fields into the earlier row (later values win)."""
        # One transaction per batch: autocommit would journal every row. It
        # only writes the TEMP database, so it takes no lock on the main one.
        self.db.execute("BEGIN")
        try:
            self._add(rows)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _add(self, rows: list[tuple[str, str, str, int, int]]) -> None:
        self.db.executemany(
            """
            INSERT INTO temp.import_rows (email, domain, fields, role, line)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (email) DO UPDATE SET
                fields = json_patch(import_rows.fields, excluded.fields),
                line = excluded.line
            """,
            rows,
        )

    def distinct(self) -> int:
        return self.db.scalar("SELECT count(*) FROM temp.import_rows")

    def domains(self) -> list[str]:
        return [r["domain"] for r in self.db.all("SELECT DISTINCT domain FROM temp.import_rows")]

    def mark_undeliverable(self, domains: Iterable[str]) -> int:
        cursor = self.db.executemany(
            "UPDATE temp.import_rows SET valid = 0 WHERE domain = ?", [(d,) for d in domains]
        )
        return max(cursor.rowcount, 0)

    def suppressed(self) -> int:
        """Staged addresses that are on the suppression list."""
        return self.db.scalar(
            "SELECT count(*) FROM temp.import_rows r JOIN suppressions x ON x.email = r.email"
        )

    def merge(self, list_name: str, mode: str, *, create_list: bool = True) -> dict[str, int]:
        """Apply the staged rows to ``list_name`` in one transaction.

        add: create new subscribers, merge fields into existing ones, and put
        everyone in the file on the list. replace: the same, then take off the
        list every member not in the file. update: only merge fields into
        subscribers already on the list; nobody is created or joined.
        Returns counts: added, updated, joined, removed, skipped.
        """
        if mode not in IMPORT_MODES:
            raise StoreError(f"import mode must be one of {', '.join(IMPORT_MODES)}, not {mode!r}")
        stamp = now()
        counts = {"added": 0, "updated": 0, "joined": 0, "removed": 0, "skipped": 0}
        with self.db.transaction():
            found = self.db.one("SELECT id FROM lists WHERE name = ?", (list_name,))
            if found is None:
                if not create_list:
                    raise StoreError(f"no list named {list_name!r}")
                list_id = self.db.execute(
                    "INSERT INTO lists (name, created_at) VALUES (?, ?)", (list_name, stamp)
                ).lastrowid
            else:
                list_id = found["id"]
            distinct = self.distinct()
            if mode == "update":
                cursor = self.db.execute(
                    """
                    UPDATE subscribers SET
                        fields = json_patch(subscribers.fields, r.fields),
                        valid = r.valid, role = r.role, updated_at = ?
                    FROM temp.import_rows r
                    WHERE r.email = subscribers.email
                      AND subscribers.id IN (SELECT subscriber_id FROM list_members
                                             WHERE list_id = ?)
                    """,
                    (stamp, list_id),
                )
                counts["updated"] = cursor.rowcount
                counts["skipped"] = distinct - cursor.rowcount
                return counts
            existing = self.db.scalar(
                "SELECT count(*) FROM temp.import_rows r JOIN subscribers s ON s.email = r.email"
            )
            # Staged rows come out in email order, so the unique index on
            # subscribers.email is filled in order (much faster than random).
            self.db.execute(
                """
                INSERT INTO subscribers (email, domain, fields, valid, role, created_at, updated_at)
                SELECT email, domain, fields, valid, role, ?, ? FROM temp.import_rows WHERE true
                ON CONFLICT (email) DO UPDATE SET
                    fields = json_patch(subscribers.fields, excluded.fields),
                    valid = excluded.valid, role = excluded.role,
                    updated_at = excluded.updated_at
                """,
                (stamp, stamp),
            )
            counts["added"] = distinct - existing
            counts["updated"] = existing
            counts["joined"] = self.db.execute(
                """
                INSERT OR IGNORE INTO list_members (list_id, subscriber_id, added_at)
                SELECT ?, s.id, ? FROM temp.import_rows r JOIN subscribers s ON s.email = r.email
                """,
                (list_id, stamp),
            ).rowcount
            if mode == "replace":
                counts["removed"] = self.db.execute(
                    """
                    DELETE FROM list_members WHERE list_id = ? AND subscriber_id NOT IN (
                        SELECT s.id FROM temp.import_rows r
                        JOIN subscribers s ON s.email = r.email)
                    """,
                    (list_id,),
                ).rowcount
        return counts

    def drop(self) -> None:
        self.db.execute("DROP TABLE IF EXISTS temp.import_rows")
