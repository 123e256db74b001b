"""Rolling send rates: O(1) per message, cheap to read ten times a second."""

from __future__ import annotations

from collections import deque

HISTORY_BUCKETS = 60  # 10-second buckets: the last 10 minutes


class RateMeter:
    def __init__(self) -> None:
        self._seconds: deque[list[float]] = deque(maxlen=61)  # [second, count]
        self._history: deque[list[float]] = deque(maxlen=HISTORY_BUCKETS)  # [bucket, count]

    def add(self, at: float, n: int = 1) -> None:
        second = int(at)
        if self._seconds and self._seconds[-1][0] == second:
            self._seconds[-1][1] += n
        else:
            self._seconds.append([second, n])
        bucket = second // 10
        if self._history and self._history[-1][0] == bucket:
            self._history[-1][1] += n
        else:
            self._history.append([bucket, n])

    def rate(self, at: float, window: int) -> float:
        """Messages per second over the last ``window`` whole seconds before ``at``."""
        now = int(at)
        total = sum(n for second, n in self._seconds if now - window <= second < now)
        return total / window

    def history(self, at: float) -> list[int]:
        """Messages per 10 s bucket, oldest first, the last 60 buckets (zeros filled)."""
        current = int(at) // 10
        counts = {int(bucket): int(n) for bucket, n in self._history}
        return [counts.get(b, 0) for b in range(current - HISTORY_BUCKETS + 1, current + 1)]
