"""A capture SMTP server: accepts every message and keeps it.

Used by `postroom sink`, by the demo (so nothing needs credentials or
network) and by tests. Runs aiosmtpd in its own thread on loopback.
"""

from __future__ import annotations

import mailbox
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session


@dataclass(frozen=True)
class Captured:
    received_at: float
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def subject(self) -> str:
        return BytesHeaderParser().parsebytes(self.data).get("Subject", "")

    def summary(self) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.received_at))
        return (
            f"{stamp} from={self.mail_from} to={','.join(self.rcpt_tos)} "
            f"size={len(self.data)} subject={self.subject!r}"
        )


class CaptureHandler:
    """Accepts every message; stores it in memory (bounded) and optionally a Maildir."""

    def __init__(
        self,
        maildir: Path | None = None,
        on_message: Callable[[Captured], None] | None = None,
        keep: int = 10_000,
    ) -> None:
        self.messages: list[Captured] = []
        self.count = 0
        self._keep = keep
        self._lock = threading.Lock()
        self._maildir = mailbox.Maildir(maildir, create=True) if maildir else None
        self._on_message = on_message

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        captured = Captured(
            time.time(), envelope.mail_from or "", tuple(envelope.rcpt_tos), bytes(data)
        )
        with self._lock:
            self.count += 1
            self.messages.append(captured)
            del self.messages[: -self._keep]
        if self._maildir is not None:
            self._maildir.add(captured.data)
        if self._on_message is not None:
            self._on_message(captured)
        return "250 2.0.0 OK: captured"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (aiosmtpd's Controller cannot bind 0)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class CaptureServer:
    """Start with ``start()``; ``port`` is the bound port (0 picks a free one)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        maildir: Path | None = None,
        on_message: Callable[[Captured], None] | None = None,
    ) -> None:
        self.handler = CaptureHandler(maildir, on_message)
        self.host = host
        port = port or free_port(host)
        self._controller = Controller(
            self.handler, hostname=host, port=port, server_hostname="postroom-sink"
        )
        self.port = port

    def start(self) -> CaptureServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> CaptureServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
