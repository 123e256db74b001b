"""Campaign TOML files and the `postroom campaigns` commands."""

from __future__ import annotations

import shutil
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from core.content.campaign_file import create_from_file, export_campaign
from core.demo import SAMPLE_DATA
from core.store import Store
from core.store.campaigns import CAMPAIGN_FIELDS
from tests.support.campaigns import make_campaign
from tui.cli import main


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """sample_data's campaign copied beside an attachment, editable per test."""
    folder = tmp_path / "campaign"
    folder.mkdir()
    for name in ("welcome.toml", "welcome.txt", "welcome.html"):
        shutil.copy(SAMPLE_DATA / name, folder / name)
    return folder / "welcome.toml"


def cli(db: Path, *argv: str) -> int:
    return main(["--db", str(db), *argv])


def test_demo_campaign_comes_from_the_sample_toml(demo_db):
    store = Store(demo_db)
    campaign = store.campaigns.require("welcome")
    assert campaign["text_body"] == (SAMPLE_DATA / "welcome.txt").read_text()
    assert campaign["html_body"] == (SAMPLE_DATA / "welcome.html").read_text()
    assert [a["name"] for a in store.campaigns.accounts(campaign["id"])] == ["demo-sink"]


def test_export_then_create_round_trips_every_field(store, tmp_path):
    attachment = tmp_path / "menu.pdf"
    attachment.write_bytes(b"%PDF-1.4")
    make_campaign(
        store,
        headers={"X-Campaign": "spring"},
        attachments=[str(attachment)],
        rate=2.5,
        scheduled_at=1_790_000_000.0,
        text_body='Quotes """ and \\ backslashes\n',
    )
    text = export_campaign(store, "spring")
    exported = tmp_path / "spring.toml"
    exported.write_text(text.replace('name = "spring"', 'name = "spring-copy"'))
    copy_id = create_from_file(store, exported)
    original = store.campaigns.require("spring")
    copy = store.campaigns.get(copy_id)
    for key in CAMPAIGN_FIELDS:
        if key != "name":
            assert copy[key] == original[key], key
    assert store.campaigns.accounts(copy_id)[0]["name"] == "relay"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('name = "welcome"', ""), "name: required"),
        (lambda t: t.replace('list = "demo"', 'list = "nope"'), "no list named 'nope'"),
        (lambda t: t.replace("demo-sink = 1", "ghost = 1"), "no account named 'ghost'"),
        (lambda t: t.replace("demo-sink = 1", "demo-sink = 0"), "weight must be a positive"),
        (lambda t: 'colour = "red"\n' + t, "colour: unknown key"),
        (lambda t: t.replace("welcome.txt", "missing.txt"), "text_file: missing.txt"),
        (lambda t: t.replace("Welcome aboard", "{% if %}"), "subject: line 1"),
        (lambda t: t.replace("news@demo.postroom.test", "news@"), "from_email"),
        (lambda t: t.replace("subject =", "subject = ["), "Unclosed array (at line 9"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_and_writes_nothing(
    demo_db, sample, edit, message, capsys
):
    sample.write_text(edit(sample.read_text()).replace('name = "welcome"', 'name = "w2"'))
    assert cli(demo_db, "campaigns", "create", str(sample)) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"postroom: {sample}") and err.count("\n") == 1
    assert message in err
    assert Store(demo_db).campaigns.by_name("w2") is None


def test_create_refuses_a_duplicate_unless_replacing_a_draft(demo_db, sample, capsys):
    assert cli(demo_db, "campaigns", "create", str(sample)) == 1
    assert "already exists (use --replace)" in capsys.readouterr().err
    sample.write_text(sample.read_text().replace("Welcome aboard", "Hello again"))
    assert cli(demo_db, "campaigns", "create", "--replace", str(sample)) == 0
    store = Store(demo_db)
    assert store.campaigns.require("welcome")["subject"].startswith("Hello again")
    store.campaigns.set_state(store.campaigns.require("welcome")["id"], "running")
    assert cli(demo_db, "campaigns", "create", "--replace", str(sample)) == 1
    assert "is running; only drafts can be replaced" in capsys.readouterr().err


def test_readonly_refuses_create(demo_db, sample, capsys):
    assert cli(demo_db, "--readonly", "campaigns", "create", str(sample)) == 1
    assert "read-only" in capsys.readouterr().err


def test_export_cli_writes_a_file_that_creates_the_same_campaign(demo_db, tmp_path, capsys):
    out = tmp_path / "out.toml"
    assert cli(demo_db, "campaigns", "export", "welcome", "-o", str(out)) == 0
    text = out.read_text()
    assert "[accounts]" in text and 'list = "demo"' in text
    out.write_text(text.replace('name = "welcome"', 'name = "welcome-2"'))
    assert cli(demo_db, "campaigns", "create", str(out)) == 0
    store = Store(demo_db)
    assert (
        store.campaigns.require("welcome-2")["html_body"]
        == store.campaigns.require("welcome")["html_body"]
    )


def test_preview_prints_the_message_and_saves_the_exact_eml(demo_db, tmp_path, capsys):
    eml = tmp_path / "ada.eml"
    email = "ada.turing.3907@münchen.example"
    assert cli(demo_db, "campaigns", "preview", "welcome", "--email", email, "--eml", str(eml)) == 0
    shown = capsys.readouterr().out
    assert "Subject: Welcome aboard, Ada" in shown
    assert "To: ada.turing.3907@xn--mnchen-3ya.example" in shown
    assert "──── HTML part, as text ────" in shown
    assert "Unsubscribe (https://lists.example.com/u/" in shown
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert msg["Subject"] == "Welcome aboard, Ada"


def test_preview_of_a_stranger_is_refused(demo_db, capsys):
    assert cli(demo_db, "campaigns", "preview", "welcome", "--email", "x@nowhere.example") == 1
    assert "is not a member of the campaign's list" in capsys.readouterr().err


def test_list_shows_campaigns(demo_db, capsys):
    assert cli(demo_db, "campaigns", "list") == 0
    out = capsys.readouterr().out
    assert "welcome" in out and "demo" in out


def test_check_cli_exits_1_when_something_blocks(demo_db, capsys, monkeypatch):
    from tests.support.dns_server import DnsServer

    with DnsServer() as server:  # demo.postroom.test has no records: authentication fails
        monkeypatch.setenv("POSTROOM_NAMESERVER", f"127.0.0.1:{server.port}")
        assert cli(demo_db, "campaigns", "check", "welcome") == 1
    out = capsys.readouterr().out
    assert out.startswith("Pre-launch check of 'welcome':")
    assert "OK    template: renders for all" in out
    assert "FAIL  authentication: DKIM" in out


def test_test_send_goes_through_the_first_account_to_a_real_smtp_server(tmp_path, capsys):
    from core.demo import build_demo
    from core.sink import CaptureServer

    with CaptureServer() as sink:
        db = tmp_path / "demo.db"
        build_demo(db, sink.port).close()
        assert cli(db, "campaigns", "test", "welcome", "--to", "me@example.com") == 0
        assert "sent a test of 'welcome' to me@example.com via demo-sink" in capsys.readouterr().out
        (message,) = sink.handler.messages
    assert message.rcpt_tos == ("me@example.com",)
    assert message.subject.startswith("Welcome aboard, ")
    assert cli(db, "--readonly", "campaigns", "test", "welcome", "--to", "x@example.com") == 1
