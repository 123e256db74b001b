"""A small aiosmtpd server with STARTTLS or implicit TLS and AUTH, on 127.0.0.1.

Enough for the account tests (connection test, bad password, no STARTTLS,
certificate mismatch); the engine's scripted fixture covers sending.
"""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from core.sink import CaptureHandler, free_port
from tests.support.tls import TestCertificate


class AuthHandler(CaptureHandler):
    """Captures messages; also accepts XOAUTH2 with one of ``tokens``."""

    def __init__(self, tokens: set[str]) -> None:
        super().__init__()
        self.tokens = tokens
        self.logins: list[str] = []  # "MECHANISM user", in order

    async def auth_XOAUTH2(self, server: object, args: list[str]) -> AuthResult:
        raw = base64.b64decode(args[1]).decode() if len(args) > 1 else ""
        parts = dict(p.split("=", 1) for p in raw.split("\x01") if "=" in p)
        token = parts.get("auth", "").removeprefix("Bearer ")
        self.logins.append(f"XOAUTH2 {parts.get('user', '')}")
        if token in self.tokens:
            return AuthResult(success=True, handled=False, auth_data=parts.get("user"))
        return AuthResult(success=False, handled=False)


@dataclass
class RunningServer:
    host: str
    port: int
    handler: AuthHandler


@contextmanager
def auth_smtp_server(
    certificate: TestCertificate | None,
    *,
    mode: str = "starttls",  # "starttls" | "implicit" | "plain"
    users: dict[str, str] | None = None,
    tokens: set[str] | None = None,
) -> Iterator[RunningServer]:
    """A server requiring AUTH (``users``); ``plain`` mode offers AUTH without TLS."""
    users = users or {}
    handler = AuthHandler(tokens=tokens or set())

    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:  # noqa: ANN001
        if isinstance(auth_data, LoginPassword):
            name, password = auth_data.login.decode(), auth_data.password.decode()
            handler.logins.append(f"{mechanism} {name}")
            return AuthResult(success=users.get(name) == password, handled=False)
        return AuthResult(success=False, handled=False)

    kwargs: dict = {
        "authenticator": authenticator,
        "auth_required": True,
        "server_hostname": "mx.test",
        "enable_SMTPUTF8": True,
    }
    if mode == "starttls":
        kwargs.update(tls_context=certificate.server_context(), require_starttls=True)
    elif mode == "implicit":
        # aiosmtpd only counts STARTTLS as TLS for AUTH; the socket is TLS here.
        kwargs.update(ssl_context=certificate.server_context(), auth_require_tls=False)
    else:
        kwargs.update(auth_require_tls=False)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield RunningServer("127.0.0.1", port, handler)
    finally:
        controller.stop()


@contextmanager
def stalling_server() -> Iterator[int]:
    """Accepts TCP connections and never says a word (a hung relay)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            accepted.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()
