"""The launch gate: the pre-launch check always runs before a campaign is queued.

Both front ends use it the same way::

    plan = prepare_launch(store, campaign_id, config)        # runs the whole check
    show(plan.summary_lines()); refuse if plan.blocking      # else ask (focus on No)
    message = commit_launch(store, plan, user, control=ctl)  # launch now, or schedule

A scheduled plan sets the campaign ``scheduled`` with ``scheduled_at``; a
running engine launches it when that time comes (Engine._start_due).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.config import Config
from core.content.check import CheckReport, run_check
from core.dnscheck import Resolver
from core.engine.engine import launch_campaign
from core.store import DELIVERY_STATES, Store, StoreError

LAUNCHABLE = ("draft", "scheduled")


@dataclass
class LaunchPlan:
    campaign_id: int
    name: str
    audience: str  # "list 'news'" or "segment 'active'"
    accounts: list[str]
    check: CheckReport
    start_at: float | None  # None: now

    @property
    def blocking(self) -> bool:
        return self.check.blocking

    @property
    def eta_seconds(self) -> float | None:
        return self.check.eta_seconds

    def summary_lines(self) -> list[str]:
        """The check's verdict, audience, ETA and blocking items, plus when it starts."""
        lines = self.check.summary_lines()
        if self.check.eta_seconds is None and not any(x.startswith("ETA") for x in lines):
            lines.insert(min(2, len(lines)), "ETA: unknown (see the quota section of the check)")
        if self.start_at is not None:
            lines.append(f"starts at {format_start(self.start_at)}")
        return lines

    def refusal(self) -> str:
        """One line saying why the launch is refused (only when ``blocking``)."""
        failures = self.check.failures
        first = f"{failures[0].section}: {failures[0].title}" if failures else ""
        more = f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""
        return (
            f"campaign {self.name!r} not launched: {len(failures)} blocking failure(s), "
            f"{first}{more}; see `postroom campaigns check {self.name}`"
        )

    def question(self) -> str:
        when = "now" if self.start_at is None else f"at {format_start(self.start_at)}"
        pool = ", ".join(self.accounts) or "no account"
        return f"Send campaign {self.name!r} to {self.audience} through {pool} {when}?"


def parse_start(text: str, now: float) -> float:
    """'2026-12-05 09:00' (local time) or ISO 8601 with a zone -> epoch; must be future."""
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise StoreError(
            f"start time {text!r}: expected '2026-12-05 09:00' (local) or ISO with a zone"
        ) from None
    at = when.timestamp()  # naive means local time, as the operator wrote it
    if at <= now:
        raise StoreError(f"start time {text!r} is in the past")
    return at


def format_start(at: float) -> str:
    return dt.datetime.fromtimestamp(at).astimezone().strftime("%Y-%m-%d %H:%M %Z")


def prepare_launch(
    store: Store,
    campaign_id: int,
    config: Config,
    *,
    start_at: float | None = None,
    resolver: Resolver | None = None,
    clock: Callable[[], float] = time.time,
    progress: Callable[[int, int], None] | None = None,
    use_spamassassin: bool = True,
) -> LaunchPlan:
    """Run the pre-launch check for a launch now (``start_at`` None) or at ``start_at``.

    A campaign that carries its own future start time is scheduled for it
    unless ``start_at`` says otherwise (pass ``start_at=0`` for "now").
    Raises StoreError when the campaign cannot launch at all (not a draft).
    """
    campaign = store.campaigns.get(campaign_id)
    if campaign is None:
        raise StoreError(f"no campaign with id {campaign_id}")
    if campaign["state"] not in LAUNCHABLE:
        raise StoreError(
            f"campaign {campaign['name']!r} is {campaign['state']}; only a draft can launch"
        )
    now = clock()
    if start_at is None and (campaign["scheduled_at"] or 0) > now:
        start_at = campaign["scheduled_at"]
    if start_at is not None and start_at <= now:
        start_at = None
    names = store.campaigns.audience_names(campaign_id)
    audience = (
        f"segment {names['segment_name']!r}"
        if names.get("segment_name")
        else f"list {names.get('list_name')!r}"
    )
    report = run_check(
        store,
        campaign_id,
        config,
        resolver=resolver,
        clock=clock,
        progress=progress,
        use_spamassassin=use_spamassassin,
    )
    return LaunchPlan(
        campaign_id,
        campaign["name"],
        audience,
        [a["name"] for a in store.campaigns.accounts(campaign_id)],
        report,
        start_at,
    )


def commit_launch(
    store: Store,
    plan: LaunchPlan,
    user: str,
    *,
    control: Any = None,
    clock: Callable[[], float] = time.time,
) -> str:
    """Launch (through ``control`` when an engine runs) or schedule; one line for the operator.

    Refuses a plan with blocking failures: the gate cannot be skipped.
    """
    if plan.blocking:
        raise StoreError(plan.refusal())
    if plan.start_at is not None:
        schedule_campaign(store, plan.campaign_id, plan.start_at, user)
        return (
            f"scheduled {plan.name!r} for {format_start(plan.start_at)}; "
            "a running engine (console or `postroom run`) launches it then"
        )
    if control is not None:
        counts = control.launch(plan.campaign_id, user=user)
        where = "the engine is sending it"
    else:
        counts = launch_campaign(store, plan.campaign_id, user, clock())
        where = "run `postroom run` to send it"
    done = ", ".join(f"{state} {counts[state]:,}" for state in DELIVERY_STATES if counts.get(state))
    return f"launched {plan.name!r}: {done}; {where}"


def schedule_campaign(store: Store, campaign_id: int, at: float, user: str) -> None:
    """State ``scheduled`` with ``scheduled_at``: a running engine launches it then."""
    row = store.campaigns.get(campaign_id)
    if row is None or row["state"] not in LAUNCHABLE:
        raise StoreError("only a draft campaign can be scheduled")
    store.campaigns.update(campaign_id, scheduled_at=at)
    store.campaigns.set_state(campaign_id, "scheduled")
    store.audit.record(user, "campaign_scheduled", f"campaign:{row['name']}", format_start(at))
