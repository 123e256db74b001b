"""A scripted SMTP server for tests: a real aiosmtpd server on 127.0.0.1.

Each transaction's fate is scripted per recipient or per count, and every
message the server accepted is recorded with its recipient, so a test can
compare what the server received with what the ledger says.

    server = ScriptedSMTPServer(starttls=True, auth={"user": "pw"})
    server.script("gone@example.com", reply("550 5.1.1 No such user"))
    server.script("slow@example.com", [reply("451 4.3.0 Later"), ACCEPT])  # then accept
    server.script_count(3, close_421())          # the 3rd RCPT the server sees
    with server:
        ...  # connect to server.host, server.port; TLS clients use server.client_tls_context()
    server.received_by("slow@example.com")       # -> 1
    server.received                             # [Received(...), ...] in arrival order

Actions (what the server does for a recipient):

* ``ACCEPT``                 250 at RCPT and DATA; the message is recorded.
* ``reply(text, at=...)``    that reply at "rcpt" (default) or "data" (after the
                             body arrived; the message is NOT recorded).
* ``close_421()``            421 at RCPT, then the server closes the connection.
* ``throttle_454()``         SES-style "454 Throttling failure" at RCPT.
* ``drop_mid_data()``        the body arrives, then the connection is cut with no reply.
* ``stall(seconds)``         wait that long before replying at RCPT (past a client timeout).
* ``stall(seconds, at="data")`` the message is recorded (accepted), then the 250 after
                             the body comes that late (past a client timeout).

A list of actions is used one per attempt for that recipient; after the list
runs out the recipient is accepted. ``auth_fail=True`` answers every AUTH with
535. ``starttls`` / ``implicit_tls`` / ``auth`` / ``pipelining`` choose what is
advertised.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from core.sink import free_port


@dataclass(frozen=True)
class Action:
    kind: str  # accept | reply | close | drop | stall
    text: str = ""
    at: str = "rcpt"  # rcpt | data
    seconds: float = 0.0


ACCEPT = Action("accept")


def reply(text: str, at: str = "rcpt") -> Action:
    """Answer with ``text`` (e.g. "550 5.1.1 No such user") at RCPT or after DATA."""
    if at not in ("rcpt", "data"):
        raise ValueError("at must be 'rcpt' or 'data'")
    return Action("reply", text, at)


def close_421(text: str = "421 4.4.2 Closing connection") -> Action:
    return Action("close", text)


def throttle_454() -> Action:
    return Action("reply", "454 4.7.0 Throttling failure: Maximum sending rate exceeded.")


def drop_mid_data() -> Action:
    return Action("drop", at="data")


def stall(seconds: float, at: str = "rcpt") -> Action:
    return Action("stall", at=at, seconds=seconds)


@dataclass(frozen=True)
class Received:
    at: float
    mail_from: str
    rcpt: str
    data: bytes


@dataclass
class _Cert:
    cert_path: Path
    key_path: Path


_CERT: _Cert | None = None
_CERT_LOCK = threading.Lock()


def self_signed_cert() -> _Cert:
    """A certificate for localhost / 127.0.0.1, generated once per test run."""
    global _CERT
    with _CERT_LOCK:
        if _CERT is None:
            from cryptography import x509
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            from cryptography.x509.oid import NameOID

            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
            today = datetime.datetime.now(datetime.UTC)
            cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(today - datetime.timedelta(days=1))
                .not_valid_after(today + datetime.timedelta(days=2))
                .add_extension(
                    x509.SubjectAlternativeName(
                        [
                            x509.DNSName("localhost"),
                            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                        ]
                    ),
                    critical=False,
                )
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256())
            )
            folder = Path(tempfile.mkdtemp(prefix="postroom-test-cert-"))
            cert_path, key_path = folder / "cert.pem", folder / "key.pem"
            cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            key_path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            _CERT = _Cert(cert_path, key_path)
        return _CERT


def client_tls_context() -> ssl.SSLContext:
    """A verifying client context that trusts only the test certificate."""
    context = ssl.create_default_context(cafile=str(self_signed_cert().cert_path))
    return context


def _server_tls_context() -> ssl.SSLContext:
    cert = self_signed_cert()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert.cert_path), str(cert.key_path))
    return context


class _Handler:
    def __init__(self, server: ScriptedSMTPServer) -> None:
        self.server = server

    async def handle_EHLO(
        self, smtp: object, session: Session, envelope: Envelope, hostname: str, responses: list
    ) -> list:
        session.host_name = hostname
        if self.server.pipelining:  # aiosmtpd reads commands in order: pipelining just works
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, smtp: object, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        if not getattr(session, "_postroom_counted", False):
            session._postroom_counted = True
            with self.server._lock:
                self.server.sessions += 1
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, smtp: object, session: Session, envelope: Envelope, address: str, options: list
    ) -> str:
        action = self.server._next_action(address)
        if action.kind == "stall" and action.at == "rcpt":
            await asyncio.sleep(action.seconds)
            return "451 4.4.2 Stalled"
        if action.kind == "close":
            asyncio.get_running_loop().call_soon(smtp.transport.close)
            return action.text
        if action.kind == "reply" and action.at == "rcpt":
            return action.text
        envelope.rcpt_tos.append(address)
        self.server._pending[id(envelope), address] = action
        return "250 2.1.5 OK"

    async def handle_DATA(self, smtp: object, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        outcome = "250 2.0.0 OK: queued"
        for address in envelope.rcpt_tos:
            action = self.server._pending.pop((id(envelope), address), ACCEPT)
            if action.kind == "drop":
                smtp.transport.abort()
                return "451 4.3.0 dropped"  # never reaches the client
            if action.kind == "reply":
                outcome = action.text
                continue
            self.server._record(envelope.mail_from or "", address, bytes(data))
            if action.kind == "stall":  # queued, but the client hears so too late
                await asyncio.sleep(action.seconds)
        return outcome


class _Authenticator:
    def __init__(self, server: ScriptedSMTPServer) -> None:
        self.server = server

    def __call__(
        self, smtp: object, session: Session, envelope: Envelope, mechanism: str, data: object
    ) -> AuthResult:
        self.server.auth_attempts += 1
        if self.server.auth_fail or not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        users = self.server.auth or {}
        ok = users.get(data.login.decode()) == data.password.decode()
        return AuthResult(success=ok, handled=False)


@dataclass
class ScriptedSMTPServer:
    """The scripted server (see the module docstring). Thread-safe recording."""

    starttls: bool = False
    implicit_tls: bool = False
    auth: dict[str, str] | None = None  # login -> password; None withholds AUTH
    auth_fail: bool = False
    auth_require_tls: bool = True
    pipelining: bool = True  # advertise PIPELINING, as SES, Gmail and Postfix do
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    auth_attempts: int = 0
    sessions: int = 0  # SMTP sessions that started at least one transaction

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, tuple[list[Action], bool]] = {}  # actions, repeat forever
        self._counts: dict[int, Action] = {}
        self._rcpt_seen = 0
        self._pending: dict[tuple[int, str], Action] = {}
        self.rcpt_attempts: Counter[str] = Counter()
        self.port = self.port or free_port(self.host)
        kwargs: dict = {"hostname": self.host, "port": self.port, "server_hostname": "fixture"}
        if self.starttls:
            kwargs["tls_context"] = _server_tls_context()
        if self.implicit_tls:
            kwargs["ssl_context"] = _server_tls_context()
        if self.auth is not None or self.auth_fail:
            kwargs["authenticator"] = _Authenticator(self)
            kwargs["auth_require_tls"] = self.auth_require_tls
        self._controller = Controller(_Handler(self), **kwargs)

    # -- scripting ---------------------------------------------------------

    def script(self, rcpt: str, actions: Action | list[Action]) -> None:
        """What to do for ``rcpt``: one action every time, or a list, one per attempt."""
        with self._lock:
            if isinstance(actions, Action):
                self._scripts[rcpt.lower()] = ([actions], True)
            else:
                self._scripts[rcpt.lower()] = (list(actions), False)

    def script_count(self, n: int, action: Action) -> None:
        """What to do for the ``n``-th RCPT the server sees (1-based, any recipient)."""
        with self._lock:
            self._counts[n] = action

    def _next_action(self, rcpt: str) -> Action:
        with self._lock:
            self._rcpt_seen += 1
            self.rcpt_attempts[rcpt.lower()] += 1
            if self._rcpt_seen in self._counts:
                return self._counts.pop(self._rcpt_seen)
            queue, forever = self._scripts.get(rcpt.lower(), ([], False))
            if forever:
                return queue[0]
            return queue.pop(0) if queue else ACCEPT

    def _record(self, mail_from: str, rcpt: str, data: bytes) -> None:
        with self._lock:
            self.received.append(Received(time.time(), mail_from, rcpt, data))

    # -- reading the log -----------------------------------------------------

    def received_by(self, rcpt: str) -> int:
        with self._lock:
            return sum(1 for message in self.received if message.rcpt.lower() == rcpt.lower())

    def received_counts(self) -> Counter[str]:
        with self._lock:
            return Counter(message.rcpt.lower() for message in self.received)

    def client_tls_context(self) -> ssl.SSLContext:
        return client_tls_context()

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> ScriptedSMTPServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> ScriptedSMTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
