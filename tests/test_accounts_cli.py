"""`postroom accounts ...` end to end, against a real TLS+AUTH server on loopback."""

from __future__ import annotations

import io
import json
import os
import stat
import tomllib

import pytest

from core.store import Store
from tests.support.auth_smtp import auth_smtp_server
from tests.support.tls import make_certificate
from tui.cli import main

PASSWORD = "Xq9-very-secret-pw"
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def run(db_path, *argv: str) -> int:
    return main(["--db", str(db_path), *argv])


def test_ses_preset_fills_host_and_sandbox_limits_with_their_sources(db_path, capsys):
    code = run(
        db_path, "accounts", "add", "ses-eu", "--preset", "ses", "--region", "eu-west-1",
        "--sandbox", "--username", "AKIAEXAMPLE", "--secret", "env:SES_PW",
    )  # fmt: skip
    assert code == 0
    store = Store(db_path)
    account = store.accounts.require("ses-eu")
    assert account["host"] == "email-smtp.eu-west-1.amazonaws.com"
    assert (account["port"], account["tls"], account["max_per_day"], account["rate"]) == (
        587,
        "starttls",
        200,
        1.0,
    )
    assert account["secret"] == "env:SES_PW"
    capsys.readouterr()
    run(db_path, "accounts", "show", "ses-eu")
    shown = capsys.readouterr().out
    assert "SES sandbox: 200 messages/24 h" in shown
    assert "SES: 40 MB per message" in shown
    assert "env:SES_PW" in shown


def test_production_ses_and_operator_overrides(db_path, capsys):
    run(
        db_path, "accounts", "add", "ses", "--preset", "ses", "--region", "us-east-1",
        "--username", "AKIA", "--secret", "env:X", "--max-per-day", "100000", "--rate", "30/min",
    )  # fmt: skip
    account = Store(db_path).accounts.require("ses")
    assert account["max_per_day"] == 100_000
    assert account["rate"] == 0.5
    sources = json.loads(account["limits_source"])
    assert sources["max_per_day"] == "operator"
    assert sources["max_message_bytes"] == "SES: 40 MB per message"


def test_bad_values_are_one_line_errors(db_path, capsys):
    assert run(db_path, "accounts", "add", "x", "--preset", "ses") == 1
    assert "needs --region" in capsys.readouterr().err
    assert run(db_path, "accounts", "add", "x", "--host", "h", "--port", "99999") == 1
    assert "port: between 1 and 65535" in capsys.readouterr().err
    code = run(db_path, "accounts", "add", "x", "--host", "mail.example.com", "--tls", "none",
               "--username", "u", "--secret", "env:P")  # fmt: skip
    assert code == 1
    assert "refusing to send credentials without TLS" in capsys.readouterr().err


def test_password_is_never_taken_without_a_terminal(db_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code = run(db_path, "accounts", "add", "o", "--host", "smtp.example.com", "--username", "u")
    assert code == 1
    assert "--password-stdin" in capsys.readouterr().err

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code = run(db_path, "accounts", "add", "o", "--host", "smtp.example.com", "--username", "u",
               "--password-stdin")  # fmt: skip
    assert code == 0
    assert Store(db_path).accounts.require("o")["secret"] == f"db:{PASSWORD}"
    out = capsys.readouterr()
    assert PASSWORD not in out.out + out.err


def test_pause_and_resume(db_path, capsys):
    run(db_path, "accounts", "add", "r", "--host", "smtp.example.com", "--auth", "none")
    assert run(db_path, "accounts", "pause", "r") == 0
    account = Store(db_path).accounts.require("r")
    assert account["state"] == "paused"
    run(db_path, "accounts", "list")
    assert "paused" in capsys.readouterr().out
    assert run(db_path, "--readonly", "accounts", "resume", "r") == 1
    assert run(db_path, "accounts", "resume", "r") == 0
    assert Store(db_path).accounts.require("r")["state"] == "active"


def test_connection_test_reports_capabilities_and_tls(db_path, tmp_path, monkeypatch, capsys):
    cert = make_certificate(tmp_path / "certs")
    # The CLI uses the system trust store; point it at the test's certificate.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert.cert_path))
    monkeypatch.setenv("RELAY_PW", PASSWORD)
    with auth_smtp_server(cert, users={"news": PASSWORD}) as server:
        run(db_path, "accounts", "add", "relay", "--host", "127.0.0.1", "--port",
            str(server.port), "--username", "news", "--secret", "env:RELAY_PW", "--envelope-from", "bounces@example.com")  # fmt: skip
        capsys.readouterr()
        assert run(db_path, "accounts", "test", "relay") == 0
        out = capsys.readouterr().out
        assert "TLS: TLSv1.3" in out and "certificate verified" in out
        assert "SIZE 32 MB" in out and "8BITMIME yes" in out and "SMTPUTF8 yes" in out
        assert "PIPELINING no" in out
        assert "latency:" in out
        assert server.handler.count == 0  # sent no mail

        assert run(db_path, "accounts", "test", "relay", "--send-to", "ops@example.org") == 0
        assert "accepted" in capsys.readouterr().out
        assert server.handler.messages[0].rcpt_tos == ("ops@example.org",)

        monkeypatch.setenv("RELAY_PW", "wrong")
        assert run(db_path, "accounts", "test", "relay") == 1
        err = capsys.readouterr().err
        assert "FAILED (auth)" in err and "535" in err
        assert "535" in Store(db_path).accounts.require("relay")["last_error"]


def test_export_import_round_trip_never_writes_a_password(db_path, tmp_path, capsys):
    run(db_path, "accounts", "add", "ref", "--host", "smtp.example.com", "--username", "u",
        "--secret", "file:~/pw", "--warmup", "50,100,200")  # fmt: skip
    store = Store(db_path)
    store.accounts.create(name="stored", host="smtp.example.com", port=587, username="u",
                          secret=f"db:{PASSWORD}")  # fmt: skip
    out = tmp_path / "accounts.toml"
    assert run(db_path, "accounts", "export", "-o", str(out)) == 0
    text = out.read_text()
    assert PASSWORD not in text
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert 'secret = "file:~/pw"' in text
    assert "# secret: stored in the database, not exported" in text
    data = tomllib.loads(text)
    assert data["account"][0]["warmup"] == [50, 100, 200]

    other = tmp_path / "other.db"
    assert run(other, "accounts", "import", str(out)) == 0
    err = capsys.readouterr().err
    assert "account stored has no secret yet" in err
    imported = Store(other).accounts.require("ref")
    assert imported["secret"] == "file:~/pw"
    assert json.loads(imported["warmup"]) == [50, 100, 200]
    # Importing again clashes, unless --replace.
    assert run(other, "accounts", "import", str(out)) == 1
    assert "already exist: ref, stored" in capsys.readouterr().err
    assert run(other, "accounts", "import", str(out), "--replace") == 0


def test_import_refuses_clear_passwords_and_writes_nothing_on_error(db_path, tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[account]]\nname = "a"\nhost = "h.example.com"\nport = 587\nauth = "none"\n\n'
        f'[[account]]\nname = "b"\nhost = "h.example.com"\nport = 587\nsecret = "db:{PASSWORD}"\n'
    )
    assert run(db_path, "accounts", "import", str(bad)) == 1
    err = capsys.readouterr().err
    assert "account #2 (b): secret: only env:NAME or file:PATH" in err
    assert PASSWORD not in err
    assert Store(db_path).accounts.all() == []

    bad.write_text('[[account]]\nname = "a"\nhost = "h"\nport = "x"\n')
    assert run(db_path, "accounts", "import", str(bad)) == 1
    assert "account #1 (a): port: a whole number" in capsys.readouterr().err

    bad.write_text("[[account]\n")
    assert run(db_path, "accounts", "import", str(bad)) == 1
    assert f"{bad}: " in capsys.readouterr().err
