"""The pre-launch check on a good and a bad campaign (DNS on loopback)."""

from __future__ import annotations

import pytest

from core.config import Config
from core.content.check import estimate_eta, human_duration, run_check
from tests.support.campaigns import make_campaign
from tests.support.dns_server import DnsServer
from tests.support.domains import publish_good_domain

NOW = 1_790_000_000.0


@pytest.fixture
def dns_server():
    with DnsServer() as server:
        yield server


def good_config(**checks) -> Config:
    config = Config()
    config.values["unsubscribe"].update(
        base_url="https://unsub.good.example/u", mailto="unsubscribe@good.example"
    )
    config.values["checks"].update(checks)
    return config


def good_campaign(store, dns_server) -> int:
    publish_good_domain(dns_server, store)
    campaign_id = make_campaign(store, from_email="news@good.example", reply_to="")
    ses = store.accounts.require("ses-good.example")
    store.accounts.update(ses["id"], rate=10.0, max_per_day=50_000)
    store.campaigns.set_accounts(campaign_id, {ses["id"]: 1})
    return campaign_id


def check(store, campaign_id, dns_server, config=None, **kwargs):
    return run_check(
        store,
        campaign_id,
        config or good_config(),
        resolver=dns_server.resolver(),
        clock=lambda: NOW,
        use_spamassassin=False,
        **kwargs,
    )


def titles(report, level):
    return [f"{item.section}: {item.title}" for item in report.items if item.level == level]


def test_a_good_campaign_passes_with_audience_and_eta(store, dns_server):
    campaign_id = good_campaign(store, dns_server)
    seen = []
    report = check(store, campaign_id, dns_server, progress=lambda done, total: seen.append(done))
    assert not report.blocking, report.as_text()
    assert report.warnings == [], report.as_text()
    assert "template: renders for all 3 recipients" in titles(report, "ok")
    assert {"SPF", "DKIM", "DMARC"} <= {
        item.title.split(":")[0] for item in report.items if item.section == "authentication"
    }
    assert report.audience == {"total": 3, "suppressed": 0, "invalid": 0, "role": 0, "sendable": 3}
    assert report.eta_seconds == pytest.approx(0.3)
    assert seen == [3]
    assert report.summary_lines()[0] == "ready to launch (0 warning(s))"


def test_a_bad_campaign_lists_each_failure_with_reason_and_fix(store, dns_server):
    people = [
        ("ada@example.com", {"first_name": "Ada"}),
        ("bob@example.com", {"first_name": "Bob"}),
        ("carol@example.com", {"first_name": "Carol", "plan": "pro"}),
        ("jörg@example.com", {"plan": "x"}),
        ("postmaster@example.com", {"plan": "x"}),
    ]
    campaign_id = make_campaign(
        store,
        people=people,
        from_email="news@bad.example",
        subject="FREE MONEY FOR {{ first_name | default('YOU') | upper }}",
        html_body='<a href="http://192.0.2.7/x"><img src="http://192.0.2.7/i.png"></a>'
        '<a href="https://bit.ly/1">https://bank.example</a> {{ plan }}',
        text_body="",
    )
    store.subscribers.upsert_many(
        [{"email": "postmaster@example.com", "domain": "example.com", "role": 1}]
    )
    store.suppressions.add("carol@example.com", "unsubscribed")
    dns_server.txt("bad.example", "v=spf1 -all")
    config = Config()  # http-less default base_url is the example; threshold 1 makes it bulk
    config.values["unsubscribe"]["base_url"] = "http://insecure.example/u"
    config.values["checks"]["bulk_threshold"] = 1
    report = check(store, campaign_id, dns_server, config=config)
    text = report.as_text()
    assert report.blocking
    failures = titles(report, "fail")
    assert "template: missing field 'plan' for 2 recipient(s)" in failures
    missing = next(i for i in report.failures if "'plan'" in i.title)
    assert missing.reason == "e.g. ada@example.com, bob@example.com"
    assert "default" in missing.fix
    assert "unsubscribe: no HTTPS one-click unsubscribe URL" in failures
    assert any(f.startswith("authentication: DMARC") for f in failures), text
    assert any(f.startswith("content: lint score") for f in failures), text
    warnings = titles(report, "warn")
    assert "audience: 1 address(es) cannot be sent through these relays" in warnings
    assert any("role address" in w for w in warnings)
    assert report.audience["suppressed"] == 1
    for item in report.failures:
        assert item.fix, item
    assert "FAIL" in text and "fix:" in text


def test_a_template_that_does_not_compile_blocks(store, dns_server):
    campaign_id = good_campaign(store, dns_server)
    store.campaigns.update(campaign_id, html_body="{% for %}")
    report = check(store, campaign_id, dns_server)
    assert "template: the campaign does not build" in titles(report, "fail")


def test_quota_too_small_for_the_audience_is_reported(store, dns_server):
    campaign_id = good_campaign(store, dns_server)
    ses = store.accounts.require("ses-good.example")
    store.accounts.update(ses["id"], max_per_day=1, rate=1.0)
    report = check(store, campaign_id, dns_server)
    assert report.eta_seconds == pytest.approx(2 * 86400 + 1)
    assert "quota: ETA 2 d 0 h: more than a day" in titles(report, "warn")
    store.accounts.set_state(ses["id"], "paused", "operator")
    report = check(store, campaign_id, dns_server)
    assert "quota: every account is paused" in titles(report, "fail")


def test_eta_is_limited_by_rate_hour_and_day_caps():
    fast = {"rate": 10.0, "hour_cap": None, "day_cap": None, "sent_hour": 0, "sent_day": 0}
    assert estimate_eta(36_000, [fast]) == pytest.approx(3600)
    assert estimate_eta(36_000, [fast, fast]) == pytest.approx(1800)
    hourly = {**fast, "hour_cap": 100, "sent_hour": 50}
    assert estimate_eta(150, [hourly]) == pytest.approx(3600 + 10)
    daily = {**fast, "day_cap": 1000, "sent_day": 1000}
    assert estimate_eta(10, [daily]) == pytest.approx(24 * 3600 + 1)
    assert estimate_eta(10, [{**fast, "day_cap": 0}]) is None
    assert human_duration(3725) == "1 h 02 min"
