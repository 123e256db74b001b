"""One sending account as the engine sees it: state, limits, counters."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from core.engine.limits import AdaptiveRate, SentCounter, TokenBucket, warmup_cap
from core.engine.meter import RateMeter

CONNECT_BACKOFF_MAX = 60.0
# Settings the engine keeps in memory itself rather than re-reading from an edited row
# (state and state_reason are followed through set_state).
ENGINE_OWNED = ("state", "state_reason", "last_error", "weight")


class Slots:
    """How many sessions an account may have open; the limit can change while running."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._freed = asyncio.Event()

    async def acquire(self) -> None:
        while self.used >= self.limit:
            self._freed.clear()
            await self._freed.wait()
        self.used += 1

    def release(self) -> None:
        self.used -= 1
        self._freed.set()

    def set_limit(self, limit: int) -> None:
        self.limit = limit
        self._freed.set()

    def over_limit(self) -> bool:
        return self.used > self.limit


class AccountRun:
    def __init__(
        self, row: dict[str, Any], sent_per_minute: dict[int, int], clock: Callable[[], float]
    ) -> None:
        self.row = row
        self.id: int = row["id"]
        self.name: str = row["name"]
        self.state: str = row["state"]
        self.state_reason: str | None = row["state_reason"]
        self.clock = clock
        self.adaptive = AdaptiveRate(float(row["rate"]), clock)
        self.bucket = TokenBucket(self.adaptive.current())
        self.sent = SentCounter(sent_per_minute)
        self.meter = RateMeter()
        self.slots = Slots(max(1, int(row["max_connections"])))
        self.connections = 0
        self.in_flight = 0
        self.last_error: str | None = row.get("last_error")
        self.unavailable_until = 0.0
        self.connect_failures = 0
        self.reconnects_in_a_row = 0
        self.changed = asyncio.Event()

    def apply_settings(self, row: dict[str, Any]) -> None:
        """An edited account row (rate, connections, quotas, warm-up...): live from now on."""
        self.row.update({k: v for k, v in row.items() if k not in ENGINE_OWNED})
        self.name = row["name"]
        if float(row["rate"]) != self.adaptive.configured:
            self.adaptive.configured = float(row["rate"])
            self.adaptive.factor = 1.0  # the operator's figure replaces throttle memory
            self.refresh_rate()
        self.slots.set_limit(max(1, int(row["max_connections"])))
        if (row["state"], row["state_reason"]) != (self.state, self.state_reason):
            # Paused or resumed by another tool (`postroom accounts pause`, the console).
            self.set_state(row["state"], row["state_reason"])
        self.changed.set()
        self.changed.clear()

    def set_state(self, state: str, reason: str | None) -> None:
        """Follow an operator's pause/resume/drain; a resumed account may connect at once."""
        self.state, self.state_reason = state, reason
        if state == "active":
            self.unavailable_until = 0.0
            self.connect_failures = 0

    # -- limits -------------------------------------------------------------------

    def refresh_rate(self) -> None:
        """Apply throttle recovery to the bucket (cheap; called per token)."""
        rate = self.adaptive.current()
        if rate != self.bucket.rate:
            self.bucket.set_rate(rate)

    def sent_hour(self, at: float) -> int:
        return self.sent.since(at - 3600)

    def sent_day(self, at: float) -> int:
        return self.sent.since(at - 86400)

    def warmup(self, at: float) -> tuple[int, int] | None:
        return warmup_cap(self.row.get("warmup"), self.row.get("warmup_started_at"), at)

    def day_limit(self, at: float) -> int | None:
        limits = [self.row.get("max_per_day")]
        if (plan := self.warmup(at)) is not None:
            limits.append(plan[1])
        known = [int(limit) for limit in limits if limit is not None]
        return min(known) if known else None

    def unavailable_reason(self, at: float) -> str | None:
        """Why this account must not start a new transaction now (None: it may)."""
        if self.state == "paused":
            return f"paused{': ' + self.state_reason if self.state_reason else ''}"
        if self.state == "paused_auto":
            return f"paused automatically: {self.state_reason}"
        if self.state == "draining":
            return "draining"
        if at < self.unavailable_until:
            return f"reconnecting in {self.unavailable_until - at:.0f}s: {self.last_error}"
        hourly = self.row.get("max_per_hour")
        if hourly is not None and self.sent_hour(at) + self.in_flight >= hourly:
            return f"hourly quota reached ({hourly}/h)"
        daily = self.day_limit(at)
        if daily is not None and self.sent_day(at) + self.in_flight >= daily:
            plan = self.warmup(at)
            if plan is not None and plan[1] == daily:
                return f"warm-up day {plan[0]} cap reached ({daily})"
            return f"daily quota reached ({daily} per 24h)"
        return None

    def connect_failed(self, error: str) -> None:
        """A failed connection: back off this account exponentially; others carry on."""
        self.connect_failures += 1
        self.last_error = error
        self.unavailable_until = self.clock() + min(
            CONNECT_BACKOFF_MAX, 2.0 ** (self.connect_failures - 1)
        )

    def connected(self) -> None:
        self.connect_failures = 0

    def stats(self, at: float) -> dict[str, Any]:
        hourly, daily = self.row.get("max_per_hour"), self.day_limit(at)
        sent_hour, sent_day = self.sent_hour(at), self.sent_day(at)
        plan = self.warmup(at)
        return {
            "name": self.name,
            "state": self.state,
            "state_reason": self.state_reason or self.unavailable_reason(at),
            "rate": round(self.adaptive.current(), 3),
            "configured_rate": self.adaptive.configured,
            "rate_10s": self.meter.rate(at, 10),
            "sent_hour": sent_hour,
            "sent_day": sent_day,
            "max_per_hour": hourly,
            "max_per_day": self.row.get("max_per_day"),
            "quota_left_hour": None if hourly is None else max(0, hourly - sent_hour),
            "quota_left_day": None if daily is None else max(0, daily - sent_day),
            "in_flight": self.in_flight,
            "connections": self.connections,
            "last_error": self.last_error,
            "warmup_day": plan[0] if plan else None,
            "warmup_cap": plan[1] if plan else None,
        }
