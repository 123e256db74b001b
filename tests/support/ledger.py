"""Synthetic delivery ledgers for console tests: many rows, written fast."""

from __future__ import annotations

import itertools
from pathlib import Path

from core.store import Store

STATES = ("sent",) * 14 + ("deferred", "bounced", "failed", "unknown", "queued", "suppressed")
DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "example.org", "proton.me")
REPLIES = {
    "sent": (250, "2.0.0", "2.0.0 OK queued as {n:x}"),
    "deferred": (421, "4.7.0", "4.7.0 Try again later, closing connection"),
    "bounced": (550, "5.1.1", "5.1.1 The email account that you tried to reach does not exist"),
    "failed": (554, "5.7.1", "5.7.1 Message rejected: policy"),
}
T0 = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC: pinned so screens are stable


def build_ledger(path: Path, rows: int, *, campaigns: int = 4) -> Store:
    """A database with ``rows`` deliveries over ``campaigns`` campaigns and 3 accounts.

    Subscribers are not materialised (foreign keys off while filling): the
    log reads only the ledger, its campaigns and accounts. As after a real
    launch every row is created at T0; row ``n`` got its outcome at
    T0 + n/2, except queued and suppressed rows, never touched since.
    """
    store = Store(path)
    accounts = [
        store.accounts.create(name=name, host="127.0.0.1", port=2525)
        for name in ("ses-eu", "ses-us", "own-mta")
    ]
    campaign_ids = [store.campaigns.create(name=f"spring-{i}") for i in range(1, campaigns + 1)]
    db = store.db
    db.execute("PRAGMA foreign_keys=OFF")
    db.execute("PRAGMA cache_size=-262144")  # 256 MB: index pages stay in memory

    def generate():
        for n in range(rows):
            state = STATES[n % len(STATES)]
            domain = DOMAINS[n % len(DOMAINS)]
            code, enhanced, reply = REPLIES.get(state, (None, None, None))
            untouched = state in ("queued", "suppressed")
            yield (
                campaign_ids[n * campaigns // rows],
                n,
                f"user{n}@{domain}",
                domain,
                state,
                "suppressed: unsubscribed" if state == "suppressed" else "",
                0 if untouched else 1,
                None if code is None else accounts[n % 3],
                code,
                enhanced,
                reply.format(n=n) if reply else None,
                T0,
                T0 if untouched else T0 + n * 0.5,
            )

    with db.transaction():
        batch = iter(generate())
        while chunk := list(itertools.islice(batch, 50_000)):
            db.executemany(
                "INSERT INTO deliveries (campaign_id, subscriber_id, email, domain, state,"
                " reason, attempts, account_id, last_code, last_enhanced, last_reply,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                chunk,
            )
    db.execute("PRAGMA foreign_keys=ON")
    return store
