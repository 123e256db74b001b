"""A minimal SMTP sink on uvloop: just enough protocol to accept mail very fast.

aiosmtpd tops out near 2,000 msgs/s here and would hide the engine's speed.
This sink answers every command with 250 (354 for DATA), counts messages,
and can delay each final reply (``--delay-ms``) to model a slow relay.

    python -m bench.fast_sink --port 2600 [--delay-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.sink import free_port

EHLO = b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n"


class SinkProtocol(asyncio.Protocol):
    count = 0

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.buffer = b""
        self.in_data = False

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        transport.write(b"220 sink ESMTP\r\n")

    def _reply_later(self, text: bytes) -> None:
        if self.delay:
            asyncio.get_running_loop().call_later(self.delay, self._write, text)
        else:
            self.transport.write(text)

    def _write(self, text: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(text)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    return
                self.buffer = self.buffer[end + 5 :]
                self.in_data = False
                SinkProtocol.count += 1
                self._reply_later(b"250 2.0.0 OK\r\n")
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                return
            line, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                self.transport.write(EHLO)
            elif verb == b"DATA":
                self.in_data = True
                self.buffer = b"\r\n" + self.buffer  # so an empty body's "." still matches
                self.transport.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.transport.write(b"221 bye\r\n")
                self.transport.close()
                return
            else:
                self.transport.write(b"250 OK\r\n")


async def serve(port: int, delay_ms: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SinkProtocol(delay_ms / 1000), "127.0.0.1", port, backlog=1024
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    async with server:
        await stop.wait()


def start_sink(delay_ms: float = 0.0) -> tuple[subprocess.Popen, int]:
    """The sink in its own process (so its CPU is not the client's); returns (process, port)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.fast_sink", "--port", str(port), "--delay-ms", str(delay_ms)],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
    )
    process.stdout.readline()  # "ready"
    return process, port


async def blast(port: int, n: int, connections: int, message: bytes) -> float:
    """Pipelined raw transactions (no reply parsing beyond counting): msgs/s."""

    async def one(count: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await reader.readline()
        writer.write(b"EHLO c\r\n")
        for _ in range(3):
            await reader.readline()
        txn = b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n" + message + b"\r\n.\r\n"
        for _ in range(count):
            writer.write(txn)
            for _ in range(4):
                await reader.readline()
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one(n // connections) for _ in range(connections)))
    return n / (time.perf_counter() - started)


def main(argv: list[str]) -> dict:
    """`make bench BENCH_ARGS=fast_sink`: the sink's own ceiling."""
    process, port = start_sink()
    try:
        message = b"Subject: x\r\n\r\n" + b"x" * 10_000
        rate = asyncio.run(blast(port, 40_000, 8, message))
    finally:
        process.terminate()
        process.wait()
    print(f"   fast_sink ceiling: {rate:,.0f} msgs/s (10 KB, 8 connections, pipelined raw client)")
    return {"sink_ceiling_msgs_per_s": round(rate), "note": "client and sink share 2 busy cores"}


def serve_cli() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(serve(args.port, args.delay_ms))
    except ImportError:
        asyncio.run(serve(args.port, args.delay_ms))


if __name__ == "__main__":
    serve_cli()
