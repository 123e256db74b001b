"""Every check for one From domain, with what the store knows about it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.dkim import DkimKey, keys_for
from core.dnscheck.dkim_check import check_dkim
from core.dnscheck.dmarc import check_dmarc
from core.dnscheck.findings import DomainReport, Finding
from core.dnscheck.mx import mx_status
from core.dnscheck.resolver import Resolver, default_resolver
from core.dnscheck.spf import check_spf

if TYPE_CHECKING:
    from core.store import Store

CHECKS = ("spf", "dkim", "dmarc", "mx")


@dataclass(frozen=True)
class DomainContext:
    domain: str
    relays: tuple[str, ...] = ()  # SMTP hosts that send for the domain
    envelope_domains: tuple[str, ...] = ()  # MAIL FROM domains used with it
    key: DkimKey | None = None  # the key Postroom signs with


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().lower().rstrip(".")


def from_domains(store: Store) -> list[str]:
    """Every From domain the campaigns use, sorted."""
    return sorted(
        {_domain_of(c["from_email"]) for c in store.campaigns.all() if "@" in c["from_email"]}
    )


def context_for(store: Store, domain: str, selector: str | None = None) -> DomainContext:
    """Relays and envelopes of the accounts that send this domain's campaigns
    (every account when no campaign uses it yet) and its signing key."""
    domain = domain.lower().rstrip(".")
    accounts: dict[int, dict] = {}
    for campaign in store.campaigns.all():
        if _domain_of(campaign["from_email"]) == domain:
            accounts.update((a["id"], a) for a in store.campaigns.accounts(campaign["id"]))
    chosen = list(accounts.values()) or store.accounts.all()
    envelopes = {_domain_of(a["envelope_from"] or "") or domain for a in chosen} or {domain}
    keys = keys_for(store, domain)
    if selector is not None:
        keys = [k for k in keys if k.selector == selector.lower()]
    return DomainContext(
        domain,
        tuple(sorted({a["host"] for a in chosen})),
        tuple(sorted(envelopes)),
        keys[0] if keys else None,
    )


async def _check_mx(resolver: Resolver, domain: str) -> list[Finding]:
    status = await mx_status(domain, resolver)
    if status.deliverable is None:
        return [Finding("mx", "error", status.reason)]
    if status.deliverable:
        return [Finding("mx", "pass", status.reason)]
    return [
        Finding(
            "mx",
            "fail",
            f"{status.reason}: replies and bounces to {domain} are lost, and some "
            "receivers refuse mail from domains that cannot receive",
        )
    ]


async def check_domain(
    context: DomainContext, resolver: Resolver | None = None, *, clock=time.time
) -> DomainReport:
    """SPF, DKIM, DMARC and MX findings for ``context.domain``, looked up concurrently."""
    resolver = resolver or default_resolver()
    domain = context.domain
    results = await asyncio.gather(
        check_spf(resolver, domain, list(context.relays)),
        check_dkim(resolver, domain, context.key),
        check_dmarc(
            resolver,
            domain,
            dkim_domain=context.key.domain if context.key else None,
            envelope_domains=list(context.envelope_domains),
        ),
        _check_mx(resolver, domain),
    )
    return DomainReport(domain, [f for found in results for f in found], clock())
