"""The pre-launch check: what the providers will check, checked first.

Every item is ``fail`` (blocks the launch), ``warn`` or ``ok``, with the
reason and the fix. Sections: template (renders for every recipient),
authentication (SPF, DKIM, DMARC of the From domain; stricter past the bulk
threshold), unsubscribe, content (lint, sizes), audience, quota (remaining
capacity of the pool and the ETA).
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.accounts.health import account_health
from core.config import Config
from core.content.build import CompiledCampaign, compile_campaign
from core.content.errors import AddressError, CompileError, RenderError
from core.content.lint import GMAIL_CLIP_BYTES, THRESHOLD, lint
from core.content.preview import recipient_of
from core.dnscheck import Resolver, check_domain, context_for

PAGE = 500
EXAMPLES = 3
MAX_ETA_HOURS = 60 * 24


@dataclass(frozen=True)
class CheckItem:
    section: str  # template | authentication | unsubscribe | content | audience | quota
    level: str  # fail | warn | ok
    title: str
    reason: str = ""
    fix: str = ""


@dataclass
class CheckReport:
    campaign: str
    items: list[CheckItem] = field(default_factory=list)
    audience: dict[str, int] = field(default_factory=dict)
    eta_seconds: float | None = None
    lint_score: float | None = None

    def add(self, section: str, level: str, title: str, reason: str = "", fix: str = "") -> None:
        self.items.append(CheckItem(section, level, title, reason, fix))

    @property
    def failures(self) -> list[CheckItem]:
        return [item for item in self.items if item.level == "fail"]

    @property
    def warnings(self) -> list[CheckItem]:
        return [item for item in self.items if item.level == "warn"]

    @property
    def blocking(self) -> bool:
        return bool(self.failures)

    def summary_lines(self) -> list[str]:
        """A few lines for the launch confirmation: verdict, audience, ETA, what blocks."""
        verdict = (
            f"{len(self.failures)} blocking failure(s), {len(self.warnings)} warning(s)"
            if self.blocking
            else f"ready to launch ({len(self.warnings)} warning(s))"
        )
        lines = [verdict]
        if self.audience:
            a = self.audience
            lines.append(
                f"audience: {a['sendable']:,} to send ({a['suppressed']:,} suppressed, "
                f"{a['invalid']:,} invalid, {a['role']:,} role)"
            )
        if self.eta_seconds is not None:
            lines.append(f"ETA: {human_duration(self.eta_seconds)}")
        lines += [f"FAIL {item.section}: {item.title}" for item in self.failures]
        return lines

    def as_text(self) -> str:
        out = [f"Pre-launch check of {self.campaign!r}: {self.summary_lines()[0]}", ""]
        for item in self.items:
            out.append(f"{item.level.upper():<4}  {item.section}: {item.title}")
            if item.reason:
                out.append(f"      {'' if item.level == 'ok' else 'why: '}{item.reason}")
            if item.fix:
                out.append(f"      fix: {item.fix}")
        return "\n".join(out) + "\n"


def human_duration(seconds: float) -> str:
    seconds = max(0, int(math.ceil(seconds)))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def estimate_eta(messages: int, accounts: list[dict[str, Any]]) -> float | None:
    """Seconds to send ``messages`` through ``accounts`` in parallel, hour by hour.

    Each account dict has ``rate`` (msg/s), ``hour_cap``/``day_cap`` (None
    for unlimited) and what it already sent this ``sent_hour``/``sent_day``.
    A rolling day is approximated by a reset every 24 hours. None when the
    pool can never send them all (no capacity within 60 days).
    """
    if messages <= 0:
        return 0.0
    used_day = [a["sent_day"] for a in accounts]
    remaining = float(messages)
    for hour in range(MAX_ETA_HOURS):
        if hour and hour % 24 == 0:
            used_day = [0] * len(accounts)
        capacities = []
        for index, account in enumerate(accounts):
            cap = account["rate"] * 3600
            if account["hour_cap"] is not None:
                cap = min(cap, account["hour_cap"] - (account["sent_hour"] if hour == 0 else 0))
            if account["day_cap"] is not None:
                cap = min(cap, account["day_cap"] - used_day[index])
            capacities.append(max(0.0, cap))
        total = sum(capacities)
        if total >= remaining:
            # The last stretch goes at the summed rate of the accounts with room left.
            rate = sum(a["rate"] for a, cap in zip(accounts, capacities, strict=True) if cap > 0)
            return hour * 3600 + min(3600.0, remaining / rate)
        remaining -= total
        used_day = [used + cap for used, cap in zip(used_day, capacities, strict=True)]
    return None


# -- the sections -------------------------------------------------------------


def _scan_templates(
    report: CheckReport,
    store: Any,
    compiled: CompiledCampaign,
    list_id: int,
    total: int,
    progress: Callable[[int, int], None] | None,
) -> tuple[bytes | None, int]:
    """Render for every sendable recipient; group the failures. (first message, largest size)."""
    problems: dict[tuple[str, str], list[str]] = {}
    first: bytes | None = None
    largest = 0
    done = 0
    after = 0
    while rows := store.campaigns.audience_page(list_id, after_id=after, limit=PAGE):
        for row in rows:
            try:
                data = compiled.render(recipient_of(row, list_id)).data
            except RenderError as exc:
                level = "warn" if isinstance(exc, AddressError) else "fail"
                key = exc.problem if isinstance(exc, AddressError) else exc.field or str(exc)
                problems.setdefault((level, key), []).append(row["email"])
            else:
                first = first or data
                largest = max(largest, len(data))
        done += len(rows)
        after = rows[-1]["id"]
        if progress:
            progress(done, total)
    for (level, key), emails in sorted(problems.items()):
        examples = ", ".join(emails[:EXAMPLES])
        if level == "fail" and re.fullmatch(r"\w+", key):
            report.add(
                "template",
                "fail",
                f"missing field {key!r} for {len(emails):,} recipient(s)",
                f"e.g. {examples}",
                f"add {key} to those subscribers, or write {{{{ {key} | default('…') }}}}",
            )
        elif level == "fail":
            report.add(
                "template",
                "fail",
                f"does not render for {len(emails):,} recipient(s)",
                f"{key}; e.g. {examples}",
                "fix the template (preview one of them to see it)",
            )
        else:
            report.add(
                "audience",
                "warn",
                f"{len(emails):,} address(es) cannot be sent through these relays",
                f"{key}; e.g. {examples}",
                "they will fail; use a relay with SMTPUTF8 or remove them"
                if "SMTPUTF8" in key
                else "they will fail; correct or remove them in the list",
            )
    if done and not any(level == "fail" for level, _ in problems):
        report.add("template", "ok", f"renders for all {done:,} recipients")
    return first, largest


def _check_audience(report: CheckReport, store: Any, campaign: dict[str, Any]) -> int | None:
    list_id = store.campaigns.audience_list_id(campaign)
    if list_id is None:
        report.add("audience", "fail", "no list or segment", fix="choose the list to send to")
        return None
    counts = store.campaigns.audience_counts(list_id)
    report.audience = counts
    if campaign["segment_id"] is not None:
        report.add(
            "audience",
            "warn",
            "segment filter not applied in these counts",
            "the counts are for the segment's whole list",
        )
    if counts["sendable"] == 0:
        report.add(
            "audience", "fail", "nobody to send to", f"{counts['total']:,} member(s), none sendable"
        )
    else:
        report.add(
            "audience",
            "ok",
            f"{counts['sendable']:,} recipient(s)",
            f"{counts['total']:,} members: {counts['suppressed']:,} suppressed and "
            f"{counts['invalid']:,} invalid are skipped",
        )
    if counts["role"]:
        report.add(
            "audience",
            "warn",
            f"{counts['role']:,} role address(es) (postmaster@, info@…)",
            "role addresses rarely opted in and complain more",
            "remove them from the list unless they asked for this mail",
        )
    return list_id


def _check_unsubscribe(report: CheckReport, config: Config, bulk: bool) -> bool:
    base_url = str(config.get("unsubscribe", "base_url"))
    one_click = base_url.startswith("https://") and base_url.isascii()
    if not one_click:
        report.add(
            "unsubscribe",
            "fail" if bulk else "warn",
            "no HTTPS one-click unsubscribe URL",
            f"[unsubscribe] base_url is {base_url!r}; RFC 8058 needs https://",
            "run postroom unsubscribe-server behind your TLS proxy and set base_url",
        )
    elif "example.com" in base_url:
        report.add(
            "unsubscribe",
            "warn",
            "unsubscribe URL is the example default",
            base_url,
            "set [unsubscribe] base_url to your unsubscribe-server's public address",
        )
    else:
        report.add("unsubscribe", "ok", "one-click unsubscribe", base_url)
    if not config.get("unsubscribe", "mailto"):
        report.add(
            "unsubscribe",
            "warn",
            "no mailto: unsubscribe",
            "Yahoo accepts a mailto as well as the HTTPS link",
            "set [unsubscribe] mailto to an address the reply processing reads",
        )
    return one_click


def _check_authentication(
    report: CheckReport,
    store: Any,
    domain: str,
    bulk: bool,
    resolver: Resolver | None,
) -> None:
    context = context_for(store, domain)
    found = asyncio.run(check_domain(context, resolver or Resolver.from_env()))
    passed = {check: found.status(check) == "pass" for check in ("spf", "dkim", "dmarc")}
    for finding in found.findings:
        if finding.check == "mx" or finding.status == "pass":
            if finding.status == "pass" and finding.check != "mx":
                report.add("authentication", "ok", f"{finding.check.upper()}: {finding.reason}")
            continue
        if finding.status in ("fail", "error"):
            # Past the bulk threshold Gmail and Yahoo want SPF, DKIM and DMARC all;
            # below it, one of SPF or DKIM must pass.
            blocks = bulk or not (passed["spf"] or passed["dkim"])
            level = "fail" if blocks else "warn"
        else:
            level = "warn"
        fix = f"publish: {finding.record}" if finding.record else "see postroom dns check " + domain
        report.add("authentication", level, f"{finding.check.upper()}: {finding.reason}", fix=fix)


def _check_quota(
    report: CheckReport, store: Any, campaign_id: int, sendable: int, now: float
) -> None:
    pool = store.campaigns.accounts(campaign_id)
    if not pool:
        report.add("quota", "fail", "no sending accounts", fix="add accounts to the campaign")
        return
    usable = []
    for account in pool:
        health = account_health(store, account, at=now)
        if account["state"] != "active":
            report.add(
                "quota",
                "warn",
                f"account {account['name']} is {health.state_label}",
                "it gets no messages until resumed",
                f"resume it in :accounts, or remove it from {report.campaign!r}",
            )
            continue
        usable.append(
            {
                "rate": health.configured_rate,
                "hour_cap": health.max_per_hour,
                "day_cap": health.day_cap,
                "sent_hour": health.sent_hour,
                "sent_day": health.sent_day,
            }
        )
    if not usable:
        report.add("quota", "fail", "every account is paused", fix="resume an account")
        return
    eta = estimate_eta(sendable, usable)
    report.eta_seconds = eta
    left_hour = sum(
        max(0, a["hour_cap"] - a["sent_hour"]) if a["hour_cap"] is not None else math.inf
        for a in usable
    )
    left_day = sum(
        max(0, a["day_cap"] - a["sent_day"]) if a["day_cap"] is not None else math.inf
        for a in usable
    )
    capacity = (
        f"rate {sum(a['rate'] for a in usable):g}/s; left this hour "
        f"{'unlimited' if left_hour == math.inf else f'{left_hour:,}'}, today "
        f"{'unlimited' if left_day == math.inf else f'{left_day:,}'}"
    )
    if eta is None:
        report.add(
            "quota",
            "fail",
            "the accounts cannot send this audience",
            capacity,
            "raise the limits or add accounts",
        )
    elif eta > 86400:
        report.add(
            "quota",
            "warn",
            f"ETA {human_duration(eta)}: more than a day",
            capacity,
            "add accounts or split the audience",
        )
    else:
        report.add("quota", "ok", f"ETA {human_duration(eta)}", capacity)


def _check_content(
    report: CheckReport,
    store: Any,
    campaign_id: int,
    sample: bytes,
    largest: int,
    now: float,
    use_spamassassin: bool,
) -> None:
    result = lint(sample, now=now, use_spamassassin=use_spamassassin)
    report.lint_score = result.score
    for hit in result.hits:
        report.add("content", "warn", f"{hit.rule} ({hit.score:+.1f}): {hit.reason}", fix=hit.fix)
    if result.score >= THRESHOLD:
        report.add(
            "content",
            "fail",
            f"lint score {result.score:.1f} (spam at {THRESHOLD:g})",
            "the warnings above add up to what SpamAssassin calls spam",
            "fix the content warnings",
        )
    else:
        report.add("content", "ok", f"lint score {result.score:.1f} (spam at {THRESHOLD:g})")
    if result.spamassassin is not None:
        level = "fail" if result.spamassassin >= THRESHOLD else "ok"
        report.add("content", level, f"SpamAssassin score {result.spamassassin:.1f}")
    if result.clipped_by_gmail:
        report.add(
            "content",
            "warn",
            f"HTML is {result.html_size / 1024:.0f} KB: Gmail clips past 102 KB",
            f"the unsubscribe link at the bottom may be hidden (limit {GMAIL_CLIP_BYTES:,} bytes)",
            "shorten the HTML (inline CSS and images are the usual cause)",
        )
    limits = [
        (a["max_message_bytes"], a["name"])
        for a in store.campaigns.accounts(campaign_id)
        if a["max_message_bytes"]
    ]
    if limits:
        limit, name = min(limits)
        if largest > limit:
            report.add(
                "content",
                "fail",
                f"messages up to {largest:,} bytes; {name} takes {limit:,}",
                fix="shrink the attachments or the HTML",
            )


def run_check(
    store: Any,
    campaign_id: int,
    config: Config,
    *,
    resolver: Resolver | None = None,
    clock: Callable[[], float] = time.time,
    progress: Callable[[int, int], None] | None = None,
    use_spamassassin: bool = True,
) -> CheckReport:
    """The whole check. ``progress(done, total)`` is called as recipients are rendered."""
    campaign = store.campaigns.get(campaign_id)
    report = CheckReport(campaign["name"])
    now = clock()
    list_id = _check_audience(report, store, campaign)
    sendable = report.audience.get("sendable", 0)
    bulk = sendable > int(config.get("checks", "bulk_threshold"))
    try:
        compiled = compile_campaign(store, campaign_id, config, clock=clock)
    except CompileError as exc:
        report.add(
            "template", "fail", "the campaign does not build", str(exc), "fix it and re-check"
        )
        compiled = None
    sample, largest = None, 0
    if compiled is not None and list_id is not None:
        sample, largest = _scan_templates(report, store, compiled, list_id, sendable, progress)
    _check_unsubscribe(report, config, bulk)
    domain = campaign["from_email"].rpartition("@")[2].lower()
    if domain:
        _check_authentication(report, store, domain, bulk, resolver)
    if sample is not None:
        _check_content(report, store, campaign_id, sample, largest, now, use_spamassassin)
    _check_quota(report, store, campaign_id, sendable, now)
    if bulk:
        report.add(
            "authentication",
            "ok",
            f"bulk sender rules apply: {sendable:,} > {config.get('checks', 'bulk_threshold'):,}",
        )
    order = ("template", "authentication", "unsubscribe", "content", "audience", "quota")
    report.items.sort(key=lambda item: order.index(item.section))
    return report
