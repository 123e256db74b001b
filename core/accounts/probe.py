"""`Test connection` and `Send test message` for an account.

``probe`` opens a real session (``open_session``: TLS, certificate check,
AUTH), reads what the server offers and times a NOOP round trip; it sends
no mail. ``send_test_message`` sends one short message to an address the
operator typed. Failures are ``ConnectError`` / ``SendError`` in one line.
"""

from __future__ import annotations

import ssl
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from typing import Any

import aiosmtplib

from core.accounts.connect import close_session, open_session

# The extensions an operator cares about before a campaign.
CAPABILITIES = ("SIZE", "8BITMIME", "SMTPUTF8", "PIPELINING")


class SendError(Exception):
    """The test message was refused; ``code``/``reply`` are the server's."""

    def __init__(self, message: str, code: int | None = None, reply: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reply = reply


@dataclass(frozen=True)
class ProbeResult:
    where: str
    server_name: str
    tls_version: str | None  # None for tls = none
    cipher: str | None
    verified: bool  # the certificate was checked
    capabilities: dict[str, str | None]  # offered extension -> its parameter; missing: absent
    auth_methods: tuple[str, ...]
    authenticated: bool
    setup_ms: float  # connect + EHLO + TLS + AUTH
    latency_ms: float  # median NOOP round trip
    warnings: tuple[str, ...] = field(default=())

    def lines(self) -> list[str]:
        """The report, one fact per line, for the CLI and the console."""
        tls = self.tls_version or "none (plaintext)"
        if self.tls_version:
            tls += f", {self.cipher}" if self.cipher else ""
            tls += ", certificate verified" if self.verified else ", certificate NOT verified"
        caps = []
        for name in CAPABILITIES:
            if name not in self.capabilities:
                caps.append(f"{name} no")
            elif name == "SIZE" and self.capabilities[name]:
                caps.append(f"SIZE {_megabytes(self.capabilities[name])}")
            else:
                caps.append(f"{name} yes")
        out = [
            f"ok: {self.where} ({self.server_name})",
            f"TLS: {tls}",
            f"AUTH: {'accepted' if self.authenticated else 'not used'}"
            + (f" (offers {' '.join(self.auth_methods)})" if self.auth_methods else ""),
            f"capabilities: {', '.join(caps)}",
            f"latency: {self.latency_ms:.1f} ms round trip; session setup {self.setup_ms:.0f} ms",
        ]
        out.extend(f"warning: {w}" for w in self.warnings)
        return out


def _megabytes(value: str) -> str:
    try:
        size = int(value)
    except ValueError:
        return value
    return f"{size / (1024 * 1024):.0f} MB" if size else "unlimited"


def _warnings(account: dict[str, Any], capabilities: dict[str, str | None]) -> list[str]:
    found = []
    size = capabilities.get("SIZE")
    limit = account.get("max_message_bytes")
    if size and size.isdigit() and int(size) and limit and int(size) < limit:
        found.append(
            f"the server takes at most {int(size):,} bytes per message; "
            f"the account allows {limit:,}"
        )
    if "SMTPUTF8" not in capabilities:
        found.append("no SMTPUTF8: addresses with non-ASCII local parts cannot be sent")
    if not account.get("verify_tls", 1) and account.get("tls") != "none":
        found.append("certificate verification is turned off for this account")
    return found


async def probe(
    account: dict[str, Any],
    *,
    timeout: float = 15.0,
    tls_context: ssl.SSLContext | None = None,
    clock: Callable[[], float] = time.perf_counter,
    pings: int = 3,
) -> ProbeResult:
    """Connect, secure, authenticate, report; sends no mail. Raises ``ConnectError``."""
    started = clock()
    smtp = await open_session(account, timeout=timeout, tls_context=tls_context)
    try:
        setup = clock() - started
        rtts = []
        for _ in range(pings):
            before = clock()
            await smtp.noop()
            rtts.append(clock() - before)
        ssl_object = smtp.get_transport_info("ssl_object")
        capabilities = {
            name.upper(): (params or None) for name, params in smtp.esmtp_extensions.items()
        }
        ehlo = smtp.last_ehlo_response.message if smtp.last_ehlo_response else ""
        return ProbeResult(
            where=f"{account['host']}:{account['port']}",
            server_name=(ehlo.splitlines() or ["?"])[0].split(" ")[0],
            tls_version=ssl_object.version() if ssl_object else None,
            cipher=ssl_object.cipher()[0] if ssl_object else None,
            verified=bool(ssl_object) and bool(account.get("verify_tls", 1)),
            capabilities=capabilities,
            auth_methods=tuple(m.upper() for m in smtp.server_auth_methods),
            authenticated=(account.get("auth") or "password") != "none",
            setup_ms=setup * 1000,
            latency_ms=statistics.median(rtts) * 1000 if rtts else 0.0,
            warnings=tuple(_warnings(account, capabilities)),
        )
    finally:
        await close_session(smtp)


def _guard(value: str, what: str) -> str:
    # Python 3.11.7 predates the CVE-2024-6923 fix: no CR/LF/NUL into headers.
    if any(ch in value for ch in "\r\n\0"):
        raise SendError(f"{what} contains a line break or NUL")
    return value.strip()


def build_test_message(account: dict[str, Any], to: str) -> tuple[str, bytes]:
    """(envelope sender, message bytes) for the account's test message."""
    to = _guard(to, "the address")
    if to.count("@") != 1 or " " in to or not all(to.split("@")):
        raise SendError(f"not an address: {to!r}")
    sender = _guard(account.get("envelope_from") or account.get("username") or "", "the sender")
    if "@" not in sender:
        raise SendError("the account needs an envelope_from (or an address as username)")
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = f"Postroom test message from account {account['name']}"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    message.set_content(
        f"This is a test message sent by Postroom through {account['host']}:{account['port']}\n"
        f"(account {account['name']}). No action is needed.\n"
    )
    return sender, message.as_bytes()


async def send_test_message(
    account: dict[str, Any],
    to: str,
    *,
    timeout: float = 30.0,
    tls_context: ssl.SSLContext | None = None,
) -> str:
    """Send one test message; returns the server's reply (e.g. '250 2.0.0 OK ...')."""
    sender, data = build_test_message(account, to)
    smtp = await open_session(account, timeout=timeout, tls_context=tls_context)
    try:
        errors, reply = await smtp.sendmail(sender, [to], data)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        first = exc.recipients[0]
        raise SendError(
            f"recipient refused: {first.code} {first.message}", first.code, first.message
        ) from None
    except aiosmtplib.SMTPResponseException as exc:
        raise SendError(f"refused: {exc.code} {exc.message}", exc.code, exc.message) from None
    finally:
        await close_session(smtp)
    if errors:
        code, text = next(iter(errors.values()))
        raise SendError(f"recipient refused: {code} {text}", code, text)
    return reply
