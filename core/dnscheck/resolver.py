"""DNS lookups for the checks: dnspython's async resolver, a TTL cache, and
failures kept apart from answers.

A SERVFAIL or a timeout is never "record missing": each lookup says which
of ok / nxdomain / nodata / servfail / timeout / error it got, so a check
can tell "publish this record" from "your DNS did not answer".
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.rdatatype
import dns.resolver

NEGATIVE_TTL = 300.0  # cache "no such record" this long when no SOA says otherwise
FAILURES = ("servfail", "timeout", "error")


@dataclass(frozen=True)
class Lookup:
    """The outcome of one query.

    ``records`` holds TXT strings (joined), ``(preference, host)`` for MX,
    and addresses for A/AAAA. ``ttl`` is how long the outcome may be reused.
    """

    name: str
    rdtype: str
    status: str  # ok | nxdomain | nodata | servfail | timeout | error
    records: tuple[Any, ...] = ()
    ttl: float = 0.0
    detail: str = ""

    @property
    def failed(self) -> bool:
        """The DNS did not give an answer: nothing can be said about the record."""
        return self.status in FAILURES

    @property
    def missing(self) -> bool:
        return self.status in ("nxdomain", "nodata")

    def failure_text(self) -> str:
        what = f"{self.name} {self.rdtype}"
        if self.status == "servfail":
            return f"DNS failure: SERVFAIL for {what}"
        if self.status == "timeout":
            return f"DNS failure: no answer for {what} ({self.detail})"
        return f"DNS failure for {what}: {self.detail}"


def _rdata_value(rdtype: str, rdata: Any) -> Any:
    if rdtype == "TXT":
        return b"".join(rdata.strings).decode("utf-8", "replace")
    if rdtype == "MX":
        return (rdata.preference, rdata.exchange.to_text(omit_final_dot=True).lower() or ".")
    return rdata.to_text()


def _negative_ttl(exc: dns.exception.DNSException) -> float:
    """The SOA minimum in a negative answer (RFC 2308), else NEGATIVE_TTL."""
    try:
        if isinstance(exc, dns.resolver.NXDOMAIN):
            responses = list(exc.responses().values())
        else:
            responses = [exc.response()]
    except (KeyError, AttributeError):  # no response attached: use the default
        return NEGATIVE_TTL
    for response in responses:
        for rrset in response.authority:
            if rrset.rdtype == dns.rdatatype.SOA:
                return float(min(rrset.ttl, rrset[0].minimum))
    return NEGATIVE_TTL


class Resolver:
    """Async lookups against the system's resolver or a given nameserver."""

    def __init__(
        self,
        nameserver: str | None = None,
        port: int = 53,
        timeout: float = 5.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.nameserver = nameserver
        self.port = port
        self.timeout = timeout
        self.clock = clock
        self._cache: dict[tuple[str, str], tuple[float, Lookup]] = {}
        self._dns: dns.asyncresolver.Resolver | None = None
        self.queries = 0  # sent to the network (not answered from the cache)

    @classmethod
    def from_env(cls, timeout: float = 5.0) -> Resolver:
        """``$POSTROOM_NAMESERVER`` (``host`` or ``host:port``), else the system's."""
        value = os.environ.get("POSTROOM_NAMESERVER", "").strip()
        if not value:
            return cls(timeout=timeout)
        host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
        return cls(host or value, int(port) if port else 53, timeout)

    def _resolver(self) -> dns.asyncresolver.Resolver:
        if self._dns is None:
            if self.nameserver:
                resolver = dns.asyncresolver.Resolver(configure=False)
                resolver.nameservers = [self.nameserver]
                resolver.port = self.port
            else:
                resolver = dns.asyncresolver.Resolver()
            resolver.timeout = self.timeout
            resolver.lifetime = self.timeout
            self._dns = resolver
        return self._dns

    def clear(self) -> None:
        self._cache.clear()

    async def lookup(self, name: str, rdtype: str) -> Lookup:
        """One query, answered from the cache while its TTL lasts."""
        name = name.lower().rstrip(".")
        key = (name, rdtype)
        cached = self._cache.get(key)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        result = await self._query(name, rdtype)
        if not result.failed:  # failures are retried next time, never cached
            self._cache[key] = (self.clock() + result.ttl, result)
        return result

    async def _query(self, name: str, rdtype: str) -> Lookup:
        self.queries += 1
        try:
            answer = await self._resolver().resolve(name, rdtype, search=False)
        except dns.resolver.NXDOMAIN as exc:
            return Lookup(name, rdtype, "nxdomain", ttl=_negative_ttl(exc))
        except dns.resolver.NoAnswer as exc:
            return Lookup(name, rdtype, "nodata", ttl=_negative_ttl(exc))
        except dns.resolver.NoNameservers as exc:
            status = "servfail" if "SERVFAIL" in str(exc) else "error"
            return Lookup(name, rdtype, status, detail="no nameserver answered usefully")
        except dns.exception.Timeout:
            return Lookup(name, rdtype, "timeout", detail=f"timed out after {self.timeout:g} s")
        except (dns.exception.DNSException, OSError) as exc:
            return Lookup(name, rdtype, "error", detail=str(exc) or type(exc).__name__)
        rrset = answer.rrset
        if rrset is None:
            return Lookup(name, rdtype, "nodata", ttl=NEGATIVE_TTL)
        records = tuple(_rdata_value(rdtype, rdata) for rdata in rrset)
        return Lookup(name, rdtype, "ok", records, float(rrset.ttl))


_default: Resolver | None = None


def default_resolver() -> Resolver:
    """The process-wide resolver (and cache) used when a caller passes none."""
    global _default
    if _default is None:
        _default = Resolver.from_env()
    return _default
