"""Where the console's live numbers come from.

With an engine (in this process or attached to one elsewhere) the feed is
its ``stats()`` snapshot. Without one, the feed builds a snapshot of the
same shape from the ledger, so the dashboard reads one format either way;
that one is re-read only every few seconds since nothing is sending.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from core.store import Store, StoreError

IDLE_TTL = 3.0  # seconds an engine-less snapshot is reused
SHOWN_STATES = ("running", "paused", "scheduled", "completed", "cancelled")


class StatsSource(Protocol):
    mode: str

    def stats(self) -> dict[str, Any]: ...


def idle_snapshot(store: Store, at: float) -> dict[str, Any]:
    """A stats() snapshot (CONTRACTS.md shape) read from the ledger: no rates."""
    counts = store.deliveries.counts_by_campaign()
    campaigns = {}
    for c in store.campaigns.all():
        if c["state"] not in SHOWN_STATES:
            continue
        by_state = counts.get(c["id"], {})
        campaigns[str(c["id"])] = {
            "name": c["name"],
            "state": c["state"],
            "counts": by_state,
            "total": sum(by_state.values()),
            "rate_10s": 0.0,
            "rate_60s": 0.0,
            "in_flight": 0,
            "eta_seconds": None,
            "last_error": None,
            "waiting_reason": "no engine running" if c["state"] == "running" else None,
            "history": [],
        }
    accounts = {
        str(a["id"]): {
            "name": a["name"],
            "state": a["state"],
            "state_reason": a["state_reason"],
            "rate": 0.0,
            "configured_rate": a["rate"],
            "max_per_hour": a["max_per_hour"],
            "max_per_day": a["max_per_day"],
            "quota_left_hour": a["max_per_hour"],
            "quota_left_day": a["max_per_day"],
            "in_flight": 0,
            "connections": 0,
            "last_error": a["last_error"],
        }
        for a in store.accounts.all()
    }
    return {"at": at, "campaigns": campaigns, "accounts": accounts}


class StatsFeed:
    """The latest snapshot, from the engine when there is one, else the ledger."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self.source: StatsSource | None = None
        self._idle: dict[str, Any] | None = None
        self.latest: dict[str, Any] = {}
        self.expected = Expectations()

    @property
    def mode(self) -> str:
        return self.source.mode if self.source is not None else "none"

    def invalidate(self) -> None:
        """Something changed the ledger (an action): re-read on the next poll."""
        self._idle = None

    def poll(self, *, shown: bool = True) -> dict[str, Any]:
        """The current snapshot. Without an engine the ledger is read only for
        a screen that ``shown`` numbers, and then at most every IDLE_TTL s."""
        now = self.clock()
        if self.source is not None:
            self.latest = self.expected.over(self.source.stats() or {})
        elif shown:
            if self._idle is None or now - self._idle["at"] >= IDLE_TTL:
                self._idle = idle_snapshot(self.store, now)
            self.latest = self.expected.over(self._idle)
        return self.latest

    def total_rate(self) -> float:
        return sum(c.get("rate_10s") or 0.0 for c in (self.latest.get("campaigns") or {}).values())


# -- optimistic state: what an action will change, shown before the engine says so ------

EXPECT_GRACE = 2.0  # seconds an applied change is shown while snapshots catch up


class Expectations:
    """Fields an operator's action is changing, laid over snapshots until they agree.

    A key press shows its effect at once (the pending state); once the
    engine has applied the command its snapshots carry the same values and
    the overlay goes. A refused command drops its overlay at once.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        # (section, key) -> [fields, deadline or None while the command is pending]
        self._items: dict[tuple[str, str], list[Any]] = {}

    def expect(self, section: str, key: str, fields: dict[str, Any]) -> None:
        self._items[section, key] = [dict(fields), None]

    def applied(self, section: str, key: str, ok: bool) -> None:
        item = self._items.get((section, key))
        if item is None:
            return
        if ok:
            item[1] = self.clock() + EXPECT_GRACE
        else:
            del self._items[section, key]

    def over(self, snapshot: dict[str, Any]) -> dict[str, Any]:
        """``snapshot`` with the pending fields laid over it (a copy where touched)."""
        if not self._items:
            return snapshot
        now = self.clock()
        out = dict(snapshot)
        for (section, key), (fields, deadline) in list(self._items.items()):
            entries = out.get(section) or {}
            entry = entries.get(key)
            if entry is None:
                continue
            agrees = all(entry.get(name) == value for name, value in fields.items())
            if deadline is not None and (agrees or now >= deadline):
                del self._items[section, key]
                continue
            if not agrees:
                if entries is snapshot.get(section):
                    entries = out[section] = dict(entries)
                entries[key] = {**entry, **fields}
        return out


# -- without an engine: the change goes to the database, an engine picks it up ---------


class OfflineControl:
    """The control API when no engine runs: states and rates in the database.

    Used for the actions that stop or slow something (pause, cancel, rates,
    accounts); what sends mail (launch, resume, retry) starts an engine
    instead. Audit entries carry the same names the engine writes.
    """

    mode = "none"

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path

    def _store(self) -> Store:
        return Store(self.db_path, create=False)  # its own connection: called off the UI thread

    def pause_campaign(self, campaign_id: int, user: str) -> None:
        self._campaign_state(campaign_id, "paused", user)

    def cancel_campaign(self, campaign_id: int, user: str) -> int:
        store = self._store()
        try:
            store.campaigns.set_state(campaign_id, "cancelled")
            store.audit.record(user, "campaign_cancelled", f"campaign:{campaign_id}")
            return store.ledger.cancel_pending(campaign_id, time.time())
        finally:
            store.close()

    def _campaign_state(self, campaign_id: int, state: str, user: str) -> None:
        store = self._store()
        try:
            store.campaigns.set_state(campaign_id, state)
            store.audit.record(user, f"campaign_{state}", f"campaign:{campaign_id}")
        finally:
            store.close()

    def set_rate(self, kind: str, target_id: int, rate: float | None, user: str) -> None:
        store = self._store()
        try:
            repo = store.accounts if kind == "account" else store.campaigns
            before = repo.get(target_id)
            if before is None:
                raise StoreError(f"no {kind} with id {target_id}")
            if kind == "account" and not rate:
                raise StoreError("an account rate must be above zero (pause the account instead)")
            repo.update(target_id, rate=rate or None)
            store.audit.record(
                user, "set_rate", f"{kind}:{target_id}", f"{before['rate']} -> {rate} msg/s"
            )
        finally:
            store.close()

    def _account_state(self, account_id: int, state: str, reason: str | None, user: str) -> None:
        store = self._store()
        try:
            store.accounts.set_state(account_id, state, reason)
            store.audit.record(user, f"account_{state}", f"account:{account_id}")
        finally:
            store.close()

    def pause_account(self, account_id: int, user: str) -> None:
        self._account_state(account_id, "paused", None, user)

    def resume_account(self, account_id: int, user: str) -> None:
        self._account_state(account_id, "active", None, user)

    def drain_account(self, account_id: int, user: str) -> None:
        self._account_state(account_id, "paused", "drained", user)  # nothing in flight to wait for

    def close(self) -> None:
        pass


# -- handing the sending over to a detached engine ----------------------------------------

RUN_ENTRY = "import sys; from tui.cli import main; sys.exit(main(sys.argv[1:]))"


def engine_log_path(db_path: Path) -> Path:
    """Where a handed-over engine writes: beside the database."""
    return db_path.with_name(f"{db_path.stem}-engine.log")


def spawn_detached_engine(db_path: Path, config_path: Path | None = None) -> subprocess.Popen:
    """``postroom run --db DB`` in its own session: it outlives this console and SSH."""
    command = [sys.executable, "-c", RUN_ENTRY, "--db", str(db_path)]
    if config_path is not None:
        command += ["--config", str(config_path)]
    command.append("run")
    with engine_log_path(db_path).open("ab") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # no SIGHUP when the terminal goes
            close_fds=True,
        )
