"""SPF (RFC 7208): one record, at most 10 DNS-querying terms and 2 void
lookups counted through includes and redirects, and the relays covered."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from core.dnscheck.findings import Finding, zone_txt
from core.dnscheck.resolver import Lookup, Resolver

MAX_LOOKUPS = 10
MAX_VOIDS = 2
QUERYING = ("include", "a", "mx", "ptr", "exists", "redirect")
_TERM = re.compile(r"^([+\-~?]?)([a-z][a-z0-9_.-]*)([:=/].*)?$", re.IGNORECASE)

# Relay host suffix -> the include its operator publishes for its senders.
RELAY_INCLUDES: tuple[tuple[str, str], ...] = (
    (".amazonaws.com", "amazonses.com"),
    ("smtp.gmail.com", "_spf.google.com"),
    ("smtp-relay.gmail.com", "_spf.google.com"),
    ("smtp.office365.com", "spf.protection.outlook.com"),
    ("outlook.office365.com", "spf.protection.outlook.com"),
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def relay_include(host: str) -> str | None:
    host = host.lower().rstrip(".")
    for suffix, include in RELAY_INCLUDES:
        if host == suffix.lstrip(".") or host.endswith(suffix):
            return include
    return None


@dataclass(frozen=True)
class Term:
    qualifier: str
    name: str  # mechanism or modifier name, lower-case
    value: str  # after ':' or '=' ('' when absent)
    text: str

    @property
    def is_modifier(self) -> bool:
        return self.name in ("redirect", "exp") or "=" in self.text.split(":")[0]


def parse(record: str) -> list[Term]:
    terms = []
    for text in record.split()[1:]:
        m = _TERM.match(text)
        if not m:
            terms.append(Term("", "?", text, text))
            continue
        qualifier, name, rest = m.group(1), m.group(2).lower(), m.group(3) or ""
        value = rest[1:] if rest[:1] in (":", "=") else rest
        terms.append(Term(qualifier, name, value, text))
    return terms


def spf_records(lookup: Lookup) -> list[str]:
    return [r for r in lookup.records if r.lower() == "v=spf1" or r.lower().startswith("v=spf1 ")]


@dataclass
class Walk:
    """What evaluating a record (and everything it pulls in) costs and allows."""

    lookups: int = 0
    voids: int = 0
    includes: set[str] = field(default_factory=set)
    networks: list[Network] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # permerrors
    failures: list[str] = field(default_factory=list)  # DNS failures
    flattenable: bool = True  # only ip4/ip6/include below: could be replaced by IPs

    def absorb(self, other: Walk) -> None:
        self.lookups += other.lookups
        self.voids += other.voids
        self.includes |= other.includes
        self.networks += other.networks
        self.problems += other.problems
        self.failures += other.failures
        self.flattenable = self.flattenable and other.flattenable


async def walk(resolver: Resolver, domain: str, record: str, seen: frozenset[str]) -> Walk:
    """Count lookups and voids of ``record`` (published at ``domain``) recursively."""
    result = Walk()
    terms = parse(record)
    has_all = any(t.name == "all" for t in terms)
    for term in terms:
        if term.name in QUERYING:
            result.lookups += 1
        if term.name == "?":
            result.problems.append(f"{domain}: unreadable term {term.text!r}")
        elif term.name in ("ip4", "ip6"):
            try:
                result.networks.append(ipaddress.ip_network(term.value, strict=False))
            except ValueError:
                result.problems.append(f"{domain}: bad address in {term.text!r}")
        elif term.name == "include" or (term.name == "redirect" and not has_all):
            result.absorb(await _follow(resolver, domain, term, seen))
        elif term.name in ("a", "mx"):
            result.flattenable = False
            target = term.value.split("/")[0] or domain
            if "%" not in target:  # macros depend on the message: not checkable here
                lookup = await resolver.lookup(target, "A" if term.name == "a" else "MX")
                _count(result, lookup, term.text)
        elif term.name in ("ptr", "exists"):
            result.flattenable = False
        elif term.name not in ("all", "exp", "redirect") and not term.is_modifier:
            result.problems.append(f"{domain}: unknown mechanism {term.text!r}")
    return result


async def _follow(resolver: Resolver, domain: str, term: Term, seen: frozenset[str]) -> Walk:
    target = term.value.lower().rstrip(".")
    result = Walk(includes={target})
    if "%" in target:
        result.flattenable = False
        return result
    if target in seen:
        result.problems.append(f"{domain}: {term.text} loops back to itself")
        return result
    lookup = await resolver.lookup(target, "TXT")
    _count(result, lookup, term.text)
    if lookup.failed:
        return result
    records = spf_records(lookup)
    if len(records) != 1:
        count = "no" if not records else str(len(records))
        result.problems.append(f"{domain}: {term.text} finds {count} SPF record(s) at {target}")
        return result
    result.absorb(await walk(resolver, target, records[0], seen | {target}))
    return result


def _count(result: Walk, lookup: Lookup, what: str) -> None:
    if lookup.failed:
        result.failures.append(f"{what}: {lookup.failure_text()}")
    elif lookup.missing:
        result.voids += 1


def rewrite(record: str, *, drop: set[str] = frozenset(), add: list[str] = ()) -> str:
    """``record`` without the terms in ``drop``, with ``add`` before its all/redirect."""
    terms = [t.text for t in parse(record) if t.text not in drop]
    tail = [t for t in terms if t.lower().lstrip("+-~?") == "all" or t.startswith("redirect=")]
    body = [t for t in terms if t not in tail]
    extra = [a for a in add if a not in body]
    return " ".join(["v=spf1", *body, *extra, *(tail or ["~all"])])


async def check_spf(resolver: Resolver, domain: str, relays: list[str]) -> list[Finding]:
    lookup = await resolver.lookup(domain, "TXT")
    if lookup.failed:
        return [Finding("spf", "error", lookup.failure_text())]
    needed = sorted({inc for host in relays if (inc := relay_include(host))})
    records = spf_records(lookup)
    if not records:
        proposal = rewrite("v=spf1", add=[f"include:{i}" for i in needed])
        return [Finding("spf", "fail", f"{domain} has no SPF record", zone_txt(domain, proposal))]
    if len(records) > 1:
        merged = records[0]
        for other in records[1:]:
            merged = rewrite(merged, add=[t.text for t in parse(other) if t.name != "all"])
        return [
            Finding(
                "spf",
                "fail",
                f"{domain} has {len(records)} SPF records; receivers treat that as a "
                "permanent error — publish one",
                zone_txt(domain, merged),
            )
        ]
    record = records[0]
    result = await walk(resolver, domain, record, frozenset({domain}))
    findings = [Finding("spf", "pass", f"one SPF record: {record}")]
    findings += [Finding("spf", "error", failure) for failure in result.failures]
    findings += [Finding("spf", "fail", f"permerror: {p}") for p in result.problems]
    findings.append(await _lookup_limit(resolver, domain, record, result, needed))
    if result.voids > MAX_VOIDS:
        findings.append(
            Finding(
                "spf",
                "fail",
                f"{result.voids} void lookups (limit {MAX_VOIDS}): names in the record "
                "that do not exist; receivers return permerror",
            )
        )
    findings.append(_all_policy(domain, record))
    findings += await _relays(resolver, domain, record, result, relays)
    return findings


async def _lookup_limit(
    resolver: Resolver, domain: str, record: str, result: Walk, needed: list[str]
) -> Finding:
    if result.lookups <= MAX_LOOKUPS:
        return Finding("spf", "pass", f"{result.lookups} of {MAX_LOOKUPS} DNS lookups used")
    # Propose the record with includes Postroom does not need flattened to
    # their addresses (only those made purely of ip4/ip6 can be).
    drop, add, costs = set(), [], []
    for term in parse(record):
        if term.name != "include" or "%" in term.value:
            continue
        sub = await _follow(resolver, domain, term, frozenset({domain}))
        costs.append(f"{term.text} ({1 + sub.lookups})")
        if term.value.lower() not in needed and sub.flattenable and not sub.failures:
            drop.add(term.text)
            add += [f"ip{n.version}:{n}" for n in sub.networks]
    reason = (
        f"{result.lookups} DNS lookups (limit {MAX_LOOKUPS}): receivers return permerror "
        f"and SPF fails. Cost per include: {', '.join(costs)}"
    )
    if not drop:
        return Finding("spf", "fail", reason + "; remove includes you no longer send through")
    reason += "; flattened record below (update it when those providers change addresses)"
    return Finding("spf", "fail", reason, zone_txt(domain, rewrite(record, drop=drop, add=add)))


def _all_policy(domain: str, record: str) -> Finding:
    alls = [t for t in parse(record) if t.name == "all"]
    redirect = any(t.name == "redirect" for t in parse(record))
    if not alls:
        if redirect:
            return Finding("spf", "pass", "policy comes from the redirect")
        return Finding(
            "spf",
            "warn",
            "no 'all' term: mail from anywhere else is 'neutral'",
            zone_txt(domain, rewrite(record)),
        )
    qualifier = alls[-1].qualifier or "+"
    if qualifier == "+":
        return Finding(
            "spf",
            "fail",
            "'+all' lets anyone send as this domain",
            zone_txt(domain, rewrite(record, drop={alls[-1].text})),  # ~all by default
        )
    if qualifier == "?":
        return Finding("spf", "warn", "'?all' is neutral: other senders are not refused")
    return Finding("spf", "pass", f"'{qualifier}all' refuses other senders")


async def _relays(
    resolver: Resolver, domain: str, record: str, result: Walk, relays: list[str]
) -> list[Finding]:
    findings = []
    for host in sorted(set(relays)):
        include = relay_include(host)
        if include is not None:
            if include in result.includes:
                findings.append(Finding("spf", "pass", f"relay {host} covered by {include}"))
            else:
                findings.append(
                    Finding(
                        "spf",
                        "fail",
                        f"relay {host} is not covered: add include:{include}",
                        zone_txt(domain, rewrite(record, add=[f"include:{include}"])),
                    )
                )
            continue
        addresses = await _addresses(resolver, host)
        if addresses and any(a in n for a in addresses for n in result.networks):
            findings.append(Finding("spf", "pass", f"relay {host} covered by its address"))
        else:
            findings.append(
                Finding(
                    "spf",
                    "warn",
                    f"cannot tell whether relay {host} is covered: make sure the "
                    "addresses it sends from are in the record",
                )
            )
    return findings


async def _addresses(resolver: Resolver, host: str) -> list[ipaddress.IPv4Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    found = []
    for rdtype in ("A", "AAAA"):
        lookup = await resolver.lookup(host, rdtype)
        found += [ipaddress.ip_address(r) for r in lookup.records]
    return found
