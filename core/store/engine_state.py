"""SQL for the running engine: its lock, its command queue, its stats row."""

from __future__ import annotations

import json
import os
import socket
from typing import Any

from core.store.db import Database, StoreError

# A holder whose heartbeat is older than this is considered dead.
STALE_AFTER_SECONDS = 10.0


class EngineBusy(StoreError):
    """Another live engine holds the lock on this database."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EngineState:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- the lock --------------------------------------------------------------

    def holder(self) -> dict[str, Any] | None:
        return self.db.one("SELECT * FROM engine_lock WHERE id = 1")

    def holder_alive(self, holder: dict[str, Any], at: float) -> bool:
        """Fresh heartbeat, and (on this host) a process that still exists."""
        if at - holder["heartbeat_at"] > STALE_AFTER_SECONDS:
            return False
        if holder["host"] == socket.gethostname():
            return _pid_alive(holder["pid"])
        return True

    def acquire(self, run_id: str, at: float) -> dict[str, Any] | None:
        """Take the lock for ``run_id``; returns the dead holder taken over, if any.

        Raises EngineBusy naming the live holder's pid and host.
        """
        pid, host = os.getpid(), socket.gethostname()
        with self.db.transaction():
            holder = self.holder()
            if holder is not None and holder["run_id"] != run_id and self.holder_alive(holder, at):
                raise EngineBusy(
                    f"another engine is sending from this database"
                    f" (pid {holder['pid']} on {holder['host']},"
                    f" heartbeat {max(0.0, at - holder['heartbeat_at']):.0f}s ago)"
                )
            self.db.execute(
                "INSERT INTO engine_lock (id, run_id, pid, host, started_at, heartbeat_at)"
                " VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET run_id = excluded.run_id,"
                " pid = excluded.pid, host = excluded.host, started_at = excluded.started_at,"
                " heartbeat_at = excluded.heartbeat_at",
                (run_id, pid, host, at, at),
            )
        return holder if holder is not None and holder["run_id"] != run_id else None

    def heartbeat(self, run_id: str, at: float) -> bool:
        """Refresh our heartbeat; False when another run has taken the lock."""
        with self.db.transaction():
            cursor = self.db.execute(
                "UPDATE engine_lock SET heartbeat_at = ? WHERE id = 1 AND run_id = ?",
                (at, run_id),
            )
        return cursor.rowcount == 1

    def release(self, run_id: str) -> None:
        with self.db.transaction():
            self.db.execute("DELETE FROM engine_lock WHERE id = 1 AND run_id = ?", (run_id,))
            self.db.execute("DELETE FROM engine_stats WHERE id = 1")

    # -- commands for a detached engine ------------------------------------------

    def submit(self, user: str, command: str, args: dict[str, Any], at: float) -> int:
        with self.db.transaction():
            cursor = self.db.execute(
                "INSERT INTO engine_commands (at, user, command, args) VALUES (?, ?, ?, ?)",
                (at, user, command, json.dumps(args)),
            )
        return int(cursor.lastrowid)

    def pending_commands(self) -> list[dict[str, Any]]:
        rows = self.db.all("SELECT * FROM engine_commands WHERE applied_at IS NULL ORDER BY id")
        for row in rows:
            row["args"] = json.loads(row["args"])
        return rows

    def mark_applied(self, command_id: int, result: str, at: float) -> None:
        with self.db.transaction():
            self.db.execute(
                "UPDATE engine_commands SET applied_at = ?, result = ? WHERE id = ?",
                (at, result, command_id),
            )

    def command(self, command_id: int) -> dict[str, Any] | None:
        return self.db.one("SELECT * FROM engine_commands WHERE id = ?", (command_id,))

    # -- campaigns the engine picks up ---------------------------------------------

    def running_campaigns(self) -> list[int]:
        return [r["id"] for r in self.db.all("SELECT id FROM campaigns WHERE state = 'running'")]

    def scheduled_campaigns(self) -> list[dict[str, Any]]:
        """Scheduled campaigns (id, name, scheduled_at, updated_at), earliest first."""
        return self.db.all(
            "SELECT id, name, scheduled_at, updated_at FROM campaigns WHERE state = 'scheduled'"
            " ORDER BY scheduled_at, id"
        )

    def accounts_updated_since(self, since: float) -> list[dict[str, Any]]:
        """Account rows edited after ``since`` (their ``updated_at``), oldest first."""
        return self.db.all(
            "SELECT * FROM accounts WHERE updated_at > ? ORDER BY updated_at", (since,)
        )

    def accounts_last_update(self) -> float:
        return self.db.scalar("SELECT coalesce(max(updated_at), 0) FROM accounts")

    def campaigns_updated_since(self, since: float) -> list[dict[str, Any]]:
        """(id, state, rate, updated_at) of campaigns edited after ``since``, oldest first.

        Editing a campaign's account pool stamps the campaign too (Campaigns.set_accounts).
        """
        return self.db.all(
            "SELECT id, state, rate, updated_at FROM campaigns WHERE updated_at > ?"
            " ORDER BY updated_at",
            (since,),
        )

    def campaigns_last_update(self) -> float:
        return self.db.scalar("SELECT coalesce(max(updated_at), 0) FROM campaigns")

    # -- stats snapshot ---------------------------------------------------------------

    def write_stats(self, snapshot: dict[str, Any], at: float) -> None:
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO engine_stats (id, at, snapshot) VALUES (1, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET at = excluded.at, snapshot = excluded.snapshot",
                (at, json.dumps(snapshot)),
            )

    def read_stats(self) -> dict[str, Any] | None:
        value = self.db.scalar("SELECT snapshot FROM engine_stats WHERE id = 1")
        return json.loads(value) if value else None
