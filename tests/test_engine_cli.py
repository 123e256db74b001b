"""`postroom campaigns launch/status/resolve` and `postroom run` (headless, SIGTERM-safe).

Launching runs the pre-launch check, so these tests publish the From domain
on a loopback DNS server (POSTROOM_NAMESERVER) first.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.config import Config
from core.engine.launch import commit_launch, prepare_launch
from core.store import Store, StoreError
from tests.support.dns_server import DnsServer
from tests.support.domains import publish_good_domain
from tests.support.engine_setup import add_account, addresses, ledger_states, make_campaign
from tests.support.smtp_server import ScriptedSMTPServer
from tui.cli import main

ROOT = Path(__file__).resolve().parent.parent
ENTRY = "import sys; from tui.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture(autouse=True)
def dns(monkeypatch):
    with DnsServer() as server:
        monkeypatch.setenv("POSTROOM_NAMESERVER", f"127.0.0.1:{server.port}")
        yield server


def setup(
    db_path: Path, port: int, n: int, rate: float = 1000.0, dns: DnsServer | None = None, **values
) -> int:
    store = Store(db_path)
    if dns is not None:
        publish_good_domain(dns, store)
    account = add_account(store, "relay", port, rate=rate)
    values = {"text_body": "Hi {{ email }}", "from_email": "news@good.example", **values}
    campaign = make_campaign(store, addresses(n), {account: 1}, **values)
    store.close()
    return campaign


def test_launch_runs_the_check_then_asks_for_confirmation_unless_yes(db_path, dns, capsys):
    setup(db_path, 2525, 3, dns=dns)
    assert main(["--db", str(db_path), "campaigns", "launch", "spring"]) == 1
    out, err = capsys.readouterr()
    assert "ready to launch" in out and "audience: 3 to send" in out and "ETA: 1 s" in out
    assert "needs confirmation: pass --yes" in err
    assert main(["--db", str(db_path), "campaigns", "launch", "spring", "--yes"]) == 0
    out = capsys.readouterr().out
    assert out.index("ready to launch") < out.index("launched 'spring'")
    assert "launched 'spring': queued 3; run `postroom run` to send it" in out
    assert main(["--db", str(db_path), "campaigns", "status", "spring"]) == 0
    out = capsys.readouterr().out
    assert "spring: running, 3 recipients" in out and "queued" in out
    assert main(["--db", str(db_path), "--readonly", "campaigns", "launch", "spring"]) == 1


def test_launch_is_refused_in_one_line_when_the_check_blocks(db_path, dns, capsys):
    campaign = setup(db_path, 2525, 3, dns=dns, text_body="Hi {{ first_name }}")
    assert main(["--db", str(db_path), "campaigns", "launch", "spring", "--yes"]) == 1
    out, err = capsys.readouterr()
    assert "1 blocking failure(s)" in out and "FAIL template: missing field 'first_name'" in out
    assert err.count("\n") == 1
    assert "not launched: 1 blocking failure(s), template: missing field 'first_name'" in err
    store = Store(db_path)
    assert store.campaigns.get(campaign)["state"] == "draft"
    assert store.ledger.counts(campaign) == {}
    store.close()


def test_launch_without_sending_authentication_is_refused(db_path, capsys):
    setup(db_path, 2525, 3, from_email="news@unpublished.example")
    assert main(["--db", str(db_path), "campaigns", "launch", "spring", "--yes"]) == 1
    assert "not launched" in capsys.readouterr().err


def test_launch_at_schedules_after_the_check(db_path, dns, capsys):
    campaign = setup(db_path, 2525, 3, dns=dns)
    start = dt.datetime.now() + dt.timedelta(days=2)
    at = start.strftime("%Y-%m-%d %H:%M")
    args = ["--db", str(db_path), "campaigns", "launch", "spring", "--yes"]
    assert main([*args, "--at", at]) == 0
    out = capsys.readouterr().out
    assert "ready to launch" in out and f"scheduled 'spring' for {at}" in out
    store = Store(db_path)
    row = store.campaigns.get(campaign)
    assert row["state"] == "scheduled"
    assert row["scheduled_at"] == dt.datetime.strptime(at, "%Y-%m-%d %H:%M").timestamp()
    assert store.ledger.counts(campaign) == {}  # materialised at the start, not now
    store.close()
    assert main([*args, "--at", "2001-01-01 09:00"]) == 1
    assert "is in the past" in capsys.readouterr().err
    assert main([*args, "--at", "next tuesday"]) == 1
    assert "expected '2026-12-05 09:00'" in capsys.readouterr().err


def test_resolve_unknown_marks_sent_or_requeues(db_path, dns, capsys):
    campaign = setup(db_path, 2525, 4, dns=dns)
    assert main(["--db", str(db_path), "campaigns", "launch", "spring", "--yes"]) == 0
    store = Store(db_path)
    store.ledger.claim(campaign, "dead-run", 4, time.time())
    assert store.ledger.recover("new-run", time.time()) == {campaign: 4}
    store.close()
    assert main(["--db", str(db_path), "campaigns", "status", "spring"]) == 0
    assert "4 unknown: resolve with" in capsys.readouterr().out
    assert (
        main(["--db", str(db_path), "campaigns", "resolve", "spring", "--unknown", "mark-sent"])
        == 0
    )
    assert "4 unknown deliveries marked sent" in capsys.readouterr().out
    assert set(ledger_states(db_path, campaign).values()) == {"sent"}


def test_run_stops_cleanly_on_sigterm_leaving_nothing_sending(db_path, dns):
    with ScriptedSMTPServer() as server:
        campaign = setup(db_path, server.port, 400, rate=100.0, dns=dns)
        assert main(["--db", str(db_path), "campaigns", "launch", "spring", "--yes"]) == 0
        process = subprocess.Popen(
            [sys.executable, "-c", ENTRY, "--db", str(db_path), "run"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=os.environ,
        )
        deadline = time.monotonic() + 20
        while len(server.received) < 10:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
        assert process.returncode == 0, err.decode()
        received = server.received_counts()

    states = ledger_states(db_path, campaign)
    assert "sending" not in states.values() and "unknown" not in states.values()
    sent = {email for email, state in states.items() if state == "sent"}
    assert sent == set(received) and max(received.values()) == 1
    assert len(sent) < 400  # it really stopped part-way
    assert b"spring: running" in out


def test_the_gate_cannot_be_skipped_by_the_console_path(db_path, dns):
    campaign = setup(db_path, 2525, 3, dns=dns, text_body="Hi {{ first_name }}")
    store = Store(db_path)
    try:
        plan = prepare_launch(store, campaign, Config(), use_spamassassin=False)
        assert plan.blocking and "first_name" in plan.refusal()
        with pytest.raises(StoreError, match="not launched"):
            commit_launch(store, plan, "ana")
        assert store.campaigns.get(campaign)["state"] == "draft"
    finally:
        store.close()
