"""Crash safety: a sending process SIGKILLed at random points loses and repeats nothing silently.

After each kill the next run turns the dead run's `sending` rows into
`unknown`. At the end every recipient was received exactly once and is
`sent`, or is `unknown` (received at most once) for the operator to resolve.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

from core.engine import launch_campaign
from core.store import Store
from tests.support.engine_setup import add_account, addresses, ledger_states, make_campaign
from tests.support.smtp_server import ScriptedSMTPServer

ROOT = Path(__file__).resolve().parent.parent
SEEDS = (1, 2, 3, 4)


def child(db_path: Path, campaign: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.engine_child", str(db_path), str(campaign)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_sigkill_at_random_points_never_loses_or_silently_repeats(db_path):
    recipients = addresses(150)
    with ScriptedSMTPServer() as server:
        store = Store(db_path)
        account = add_account(store, "relay", server.port, rate=300.0, max_connections=4)
        campaign = make_campaign(store, recipients, {account: 1})
        launch_campaign(store, campaign, "test", time.time())
        store.close()

        kills = 0
        for seed in SEEDS:
            rng = random.Random(seed)
            before = len(server.received)
            process = child(db_path, campaign)
            # Kill once it is sending (or finished), at a random point of the run.
            deadline = time.monotonic() + 10
            while len(server.received) == before and process.poll() is None:
                assert time.monotonic() < deadline, "the child never sent"
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.15))
            if process.poll() is None:
                process.kill()
                kills += 1
            process.wait()

        final = child(db_path, campaign)
        _, stderr = final.communicate(timeout=30)
        assert final.returncode == 0, stderr.decode()

    assert kills >= 2  # the test really interrupted runs
    received = server.received_counts()
    states = ledger_states(db_path, campaign)
    assert set(states) == set(recipients)
    for email in recipients:
        if states[email] == "sent":
            assert received[email] == 1, email
        else:
            assert states[email] == "unknown", (email, states[email])
            assert received[email] <= 1, email
    assert max(received.values()) == 1  # nobody got the message twice
    store = Store(db_path)
    assert store.campaigns.get(campaign)["state"] == "completed"
    unknown = store.db.scalar("SELECT count(*) FROM delivery_attempts WHERE outcome = 'unknown'")
    assert unknown == sum(1 for s in states.values() if s == "unknown")
    store.close()
