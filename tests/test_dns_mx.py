"""mx_status and the resolver, against a real DNS server on loopback."""

from __future__ import annotations

import pytest

from core.dnscheck import Resolver, mx_status
from tests.support.dns_server import DnsServer


@pytest.fixture
def dns_server():
    with DnsServer() as server:
        yield server


async def test_a_domain_with_mx_hosts_receives_mail_in_preference_order(dns_server):
    dns_server.mx("example.org", 20, "backup.example.org")
    dns_server.mx("example.org", 10, "mx1.example.org")
    status = await mx_status("Example.ORG.", dns_server.resolver())
    assert status.deliverable is True
    assert status.hosts == ("mx1.example.org", "backup.example.org")


async def test_null_mx_means_no_mail(dns_server):
    dns_server.add("nomail.example. 300 IN MX 0 .")
    dns_server.a("nomail.example", "192.0.2.7")  # an A record does not override a null MX
    status = await mx_status("nomail.example", dns_server.resolver())
    assert (status.state, status.deliverable) == ("null_mx", False)
    assert "null MX" in status.reason


async def test_no_mx_falls_back_to_the_address_and_no_address_means_no_mail(dns_server):
    dns_server.a("small.example", "192.0.2.8")
    dns_server.txt("parked.example", "v=spf1 -all")  # exists, but no MX and no A
    resolver = dns_server.resolver()
    small = await mx_status("small.example", resolver)
    assert (small.state, small.deliverable) == ("implicit", True)
    parked = await mx_status("parked.example", resolver)
    assert (parked.state, parked.deliverable) == ("no_mail_host", False)
    gone = await mx_status("gone.example", resolver)
    assert (gone.state, gone.deliverable) == ("nxdomain", False)


async def test_servfail_and_timeout_are_dns_errors_not_undeliverable(dns_server):
    dns_server.servfail("broken.example")
    dns_server.stall("slow.example")
    resolver = dns_server.resolver(timeout=0.3)
    broken = await mx_status("broken.example", resolver)
    assert (broken.state, broken.deliverable) == ("dns_error", None)
    assert "SERVFAIL" in broken.reason
    slow = await mx_status("slow.example", resolver)
    assert (slow.state, slow.deliverable) == ("dns_error", None)
    assert "no answer" in slow.reason
    # A failure is asked again next time, not remembered.
    await mx_status("broken.example", resolver)
    assert dns_server.queried("broken.example", "MX") == 2


async def test_answers_are_cached_for_their_ttl(dns_server):
    now = [1000.0]
    resolver = Resolver(dns_server.address, dns_server.port, timeout=1, clock=lambda: now[0])
    dns_server.mx("cached.example", 10, "mx.cached.example", ttl=60)
    for _ in range(3):
        assert (await mx_status("cached.example", resolver)).deliverable
    assert dns_server.queried("cached.example", "MX") == 1
    now[0] += 61
    await mx_status("cached.example", resolver)
    assert dns_server.queried("cached.example", "MX") == 2


async def test_missing_records_are_cached_too(dns_server):
    now = [0.0]
    resolver = Resolver(dns_server.address, dns_server.port, timeout=1, clock=lambda: now[0])
    await mx_status("missing.example", resolver)
    await mx_status("missing.example", resolver)
    assert dns_server.queried("missing.example", "MX") == 1  # remembered for 300 s
    now[0] += 301
    await mx_status("missing.example", resolver)
    assert dns_server.queried("missing.example", "MX") == 2


def test_nameserver_from_the_environment(monkeypatch):
    monkeypatch.setenv("POSTROOM_NAMESERVER", "127.0.0.1:5353")
    resolver = Resolver.from_env()
    assert (resolver.nameserver, resolver.port) == ("127.0.0.1", 5353)
    monkeypatch.setenv("POSTROOM_NAMESERVER", "::1")
    assert (Resolver.from_env().nameserver, Resolver.from_env().port) == ("::1", 53)
