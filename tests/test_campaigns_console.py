"""The campaigns view in the console: form with $EDITOR, preview, check; 80x24 snapshots."""

from __future__ import annotations

import os
import sys
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from textual.widgets import Input

from core.store import Store
from tests.support.campaigns import make_campaign
from tests.support.dns_server import DnsServer
from tests.support.domains import publish_good_domain
from tui.app import PostroomApp
from tui.screens.campaign_form import CampaignForm
from tui.screens.check import CheckScreen
from tui.screens.preview import PreviewScreen

NOW = 1_790_000_000.0


@pytest.fixture
def dns_server(monkeypatch):
    with DnsServer() as server:
        monkeypatch.setenv("POSTROOM_NAMESERVER", f"127.0.0.1:{server.port}")
        yield server


@pytest.fixture
def campaign_db(db_path, dns_server, monkeypatch):
    """A good campaign on good.example, with everything volatile pinned for pictures."""
    monkeypatch.setattr(PostroomApp, "status_line", lambda self: "ops@mailhost  postroom.db")
    monkeypatch.setattr("core.content.build.make_msgid", lambda domain: f"<fixed@{domain}>")
    monkeypatch.setattr(
        "core.content.build.formatdate", lambda *a, **k: "Mon, 21 Sep 2026 06:13:20 +0000"
    )
    monkeypatch.setattr("core.content.build.time.time", lambda: NOW)
    boundary = classmethod(lambda cls, text=None: "===============0000000000000000000==")
    monkeypatch.setattr("email.generator.Generator._make_boundary", boundary)
    store = Store(db_path)
    store.settings.set("unsubscribe_secret", "ab" * 32)
    publish_good_domain(dns_server, store)
    store.campaigns.delete(store.campaigns.require("news-good.example")["id"])
    campaign_id = make_campaign(store, from_email="news@good.example", reply_to="")
    ses = store.accounts.require("ses-good.example")
    store.accounts.update(ses["id"], rate=10.0)
    store.campaigns.set_accounts(campaign_id, {ses["id"]: 1})
    store.close()
    return db_path


def make_app(db: Path, **kwargs) -> PostroomApp:
    app = PostroomApp(db, start_view="campaigns", **kwargs)
    app.config.values["unsubscribe"].update(
        base_url="https://unsub.good.example/u", mailto="unsubscribe@good.example"
    )
    # No DKIM line on screen: the signature's b= differs on every run.
    return app


@pytest.fixture
def no_dkim(monkeypatch):
    monkeypatch.setattr("core.content.build.load_signer", lambda store, domain: None)


@pytest.fixture
def editor(tmp_path, monkeypatch) -> Path:
    """A stub $EDITOR that appends a paragraph to the file it is given."""
    script = tmp_path / "editor.sh"
    script.write_text("#!/bin/sh\nprintf '<p>Added in the editor</p>\\n' >> \"$1\"\n")
    script.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(script))
    monkeypatch.delenv("VISUAL", raising=False)
    return script


async def test_new_campaign_from_the_form_with_a_body_from_the_editor(campaign_db, editor):
    app = make_app(campaign_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        form = app.screen
        assert isinstance(form, CampaignForm)
        for key, value in {
            "name": "autumn",
            "from_name": "Example",
            "from_email": "news@good.example",
            "subject": "Autumn for {{ first_name | default('you') }}",
            "accounts": "ses-good.example=2",
        }.items():
            form.query_one(f"#{key}", Input).value = value
        form.query_one("#list_id").value = app.store.lists.by_name("news")["id"]
        form.query_one("#body-html").focus()
        await pilot.press("e")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, CampaignForm)
    store = Store(campaign_db)
    saved = store.campaigns.require("autumn")
    assert saved["html_body"] == "<p>Added in the editor</p>\n"
    assert [(a["name"], a["weight"]) for a in store.campaigns.accounts(saved["id"])] == [
        ("ses-good.example", 2)
    ]


async def test_editing_a_draft_round_trips_its_body_through_the_editor(campaign_db, editor):
    app = make_app(campaign_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("e")
        app.screen.query_one("#body-text").focus()
        await pilot.press("e")
        assert "Added in the editor" in app.screen.query_one("#body-text").text
        await pilot.press("ctrl+s")
        await pilot.pause()
    text = Store(campaign_db).campaigns.require("spring")["text_body"]
    assert text.startswith("Hello {{ first_name")
    assert text.endswith("Unsubscribe: {{ unsubscribe_url }}\n<p>Added in the editor</p>\n")


async def test_a_bad_template_is_refused_in_the_form(campaign_db):
    app = make_app(campaign_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("e")
        app.screen.query_one("#subject", Input).value = "{{ broken"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, CampaignForm)
        assert "subject: line 1" in str(app.screen.query_one("#error").render())
    assert Store(campaign_db).campaigns.require("spring")["subject"].startswith("Spring")


async def test_readonly_refuses_new_and_edit(campaign_db):
    app = make_app(campaign_db, readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        await pilot.press("e")
        assert not isinstance(app.screen, CampaignForm)


async def test_preview_steps_through_subscribers_and_saves_the_eml(
    campaign_db, no_dkim, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    app = make_app(campaign_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("v")
        screen = app.screen
        assert isinstance(screen, PreviewScreen)
        assert screen.preview.email == "ada@example.com"
        await pilot.press("n")
        assert screen.preview.email == "grace@example.org"
        assert "Hello Grace," in screen.preview.text
        await pilot.press("p")
        assert screen.preview.email == "ada@example.com"
        await pilot.press("p")  # already the first: stays
        assert screen.preview.email == "ada@example.com"
        await pilot.press("s")
        saved = tmp_path / f"{screen.compiled.campaign_id}-{screen.preview.subscriber_id}.eml"
        assert saved.read_bytes() == screen.preview.data
    msg = message_from_bytes(saved.read_bytes(), policy=policy.default)
    assert msg["Subject"] == "Spring news for Ada"


async def test_check_runs_in_a_worker_and_shows_the_report(campaign_db):
    app = make_app(campaign_db)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        assert isinstance(app.screen, CheckScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        report = app.screen.report
        assert report is not None and not report.blocking, report.as_text()
        assert report.audience["sendable"] == 3


def test_campaign_form_snapshot(campaign_db, snap_compare):
    async def run_before(pilot) -> None:
        await pilot.press("e")

    assert snap_compare(make_app(campaign_db), terminal_size=(80, 24), run_before=run_before)


def test_preview_snapshot(campaign_db, no_dkim, snap_compare):
    async def run_before(pilot) -> None:
        await pilot.press("v")

    assert snap_compare(make_app(campaign_db), terminal_size=(80, 24), run_before=run_before)


def test_check_snapshot(campaign_db, snap_compare, monkeypatch):
    # The report adds SpamAssassin's score where it is installed: keep the
    # picture the same on machines with and without it.
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))

    async def run_before(pilot) -> None:
        await pilot.press("c")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(make_app(campaign_db), terminal_size=(80, 24), run_before=run_before)
