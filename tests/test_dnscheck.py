"""SPF, DKIM, DMARC and MX checks of a From domain, against loopback DNS."""

from __future__ import annotations

import pytest

from core.dkim import generate_key
from core.dnscheck import check_domain, context_for, from_domains
from tests.support.dns_server import DnsServer
from tests.support.domains import publish_good_domain


@pytest.fixture
def dns_server():
    with DnsServer() as server:
        yield server


async def run(store, dns_server, domain="good.example", timeout=1.0):
    return await check_domain(context_for(store, domain), dns_server.resolver(timeout))


def reasons(report, check, status):
    return [f.reason for f in report.findings if f.check == check and f.status == status]


async def test_a_good_domain_passes_every_check(store, dns_server):
    publish_good_domain(dns_server, store)
    assert from_domains(store) == ["good.example"]
    report = await run(store, dns_server)
    assert {c: report.status(c) for c in ("spf", "dkim", "dmarc", "mx")} == {
        "spf": "pass",
        "dkim": "pass",
        "dmarc": "pass",
        "mx": "pass",
    }, report.findings
    assert any("covered by amazonses.com" in r for r in reasons(report, "spf", "pass"))
    assert any("1 of 10 DNS lookups used" in r for r in reasons(report, "spf", "pass"))
    assert any("matches Postroom's 2048-bit key" in r for r in reasons(report, "dkim", "pass"))


async def test_missing_spf_fails_with_the_record_to_publish(store, dns_server):
    publish_good_domain(dns_server, store)
    dns_server.remove("good.example")
    dns_server.mx("good.example", 10, "mx.good.example")
    report = await run(store, dns_server)
    [finding] = report.by_check("spf")
    assert finding.status == "fail"
    assert finding.reason == "good.example has no SPF record"
    assert finding.record == 'good.example. 3600 IN TXT "v=spf1 include:amazonses.com ~all"'


async def test_two_spf_records_fail_with_one_merged_record(store, dns_server):
    publish_good_domain(dns_server, store)
    dns_server.txt("good.example", "v=spf1 include:_spf.google.com -all")
    [finding] = (await run(store, dns_server)).by_check("spf")
    assert finding.status == "fail" and "2 SPF records" in finding.reason
    assert "include:amazonses.com include:_spf.google.com ~all" in finding.record


async def test_nested_includes_over_ten_lookups_fail_with_a_flattened_record(store, dns_server):
    publish_good_domain(dns_server, store)
    dns_server.remove("good.example")
    dns_server.txt("good.example", "v=spf1 include:amazonses.com include:crm.example -all")
    # crm.example -> three includes, each with three more: 1 + 3 + 9 lookups.
    branches = " ".join(f"include:b{i}.crm.example" for i in range(3))
    dns_server.txt("crm.example", f"v=spf1 {branches} -all")
    for i in range(3):
        leaves = " ".join(f"include:l{j}.b{i}.crm.example" for j in range(3))
        dns_server.txt(f"b{i}.crm.example", f"v=spf1 {leaves} -all")
        for j in range(3):
            dns_server.txt(f"l{j}.b{i}.crm.example", f"v=spf1 ip4:198.51.100.{10 * i + j} -all")
    report = await run(store, dns_server)
    [limit] = [f for f in report.by_check("spf") if "DNS lookups" in f.reason]
    assert limit.status == "fail"
    assert limit.reason.startswith("14 DNS lookups (limit 10)")
    assert "include:crm.example (13)" in limit.reason
    assert "include:amazonses.com" in limit.record  # the relay's include is kept
    assert "include:crm.example" not in limit.record
    assert "ip4:198.51.100.21/32" in limit.record


async def test_void_lookups_over_two_fail(store, dns_server):
    publish_good_domain(dns_server, store)
    dns_server.remove("good.example")
    dns_server.txt(
        "good.example",
        "v=spf1 include:amazonses.com a:gone1.example a:gone2.example mx:gone3.example ~all",
    )
    report = await run(store, dns_server)
    assert any(r.startswith("3 void lookups (limit 2)") for r in reasons(report, "spf", "fail"))


async def test_uncovered_relay_and_plus_all_fail_with_fixed_records(store, dns_server):
    publish_good_domain(dns_server, store)
    dns_server.remove("good.example")
    dns_server.txt("good.example", "v=spf1 ip4:192.0.2.0/24 +all")
    findings = (await run(store, dns_server)).by_check("spf")
    relay = next(f for f in findings if "relay" in f.reason)
    assert relay.status == "fail"
    assert relay.record == (
        'good.example. 3600 IN TXT "v=spf1 ip4:192.0.2.0/24 include:amazonses.com +all"'
    )
    plus = next(f for f in findings if "lets anyone send" in f.reason)
    assert plus.status == "fail" and plus.record.endswith('ip4:192.0.2.0/24 ~all"')


async def test_dmarc_none_without_rua_warns_and_offers_a_record_with_rua(store, dns_server):
    publish_good_domain(dns_server, store)
    dns_server.remove("_dmarc.good.example")
    dns_server.txt("_dmarc.good.example", "v=DMARC1; p=none")
    report = await run(store, dns_server)
    assert report.status("dmarc") == "warn"
    [warn] = [f for f in report.by_check("dmarc") if f.status == "warn"]
    assert "p=none without rua" in warn.reason
    assert "rua=mailto:dmarc-reports@good.example" in warn.record


async def test_missing_dmarc_fails_and_subdomains_inherit_the_org_policy(store, dns_server):
    publish_good_domain(dns_server, store)
    dns_server.remove("_dmarc.good.example")
    report = await run(store, dns_server)
    [fail] = report.by_check("dmarc")
    assert fail.status == "fail"
    assert fail.record.startswith('_dmarc.good.example. 3600 IN TXT "v=DMARC1; p=none; rua=')
    # mail.good.example has no record of its own: good.example's sp= applies.
    dns_server.txt("_dmarc.good.example", "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@x")
    generate_key(store, "mail.good.example", "s1")
    report = await check_domain(
        context_for(store, "mail.good.example"), dns_server.resolver(timeout=1)
    )
    assert any("p=quarantine" in r for r in reasons(report, "dmarc", "pass"))


async def test_envelope_not_aligned_and_no_dkim_key_fails_alignment(store, dns_server):
    publish_good_domain(dns_server, store)
    store.accounts.update(store.accounts.all()[0]["id"], envelope_from="b@amazonses.com")
    store.dkim_keys.delete("good.example", "s1")
    report = await run(store, dns_server)
    align = [f for f in report.by_check("dmarc") if "aligns" in f.reason]
    assert align[0].status == "fail"
    assert "neither a DKIM signature nor the envelope (amazonses.com)" in align[0].reason
    assert any("no DKIM key for good.example" in r for r in reasons(report, "dkim", "fail"))


async def test_a_dkim_record_with_another_key_fails_with_the_right_record(store, dns_server):
    key = publish_good_domain(dns_server, store)
    other = generate_key(store, "other.example", "s1")
    dns_server.remove(key.dns_name)
    dns_server.txt(key.dns_name, other.public_dns_record()[1].replace("other", "good"))
    report = await run(store, dns_server)
    [finding] = report.by_check("dkim")
    assert finding.status == "fail"
    assert "publishes a different key than the one Postroom signs with" in finding.reason
    name, value = key.public_dns_record()
    assert finding.record.startswith(f"{name}. 3600 IN TXT ")
    assert finding.record.replace('" "', "").endswith(f'{value}"')


async def test_missing_or_revoked_dkim_record_fails(store, dns_server):
    key = publish_good_domain(dns_server, store)
    dns_server.remove(key.dns_name)
    [missing] = (await run(store, dns_server)).by_check("dkim")
    assert missing.reason == f"no DKIM record at {key.dns_name}" and missing.record
    dns_server.txt(key.dns_name, "v=DKIM1; k=rsa; p=")
    [revoked] = (await run(store, dns_server)).by_check("dkim")
    assert "revoked" in revoked.reason


async def test_null_mx_on_the_from_domain_fails(store, dns_server):
    publish_good_domain(dns_server, store)
    dns_server.remove("good.example")
    dns_server.txt("good.example", "v=spf1 include:amazonses.com ~all")
    dns_server.add("good.example. 300 IN MX 0 .")
    report = await run(store, dns_server)
    [mx] = report.by_check("mx")
    assert mx.status == "fail" and "null MX" in mx.reason


async def test_servfail_is_reported_as_a_dns_failure_never_as_missing(store, dns_server):
    publish_good_domain(dns_server, store)
    dns_server.servfail("good.example")
    dns_server.servfail("_dmarc.good.example")
    report = await run(store, dns_server)
    for check in ("spf", "dmarc", "mx"):
        [finding] = report.by_check(check)
        assert finding.status == "error", finding
        assert "DNS failure: SERVFAIL" in finding.reason
        assert finding.record is None
        assert "no " not in finding.reason.lower().split("servfail")[0]
    assert report.status("dkim") == "pass"


async def test_a_timeout_is_reported_as_a_dns_failure(store, dns_server):
    key = publish_good_domain(dns_server, store)
    dns_server.stall(key.dns_name)
    dns_server.stall("_dmarc.good.example")
    report = await run(store, dns_server, timeout=0.3)
    [dkim] = report.by_check("dkim")
    assert dkim.status == "error" and "no answer" in dkim.reason and dkim.record is None
    assert report.status("dmarc") == "error"
    assert report.status("spf") == "pass"
