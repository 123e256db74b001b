"""`postroom campaigns launch/status/resolve` and `postroom run` (headless, SIGTERM-safe)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from core.store import Store
from tests.support.engine_setup import add_account, addresses, ledger_states, make_campaign
from tests.support.smtp_server import ScriptedSMTPServer
from tui.cli import main

ROOT = Path(__file__).resolve().parent.parent
ENTRY = "import sys; from tui.cli import main; sys.exit(main(sys.argv[1:]))"


def setup(db_path: Path, port: int, n: int, rate: float = 1000.0) -> int:
    store = Store(db_path)
    account = add_account(store, "relay", port, rate=rate)
    campaign = make_campaign(store, addresses(n), {account: 1}, text_body="Hi {{ email }}")
    store.close()
    return campaign


def test_launch_asks_for_confirmation_unless_yes(db_path, capsys):
    setup(db_path, 2525, 3)
    assert main(["--db", str(db_path), "campaigns", "launch", "spring"]) == 1
    assert "needs confirmation: pass --yes" in capsys.readouterr().err
    assert main(["--db", str(db_path), "campaigns", "launch", "spring", "--yes"]) == 0
    assert "launched 'spring': queued 3; run `postroom run` to send it" in capsys.readouterr().out
    assert main(["--db", str(db_path), "campaigns", "status", "spring"]) == 0
    out = capsys.readouterr().out
    assert "spring: running, 3 recipients" in out and "queued" in out
    assert main(["--db", str(db_path), "--readonly", "campaigns", "launch", "spring"]) == 1


def test_resolve_unknown_marks_sent_or_requeues(db_path, capsys):
    campaign = setup(db_path, 2525, 4)
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


def test_run_stops_cleanly_on_sigterm_leaving_nothing_sending(db_path):
    with ScriptedSMTPServer() as server:
        campaign = setup(db_path, server.port, 400, rate=100.0)
        assert main(["--db", str(db_path), "campaigns", "launch", "spring", "--yes"]) == 0
        process = subprocess.Popen(
            [sys.executable, "-c", ENTRY, "--db", str(db_path), "run"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
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
