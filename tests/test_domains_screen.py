"""`:domains` in the console: statuses filled in by a background check,
findings with the record to publish, and `g` to make a DKIM key."""

from __future__ import annotations

import pytest

from core.store import Store
from tests.support.dns_server import DnsServer
from tests.support.domains import publish_good_domain
from tui.app import PostroomApp
from tui.screens.domains import DomainsScreen, FindingsScreen


@pytest.fixture
def dns_server(monkeypatch):
    with DnsServer() as server:
        monkeypatch.setenv("POSTROOM_NAMESERVER", f"127.0.0.1:{server.port}")
        yield server


@pytest.fixture
def two_domains(db_path, dns_server):
    """good.example set up right; bad.example with no key, no DMARC, a null MX."""
    store = Store(db_path)
    publish_good_domain(dns_server, store)
    store.campaigns.create(name="promo", from_email="deals@bad.example")
    dns_server.txt("bad.example", "v=spf1 include:amazonses.com -all")
    dns_server.add("bad.example. 300 IN MX 0 .")
    store.close()
    return db_path


@pytest.fixture
def pinned_status(monkeypatch):
    monkeypatch.setattr(PostroomApp, "status_line", lambda self: "ops@mailhost  postroom.db")


async def checked(pilot) -> DomainsScreen:
    await pilot.press("colon", *"domains", "enter")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    return pilot.app.screen


async def test_statuses_fill_in_and_enter_shows_the_record_to_publish(two_domains):
    app = PostroomApp(two_domains)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await checked(pilot)
        assert isinstance(screen, DomainsScreen)
        rows = {screen.table.get_row_at(i)[0]: screen.table.get_row_at(i) for i in range(2)}
        assert rows["good.example"] == ["good.example", "s1", "ok", "ok", "ok", "ok"]
        assert rows["bad.example"] == ["bad.example", "—", "ok", "FAIL", "FAIL", "FAIL"]
        screen.table.move_cursor(row=0)  # bad.example sorts first
        await pilot.press("enter")
        findings = pilot.app.screen
        assert isinstance(findings, FindingsScreen)
        text = "\n".join(str(s.render()) for s in findings.query(".finding, .record"))
        assert "no DMARC record at _dmarc.bad.example" in text
        assert 'publish: _dmarc.bad.example. 3600 IN TXT "v=DMARC1; p=none;' in text
        assert "null MX" in text
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, DomainsScreen)


async def test_g_generates_a_key_after_confirmation_and_rechecks(two_domains):
    app = PostroomApp(two_domains)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await checked(pilot)
        screen.table.move_cursor(row=0)  # bad.example
        await pilot.press("g")
        await pilot.press("enter")  # focus starts on No
        assert app.store.dkim_keys.for_domain("bad.example") == []
        await pilot.press("g", "y")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        [key] = app.store.dkim_keys.for_domain("bad.example")
        assert screen.table.get_row_at(0)[1] == key["selector"]
        await pilot.press("enter")
        text = "\n".join(str(s.render()) for s in pilot.app.screen.query(".record"))
        assert f'publish: {key["selector"]}._domainkey.bad.example. 3600 IN TXT "v=DKIM1' in text


async def test_readonly_hides_and_refuses_generate(two_domains):
    app = PostroomApp(two_domains, readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await checked(pilot)
        assert "Generate DKIM key" not in str(screen.query_one("ViewHeader").render())
        await pilot.press("g")
        await pilot.pause()
        assert pilot.app.screen is screen  # no confirmation dialog
        assert any("Read-only" in n.message for n in app._notifications)
        assert app.store.dkim_keys.for_domain("bad.example") == []


async def test_a_stalled_nameserver_does_not_block_the_console(db_path, dns_server):
    store = Store(db_path)
    store.campaigns.create(name="slow", from_email="a@slow.example")
    store.close()
    dns_server.stall("slow.example")
    app = PostroomApp(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("colon", *"domains", "enter")
        await pilot.pause()
        screen = pilot.app.screen
        assert screen.table.get_row_at(0)[2] == "…"  # still checking, UI answers keys
        await pilot.press("slash")
        assert screen.query_one("#filter").has_class("-open")


def test_domains_screen_snapshot(two_domains, pinned_status, snap_compare):
    async def run_before(pilot) -> None:
        await checked(pilot)

    assert snap_compare(PostroomApp(two_domains), terminal_size=(80, 24), run_before=run_before)
