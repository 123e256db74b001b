"""Can a domain receive mail? (list hygiene and From-domain checks)

RFC 5321 §5.1: mail goes to the MX hosts, or to the domain's own address
when it has no MX. RFC 7505: a single ``0 .`` MX says "no mail here".
"""

from __future__ import annotations

from dataclasses import dataclass

from core.dnscheck.resolver import Lookup, Resolver, default_resolver


@dataclass(frozen=True)
class MxStatus:
    domain: str
    state: str  # ok | implicit | null_mx | no_mail_host | nxdomain | dns_error
    reason: str
    hosts: tuple[str, ...] = ()  # MX hosts by preference, or the domain itself
    ttl: float = 0.0

    @property
    def deliverable(self) -> bool | None:
        """True / False, or None when DNS failed and nothing can be said."""
        if self.state == "dns_error":
            return None
        return self.state in ("ok", "implicit")


async def mx_status(domain: str, resolver: Resolver | None = None) -> MxStatus:
    """Whether ``domain`` can receive mail, from its MX (or A/AAAA) records.

    Cached per lookup with the records' TTL (the resolver's cache); a
    SERVFAIL or timeout gives state ``dns_error`` (deliverable None), never
    "undeliverable".
    """
    resolver = resolver or default_resolver()
    domain = domain.strip().lower().rstrip(".")
    mx = await resolver.lookup(domain, "MX")
    if mx.failed:
        return MxStatus(domain, "dns_error", mx.failure_text())
    if mx.status == "nxdomain":
        return MxStatus(domain, "nxdomain", f"{domain} does not exist (NXDOMAIN)", ttl=mx.ttl)
    if mx.status == "ok":
        records = sorted(mx.records)
        hosts = tuple(host for _, host in records if host != ".")
        if not hosts:
            return MxStatus(
                domain, "null_mx", f"{domain} publishes a null MX: it accepts no mail", ttl=mx.ttl
            )
        return MxStatus(domain, "ok", f"MX {', '.join(hosts)}", hosts, mx.ttl)
    return await _implicit_mx(domain, resolver, mx)


async def _implicit_mx(domain: str, resolver: Resolver, mx: Lookup) -> MxStatus:
    """No MX records: the domain's own A/AAAA address receives mail, if any."""
    lookups = [await resolver.lookup(domain, rdtype) for rdtype in ("A", "AAAA")]
    ttl = min([mx.ttl, *(lookup.ttl for lookup in lookups)])
    if any(lookup.status == "ok" for lookup in lookups):
        return MxStatus(
            domain, "implicit", f"no MX; mail goes to {domain}'s own address", (domain,), ttl
        )
    if failed := [lookup for lookup in lookups if lookup.failed]:
        return MxStatus(domain, "dns_error", failed[0].failure_text())
    return MxStatus(domain, "no_mail_host", f"{domain} has no MX and no address record", ttl=ttl)
