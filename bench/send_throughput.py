"""Send throughput: the full engine path vs the raw aiosmtplib ceiling vs naive smtplib.

All against bench/fast_sink.py in its own process. Figures:

* raw ceiling: aiosmtplib ``sendmail`` of pre-rendered 10 KB bytes, same connections;
* raw pipelined: the same bytes through the engine's pipelined session (no claim/render/record);
* engine: claim, render (core.content, ~10 KB personalised), send, record;
* engine with DKIM: the same, each message signed (RSA-2048, core.dkim);
* naive baseline: a stdlib smtplib loop building an EmailMessage per recipient;
* 50 ms-delay sink, 50 connections (ideal 1,000 msgs/s);
* a 100/s rate held over a window, and a live change's time to take effect;
* ``--million``: peak RSS of a 1,000,000-recipient campaign (materialise + send for a while).

Options: ``--n N`` (default 20000), ``--hold SECONDS`` (default 60), ``--million``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from bench.common import cpu_seconds, peak_rss_mb
from bench.fast_sink import start_sink
from core.config import Config
from core.dkim import generate_key
from core.engine import Engine, launch_campaign
from core.engine.control import new_event_loop
from core.engine.transaction import data_payload, envelope_address, session_for
from core.store import Store

BODY = ("Dear {{ email }}, here is this week's news. " + "Lorem ipsum dolor sit amet. " * 330)[
    :10_000
]
CONNECTIONS = 8


def build_db(
    path: Path, port: int, n: int, rate: float, connections: int, *, dkim: bool = False
) -> int:
    store = Store(path)
    if dkim:  # the From domain gets a key: every message is then signed
        generate_key(store, "example.org", "bench")
    account = store.accounts.create(
        name="sink",
        host="127.0.0.1",
        port=port,
        tls="none",
        auth="none",
        rate=rate,
        max_connections=connections,
        max_messages_per_connection=100_000,
    )
    list_id = store.lists.create("bench")
    with store.db.transaction():  # bulk load: the importer is not what we measure
        store.db.executemany(
            "INSERT INTO subscribers (email, domain, fields, created_at, updated_at)"
            " VALUES (?, 'example.com', '{}', 0, 0)",
            ((f"user{i}@example.com",) for i in range(n)),
        )
        store.db.execute(
            "INSERT INTO list_members (list_id, subscriber_id, added_at)"
            " SELECT ?, id, 0 FROM subscribers",
            (list_id,),
        )
    campaign = store.campaigns.create(
        name="bench",
        list_id=list_id,
        from_email="news@example.org",
        from_name="News",
        subject="News for {{ email }}",
        text_body=BODY,
    )
    store.campaigns.set_accounts(campaign, {account: 1})
    launch_campaign(store, campaign, "bench", time.time())
    store.close()
    return campaign


def engine_config() -> Config:
    config = Config()
    config.values["engine"]["smtp_timeout_seconds"] = 30
    return config


def run_engine(path: Path, campaign: int, loop: asyncio.AbstractEventLoop) -> tuple[float, float]:
    engine = Engine(path, engine_config(), user="bench")
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    loop.run_until_complete(engine.run(campaign))
    return time.perf_counter() - t0, cpu_seconds() - cpu0


async def raw_ceiling(port: int, n: int, message: bytes) -> tuple[float, float]:
    async def one(count: int) -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await smtp.connect()
        for i in range(count):
            await smtp.sendmail("news@example.org", [f"user{i}@example.com"], message)
        await smtp.quit()

    cpu0, t0 = cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(one(n // CONNECTIONS) for _ in range(CONNECTIONS)))
    return time.perf_counter() - t0, cpu_seconds() - cpu0


async def raw_pipelined(port: int, n: int, message: bytes) -> tuple[float, float]:
    """The same pre-rendered bytes through the engine's own pipelined session, no engine."""

    async def one(count: int) -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await smtp.connect()
        session = session_for(smtp)
        payload = data_payload(message)
        for i in range(count):
            rcpt = envelope_address(f"user{i}@example.com")
            await session.transact(b"<news@example.org>", rcpt, payload, 30)
        await session.quit()

    cpu0, t0 = cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(one(n // CONNECTIONS) for _ in range(CONNECTIONS)))
    return time.perf_counter() - t0, cpu_seconds() - cpu0


def naive_smtplib(port: int, n: int) -> tuple[float, float]:
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i in range(n):
            msg = EmailMessage()
            msg["From"] = "News <news@example.org>"
            msg["To"] = f"user{i}@example.com"
            msg["Subject"] = f"News for user{i}@example.com"
            msg.set_content(BODY.replace("{{ email }}", f"user{i}@example.com"))
            smtp.send_message(msg)
    return time.perf_counter() - t0, cpu_seconds() - cpu0


def rate_hold(tmp: Path, port: int, hold: float) -> dict:
    """Set 100/s, measure the steady rate; then 200/s and time to take effect."""
    path = tmp / "hold.db"
    campaign = build_db(path, port, int(hold * 100 + 2000), 100.0, 20)
    loop = new_event_loop()
    engine = Engine(path, engine_config(), user="bench")

    async def scenario() -> dict:
        await engine.start()
        await asyncio.sleep(2.0)  # warm: connections open, bucket steady
        start = time.time()
        await asyncio.sleep(hold)
        end = time.time()
        engine.set_rate("account", 1, 200.0, user="bench")
        changed = time.time()
        await asyncio.sleep(3.0)
        await engine.stop()
        return {"start": start, "end": end, "changed": changed}

    marks = loop.run_until_complete(scenario())
    loop.close()
    store = Store(path)
    times = [
        row[0]
        for row in store.db.execute(
            "SELECT sent_at FROM deliveries WHERE campaign_id = ? AND state = 'sent'"
            " ORDER BY sent_at",
            (campaign,),
        )
    ]
    store.close()
    held = sum(1 for t in times if marks["start"] <= t < marks["end"]) / hold
    # First 1 s window after the change whose count is within 5 % of 200.
    effect = None
    for step in range(0, 30):
        begin = marks["changed"] + step * 0.1
        n = sum(1 for t in times if begin <= t < begin + 1.0)
        if n >= 190:
            effect = round(step * 0.1 + 1.0, 1)
            break
    return {
        "seconds": hold,
        "measured_msgs_per_s": round(held, 2),
        "error_pct": round((held - 100) / 100 * 100, 2),
        "new_rate_fully_applied_within_s": effect,
    }


def million(tmp: Path, port: int, seconds: float) -> dict:
    """In a fresh process: materialise 1,000,000 rows and send for ``seconds``."""
    code = (
        "from bench.send_throughput import million_child;"
        f"million_child({str(tmp / 'million.db')!r}, {port}, {seconds})"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    built, sent, rss = float(out[0]), int(out[1]), float(out[2])
    return {
        "recipients": 1_000_000,
        "build_and_materialise_s": round(built, 1),
        "sent_in_window": sent,
        "window_s": seconds,
        "peak_rss_mb": round(rss, 1),
    }


def million_child(path: str, port: int, seconds: float) -> None:
    started = time.time()
    campaign = build_db(Path(path), port, 1_000_000, 1e9, 50)
    built = time.time() - started
    engine = Engine(path, engine_config(), user="bench")
    loop = new_event_loop()

    async def go() -> int:
        await engine.start()
        await asyncio.sleep(seconds)
        sent = engine.campaigns[campaign].counts.get("sent", 0)
        await engine.stop()
        return sent

    sent = loop.run_until_complete(go())
    print(built, sent, peak_rss_mb())


def main(argv: list[str]) -> dict:
    n = 20_000
    hold = 60.0
    for arg in argv:
        if arg.startswith("--n="):
            n = int(arg[4:])
        if arg.startswith("--hold="):
            hold = float(arg[7:])
    result: dict = {"n": n, "message_bytes": len(BODY), "connections": CONNECTIONS}
    tmp = Path(tempfile.mkdtemp(prefix="postroom-bench-"))
    os.environ["XDG_DATA_HOME"] = str(tmp / "data")  # DKIM keys go here, not to ~
    sink, port = start_sink()
    try:
        loop = new_event_loop()
        message = b"Subject: x\r\nTo: a@b\r\n\r\n" + BODY.encode()
        wall, cpu = loop.run_until_complete(raw_ceiling(port, n, message))
        result["raw_ceiling"] = {
            "msgs_per_s": round(n / wall),
            "cpu_us_per_msg": round(cpu / n * 1e6),
        }

        wall, cpu = loop.run_until_complete(raw_pipelined(port, n, message))
        result["raw_pipelined"] = {
            "msgs_per_s": round(n / wall),
            "cpu_us_per_msg": round(cpu / n * 1e6),
            "what": "pre-rendered bytes through core.engine.transaction.PipelinedSession",
        }

        campaign = build_db(tmp / "engine.db", port, n, 1e9, CONNECTIONS)
        wall, cpu = run_engine(tmp / "engine.db", campaign, loop)
        result["engine"] = {
            "msgs_per_s": round(n / wall),
            "cpu_us_per_msg": round(cpu / n * 1e6),
            "pct_of_raw_ceiling": round(n / wall / result["raw_ceiling"]["msgs_per_s"] * 100, 1),
            "pct_of_raw_pipelined": round(
                n / wall / result["raw_pipelined"]["msgs_per_s"] * 100, 1
            ),
            "transactions": "pipelined MAIL/RCPT/DATA (the sink advertises PIPELINING)",
            "dkim": "not configured in this run",
        }

        campaign = build_db(tmp / "dkim.db", port, n, 1e9, CONNECTIONS, dkim=True)
        wall, cpu = run_engine(tmp / "dkim.db", campaign, loop)
        result["engine_dkim"] = {
            "msgs_per_s": round(n / wall),
            "cpu_us_per_msg": round(cpu / n * 1e6),
            "pct_of_raw_ceiling": round(n / wall / result["raw_ceiling"]["msgs_per_s"] * 100, 1),
            "dkim": "rsa-sha256 2048-bit, relaxed/relaxed, every message",
        }

        small = max(1000, n // 10)
        wall, cpu = naive_smtplib(port, small)
        result["naive_smtplib"] = {
            "n": small,
            "msgs_per_s": round(small / wall),
            "cpu_us_per_msg": round(cpu / small * 1e6),
        }
        print(f"   raw ceiling {result['raw_ceiling']}", flush=True)
        print(f"   raw piped   {result['raw_pipelined']}", flush=True)
        print(f"   engine      {result['engine']}", flush=True)
        print(f"   engine+dkim {result['engine_dkim']}", flush=True)
        print(f"   smtplib     {result['naive_smtplib']}", flush=True)
        loop.close()
    finally:
        sink.terminate()
        sink.wait()

    slow, slow_port = start_sink(delay_ms=50)
    try:
        loop = new_event_loop()
        slow_n = 10_000
        campaign = build_db(tmp / "slow.db", slow_port, slow_n, 1e9, 50)
        wall, _ = run_engine(tmp / "slow.db", campaign, loop)
        loop.close()
        result["delay_50ms_50_connections"] = {
            "n": slow_n,
            "msgs_per_s": round(slow_n / wall),
            "pct_of_ideal_1000": round(slow_n / wall / 10, 1),
        }
        print(f"   50 ms sink  {result['delay_50ms_50_connections']}", flush=True)
        result["rate_hold_100"] = rate_hold(tmp, slow_port, hold)
        print(f"   rate hold   {result['rate_hold_100']}", flush=True)
        if "--million" in argv:
            result["million"] = million(tmp, slow_port, 30.0)
            print(f"   1M          {result['million']}", flush=True)
    finally:
        slow.terminate()
        slow.wait()
    result["peak_rss_mb_this_process"] = round(peak_rss_mb(), 1)
    result["note"] = (
        "2-core machine shared with other engineers' work during the run; the sink runs in its"
        " own process on the same cores"
    )
    shutil.rmtree(tmp, ignore_errors=True)
    return result
