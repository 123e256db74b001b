"""Opening a database: file mode, pragmas, migrations, transactions."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from core.store.schema import MIGRATIONS, SCHEMA_VERSION


class StoreError(Exception):
    """A problem with the database, worded for the operator (one line)."""


def now() -> float:
    return time.time()


def create_private_file(path: Path) -> None:
    """Create ``path`` readable by its owner only, if it does not exist yet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)


def loose_permissions_warning(path: Path) -> str | None:
    """A warning naming ``path`` when group or others can read it."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"{path} is readable by others (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}"
    return None


_UNIQUE = re.compile(r"UNIQUE constraint failed: (\w+)\.(\w+)")
_CHECK = re.compile(r"CHECK constraint failed: (.+)")
_NOT_NULL = re.compile(r"NOT NULL constraint failed: (\w+)\.(\w+)")
_SINGULAR = {
    "accounts": "an account",
    "lists": "a list",
    "subscribers": "a subscriber",
    "campaigns": "a campaign",
    "segments": "a segment",
    "suppressions": "a suppression",
    "deliveries": "a delivery",
}


def explain_integrity_error(exc: sqlite3.IntegrityError) -> str:
    """Turn SQLite's constraint message into a sentence an operator can act on."""
    text = str(exc)
    if m := _UNIQUE.search(text):
        table, column = m.groups()
        return f"{_SINGULAR.get(table, table)} with that {column} already exists"
    if m := _NOT_NULL.search(text):
        return f"{m.group(2)} is required"
    if m := _CHECK.search(text):
        return f"invalid value: {m.group(1)}"
    if "FOREIGN KEY" in text:
        return "it is still in use, or refers to something that does not exist"
    return text


class Database:
    """One SQLite connection with Postroom's pragmas, schema and transactions.

    Connections are not shared between threads: the engine thread and the
    console each open their own (WAL lets readers run beside the writer).
    """

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if str(path) != ":memory:" and not self.path.exists():
            if not create:
                raise StoreError(f"{self.path}: no such database")
            create_private_file(self.path)
        self.conn = sqlite3.connect(
            str(path), timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self.conn.row_factory = sqlite3.Row
        self.db = sqlite_utils.Database(self.conn)
        self._lock = threading.RLock()
        self._depth = 0
        self.queries = 0  # executed statements, for tests that bound query counts
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA busy_timeout=30000",
        ):
            self.conn.execute(pragma)
        self.migrate()

    # -- schema -----------------------------------------------------------

    @property
    def user_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> None:
        """Apply the migrations this file has not had yet, each atomically."""
        current = self.user_version
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer Postroom (schema {current}, "
                f"this one knows {SCHEMA_VERSION})"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            script = MIGRATIONS[version - 1]
            try:
                self.conn.executescript(
                    f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;"
                )
            except sqlite3.Error as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise StoreError(f"{self.path}: migration {version} failed: {exc}") from exc

    # -- statements ---------------------------------------------------------

    def execute(self, sql: str, params: tuple | dict = ()) -> sqlite3.Cursor:
        self.queries += 1
        try:
            return self.conn.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise StoreError(explain_integrity_error(exc)) from exc

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        self.queries += 1
        try:
            return self.conn.executemany(sql, rows)
        except sqlite3.IntegrityError as exc:
            raise StoreError(explain_integrity_error(exc)) from exc

    def one(self, sql: str, params: tuple | dict = ()) -> dict[str, Any] | None:
        row = self.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def all(self, sql: str, params: tuple | dict = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self.execute(sql, params).fetchall()]

    def scalar(self, sql: str, params: tuple | dict = ()) -> Any:
        row = self.execute(sql, params).fetchone()
        return row[0] if row is not None else None

    def insert_row(self, table: str, values: dict[str, Any]) -> int:
        """Insert one row stamped with created_at/updated_at; returns its id.

        ``table`` and the column names come from the repositories' own lists
        of known fields, never from input; the values are bound.
        """
        stamp = now()
        values = {**values, "created_at": stamp, "updated_at": stamp}
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self.transaction():
            cursor = self.execute(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})",  # noqa: S608
                tuple(values.values()),
            )
        return int(cursor.lastrowid)

    def update_row(self, table: str, row_id: int, values: dict[str, Any]) -> None:
        """Set ``values`` on one row and stamp updated_at (names as in insert_row)."""
        if not values:
            return
        assignments = ", ".join(f"{column} = ?" for column in values)
        with self.transaction():
            self.execute(
                f"UPDATE {table} SET {assignments}, updated_at = ? WHERE id = ?",  # noqa: S608
                (*values.values(), now(), row_id),
            )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction (BEGIN IMMEDIATE); nests as one transaction."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")
            finally:
                self._depth = 0

    def close(self) -> None:
        self.conn.close()
