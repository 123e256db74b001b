"""Per recipient-provider rate caps, grouped by MX (SENDING-RULES.md §4).

Off unless ``[providers] enabled``. Each recipient domain's MX is resolved
once (cached for the run) and mapped to a budget: one per big provider
(google, microsoft, yahoo, icloud: every domain whose mail those MX hosts
take shares it, Workspace and Microsoft 365 tenants included), else one per
primary MX host with the ``other`` limit. A budget is a GCRA timeline: a
claimed row whose provider is over its rate goes back to the queue due at
the slot reserved for it, so the ledger itself paces the provider and other
providers' rows carry on meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.config import Config
from core.dnscheck.resolver import Resolver

GROUPS = ("google", "microsoft", "yahoo", "icloud")
# MX host suffixes of each provider (a host matches itself or any subdomain).
MX_SUFFIXES = {
    "google": ("google.com", "googlemail.com"),
    "microsoft": ("outlook.com", "hotmail.com"),
    "yahoo": ("yahoodns.net", "yahoo.com"),
    "icloud": ("icloud.com", "me.com"),
}
ON_TIME = 0.001  # a reserved slot this close to now is now (float noise)


def provider_of(mx_host: str) -> str | None:
    host = mx_host.lower().rstrip(".")
    for group, suffixes in MX_SUFFIXES.items():
        if any(host == s or host.endswith("." + s) for s in suffixes):
            return group
    return None


@dataclass
class Budget:
    """Messages per second for one provider; ``next_at`` is the next free slot."""

    rate: float
    next_at: float = float("-inf")

    def reserve(self, now: float) -> float:
        """The time of the slot reserved for one message (now, or later when over rate)."""
        slot = max(self.next_at, now)
        self.next_at = slot + 1.0 / self.rate
        return slot


class ProviderLimits:
    def __init__(self, config: Config, resolver: Resolver) -> None:
        self.resolver = resolver
        self.rates = {
            group: float(config.get("providers", f"{group}_rate")) for group in (*GROUPS, "other")
        }
        self.keys: dict[str, str] = {}  # recipient domain -> budget key
        self.budgets: dict[str, Budget] = {}

    async def key(self, domain: str) -> str:
        """The budget a domain's mail counts against (its MX looked up once)."""
        domain = domain.lower()
        found = self.keys.get(domain)
        if found is None:
            found = self.keys[domain] = await self._resolve(domain)
        return found

    async def _resolve(self, domain: str) -> str:
        lookup = await self.resolver.lookup(domain, "MX")
        hosts = [host for _, host in sorted(lookup.records)] if not lookup.failed else []
        for host in hosts:
            group = provider_of(host)
            if group is not None:
                return group
        # Not a big provider: its own budget per primary MX (or the domain: implicit MX).
        return f"mx:{hosts[0] if hosts else domain}"

    def reserve(self, key: str, now: float) -> float | None:
        """None when a message to ``key`` may go now, else when its reserved slot comes."""
        group = key if key in GROUPS else "other"
        rate = self.rates[group]
        if rate <= 0:
            return None  # no cap for this group
        budget = self.budgets.get(key)
        if budget is None or budget.rate != rate:
            budget = self.budgets[key] = Budget(rate, budget.next_at if budget else float("-inf"))
        slot = budget.reserve(now)
        return None if slot <= now + ON_TIME else slot
