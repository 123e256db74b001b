"""A fixed engine stats() snapshot (CONTRACTS.md shape) for console tests."""

from __future__ import annotations

import copy
from typing import Any

AT = 1_767_225_600.0


class StaticSource:
    """Stands in for an engine's stats(): the dashboard only reads snapshots."""

    def __init__(self, snapshot: dict[str, Any], mode: str = "in-process") -> None:
        self.snapshot = snapshot
        self.mode = mode
        self.calls = 0

    def stats(self) -> dict[str, Any]:
        self.calls += 1
        return copy.deepcopy(self.snapshot)


def campaign(name: str, state: str, total: int, **counts: int) -> dict[str, Any]:
    full = dict.fromkeys(
        ("queued", "sending", "sent", "deferred", "bounced", "failed", "unknown", "suppressed"),
        0,
    )
    full.update(counts)
    return {
        "name": name,
        "state": state,
        "counts": full,
        "total": total,
        "rate_10s": 0.0,
        "rate_60s": 0.0,
        "in_flight": 0,
        "eta_seconds": None,
        "last_error": None,
        "waiting_reason": None,
        "history": [],
    }


def account(name: str, state: str = "active", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "state": state,
        "state_reason": None,
        "rate": 0.0,
        "configured_rate": 10.0,
        "sent_hour": 0,
        "sent_day": 0,
        "max_per_hour": None,
        "max_per_day": None,
        "quota_left_hour": None,
        "quota_left_day": None,
        "in_flight": 0,
        "connections": 0,
        "last_error": None,
        "warmup_day": None,
        "warmup_cap": None,
        **extra,
    }


def busy_snapshot() -> dict[str, Any]:
    """Two running campaigns, one paused, an auto-paused account."""
    spring = campaign(
        "spring-sale",
        "running",
        120_000,
        sent=48_210,
        deferred=312,
        bounced=1_104,
        failed=17,
        queued=70_357,
    )
    spring.update(
        rate_10s=41.7,
        rate_60s=39.2,
        in_flight=12,
        eta_seconds=1_688,
        history=[20 + (i % 12) * 2 for i in range(60)],
    )
    digest = campaign(
        "weekly-digest", "running", 8_000, sent=7_650, bounced=40, queued=300, unknown=12
    )
    digest.update(rate_10s=8.0, rate_60s=8.4, in_flight=3, eta_seconds=38, history=[8] * 60)
    welcome = campaign("welcome", "paused", 5_000, sent=1_200, queued=3_800)
    welcome.update(waiting_reason="paused by ops", history=[0] * 30 + [5] * 30)
    return {
        "at": AT,
        "run_id": "run-1",
        "pid": 4242,
        "host": "mx1",
        "campaigns": {"1": spring, "2": digest, "3": welcome},
        "accounts": {
            "1": account(
                "ses-eu",
                rate=30.0,
                configured_rate=30.0,
                max_per_hour=50_000,
                quota_left_hour=21_400,
                max_per_day=200_000,
                quota_left_day=151_000,
                connections=4,
                in_flight=10,
            ),
            "2": account(
                "own-mta",
                rate=19.7,
                configured_rate=20.0,
                connections=2,
                in_flight=5,
                last_error="421 4.7.0 Try again later (gmail.com)",
            ),
            "3": account(
                "gmail-ws",
                "paused_auto",
                state_reason="535 5.7.8 authentication failed",
                last_error="535 5.7.8 Username and Password not accepted",
            ),
        },
    }
