"""Alerts: what in a stats snapshot needs a human, and the strip that shows it.

``alerts_in`` reads one snapshot (CONTRACTS.md shape); ``BounceWatch``
remembers a few minutes of them to tell a rising bounce rate; ``events``
compares two snapshots for the moments worth a toast and the bell (a
campaign finished, Postroom paused an account).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

from rich.text import Text
from textual.widgets import Static

UNKNOWN_MIN = 10  # unknown outcomes in one campaign worth a decision...
UNKNOWN_SHARE = 0.01  # ...or this share of its audience, whichever is smaller
BOUNCE_WINDOW = 300.0  # seconds of outcomes that make the "recent" bounce rate
BOUNCE_MIN_OUTCOMES = 50
BOUNCE_ALERT = 0.05  # recent bounce rate that needs a look...
BOUNCE_RISE = 1.5  # ...when it is also this many times the campaign's overall rate

Severity = Literal["error", "warning", "information"]


@dataclass(frozen=True)
class Alert:
    key: str  # stable identity: the strip keeps one line per key
    severity: Severity
    text: str


class BounceWatch:
    """Recent (sent, bounced) samples per campaign, to see a bounce rate rise."""

    def __init__(self) -> None:
        self._samples: dict[str, deque[tuple[float, int, int]]] = {}

    def observe(self, snapshot: dict[str, Any]) -> list[Alert]:
        at = snapshot.get("at") or 0.0
        alerts = []
        for cid, c in (snapshot.get("campaigns") or {}).items():
            counts = c.get("counts") or {}
            sent, bounced = counts.get("sent", 0), counts.get("bounced", 0)
            samples = self._samples.setdefault(cid, deque())
            samples.append((at, sent, bounced))
            while len(samples) > 2 and samples[1][0] <= at - BOUNCE_WINDOW:
                samples.popleft()
            _, sent0, bounced0 = samples[0]
            recent_bounced = bounced - bounced0
            recent = (sent - sent0) + recent_bounced
            if recent < BOUNCE_MIN_OUTCOMES:
                continue
            rate = recent_bounced / recent
            overall = bounced / (sent + bounced) if sent + bounced else 0.0
            if rate >= BOUNCE_ALERT and rate >= overall * BOUNCE_RISE:
                alerts.append(
                    Alert(
                        f"bounce:{cid}",
                        "warning",
                        f"{c.get('name', cid)}: bounce rate rising, {rate:.1%} in the last"
                        f" {int(BOUNCE_WINDOW // 60)} min (overall {overall:.1%})",
                    )
                )
        return alerts


def alerts_in(snapshot: dict[str, Any]) -> list[Alert]:
    """Paused accounts and undecided outcomes in one snapshot."""
    alerts = []
    for aid, a in (snapshot.get("accounts") or {}).items():
        if a.get("state") == "paused_auto":
            reason = a.get("state_reason") or a.get("last_error") or "no reason recorded"
            alerts.append(
                Alert(
                    f"paused:{aid}",
                    "error",
                    f"account {a.get('name', aid)} paused by Postroom: {reason}",
                )
            )
    for cid, c in (snapshot.get("campaigns") or {}).items():
        unknown = (c.get("counts") or {}).get("unknown", 0)
        total = c.get("total") or 0
        if unknown and unknown >= min(UNKNOWN_MIN, max(1, total * UNKNOWN_SHARE)):
            alerts.append(
                Alert(
                    f"unknown:{cid}",
                    "warning",
                    f"{c.get('name', cid)}: {unknown:,} outcomes unknown after a crash,"
                    " decide: r resends them",
                )
            )
    return alerts


def events(before: dict[str, Any] | None, after: dict[str, Any]) -> list[Alert]:
    """Campaigns that finished and accounts Postroom paused since ``before``."""
    if not before:
        return []
    found = []
    old_campaigns = before.get("campaigns") or {}
    for cid, c in (after.get("campaigns") or {}).items():
        was = (old_campaigns.get(cid) or {}).get("state")
        if c.get("state") == "completed" and was not in (None, "completed"):
            counts = c.get("counts") or {}
            found.append(
                Alert(
                    f"finished:{cid}",
                    "information",
                    f"Campaign {c.get('name', cid)} finished: {counts.get('sent', 0):,} sent,"
                    f" {counts.get('bounced', 0):,} bounced, {counts.get('failed', 0):,} failed",
                )
            )
    old_accounts = before.get("accounts") or {}
    for aid, a in (after.get("accounts") or {}).items():
        was = (old_accounts.get(aid) or {}).get("state")
        if a.get("state") == "paused_auto" and was not in (None, "paused_auto"):
            reason = a.get("state_reason") or a.get("last_error") or ""
            found.append(
                Alert(
                    f"paused:{aid}",
                    "error",
                    f"Postroom paused account {a.get('name', aid)}: {reason}",
                )
            )
    return found


class AlertStrip(Static):
    """One line per alert, hidden when all is well; redrawn only on change."""

    DEFAULT_CSS = """
    AlertStrip { height: auto; max-height: 4; padding: 0 1; display: none; }
    AlertStrip.-shown { display: block; }
    """
    SYMBOLS = {
        "error": ("✖ ", "bold red"),
        "warning": ("▲ ", "bold yellow"),
        "information": ("● ", "bold"),
    }

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__("", id=id)
        self.alerts: list[Alert] = []

    def show(self, alerts: list[Alert]) -> None:
        if alerts == self.alerts:
            return
        self.alerts = alerts
        text = Text()
        for n, alert in enumerate(alerts):
            symbol, style = self.SYMBOLS[alert.severity]
            if n:
                text.append("\n")
            text.append(symbol, style)
            text.append(alert.text)
        self.update(text)
        self.set_class(bool(alerts), "-shown")
