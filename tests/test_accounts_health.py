"""Account health from the ledger: counts against limits, warm-up day and cap."""

from __future__ import annotations

import json
import time

from core.accounts.health import account_health
from tui.cli import main

NOW = 1_800_000_000.0


def add_attempts(store, account_id: int, finished: list[tuple[float, str]]) -> None:
    """Ledger rows as the engine writes them (one delivery per attempt)."""
    list_id = store.lists.create("l")
    store.subscribers.upsert_many(
        [{"email": f"p{i}@example.org", "domain": "example.org", "fields": {}} for i in range(len(finished))],
        list_id=list_id,
    )  # fmt: skip
    campaign_id = store.campaigns.create(name="c", list_id=list_id)
    db = store.db
    with db.transaction():
        for i, (at, outcome) in enumerate(finished):
            sub = db.scalar("SELECT id FROM subscribers WHERE email = ?", (f"p{i}@example.org",))
            cursor = db.execute(
                "INSERT INTO deliveries (campaign_id, subscriber_id, email, domain, state,"
                " account_id, created_at, updated_at) VALUES (?, ?, ?, 'example.org', 'sent', ?, ?, ?)",
                (campaign_id, sub, f"p{i}@example.org", account_id, at, at),
            )
            db.execute(
                "INSERT INTO delivery_attempts (delivery_id, run_id, account_id, outcome,"
                " started_at, finished_at) VALUES (?, 'r', ?, ?, ?, ?)",
                (cursor.lastrowid, account_id, outcome, at, at),
            )


def test_health_counts_the_last_hour_and_day_and_the_warmup_cap(store):
    account_id = store.accounts.create(
        name="warm", host="smtp.example.com", port=587, auth="none", max_per_day=100,
        max_per_hour=50, warmup=json.dumps([10, 20, 40]), warmup_started_at=NOW - 1.5 * 86400,
    )  # fmt: skip
    add_attempts(
        store,
        account_id,
        [(NOW - 60, "sent")] * 3 + [(NOW - 5 * 3600, "sent")] * 2
        + [(NOW - 2 * 86400, "sent"), (NOW - 30, "deferred")],
    )  # fmt: skip
    health = account_health(store, store.accounts.get(account_id), at=NOW)
    assert (health.sent_hour, health.sent_day) == (3, 5)
    assert (health.warmup_day, health.warmup_cap, health.day_cap) == (2, 20, 20)
    assert health.state_label == "active"

    store.accounts.set_state(account_id, "paused_auto", "535 authentication failed")
    health = account_health(store, store.accounts.get(account_id), at=NOW + 3 * 86400)
    assert health.state_label == "paused by Postroom: 535 authentication failed"
    assert health.warmup_day is None and health.day_cap == 100  # the plan has ended


def test_list_and_show_report_health(db_path, store, capsys):
    account_id = store.accounts.create(
        name="warm", host="smtp.example.com", port=587, auth="none", max_per_day=100,
        warmup=json.dumps([10, 20, 40]), warmup_started_at=time.time() - 3600,
    )  # fmt: skip
    add_attempts(store, account_id, [(time.time() - 60, "sent")] * 4)
    store.accounts.record_error(account_id, "421 4.7.0 try again later")
    main(["--db", str(db_path), "accounts", "list"])
    assert "4/10" in capsys.readouterr().out  # sent today against the warm-up cap
    main(["--db", str(db_path), "accounts", "show", "warm"])
    shown = capsys.readouterr().out
    assert "warm-up       day 1, cap 10 today" in shown
    assert "421 4.7.0 try again later" in shown
    assert "4 in the last hour" in shown
