"""One running campaign: claims rows from the ledger and hands them to connections.

Rows are claimed only for a connection that is already waiting with an
account token in hand, so a row spends microseconds between its committed
``sending`` claim and its MAIL FROM. Waiting connections of several accounts
are served by weighted deficit (smooth weighted round robin), so the pool's
weights hold while every account keeps up, and accounts that cannot take
work (paused, over quota, failing) simply stop asking.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.engine.limits import TokenBucket
from core.engine.meter import RateMeter
from core.engine.transaction import envelope_address

if TYPE_CHECKING:
    from core.engine.engine import Engine

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 0.25
LEAD = 5.0  # how far (messages per unit of weight) an account may run ahead of its share
PENDING_STATES = ("queued", "deferred", "sending")
RATE_CAP = " rate cap"  # the reason of a row waiting for its provider's slot


class CampaignRun:
    def __init__(self, engine: Engine, row: dict[str, Any], compiled: Any) -> None:
        self.engine = engine
        self.id: int = row["id"]
        self.name: str = row["name"]
        self.state: str = row["state"]
        self.list_id: int | None = row["list_id"]
        self.compiled = compiled
        self.bucket = TokenBucket(row["rate"])
        self.meter = RateMeter()
        self.counts: dict[str, int] = {}
        self.weights: dict[int, int] = {}
        self.dispatched: dict[int, int] = {}
        self.waiters: list[tuple[int, asyncio.Future]] = []
        self.unstarted: dict[int, dict[str, Any]] = {}  # claimed, handed out, DATA not begun
        self.in_flight = 0
        self.last_error: str | None = None
        self.alert: str | None = None  # campaign-level problem (policy rejections, size)
        self.idle_reason: str | None = None
        self.wake = asyncio.Event()  # the dispatcher's: a connection is waiting
        self.changed = asyncio.Event()  # pulsed for connections: state changed
        self.tasks: list[asyncio.Task] = []
        self._envelopes: dict[str, bytes] = {}
        self.connection_tasks: dict[int, int] = {}  # account id -> session tasks started

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def finished(self) -> bool:
        return self.state in ("completed", "cancelled")

    def rcpt(self, email: str) -> str:
        """RCPT TO form of ``email`` (punycode domain unless the campaign uses SMTPUTF8)."""
        convert = getattr(self.compiled, "envelope_recipient", None)
        return convert(email) if convert is not None else email

    def envelope(self, address: str) -> bytes:
        """MAIL FROM bytes for ``address``, encoded once per campaign run."""
        found = self._envelopes.get(address)
        if found is None:
            found = self._envelopes[address] = envelope_address(address)
        return found

    def reload_counts(self) -> None:
        self.engine.writer.flush()  # outcomes still buffered would be counted as `sending`
        self.counts = self.engine.store.ledger.counts(self.id)

    def bump(self, state: str, n: int = 1) -> None:
        self.counts[state] = self.counts.get(state, 0) + n

    # -- handing out work ------------------------------------------------------------

    async def next_row(self, account_id: int, timeout: float) -> dict[str, Any] | None:
        """The next row to send through ``account_id``; None after ``timeout`` idle."""
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.waiters.append((account_id, future))
        self.wake.set()
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None

    def _live_waiters(self) -> list[tuple[int, asyncio.Future]]:
        self.waiters = [(a, f) for a, f in self.waiters if not f.done()]
        return self.waiters

    def _pick(self, at: float) -> list[tuple[int, asyncio.Future]]:
        """Waiting connections that may have the next rows, in weighted order.

        Each account's share is dispatched/weight; the account next in line
        gets the row when it has a connection waiting; others may run ahead
        of it by at most LEAD per weight (so a slow or reconnecting account
        briefly holds nobody up, and weights hold over the run).
        """
        accounts = self.engine.accounts
        candidates = [a for a in self.weights if accounts[a].unavailable_reason(at) is None]
        if not candidates:
            return []
        weight = self.weights
        score = {a: self.dispatched.get(a, 0.0) / weight[a] for a in candidates}
        top = max(score.values())
        for a in candidates:  # an account back from a pause gets no backlog of share
            if score[a] < top - LEAD:
                score[a] = top - LEAD
                self.dispatched[a] = score[a] * weight[a]
        waiting: dict[int, list[asyncio.Future]] = {a: [] for a in candidates}
        for account_id, future in self._live_waiters():
            if account_id in waiting:
                waiting[account_id].append(future)
        picked: list[tuple[int, asyncio.Future]] = []
        while True:
            nxt = {a: score[a] + 1 / weight[a] for a in candidates}
            best = min(candidates, key=nxt.__getitem__)
            options = [a for a in candidates if waiting[a] and nxt[a] <= nxt[best] + LEAD]
            if not options:
                return picked
            chosen = best if waiting[best] else min(options, key=nxt.__getitem__)
            picked.append((chosen, waiting[chosen].pop()))
            score[chosen] = nxt[chosen]

    def _assign(self, rows: list[dict[str, Any]], picked: list[tuple[int, asyncio.Future]]) -> None:
        for row, (account_id, future) in zip(rows, picked, strict=False):
            self.waiters.remove((account_id, future))
            self.dispatched[account_id] = self.dispatched.get(account_id, 0.0) + 1
            self.unstarted[row["id"]] = row
            future.set_result(row)

    async def dispatch(self) -> None:
        """Claim rows for waiting connections until the campaign finishes."""
        ledger, clock = self.engine.store.ledger, self.engine.clock
        while not self.finished and not self.engine.stopping:
            await self.wake.wait()
            self.wake.clear()
            if not self.running:  # paused: send waiting connections back to idle
                for _, future in self._live_waiters():
                    future.set_result(None)
                continue
            while self.running and not self.engine.stopping and self._live_waiters():
                await self.bucket.take()
                if not self.running or self.engine.stopping:
                    break
                picked = self._pick(clock())
                if not picked:  # only connections of accounts ahead of their share
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), IDLE_POLL_SECONDS)
                    self.wake.clear()
                    continue
                limit = 1 if self.bucket.rate else len(picked)
                rows, suppressed = ledger.claim(self.id, self.engine.run_id, limit, clock())
                if suppressed:
                    self.bump("queued", -suppressed)
                    self.bump("suppressed", suppressed)
                for row in rows:
                    self.bump(row["state"], -1)
                    self.bump("sending")
                if rows and self.engine.providers is not None:
                    rows, picked = await self._shape(rows, picked)
                    if not rows:
                        continue
                if rows:
                    self.idle_reason = None
                    self._assign(rows, picked)
                    continue
                if self.maybe_complete():
                    break
                self._note_waiting(ledger.next_due(self.id))
                # Deferred rows become due with time: look again shortly.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), IDLE_POLL_SECONDS)
                self.wake.clear()
        for _, future in self._live_waiters():
            future.set_result(None)

    async def _shape(
        self, rows: list[dict[str, Any]], picked: list[tuple[int, asyncio.Future]]
    ) -> tuple[list[dict[str, Any]], list[tuple[int, asyncio.Future]]]:
        """Rows within their provider's rate; the others back to the queue, due at their slot."""
        providers, ledger, clock = (
            self.engine.providers,
            self.engine.store.ledger,
            self.engine.clock,
        )
        now_rows, later = [], []
        for row in rows:
            if (row["reason"] or "").endswith(RATE_CAP):  # due at the slot reserved for it earlier
                now_rows.append(row)
                continue
            key = await providers.key(row["domain"])  # a DNS lookup the first time only
            slot = providers.reserve(key, clock())
            if slot is None:
                now_rows.append(row)
            else:
                later.append((row["id"], slot, f"{key}{RATE_CAP}"))
        if later:
            ledger.postpone(later, self.engine.run_id, clock())
            self.bump("sending", -len(later))
            self.bump("queued", len(later))
        # Connections may have stopped waiting during a lookup: rows beyond them go back.
        picked = [(a, f) for a, f in picked if not f.done()]
        for row in now_rows[len(picked) :]:
            self.release(row)
        return now_rows[: len(picked)], picked

    def _note_waiting(self, next_due: float | None) -> None:
        if next_due is None:
            self.idle_reason = None
            return
        wait = max(0.0, next_due - self.engine.clock())
        self.idle_reason = f"{self.pending()} waiting for retry; next in {wait:.0f}s"

    def pending(self) -> int:
        return sum(self.counts.get(state, 0) for state in PENDING_STATES)

    def maybe_complete(self) -> bool:
        """Mark the campaign completed once nothing is waiting or in flight."""
        if self.running and self.pending() == 0 and not self.unstarted and not self.in_flight:
            self.reload_counts()
            if self.pending() == 0:
                self.state = "completed"
                self.engine.store.campaigns.set_state(self.id, "completed")
                self.engine.wake_all()
                return True
        return False

    def release(self, row: dict[str, Any]) -> None:
        """A handed-out row whose transaction will not start: back to the queue."""
        self.unstarted.pop(row["id"], None)
        ledger = self.engine.store.ledger
        at = self.engine.clock()
        if ledger.release([row["id"]], self.engine.run_id, at):
            self.bump("sending", -1)
            self.bump("queued")
        if self.state == "cancelled":
            ledger.cancel_pending(self.id, at)
            self.reload_counts()

    def release_all(self) -> None:
        for row in list(self.unstarted.values()):
            self.release(row)

    # -- stats --------------------------------------------------------------------------

    def stats(self, at: float, waiting_reason: Callable[[], str | None]) -> dict[str, Any]:
        total = sum(self.counts.values())
        rate_10s, rate_60s = self.meter.rate(at, 10), self.meter.rate(at, 60)
        pending = self.pending()
        speed = rate_60s or rate_10s
        return {
            "name": self.name,
            "state": self.state,
            "counts": dict(self.counts),
            "total": total,
            "rate_10s": rate_10s,
            "rate_60s": rate_60s,
            "in_flight": self.in_flight,
            "rate_cap": self.bucket.rate or None,  # messages/second; None when uncapped
            "eta_seconds": round(pending / speed) if speed and pending else None,
            "last_error": self.last_error,
            "alert": self.alert,
            "waiting_reason": waiting_reason() if self.running else None,
            "history": self.meter.history(at),
            "pool": {str(a): w for a, w in self.weights.items()},  # account id -> weight
        }
