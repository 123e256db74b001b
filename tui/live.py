"""Where the console's live numbers come from.

With an engine (in this process or attached to one elsewhere) the feed is
its ``stats()`` snapshot. Without one, the feed builds a snapshot of the
same shape from the ledger, so the dashboard reads one format either way;
that one is re-read only every few seconds since nothing is sending.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from core.store import Store

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
            self.latest = self.source.stats() or {}
        elif shown:
            if self._idle is None or now - self._idle["at"] >= IDLE_TTL:
                self._idle = idle_snapshot(self.store, now)
            self.latest = self._idle
        return self.latest

    def total_rate(self) -> float:
        return sum(c.get("rate_10s") or 0.0 for c in (self.latest.get("campaigns") or {}).values())
