"""A real DNS server on 127.0.0.1 serving records a test writes.

    with DnsServer() as dns:
        dns.txt("example.com", "v=spf1 include:amazonses.com -all")
        dns.mx("example.com", 10, "mx.example.com")
        dns.a("mx.example.com", "192.0.2.1")
        dns.add('_dmarc.example.com. 300 IN TXT "v=DMARC1; p=none"')  # zone-file lines
        dns.servfail("broken.example")      # answers SERVFAIL for that name
        dns.stall("slow.example")           # never answers that name (timeouts)
        resolver = dns.resolver(timeout=0.5)  # core.dnscheck.Resolver aimed here
        # dns.nameserver == ("127.0.0.1", port); dns.queries lists (name, type)

UDP and TCP on the same port (dnspython retries over TCP when a reply is
truncated). Unknown names get NXDOMAIN; known names asked for another type
get an empty NOERROR answer (NODATA). Names are case-insensitive.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from dnslib import QTYPE, RCODE, RR, DNSRecord
from dnslib.server import DNSLogger, DNSServer

from core.dnscheck.resolver import Resolver


def _key(name: str) -> str:
    return str(name).lower().rstrip(".") + "."


class _ZoneResolver:
    """The dnslib resolver: looks names up in the test's records."""

    def __init__(self, owner: DnsServer) -> None:
        self.owner = owner

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        owner = self.owner
        name = _key(request.q.qname)
        qtype = QTYPE[request.q.qtype]
        with owner.lock:
            owner.queries.append((name.rstrip("."), qtype))
            stalled = name in owner.stalled
            failing = name in owner.failing
            records = list(owner.records.get(name, ()))
        if stalled:
            owner.release.wait(30)  # the client gives up long before
        reply = request.reply()
        if failing:
            reply.header.rcode = RCODE.SERVFAIL
        elif not records:
            reply.header.rcode = RCODE.NXDOMAIN
        else:
            for rr in records:
                if QTYPE[rr.rtype] == qtype or qtype == "ANY":
                    reply.add_answer(rr)
        return reply


class DnsServer:
    def __init__(self, address: str = "127.0.0.1") -> None:
        self.address = address
        self.records: dict[str, list[RR]] = defaultdict(list)
        self.failing: set[str] = set()
        self.stalled: set[str] = set()
        self.queries: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        self._servers: list[DNSServer] = []
        self.port = 0

    # -- records -------------------------------------------------------------

    def add(self, zone: str) -> None:
        """Add records written as zone-file lines (absolute names)."""
        with self.lock:
            for rr in RR.fromZone(zone):
                self.records[_key(rr.rname)].append(rr)

    def txt(self, name: str, value: str, ttl: int = 300) -> None:
        """A TXT record; values over 255 bytes are split into strings."""
        pieces = [value[i : i + 255] for i in range(0, len(value), 255)] or [""]
        quoted = " ".join('"' + p.replace("\\", "\\\\").replace('"', '\\"') + '"' for p in pieces)
        self.add(f"{_key(name)} {ttl} IN TXT {quoted}")

    def mx(self, name: str, preference: int, exchange: str, ttl: int = 300) -> None:
        self.add(f"{_key(name)} {ttl} IN MX {preference} {_key(exchange)}")

    def a(self, name: str, address: str, ttl: int = 300) -> None:
        rtype = "AAAA" if ":" in address else "A"
        self.add(f"{_key(name)} {ttl} IN {rtype} {address}")

    def remove(self, name: str) -> None:
        with self.lock:
            self.records.pop(_key(name), None)

    def servfail(self, name: str) -> None:
        """Answer SERVFAIL for every query of ``name``."""
        with self.lock:
            self.failing.add(_key(name))

    def stall(self, name: str) -> None:
        """Never answer ``name`` (until the server stops): the client times out."""
        with self.lock:
            self.stalled.add(_key(name))

    def queried(self, name: str, qtype: str | None = None) -> int:
        """How many queries for ``name`` (of ``qtype``) arrived."""
        with self.lock:
            return sum(
                1
                for n, t in self.queries
                if n == _key(name).rstrip(".") and (qtype is None or t == qtype)
            )

    # -- serving -------------------------------------------------------------

    @property
    def nameserver(self) -> tuple[str, int]:
        return (self.address, self.port)

    def resolver(self, timeout: float = 1.0) -> Resolver:
        return Resolver(nameserver=self.address, port=self.port, timeout=timeout)

    def start(self) -> DnsServer:
        quiet = DNSLogger(log="-request,-reply,-truncated,-error")
        for _attempt in range(20):  # the UDP port may be taken for TCP
            udp = DNSServer(_ZoneResolver(self), address=self.address, port=0, logger=quiet)
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(
                    _ZoneResolver(self), address=self.address, port=port, tcp=True, logger=quiet
                )
            except OSError:
                udp.server.server_close()
                continue
            self.port = port
            self._servers = [udp, tcp]
            for server in self._servers:
                # A short poll interval keeps stop() (and test teardown) quick.
                threading.Thread(
                    target=server.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
                ).start()
            return self
        raise OSError("no free port for the test DNS server")

    def stop(self) -> None:
        self.release.set()
        for server in self._servers:
            server.server.shutdown()
            server.server.server_close()
        self._servers = []

    def __enter__(self) -> DnsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
