"""The engine's write path over the delivery ledger.

A delivery row is claimed (``sending`` with the run id) and committed before
its DATA goes out; outcomes are written in small groups. Every change of
state here is guarded by the state it comes from, so a stale run cannot
overwrite a newer one's work.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.lists import segments
from core.store.db import Database, StoreError, now
from core.store.lists import render_filter

# States from which the operator may requeue rows (retry).
RETRYABLE = ("failed", "deferred", "unknown")


@dataclass(frozen=True)
class Outcome:
    """What happened to one claimed delivery; written by ``Ledger.record``."""

    delivery_id: int
    state: str  # sent | deferred | bounced | failed | queued (requeued, no attempt counted)
    attempt_outcome: str  # sent | deferred | throttled | bounced | failed | ...
    account_id: int | None
    started_at: float
    finished_at: float
    code: int | None = None
    enhanced: str | None = None
    reply: str | None = None
    message_id: str | None = None
    next_attempt_at: float | None = None
    counts_attempt: bool = True
    reason: str = ""
    suppress: str | None = None  # suppression reason to add for this address


class Ledger:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- launch ---------------------------------------------------------------

    def materialise(self, campaign_id: int, at: float | None = None) -> dict[str, int]:
        """One row per audience member: queued, or suppressed/skipped with the reason.

        Idempotent: members already in the ledger keep their row.
        """
        campaign = self.db.one(
            "SELECT list_id, segment_id FROM campaigns WHERE id = ?", (campaign_id,)
        )
        if campaign is None:
            raise StoreError(f"no campaign with id {campaign_id}")
        source, clauses, params = self._audience(campaign)
        stamp = now() if at is None else at
        with self.db.transaction():
            self.db.execute(
                f"""
                INSERT OR IGNORE INTO deliveries
                    (campaign_id, subscriber_id, email, domain, state, reason,
                     created_at, updated_at)
                SELECT ?, s.id, s.email, s.domain,
                       CASE WHEN x.email IS NOT NULL THEN 'suppressed'
                            WHEN s.valid = 0 THEN 'skipped' ELSE 'queued' END,
                       CASE WHEN x.email IS NOT NULL THEN x.reason
                            WHEN s.valid = 0 THEN 'invalid address' ELSE '' END,
                       ?, ?
                FROM {source}
                LEFT JOIN suppressions x ON x.email = s.email
                WHERE {" AND ".join(clauses)}
                ORDER BY s.id
                """,  # noqa: S608 - fixed fragments; values are bound
                (campaign_id, stamp, stamp, *params),
            )
        return self.counts(campaign_id)

    def audience_size(self, campaign_id: int) -> int:
        """How many rows a launch would queue now (valid, not suppressed members)."""
        campaign = self.db.one(
            "SELECT list_id, segment_id FROM campaigns WHERE id = ?", (campaign_id,)
        )
        if campaign is None:
            raise StoreError(f"no campaign with id {campaign_id}")
        source, clauses, params = self._audience(campaign)
        return self.db.scalar(
            f"SELECT count(*) FROM {source} WHERE {' AND '.join(clauses)} AND s.valid = 1"  # noqa: S608
            " AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.email = s.email)",
            tuple(params),
        )

    def _audience(self, campaign: dict[str, Any]) -> tuple[str, list[str], list[Any]]:
        """FROM and WHERE over subscribers ``s`` for the campaign's list or segment."""
        list_id, clauses, params = campaign["list_id"], ["1"], []
        if campaign["segment_id"] is not None:
            segment = self.db.one(
                "SELECT list_id, expression FROM segments WHERE id = ?", (campaign["segment_id"],)
            )
            if segment is None:
                raise StoreError("the campaign's segment no longer exists")
            try:
                where, more = render_filter(segments.parse(segment["expression"]))
            except segments.SegmentError as exc:
                raise StoreError(f"the campaign's segment cannot be read: {exc}") from None
            clauses.append(where)
            params += more
            list_id = list_id if list_id is not None else segment["list_id"]
        elif list_id is None:
            raise StoreError("the campaign has no list or segment to send to")
        if list_id is None:
            return "subscribers s", clauses, params
        clauses.append("m.list_id = ?")
        params.append(list_id)
        return "list_members m JOIN subscribers s ON s.id = m.subscriber_id", clauses, params

    def counts(self, campaign_id: int) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT state, count(*) FROM deliveries WHERE campaign_id = ? GROUP BY state",
            (campaign_id,),
        ).fetchall()
        return {state: n for state, n in rows}

    # -- claiming -------------------------------------------------------------

    def claim(
        self, campaign_id: int, run_id: str, limit: int, at: float
    ) -> tuple[list[dict[str, Any]], int]:
        """Up to ``limit`` due rows, committed as ``sending`` for ``run_id``.

        Addresses suppressed since launch become ``suppressed`` instead.
        Returns (claimed rows with subscriber fields, number newly suppressed).
        Due retries go first, then fresh rows in ledger order; each query
        walks the (campaign_id, state, next_attempt_at) index.
        """
        select = """
            SELECT d.id, d.subscriber_id, d.email, d.domain, d.attempts, d.state, d.reason,
                   s.fields, x.reason AS suppressed
            FROM deliveries d
            JOIN subscribers s ON s.id = d.subscriber_id
            LEFT JOIN suppressions x ON x.email = d.email
            WHERE d.campaign_id = ? AND d.state = ? AND {due}
            LIMIT ?
        """
        rows: list[dict[str, Any]] = []
        with self.db.transaction():
            for state, due, params in (
                ("deferred", "d.next_attempt_at <= ?", (at,)),
                ("queued", "d.next_attempt_at <= ?", (at,)),
                ("queued", "d.next_attempt_at IS NULL", ()),
            ):
                if len(rows) >= limit:
                    break
                rows += self.db.all(
                    select.format(due=due),
                    (campaign_id, state, *params, limit - len(rows)),
                )
            suppressed = [(r["suppressed"], at, r["id"]) for r in rows if r["suppressed"]]
            claimed = [r for r in rows if not r["suppressed"]]
            if suppressed:
                self.db.executemany(
                    "UPDATE deliveries SET state = 'suppressed', reason = ?, updated_at = ?"
                    " WHERE id = ?",
                    suppressed,
                )
            self.db.executemany(
                "UPDATE deliveries SET state = 'sending', run_id = ?, updated_at = ? WHERE id = ?",
                [(run_id, at, r["id"]) for r in claimed],
            )
        for row in claimed:
            row["fields"] = json.loads(row["fields"]) if row["fields"] else {}
        return claimed, len(suppressed)

    def release(self, delivery_ids: Iterable[int], run_id: str, at: float) -> int:
        """Put claimed rows whose DATA never started back in the queue."""
        with self.db.transaction():
            cursor = self.db.executemany(
                "UPDATE deliveries SET state = 'queued', updated_at = ?"
                " WHERE id = ? AND state = 'sending' AND run_id = ?",
                [(at, delivery_id, run_id) for delivery_id in delivery_ids],
            )
        return cursor.rowcount

    def postpone(self, items: Iterable[tuple[int, float, str]], run_id: str, at: float) -> None:
        """Claimed rows whose DATA never started go back to the queue, each due at its
        time: (delivery id, due, reason). No attempt counts (a provider cap, not a failure)."""
        with self.db.transaction():
            self.db.executemany(
                "UPDATE deliveries SET state = 'queued', next_attempt_at = ?, reason = ?,"
                " updated_at = ? WHERE id = ? AND state = 'sending' AND run_id = ?",
                [(due, reason, at, delivery_id, run_id) for delivery_id, due, reason in items],
            )

    # -- outcomes -------------------------------------------------------------

    def record(self, run_id: str, outcomes: Sequence[Outcome]) -> None:
        """Write a group of outcomes (rows, attempts, suppressions) in one transaction."""
        if not outcomes:
            return
        with self.db.transaction():
            self.db.executemany(
                """
                UPDATE deliveries SET state = ?, reason = ?, attempts = attempts + ?,
                    next_attempt_at = ?, account_id = coalesce(?, account_id),
                    message_id = coalesce(?, message_id), last_code = ?, last_enhanced = ?,
                    last_reply = ?, updated_at = ?,
                    sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END
                WHERE id = ? AND state = 'sending' AND run_id = ?
                """,
                [
                    (
                        o.state,
                        o.reason,
                        1 if o.counts_attempt else 0,
                        o.next_attempt_at,
                        o.account_id,
                        o.message_id,
                        o.code,
                        o.enhanced,
                        o.reply,
                        o.finished_at,
                        o.state,
                        o.finished_at,
                        o.delivery_id,
                        run_id,
                    )
                    for o in outcomes
                ],
            )
            self.db.executemany(
                "INSERT INTO delivery_attempts (delivery_id, run_id, account_id, outcome, code,"
                " enhanced, reply, message_id, started_at, finished_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        o.delivery_id,
                        run_id,
                        o.account_id,
                        o.attempt_outcome,
                        o.code,
                        o.enhanced,
                        o.reply,
                        o.message_id,
                        o.started_at,
                        o.finished_at,
                    )
                    for o in outcomes
                ],
            )
            bounced = [o for o in outcomes if o.suppress]
            if bounced:
                self.db.executemany(
                    "INSERT INTO suppressions (email, reason, source, detail, created_at)"
                    " SELECT email, ?, 'engine', ?, ? FROM deliveries WHERE id = ?"
                    " ON CONFLICT (email) DO NOTHING",
                    [
                        (
                            o.suppress,
                            f"{o.code} {o.reply or ''}".strip(),
                            o.finished_at,
                            o.delivery_id,
                        )
                        for o in bounced
                    ],
                )

    def first_attempt_at(self, delivery_id: int) -> float | None:
        return self.db.scalar(
            "SELECT min(started_at) FROM delivery_attempts WHERE delivery_id = ?"
            " AND outcome != 'throttled'",
            (delivery_id,),
        )

    # -- crash recovery and operator resolution ------------------------------

    def recover(self, run_id: str, at: float) -> dict[int, int]:
        """Rows left ``sending`` by another (dead) run become ``unknown``.

        Returns {campaign_id: rows made unknown}. Each gets an attempt row
        saying so, so the delivery log shows what happened.
        """
        with self.db.transaction():
            rows = self.db.all(
                "SELECT id, campaign_id, run_id, account_id FROM deliveries"
                " WHERE state = 'sending' AND coalesce(run_id, '') != ?",
                (run_id,),
            )
            self.db.executemany(
                "UPDATE deliveries SET state = 'unknown', updated_at = ?,"
                " reason = 'engine stopped before the outcome was recorded' WHERE id = ?",
                [(at, r["id"]) for r in rows],
            )
            self.db.executemany(
                "INSERT INTO delivery_attempts (delivery_id, run_id, account_id, outcome,"
                " reply, started_at, finished_at) VALUES (?, ?, ?, 'unknown', ?, ?, ?)",
                [
                    (r["id"], r["run_id"] or "", r["account_id"], "outcome lost in a crash", at, at)
                    for r in rows
                ],
            )
        found: dict[int, int] = {}
        for r in rows:
            found[r["campaign_id"]] = found.get(r["campaign_id"], 0) + 1
        return found

    def resolve_unknown(self, campaign_id: int, action: str, at: float) -> int:
        """The operator's decision on ``unknown`` rows: 'resend' or 'mark_sent'."""
        if action == "resend":
            sql = (
                "UPDATE deliveries SET state = 'queued', next_attempt_at = NULL,"
                " reason = 'resent after unknown outcome', updated_at = :at"
                " WHERE campaign_id = :campaign AND state = 'unknown'"
            )
        elif action == "mark_sent":
            sql = (
                "UPDATE deliveries SET state = 'sent', sent_at = :at, updated_at = :at,"
                " reason = 'marked sent after unknown outcome'"
                " WHERE campaign_id = :campaign AND state = 'unknown'"
            )
        else:
            raise StoreError(f"unknown outcome action must be resend or mark_sent, not {action!r}")
        with self.db.transaction():
            return self.db.execute(sql, {"at": at, "campaign": campaign_id}).rowcount

    def requeue(self, campaign_id: int, states: Sequence[str], at: float) -> int:
        """Operator retry: rows in ``states`` go back to the queue, due now."""
        bad = set(states) - set(RETRYABLE)
        if bad:
            raise StoreError(f"cannot retry {', '.join(sorted(bad))} deliveries")
        marks = ", ".join("?" for _ in states)
        with self.db.transaction():
            return self.db.execute(
                "UPDATE deliveries SET state = 'queued', next_attempt_at = NULL,"  # noqa: S608
                f" reason = 'retried', updated_at = ? WHERE campaign_id = ? AND state IN ({marks})",
                (at, campaign_id, *states),
            ).rowcount

    def cancel_pending(self, campaign_id: int, at: float) -> int:
        """Cancel every row not yet sent (queued/deferred); in-flight rows finish."""
        with self.db.transaction():
            return self.db.execute(
                "UPDATE deliveries SET state = 'cancelled', reason = 'campaign cancelled',"
                " updated_at = ? WHERE campaign_id = ? AND state IN ('queued', 'deferred')",
                (at, campaign_id),
            ).rowcount

    def next_due(self, campaign_id: int) -> float | None:
        """When the earliest waiting row becomes due (None when nothing waits)."""
        return self.db.scalar(
            "SELECT min(next_attempt_at) FROM deliveries"
            " WHERE campaign_id = ? AND state IN ('queued', 'deferred')",
            (campaign_id,),
        )

    def pending(self, campaign_id: int) -> int:
        """Rows that still need sending (queued, deferred or sending)."""
        return self.db.scalar(
            "SELECT count(*) FROM deliveries WHERE campaign_id = ?"
            " AND state IN ('queued', 'deferred', 'sending')",
            (campaign_id,),
        )

    # -- per-account counts for quotas ---------------------------------------

    def sent_per_minute(self, account_id: int, since: float) -> dict[int, int]:
        """{minute number: messages sent} for this account since ``since``."""
        rows = self.db.execute(
            "SELECT CAST(finished_at / 60 AS INTEGER), count(*) FROM delivery_attempts"
            " WHERE account_id = ? AND finished_at >= ? AND outcome = 'sent' GROUP BY 1",
            (account_id, since),
        ).fetchall()
        return {minute: n for minute, n in rows}

    def first_sent_at(self, account_id: int) -> float | None:
        return self.db.scalar(
            "SELECT min(finished_at) FROM delivery_attempts WHERE account_id = ?"
            " AND outcome = 'sent'",
            (account_id,),
        )
