"""Rate limits, throttle feedback, quotas and warm-up caps for the engine.

Token buckets take their time from the event loop (monotonic): a rate change
applies to the very next token. Quotas and warm-up count from the ledger
(through the minute buckets the engine loads at start), so they survive
restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import Callable

THROTTLE_CUT = 0.5  # multiplicative decrease on a throttle signal
THROTTLE_FLOOR = 1 / 64  # never below this fraction of the configured rate
RECOVERY_STEP = 1.25  # multiplicative recovery ...
RECOVERY_INTERVAL = 30.0  # ... every this many seconds without a throttle signal


class TokenBucket:
    """Messages per second, scheduled exactly (GCRA); ``rate`` may change at any time.

    Each token is due 1/rate after the previous one's due time, so timer
    overshoot does not lower the long-run rate; after idling, at most
    CREDIT_SECONDS worth of tokens come at once. ``rate`` None or <= 0 means
    unlimited. A rate change re-times the token being waited for.
    """

    CREDIT_SECONDS = 0.05

    def __init__(self, rate: float | None) -> None:
        self._rate = rate
        self._last = float("-inf")  # due time of the last token issued
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()

    @property
    def rate(self) -> float | None:
        return self._rate

    def set_rate(self, rate: float | None) -> None:
        self._rate = rate
        self._changed.set()  # the waiter recomputes its due time with the new rate
        self._changed.clear()

    async def take(self) -> None:
        if not self._rate or self._rate <= 0:
            return
        loop = asyncio.get_running_loop()
        async with self._lock:
            while True:
                rate = self._rate
                if not rate or rate <= 0:
                    return
                now = loop.time()
                # After idling, the first token is due at once (credit of one interval).
                base = max(self._last, now - max(self.CREDIT_SECONDS, 1.0 / rate))
                due = base + 1.0 / rate
                if due <= now:
                    self._last = due
                    return
                self._last = base  # anchor: the wait below counts from here
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), due - now)


class AdaptiveRate:
    """An account's effective rate: configured, cut on throttle, recovering slowly."""

    def __init__(self, configured: float, clock: Callable[[], float]) -> None:
        self.configured = configured
        self.factor = 1.0
        self._clock = clock
        self._last_change = clock()

    def throttled(self) -> None:
        self.factor = max(THROTTLE_FLOOR, self.factor * THROTTLE_CUT)
        self._last_change = self._clock()

    def current(self) -> float:
        """The rate now, applying any recovery steps that are due."""
        if self.factor < 1.0:
            steps = int((self._clock() - self._last_change) // RECOVERY_INTERVAL)
            if steps > 0:
                self.factor = min(1.0, self.factor * RECOVERY_STEP**steps)
                self._last_change += steps * RECOVERY_INTERVAL
        return self.configured * self.factor


class SentCounter:
    """Messages sent per minute for one account, for hourly and rolling-day quotas."""

    def __init__(self, per_minute: dict[int, int]) -> None:
        self._minutes = dict(per_minute)

    def add(self, at: float, n: int = 1) -> None:
        minute = int(at // 60)
        self._minutes[minute] = self._minutes.get(minute, 0) + n

    def since(self, at: float) -> int:
        # Whole minutes: the minute containing ``at`` counts in full (errs on the safe side).
        first = int(at // 60)
        return sum(n for minute, n in self._minutes.items() if minute >= first)

    def prune(self, before: float) -> None:
        first = int(before // 60)
        for minute in [m for m in self._minutes if m < first]:
            del self._minutes[minute]


def warmup_cap(plan: str | None, started_at: float | None, at: float) -> tuple[int, int] | None:
    """(day number from 1, cap for that day) while a warm-up plan is running, else None."""
    if not plan:
        return None
    try:
        caps = [int(c) for c in json.loads(plan)]
    except (ValueError, TypeError):
        return None
    if not caps:
        return None
    day = 0 if started_at is None else max(0, math.floor((at - started_at) / 86400))
    if day >= len(caps):
        return None
    return day + 1, caps[day]
