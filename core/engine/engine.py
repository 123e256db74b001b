"""The send engine: per-account connection pools feeding from running campaigns.

Control methods (launch, pause_campaign, set_rate, ...) are plain methods
that must be called on the engine's event loop (LocalControl does that for
other threads; RemoteControl goes through the database). Each takes an
optional ``user`` for the audit log.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import random
import socket
import ssl
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiosmtplib

from core.accounts.connect import ConnectError, open_session
from core.config import Config
from core.content import CompileError, RenderedMessage, compile_campaign
from core.dnscheck.resolver import Resolver
from core.engine.accounts import AccountRun
from core.engine.backoff import gives_up, retry_delay
from core.engine.campaigns import CampaignRun
from core.engine.providers import ProviderLimits
from core.engine.replies import Kind, Verdict, classify, classify_network_error
from core.engine.transaction import (
    EnvelopeError,
    Session,
    UnconfirmedDelivery,
    data_payload,
    envelope_address,
    session_for,
)
from core.engine.writer import OutcomeWriter
from core.store import Outcome, Store, StoreError

log = logging.getLogger(__name__)

# Connection failures that mean the account itself is wrong: pause it, tell the operator.
ACCOUNT_FAULT_STAGES = (
    "auth",
    "auth_refused_plaintext",
    "secret",
    "tls",
    "certificate",
    "starttls_missing",
)
THROTTLE_REQUEUE_SECONDS = 60.0  # a throttled message waits at least this long
RECONNECTS_BEFORE_BACKOFF = 3
HEARTBEAT_SECONDS = 1.0
COMMAND_POLL_SECONDS = 0.2
STATS_WRITE_SECONDS = 0.5
SNAPSHOT_SECONDS = 0.1
SCHEDULE_POLL_SECONDS = 1.0  # also how often edited account settings are re-read

Compile = Callable[[Store, int, Config], Any]


def pulse(event: asyncio.Event) -> None:
    """Wake everything waiting on ``event`` now, without leaving it set."""
    event.set()
    event.clear()


def default_compile(store: Store, campaign_id: int, config: Config) -> Any:
    try:
        return compile_campaign(store, campaign_id, config)
    except CompileError as exc:
        raise StoreError(str(exc)) from None


class Engine:
    def __init__(
        self,
        db_path: str | Path,
        config: Config,
        *,
        clock: Callable[[], float] = time.time,
        user: str = "engine",
        compile: Compile = default_compile,
        tls_context: ssl.SSLContext | None = None,
        rng: random.Random | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.db_path = Path(db_path)
        self.config = config
        self.clock = clock
        self.user = user
        self.compile = compile
        self.tls_context = tls_context
        self.rng = rng or random.Random()
        self.run_id = uuid.uuid4().hex
        self.store: Store | None = None
        self.writer: OutcomeWriter | None = None
        self.campaigns: dict[int, CampaignRun] = {}
        self.accounts: dict[int, AccountRun] = {}
        self.stopping = False
        self.started = False
        self.recovered: dict[int, int] = {}
        self.snapshot: dict[str, Any] = {}
        self.scheduled: dict[int, dict[str, Any]] = {}  # id -> its row and audience size
        self._tasks: list[asyncio.Task] = []
        # DKIM's RSA step in `cryptography` releases the GIL: signing on these
        # threads lets the loop keep sending (bench/send_throughput engine_dkim).
        self._signing = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dkim")
        self._accounts_seen = 0.0
        self._campaigns_seen = 0.0
        self._idle = asyncio.Event()
        self._timeout = float(config.get("engine", "smtp_timeout_seconds"))
        self._idle_seconds = float(config.get("engine", "connection_idle_seconds"))
        self.providers = (
            ProviderLimits(config, resolver or Resolver.from_env())
            if config.get("providers", "enabled")
            else None
        )

    # -- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Take the engine lock, recover a dead run's rows, resume running campaigns."""
        self.store = Store(self.db_path)
        try:
            dead = self.store.engine_state.acquire(self.run_id, time.time())
        except StoreError:
            self.store.close()
            self.store = None
            raise
        if dead is not None:
            self.store.audit.record(
                self.user,
                "engine_lock_taken_over",
                "engine",
                f"from pid {dead['pid']} on {dead['host']} (no heartbeat, or process gone)",
            )
        self.writer = OutcomeWriter(
            self.store, self.run_id, float(self.config.get("engine", "commit_interval_ms"))
        )
        self._accounts_seen = self.store.engine_state.accounts_last_update()
        self._campaigns_seen = self.store.engine_state.campaigns_last_update()
        self.recovered = self.store.ledger.recover(self.run_id, self.clock())
        policy = self.config.get("engine", "unknown_outcome")
        for campaign_id, n in self.recovered.items():
            self.store.audit.record(
                self.user, "recovered_unknown", f"campaign:{campaign_id}", f"{n} unknown"
            )
            if policy in ("resend", "mark_sent"):
                self.store.ledger.resolve_unknown(campaign_id, policy, self.clock())
        self.started = True
        self._tasks = [
            asyncio.create_task(self.writer.run(), name="engine-writer"),
            asyncio.create_task(self._housekeeping(), name="engine-housekeeping"),
        ]
        for campaign_id in self.store.engine_state.running_campaigns():
            self._start_campaign(campaign_id)
        self.start_due()
        self.refresh_scheduled()
        self.refresh_snapshot()

    async def run(self, campaign_id: int | None = None, *, serve: bool = False) -> None:
        """Start and send until the work is done (or, with ``serve``, until stopped).

        Work is done when no campaign (or ``campaign_id``) is running, paused
        or scheduled: a paused campaign is unfinished work, and an attached
        console may resume it.
        """
        if not self.started:
            await self.start()
        try:
            while not self.stopping:
                if not serve and self._work_done(campaign_id):
                    break
                self._idle.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._idle.wait(), 0.5)
        finally:
            await self.stop()

    def _work_done(self, campaign_id: int | None) -> bool:
        scheduled = {row["id"] for row in self.store.engine_state.scheduled_campaigns()}
        runs = (
            [self.campaigns.get(campaign_id)]
            if campaign_id is not None
            else self.campaigns.values()
        )
        unfinished = any(run is not None and run.state in ("running", "paused") for run in runs)
        if campaign_id is not None:
            return not unfinished and campaign_id not in scheduled
        return not unfinished and not scheduled

    def request_stop(self) -> None:
        """Begin a clean stop (signal handlers call this)."""
        self.stopping = True
        self.wake_all()

    async def stop(self, grace: float | None = None) -> None:
        """No new transactions; in-flight ones finish (up to ``grace``); nothing left ``sending``."""
        if not self.started:
            return
        self.request_stop()
        workers = [t for c in self.campaigns.values() for t in c.tasks]
        deadline = time.monotonic() + (self._timeout if grace is None else grace)
        while any(c.in_flight for c in self.campaigns.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)  # in-flight transactions finish; nothing new starts
        for task in workers + self._tasks:
            task.cancel()
        await asyncio.gather(*workers, *self._tasks, return_exceptions=True)
        for run in self.campaigns.values():
            run.release_all()
        self.writer.flush()
        # Anything still `sending` was cut mid-transaction: its outcome is unknown.
        self.store.ledger.recover("", self.clock())
        self.store.engine_state.release(self.run_id)
        self.store.close()
        self.started = False

    def wake_all(self) -> None:
        self._idle.set()
        for run in self.campaigns.values():
            run.wake.set()
        for account in self.accounts.values():
            pulse(account.changed)
        for run in self.campaigns.values():
            pulse(run.changed)

    # -- campaigns -----------------------------------------------------------------------

    def _account(self, row: dict[str, Any]) -> AccountRun:
        account = self.accounts.get(row["id"])
        if account is None:
            since = self.clock() - 86400
            per_minute = self.store.ledger.sent_per_minute(row["id"], since)
            account = AccountRun(row, per_minute, self.clock)
            self.accounts[row["id"]] = account
        return account

    def _start_campaign(self, campaign_id: int) -> CampaignRun:
        row = self.store.campaigns.get(campaign_id)
        if row is None:
            raise StoreError(f"no campaign with id {campaign_id}")
        pool = self.store.campaigns.accounts(campaign_id)
        if not pool:
            raise StoreError(f"campaign {row['name']!r} has no sending account")
        run = self.campaigns.get(campaign_id)
        # Reuse a run while its dispatcher (tasks[0]) lives; a finished run's connections
        # may still be closing, but nothing would hand them rows.
        if run is not None and run.tasks and not run.tasks[0].done():
            run.state = row["state"]
            run.wake.set()
            return run
        compiled = self.compile(self.store, campaign_id, self.config)
        old = run
        run = CampaignRun(self, row, compiled)
        run.reload_counts()
        self.campaigns[campaign_id] = run
        run.tasks.append(asyncio.create_task(run.dispatch(), name=f"dispatch-{campaign_id}"))
        if old is not None:  # its last connections may still be closing: stop() awaits them
            run.tasks += [t for t in old.tasks if not t.done()]
        self._apply_pool(run, pool)
        return run

    def _apply_pool(self, run: CampaignRun, pool: list[dict[str, Any]]) -> None:
        """Use ``pool`` (account rows with weights) from now on; dropped accounts stop."""
        run.weights = {row["id"]: int(row["weight"]) for row in pool}
        for account_row in pool:
            self._spawn_connections(run, self._account(account_row))
        for account_id, future in list(run.waiters):
            if account_id not in run.weights and not future.done():
                future.set_result(None)  # its connection notices and closes
        run.wake.set()
        pulse(run.changed)

    def _spawn_connections(self, run: CampaignRun, account: AccountRun) -> None:
        """Up to the account's connection limit of session tasks for ``run`` (more if raised)."""
        have = run.connection_tasks.get(account.id, 0)
        for n in range(have, account.slots.limit):
            run.tasks.append(
                asyncio.create_task(
                    self._connection(run, account), name=f"smtp-{run.id}-{account.id}-{n}"
                )
            )
        run.connection_tasks[account.id] = max(have, account.slots.limit)

    def reload_accounts(self) -> int:
        """Apply account rows edited since the last look: rate, connections, limits, and
        state (paused or resumed by `postroom accounts` or another console)."""
        rows = self.store.engine_state.accounts_updated_since(self._accounts_seen)
        for row in rows:
            self._accounts_seen = max(self._accounts_seen, row["updated_at"])
            account = self.accounts.get(row["id"])
            if account is None:
                continue
            account.apply_settings(row)
            for run in self.campaigns.values():
                if account.id in run.weights and not run.finished:
                    self._spawn_connections(run, account)
                    run.wake.set()
        return len(rows)

    def reload_campaigns(self) -> int:
        """Apply campaign rows edited since the last look: state changed through the store
        (paused, resumed, cancelled), rate, and the account pool or its weights."""
        rows = self.store.engine_state.campaigns_updated_since(self._campaigns_seen)
        for row in rows:
            self._campaigns_seen = max(self._campaigns_seen, row["updated_at"])
            run = self.campaigns.get(row["id"])
            try:
                if run is None or run.finished:
                    if row["state"] == "running":
                        self._start_campaign(row["id"])
                    continue
                if row["state"] != run.state:
                    self._follow_state(run, row["state"])
                if row["rate"] != run.bucket.rate:
                    run.bucket.set_rate(row["rate"])
                if not run.finished:
                    self._apply_pool(run, self.store.campaigns.accounts(run.id))
            except StoreError as exc:
                log.error("campaign %s: %s", row["id"], exc)
        return len(rows)

    def _follow_state(self, run: CampaignRun, state: str) -> None:
        """A campaign state written by another tool: act as if the command came here."""
        if state == "running":
            self._start_campaign(run.id)
            return
        run.state = state  # checked right before every MAIL FROM
        if state == "cancelled":
            self.writer.flush()  # a buffered deferral must not land after the cancel
            self.store.ledger.cancel_pending(run.id, self.clock())
            run.release_all()
            run.reload_counts()
        run.wake.set()
        pulse(run.changed)
        self._idle.set()

    def _campaign(self, campaign_id: int) -> CampaignRun | None:
        return self.campaigns.get(campaign_id)

    # -- one SMTP connection ------------------------------------------------------------

    async def _connection(self, run: CampaignRun, account: AccountRun) -> None:
        """Send ``run``'s messages through one reused session of ``account``."""
        smtp: Session | None = None
        on_session = 0
        holding_slot = False
        idle_since: float | None = None
        try:
            while not run.finished and not self.stopping and account.id in run.weights:
                reason = account.unavailable_reason(self.clock())
                if reason is not None or not run.running:
                    loop_now = asyncio.get_running_loop().time()
                    idle_since = idle_since or loop_now
                    if smtp is not None and (
                        account.state in ("draining", "paused_auto")
                        or loop_now - idle_since >= self._idle_seconds
                    ):
                        smtp = await self._close(smtp, account)
                        if account.state == "draining" and account.connections == 0:
                            self._drained(account)
                    if holding_slot and smtp is None:
                        account.slots.release()
                        holding_slot = False
                    await self._wait(account.changed, run.changed)
                    continue
                idle_since = None
                if smtp is None:
                    if not holding_slot:
                        await account.slots.acquire()
                        holding_slot = True
                    smtp = await self._open(account)
                    on_session = 0
                    if smtp is None:
                        continue
                if account.slots.over_limit():  # its connection limit was lowered
                    smtp = await self._close(smtp, account)
                    account.slots.release()
                    holding_slot = False
                    continue
                await account.bucket.take()
                account.refresh_rate()
                row = await run.next_row(account.id, self._idle_seconds)
                if row is None:
                    if run.running and not self.stopping:  # idle this long: let it go
                        smtp = await self._close(smtp, account)
                    continue
                if (
                    not run.running
                    or self.stopping
                    or account.unavailable_reason(self.clock()) is not None
                    or not smtp.is_connected
                ):
                    run.release(row)
                    if not smtp.is_connected:
                        smtp = await self._close(smtp, account)
                    continue
                await self._send(run, account, smtp, row)
                on_session += 1
                if not smtp.is_connected or on_session >= int(
                    account.row["max_messages_per_connection"]
                ):
                    smtp = await self._close(smtp, account)
        finally:
            run.connection_tasks[account.id] -= 1
            if smtp is not None:
                await self._close(smtp, account, polite=not self.stopping)
            if holding_slot:
                account.slots.release()

    async def _wait(self, *events: asyncio.Event) -> None:
        """Until one of ``events`` is pulsed, or half a second (limits are re-read)."""
        waits = [asyncio.ensure_future(e.wait()) for e in events]
        try:
            await asyncio.wait(waits, timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def _open(self, account: AccountRun) -> Session | None:
        try:
            smtp = await open_session(
                account.row, timeout=self._timeout, tls_context=self.tls_context
            )
        except ConnectError as exc:
            error = str(exc)
            if exc.stage in ACCOUNT_FAULT_STAGES:
                self._pause_auto(account, f"connection failed ({error})")
            else:
                account.connect_failed(error)
            self.store.accounts.record_error(account.id, error)
            return None
        account.connected()
        account.connections += 1
        return session_for(smtp)

    async def _close(self, smtp: Session, account: AccountRun, polite: bool = True) -> None:
        account.connections -= 1
        if polite and smtp.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await asyncio.wait_for(smtp.quit(), 5)
        smtp.close()
        return None

    async def _render(self, compiled: Any, recipient: dict[str, Any]) -> Any:
        signer = getattr(compiled, "signer", None)
        if signer is None:
            return compiled.render(recipient)
        message = compiled.render(recipient, sign=False)
        loop = asyncio.get_running_loop()
        signature = await loop.run_in_executor(self._signing, signer.sign, message.data)
        return RenderedMessage(data=signature + message.data, message_id=message.message_id)

    async def _send(
        self, run: CampaignRun, account: AccountRun, smtp: Session, row: dict[str, Any]
    ) -> None:
        started = self.clock()
        recipient = {
            "subscriber_id": row["subscriber_id"],
            "email": row["email"],
            "fields": row["fields"],
            "list_id": run.list_id,
        }
        try:
            message = await self._render(run.compiled, recipient)
        except Exception as exc:  # a template (or signing) error for this recipient
            run.unstarted.pop(row["id"], None)
            verdict = Verdict(Kind.FAILED, None, None, f"template error: {exc}")
            self._finish(run, account, row, verdict, None, started)
            return
        limit = account.row.get("max_message_bytes")
        if limit and len(message.data) > limit:
            run.unstarted.pop(row["id"], None)
            verdict = Verdict(
                Kind.FAILED,
                None,
                None,
                f"message is {len(message.data)} bytes; account allows {limit}",
            )
            self._finish(run, account, row, verdict, message.message_id, started)
            return
        sender = account.row.get("envelope_from") or run.compiled.envelope_from
        try:
            mail_from = run.envelope(sender)
            rcpt_to = envelope_address(run.rcpt(row["email"]))
        except EnvelopeError as exc:
            run.unstarted.pop(row["id"], None)
            verdict = Verdict(Kind.FAILED, None, None, f"envelope: {exc}")
            self._finish(run, account, row, verdict, message.message_id, started)
            return
        payload = data_payload(message.data)
        run.unstarted.pop(row["id"], None)
        run.in_flight += 1
        account.in_flight += 1
        try:
            reply = await smtp.transact(mail_from, rcpt_to, payload, self._timeout)
            verdict = classify(250, reply)
        except UnconfirmedDelivery as exc:
            verdict = Verdict(Kind.UNKNOWN, None, None, str(exc))
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0]
            verdict = classify(refused.code, refused.message)
        except aiosmtplib.SMTPResponseException as exc:
            verdict = classify(exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            verdict = classify_network_error(exc)
            smtp.close()
        except asyncio.CancelledError:
            # Stopped mid-transaction: the outcome is unknown (stop() marks it).
            run.in_flight -= 1
            account.in_flight -= 1
            raise
        run.in_flight -= 1
        account.in_flight -= 1
        self._finish(run, account, row, verdict, message.message_id, started)

    # -- outcomes ----------------------------------------------------------------------------

    def _finish(
        self,
        run: CampaignRun,
        account: AccountRun,
        row: dict[str, Any],
        verdict: Verdict,
        message_id: str | None,
        started: float,
    ) -> None:
        at = self.clock()
        kind = verdict.kind
        fields: dict[str, Any] = {
            "delivery_id": row["id"],
            "account_id": account.id,
            "started_at": started,
            "finished_at": at,
            "code": verdict.code,
            "enhanced": verdict.enhanced,
            "reply": verdict.text[:1000],
            "message_id": message_id,
        }
        if kind is not Kind.RECONNECT:
            account.reconnects_in_a_row = 0
        if kind is Kind.SENT:
            outcome = Outcome(state="sent", attempt_outcome="sent", **fields)
            account.sent.add(at)
            account.meter.add(at)
            run.meter.add(at)
            if account.row.get("warmup") and account.row.get("warmup_started_at") is None:
                account.row["warmup_started_at"] = at
                self.store.accounts.update(account.id, warmup_started_at=at)
        elif kind is Kind.BOUNCED:
            outcome = Outcome(
                state="bounced", attempt_outcome="bounced", suppress="bounced", **fields
            )
        elif kind is Kind.FAILED:
            outcome = Outcome(
                state="failed", attempt_outcome="failed", reason=verdict.text, **fields
            )
        elif kind is Kind.DEFERRED:
            outcome = self._deferred(row, verdict, fields, at)
        elif kind is Kind.UNKNOWN:
            # Never resent on our own: as after a crash, the operator decides
            # (resolve_unknown: resend or mark sent).
            outcome = Outcome(
                state="unknown", attempt_outcome="unknown", reason=verdict.text, **fields
            )
        else:
            # Not the message's fault: requeue without counting an attempt.
            wait = None
            if kind is Kind.THROTTLED:
                account.adaptive.throttled()
                account.refresh_rate()
                wait = max(THROTTLE_REQUEUE_SECONDS, verdict.wait_seconds or 0)
                account.last_error = f"throttled: {verdict.summary}"
            elif kind is Kind.RECONNECT:
                account.reconnects_in_a_row += 1
                if account.reconnects_in_a_row >= RECONNECTS_BEFORE_BACKOFF:
                    account.connect_failed(f"server keeps closing: {verdict.summary}")
            else:  # account fault or the relay's own quota: pause this account
                self._pause_auto(account, verdict.summary)
            outcome = Outcome(
                state="queued",
                attempt_outcome="throttled" if kind is Kind.THROTTLED else "requeued",
                counts_attempt=False,
                next_attempt_at=None if wait is None else at + wait,
                reason=kind.value,
                **fields,
            )
        if run.state == "cancelled" and outcome.state in ("queued", "deferred"):
            # Cancelled while in flight: cancel_pending has already run, so a row
            # put back in the queue now would wait forever in a cancelled campaign.
            outcome = dataclasses.replace(
                outcome, state="cancelled", reason="campaign cancelled", next_attempt_at=None
            )
        if verdict.alert:
            run.alert = verdict.alert  # sticks: the operator must fix something
        if kind is not Kind.SENT:
            run.last_error = verdict.summary
            if kind is not Kind.THROTTLED:
                account.last_error = verdict.summary
        run.bump("sending", -1)
        run.bump(outcome.state)
        self.writer.add(outcome)
        if outcome.state != "sent" and run.pending() == 0:
            run.wake.set()
        if run.pending() == 0:
            run.maybe_complete()

    def _deferred(
        self, row: dict[str, Any], verdict: Verdict, fields: dict[str, Any], at: float
    ) -> Outcome:
        attempts = int(row["attempts"]) + 1
        first = self.store.ledger.first_attempt_at(row["id"]) if attempts > 1 else None
        if gives_up(first, at, self.config):
            return Outcome(
                state="failed",
                attempt_outcome="deferred",
                reason=f"gave up after {attempts} attempts: {verdict.summary}",
                **fields,
            )
        delay = retry_delay(attempts, self.config, verdict.wait_seconds, self.rng)
        return Outcome(
            state="deferred",
            attempt_outcome="deferred",
            next_attempt_at=at + delay,
            reason=verdict.summary,
            **fields,
        )

    def _pause_auto(self, account: AccountRun, reason: str) -> None:
        account.state, account.state_reason = "paused_auto", reason
        account.last_error = reason
        self.store.accounts.set_state(account.id, "paused_auto", reason)
        self.store.audit.record(self.user, "account_paused_auto", f"account:{account.name}", reason)
        pulse(account.changed)

    def _drained(self, account: AccountRun) -> None:
        account.state, account.state_reason = "paused", "drained"
        self.store.accounts.set_state(account.id, "paused", "drained")

    # -- control API ------------------------------------------------------------------------

    def _who(self, user: str | None) -> str:
        return user or self.user

    def launch(self, campaign_id: int, user: str | None = None) -> dict[str, int]:
        """Materialise the ledger (minus suppressions) and start sending."""
        counts = launch_campaign(self.store, campaign_id, self._who(user), self.clock())
        self._start_campaign(campaign_id)
        self.refresh_snapshot()
        return counts

    def start_due(self) -> list[int]:
        """Launch scheduled campaigns whose start time has come (checked before scheduling)."""
        started = []
        for row in self.store.engine_state.scheduled_campaigns():
            if row["scheduled_at"] is not None and row["scheduled_at"] > self.clock():
                break
            try:
                self.launch(row["id"], user="scheduler")
            except StoreError as exc:
                # Back to draft with the reason, instead of failing again every second.
                self.store.campaigns.set_state(row["id"], "draft")
                self.store.audit.record(
                    "scheduler", "campaign_schedule_failed", f"campaign:{row['id']}", str(exc)
                )
                log.error("scheduled campaign %s not launched: %s", row["id"], exc)
                continue
            started.append(row["id"])
        return started

    def refresh_scheduled(self) -> None:
        """Scheduled campaigns for stats(); the audience is counted once per edit of the row."""
        found = {}
        for row in self.store.engine_state.scheduled_campaigns():
            known = self.scheduled.get(row["id"])
            if known is not None and known["updated_at"] == row["updated_at"]:
                found[row["id"]] = known
                continue
            try:
                row["audience"] = self.store.ledger.audience_size(row["id"])
            except StoreError:
                row["audience"] = None  # e.g. its segment was deleted: launching will say so
            found[row["id"]] = row
        self.scheduled = found

    def pause_campaign(self, campaign_id: int, user: str | None = None) -> None:
        """Returns once no new transaction can start; in-flight ones finish."""
        check_transition(self.store, campaign_id, "paused")
        self._set_campaign_state(campaign_id, "paused", user)

    def resume_campaign(self, campaign_id: int, user: str | None = None) -> None:
        check_transition(self.store, campaign_id, "running")
        self._set_campaign_state(campaign_id, "running", user)
        self._start_campaign(campaign_id)

    def cancel_campaign(self, campaign_id: int, user: str | None = None) -> int:
        check_transition(self.store, campaign_id, "cancelled")
        self._set_campaign_state(campaign_id, "cancelled", user)
        self.writer.flush()  # a buffered deferral must not land after the cancel
        cancelled = self.store.ledger.cancel_pending(campaign_id, self.clock())
        run = self._campaign(campaign_id)
        if run is not None:
            run.release_all()
            run.reload_counts()
        return cancelled

    def _set_campaign_state(self, campaign_id: int, state: str, user: str | None) -> None:
        run = self._campaign(campaign_id)
        if run is not None:
            run.state = state  # checked right before every MAIL FROM
            run.wake.set()
            pulse(run.changed)
        self.store.campaigns.set_state(campaign_id, state)
        self.store.audit.record(self._who(user), f"campaign_{state}", f"campaign:{campaign_id}")
        self._idle.set()

    def retry(
        self,
        campaign_id: int,
        states: tuple[str, ...] = ("failed", "deferred", "unknown"),
        user: str | None = None,
    ) -> int:
        """Requeue rows in ``states``, due now; reopens a completed campaign."""
        row = self.store.campaigns.get(campaign_id)
        n = retry_deliveries(self.store, campaign_id, states, self._who(user), self.clock())
        run = self._campaign(campaign_id)
        if run is not None:
            run.reload_counts()
        if n and row is not None and row["state"] in ("running", "completed"):
            self._start_campaign(campaign_id)
        return n

    def resolve_unknown(self, campaign_id: int, action: str, user: str | None = None) -> int:
        """The operator's call on rows a crash left ``unknown``: 'resend' or 'mark_sent'."""
        if action == "resend":
            return self.retry(campaign_id, ("unknown",), user)
        n = resolve_unknown(self.store, campaign_id, action, self._who(user), self.clock())
        run = self._campaign(campaign_id)
        if run is not None:
            run.reload_counts()
            run.wake.set()
        return n

    def _account_control(self, account_id: int, state: str, reason: str | None, user: str | None):
        self.store.accounts.set_state(account_id, state, reason)
        self.store.audit.record(self._who(user), f"account_{state}", f"account:{account_id}")
        account = self.accounts.get(account_id)
        if account is not None:
            account.set_state(state, reason)
            pulse(account.changed)
        for run in self.campaigns.values():
            run.wake.set()

    def pause_account(self, account_id: int, user: str | None = None) -> None:
        self._account_control(account_id, "paused", None, user)

    def resume_account(self, account_id: int, user: str | None = None) -> None:
        self._account_control(account_id, "active", None, user)

    def drain_account(self, account_id: int, user: str | None = None) -> None:
        """No new messages; in-flight finish; its connections close (then: paused)."""
        self._account_control(account_id, "draining", None, user)
        account = self.accounts.get(account_id)
        if account is None or account.connections == 0:
            self._account_control(account_id, "paused", "drained", user)

    def set_rate(self, kind: str, target_id: int, rate: float | None, user: str | None = None):
        """Messages per second for an account or a campaign; applies on the next token."""
        if rate is not None and rate < 0:
            raise StoreError("a rate cannot be negative")
        if kind == "account":
            before = self.store.accounts.get(target_id)
            if before is None:
                raise StoreError(f"no account with id {target_id}")
            if not rate:
                raise StoreError("an account rate must be above zero (pause the account instead)")
            self.store.accounts.update(target_id, rate=rate)
            account = self.accounts.get(target_id)
            if account is not None:
                account.row["rate"] = rate
                account.adaptive.configured = rate
                account.adaptive.factor = 1.0  # the operator's figure replaces throttle memory
                account.refresh_rate()
            old = before["rate"]
        elif kind == "campaign":
            before = self.store.campaigns.get(target_id)
            if before is None:
                raise StoreError(f"no campaign with id {target_id}")
            self.store.campaigns.update(target_id, rate=rate or None)
            run = self._campaign(target_id)
            if run is not None:
                run.bucket.set_rate(rate or None)
            old = before["rate"]
        else:
            raise StoreError(f"set_rate applies to 'account' or 'campaign', not {kind!r}")
        self.store.audit.record(
            self._who(user), "set_rate", f"{kind}:{target_id}", f"{old} -> {rate} msg/s"
        )

    # -- stats ------------------------------------------------------------------------------

    def _waiting_reason(self, run: CampaignRun) -> str | None:
        at = self.clock()
        reasons = []
        if not run.weights:
            return "no sending account in the campaign's pool"
        for account_id in run.weights:
            account = self.accounts[account_id]
            reason = account.unavailable_reason(at)
            if reason is None:
                return run.idle_reason
            reasons.append(f"{account.name}: {reason}")
        return "no account available (" + "; ".join(reasons) + ")"

    def _scheduled_stats(self, row: dict[str, Any], at: float) -> dict[str, Any]:
        """A scheduled campaign in the shape of a running one, plus when it starts."""
        return {
            "name": row["name"],
            "state": "scheduled",
            "scheduled_at": row["scheduled_at"],
            "starts_in_seconds": max(0.0, (row["scheduled_at"] or at) - at),
            "audience": row["audience"],
            "counts": {},
            "total": row["audience"] or 0,
            "rate_10s": 0.0,
            "rate_60s": 0.0,
            "in_flight": 0,
            "eta_seconds": None,
            "last_error": None,
            "alert": None,
            "waiting_reason": None,
            "history": [],
            "pool": {},
        }

    def stats(self) -> dict[str, Any]:
        """A JSON-able snapshot (see CONTRACTS.md); cheap: no SQL.

        "campaigns" holds the campaigns this engine runs and those scheduled
        (state "scheduled", with scheduled_at, starts_in_seconds and audience).
        """
        at = self.clock()
        campaigns = {
            str(cid): self._scheduled_stats(row, at)
            for cid, row in self.scheduled.items()
            if cid not in self.campaigns
        }
        campaigns.update(
            {
                str(cid): run.stats(at, lambda run=run: self._waiting_reason(run))
                for cid, run in self.campaigns.items()
            }
        )
        return {
            "at": time.time(),
            "run_id": self.run_id,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "recovered_unknown": {str(k): v for k, v in self.recovered.items()},
            "campaigns": campaigns,
            "accounts": {str(aid): acc.stats(at) for aid, acc in self.accounts.items()},
        }

    def refresh_snapshot(self) -> None:
        self.snapshot = self.stats()

    async def _housekeeping(self) -> None:
        """Snapshot, heartbeat, commands from attached consoles, stats row."""
        state = self.store.engine_state
        last_beat = last_poll = last_write = last_schedule = 0.0
        while True:
            await asyncio.sleep(SNAPSHOT_SECONDS)
            # One bad turn (a locked database, a surprising row) must not end
            # the heartbeat, the stats and the commands for the rest of the run.
            try:
                self.refresh_snapshot()
                now = time.monotonic()
                if now - last_beat >= HEARTBEAT_SECONDS:
                    last_beat = now
                    if not state.heartbeat(self.run_id, time.time()):
                        log.error("engine lock taken by another run; stopping")
                        self.request_stop()
                if now - last_schedule >= SCHEDULE_POLL_SECONDS:
                    last_schedule = now
                    self.reload_accounts()
                    self.reload_campaigns()
                    self.start_due()
                    self.refresh_scheduled()
                applied = 0
                if now - last_poll >= COMMAND_POLL_SECONDS:
                    last_poll = now
                    applied = self.apply_commands()
                if applied or now - last_write >= STATS_WRITE_SECONDS:
                    last_write = now
                    state.write_stats(self.snapshot, time.time())
                for run in self.campaigns.values():
                    if run.running and run.pending() == 0:
                        run.maybe_complete()
            except Exception:
                log.exception("engine housekeeping failed; retrying")

    def apply_commands(self) -> int:
        """Apply commands from attached consoles, in order; returns how many."""
        state = self.store.engine_state
        commands = state.pending_commands()
        for command in commands:
            try:
                result = self.dispatch_command(command["command"], command["args"], command["user"])
                text = json.dumps({"ok": True, "result": result})
            except StoreError as exc:
                text = json.dumps({"ok": False, "error": str(exc)})
            except Exception as exc:  # noqa: BLE001 - e.g. a console's wrong arguments
                # Answered and marked applied: raising here would end housekeeping (no
                # heartbeat, no stats) and the row would fail again at every start.
                log.exception("engine command %s %r failed", command["command"], command["args"])
                error = f"{command['command']}: {type(exc).__name__}: {exc}"
                text = json.dumps({"ok": False, "error": error})
            state.mark_applied(command["id"], text, time.time())
            self.refresh_snapshot()
        return len(commands)

    def dispatch_command(self, name: str, args: dict[str, Any], user: str) -> Any:
        if name not in CONTROL_COMMANDS:
            raise StoreError(f"unknown engine command {name!r}")
        if name == "retry" and "states" in args:
            args = {**args, "states": tuple(args["states"])}
        return getattr(self, name)(**args, user=user)


CONTROL_COMMANDS = (
    "launch",
    "pause_campaign",
    "resume_campaign",
    "cancel_campaign",
    "retry",
    "resolve_unknown",
    "pause_account",
    "resume_account",
    "drain_account",
    "set_rate",
)


def launch_campaign(store: Store, campaign_id: int, user: str, at: float) -> dict[str, int]:
    """Materialise the ledger and mark the campaign running (no engine needed)."""
    row = store.campaigns.get(campaign_id)
    if row is None:
        raise StoreError(f"no campaign with id {campaign_id}")
    if row["state"] not in ("draft", "scheduled"):
        raise StoreError(f"campaign {row['name']!r} is {row['state']}; only a draft can launch")
    if not store.campaigns.accounts(campaign_id):
        raise StoreError(f"campaign {row['name']!r} has no sending account")
    counts = store.ledger.materialise(campaign_id, at)
    store.campaigns.set_state(campaign_id, "running")
    store.audit.record(
        user, "campaign_launch", f"campaign:{row['name']}", json.dumps(counts, sort_keys=True)
    )
    return counts


# Operator campaign state changes: target state -> states it may come from.
TRANSITIONS = {
    "paused": ("running",),
    "running": ("paused",),
    "cancelled": ("running", "paused", "scheduled"),
}
VERBS = {"paused": "paused", "running": "resumed", "cancelled": "cancelled"}


def check_transition(store: Store, campaign_id: int, state: str) -> dict[str, Any]:
    """The campaign row, or a one-line StoreError when it cannot go to ``state``."""
    row = store.campaigns.get(campaign_id)
    if row is None:
        raise StoreError(f"no campaign with id {campaign_id}")
    allowed = TRANSITIONS[state]
    if row["state"] not in allowed:
        raise StoreError(
            f"campaign {row['name']!r} is {row['state']}; only a {' or '.join(allowed)}"
            f" campaign can be {VERBS[state]}"
        )
    return row


def set_campaign_state(store: Store, campaign_id: int, state: str, user: str, at: float) -> int:
    """Pause, resume or cancel with no engine running (a running engine follows the row).

    Returns how many deliveries a cancel withdrew (0 otherwise).
    """
    check_transition(store, campaign_id, state)
    store.campaigns.set_state(campaign_id, state)
    store.audit.record(user, f"campaign_{state}", f"campaign:{campaign_id}")
    return store.ledger.cancel_pending(campaign_id, at) if state == "cancelled" else 0


def retry_deliveries(
    store: Store, campaign_id: int, states: tuple[str, ...], user: str, at: float
) -> int:
    """Requeue rows in ``states`` (due now); a completed campaign runs again."""
    n = store.ledger.requeue(campaign_id, states, at)
    store.audit.record(user, "campaign_retry", f"campaign:{campaign_id}", f"{n} {','.join(states)}")
    row = store.campaigns.get(campaign_id)
    if n and row is not None and row["state"] == "completed":
        store.campaigns.set_state(campaign_id, "running")
    return n


def resolve_unknown(store: Store, campaign_id: int, action: str, user: str, at: float) -> int:
    """The operator's call on ``unknown`` rows (no engine needed): resend or mark_sent."""
    if action == "resend":
        return retry_deliveries(store, campaign_id, ("unknown",), user, at)
    n = store.ledger.resolve_unknown(campaign_id, action, at)
    store.audit.record(user, f"unknown_{action}", f"campaign:{campaign_id}", f"{n} rows")
    return n
