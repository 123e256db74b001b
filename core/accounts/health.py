"""An account's health as the operator sees it, from the store (and live stats).

Counts come from ``delivery_attempts`` (``store.accounts.sent_since``), so
they survive restarts; the current rate comes from a running engine's stats
when there is one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

HOUR = 3600.0
DAY = 86400.0

STATE_LABELS = {
    "active": "active",
    "paused": "paused by operator",
    "paused_auto": "paused by Postroom",
    "draining": "draining",
}


@dataclass(frozen=True)
class Health:
    state: str
    state_label: str  # "paused by Postroom: 535 authentication failed"
    sent_hour: int
    sent_day: int
    max_per_hour: int | None
    max_per_day: int | None
    configured_rate: float
    current_rate: float | None  # None when no engine is sending
    warmup_day: int | None  # 1-based; None without a plan or after it ended
    warmup_cap: int | None  # today's cap from the warm-up plan
    last_error: str | None
    last_error_at: float | None

    @property
    def day_cap(self) -> int | None:
        """Today's effective daily limit: the smaller of the limit and the warm-up cap."""
        caps = [c for c in (self.max_per_day, self.warmup_cap) if c is not None]
        return min(caps) if caps else None


def warmup_today(account: dict[str, Any], at: float) -> tuple[int | None, int | None]:
    """(day number, today's cap) of the account's warm-up plan, or (None, None)."""
    try:
        plan = json.loads(account.get("warmup") or "null")
    except json.JSONDecodeError:
        return None, None
    started = account.get("warmup_started_at")
    if not plan or not isinstance(plan, list) or started is None:
        return None, None
    day = int((at - started) // DAY) + 1
    if day < 1 or day > len(plan):
        return None, None
    return day, int(plan[day - 1])


def state_label(account: dict[str, Any]) -> str:
    label = STATE_LABELS.get(account["state"], account["state"])
    if account.get("state_reason"):
        label = f"{label}: {account['state_reason']}"
    return label


def account_health(
    store: Any, account: dict[str, Any], *, at: float | None = None, live: dict | None = None
) -> Health:
    """Health of one account; ``live`` is the engine's stats entry for it, if any."""
    at = time.time() if at is None else at
    hour = store.accounts.sent_since(account["id"], at - HOUR)
    day = store.accounts.sent_since(account["id"], at - DAY)
    return health_from_counts(account, hour, day, at=at, live=live)


def health_from_counts(
    account: dict[str, Any],
    sent_hour: int,
    sent_day: int,
    *,
    at: float,
    live: dict | None = None,
) -> Health:
    """Health from counts already fetched (a table fetches them for all accounts at once)."""
    day, cap = warmup_today(account, at)
    return Health(
        state=account["state"],
        state_label=state_label(account),
        sent_hour=sent_hour,
        sent_day=sent_day,
        max_per_hour=account.get("max_per_hour"),
        max_per_day=account.get("max_per_day"),
        configured_rate=float(account["rate"]),
        current_rate=(live or {}).get("rate"),
        warmup_day=day,
        warmup_cap=cap,
        last_error=account.get("last_error"),
        last_error_at=account.get("last_error_at"),
    )
