"""An authenticated SMTP session for an account, or one clear reason why not.

``open_session`` connects, says EHLO, secures the connection (STARTTLS or
implicit TLS, certificate verified unless the account turns it off), and
authenticates (password, or XOAUTH2 with a token from the account's
``oauth_token_cmd``). Every failure becomes a ``ConnectError`` whose
``stage`` says what failed and whose text is one line an operator can act
on. Credentials never appear in it: server replies are scrubbed too, in
case a server echoes what it was sent.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import shlex
import socket
import ssl
from typing import Any

import aiosmtplib

from core.accounts.secrets import SecretError, resolve_password

STAGES = (
    "dns",
    "tcp",
    "timeout",
    "tls",
    "certificate",
    "starttls_missing",
    "auth",
    "auth_refused_plaintext",
    "secret",
    "protocol",
)

# What we were waiting for at each step, for timeout and disconnect messages.
_WAITING_FOR = {
    "connect": "the connection and the server's greeting",
    "ehlo": "the reply to EHLO",
    "starttls": "the STARTTLS handshake",
    "auth": "the reply to AUTH",
}


class ConnectError(Exception):
    """Opening a session failed at ``stage``; ``code``/``reply`` are the server's."""

    def __init__(
        self, stage: str, message: str, *, code: int | None = None, reply: str = ""
    ) -> None:
        super().__init__(message)
        self.stage = stage
        self.code = code
        self.reply = reply


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def plaintext_auth_problem(account: dict[str, Any]) -> str | None:
    """Why this account may not authenticate, when it would send credentials in clear."""
    if (account.get("auth") or "password") == "none" or account.get("tls") != "none":
        return None
    if is_loopback(account["host"]) and account.get("allow_plaintext_auth"):
        return None
    hint = (
        "set allow_plaintext_auth to permit it on loopback"
        if is_loopback(account["host"])
        else "use tls = starttls or implicit"
    )
    return f"refusing to send credentials without TLS (tls = none); {hint}"


async def open_session(
    account: dict[str, Any],
    *,
    timeout: float = 30.0,
    tls_context: ssl.SSLContext | None = None,
) -> aiosmtplib.SMTP:
    """A connected, secured and authenticated session; raises ``ConnectError``."""
    host, port = account["host"], int(account["port"])
    where = f"{host}:{port}"
    tls_mode = account.get("tls") or "starttls"
    auth = account.get("auth") or "password"
    if problem := plaintext_auth_problem(account):
        raise ConnectError("auth_refused_plaintext", f"{where}: {problem}")
    try:
        password = resolve_password(account)
    except SecretError as exc:
        raise ConnectError("secret", str(exc)) from None
    secrets = [password] if password else []

    smtp = aiosmtplib.SMTP(
        hostname=host,
        port=port,
        use_tls=tls_mode == "implicit",
        start_tls=False,  # done below, so a server without it is refused, not skipped
        validate_certs=bool(account.get("verify_tls", 1)),
        tls_context=tls_context,
        timeout=timeout,
    )
    stage = "connect"
    try:
        await smtp.connect()
        stage = "ehlo"
        await _hello(smtp)
        if tls_mode == "starttls":
            if not smtp.supports_extension("starttls"):
                raise ConnectError(
                    "starttls_missing",
                    f"{where}: the server does not offer STARTTLS; "
                    "not authenticating over an unencrypted connection",
                )
            stage = "starttls"
            await smtp.starttls()
            stage = "ehlo"
            await _hello(smtp)
        stage = "auth"
        if auth == "password":
            await _login(smtp, account, password or "")
        elif auth == "xoauth2":
            token = await _xoauth2(smtp, account, where, timeout)
            secrets.append(token)
    except ConnectError:
        smtp.close()
        raise
    except Exception as exc:  # noqa: BLE001 - every failure becomes one ConnectError
        smtp.close()
        raise _explain(exc, stage, host, where, timeout, secrets) from None
    return smtp


async def close_session(smtp: aiosmtplib.SMTP, timeout: float = 5.0) -> None:
    """QUIT politely if the server is still there; close regardless."""
    try:
        if smtp.is_connected:
            await smtp.quit(timeout=timeout)
    except aiosmtplib.SMTPException:
        pass
    finally:
        smtp.close()


async def _hello(smtp: aiosmtplib.SMTP) -> None:
    try:
        await smtp.ehlo()
    except aiosmtplib.SMTPHeloError:
        await smtp.helo()  # a pre-ESMTP server: no STARTTLS, no AUTH


async def _login(smtp: aiosmtplib.SMTP, account: dict[str, Any], password: str) -> None:
    if not account.get("username"):
        raise ConnectError("auth", f"account {account.get('name')}: no username set")
    if not smtp.supports_extension("auth"):
        raise ConnectError("auth", f"{smtp.hostname}:{smtp.port}: the server does not offer AUTH")
    await smtp.login(account["username"], password)


async def _xoauth2(
    smtp: aiosmtplib.SMTP, account: dict[str, Any], where: str, timeout: float
) -> str:
    if not account.get("username"):
        raise ConnectError("auth", f"account {account.get('name')}: no username set")
    if "xoauth2" not in smtp.server_auth_methods:
        offered = " ".join(smtp.server_auth_methods).upper() or "none"
        raise ConnectError(
            "auth", f"{where}: the server does not offer XOAUTH2 (AUTH methods: {offered})"
        )
    token = await fetch_oauth_token(account, timeout)
    try:
        await smtp.auth_xoauth2(account["username"], token)
    except aiosmtplib.SMTPAuthenticationError as exc:
        reply = _scrub(exc.message, [token])
        raise ConnectError(
            "auth", f"{where}: XOAUTH2 rejected: {exc.code} {reply}", code=exc.code, reply=reply
        ) from None
    return token


async def fetch_oauth_token(account: dict[str, Any], timeout: float = 30.0) -> str:
    """Run the account's ``oauth_token_cmd`` (no shell) and return its first output line."""
    label = f"account {account.get('name')}: oauth_token_cmd"
    command = account.get("oauth_token_cmd") or ""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ConnectError("secret", f"{label}: cannot parse the command: {exc}") from None
    if not argv:
        raise ConnectError("secret", f"{label}: not set (auth is xoauth2)")
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError:
        raise ConnectError("secret", f"{label}: {argv[0]}: command not found") from None
    except PermissionError:
        raise ConnectError("secret", f"{label}: {argv[0]}: permission denied") from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise ConnectError("secret", f"{label}: no token within {timeout:g}s") from None
    if proc.returncode:
        # stderr is the tool's own advice ("run az login"); stdout may hold secrets.
        lines = err.decode("utf-8", "replace").strip().splitlines()
        said = f": {lines[-1][:200]}" if lines else ""
        raise ConnectError("secret", f"{label}: exited with status {proc.returncode}{said}")
    lines = out.decode("utf-8", "replace").strip().splitlines()
    if not lines or not lines[0].strip():
        raise ConnectError("secret", f"{label}: printed no token")
    return lines[0].strip()


def _scrub(text: str, secrets: list[str]) -> str:
    """Remove credentials (and their base64 forms) from a server's reply."""
    for secret in secrets:
        if not secret:
            continue
        for form in (secret, base64.b64encode(secret.encode()).decode()):
            text = text.replace(form, "***")
    return " ".join(text.split())


def _in_chain(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _explain(
    exc: Exception, stage: str, host: str, where: str, timeout: float, secrets: list[str]
) -> ConnectError:
    """Turn what aiosmtplib/ssl/socket raised into a stage and an operator's sentence."""
    waiting = _WAITING_FOR.get(stage, stage)
    if cert := _in_chain(exc, ssl.SSLCertVerificationError):
        if cert.verify_code in (62, 64):  # X509_V_ERR_HOSTNAME_MISMATCH, _IP_ADDRESS_
            return ConnectError(
                "certificate",
                f"{where}: certificate name mismatch: the server's certificate is not valid "
                f"for {host}",
            )
        reason = cert.verify_message or cert.reason or "verification failed"
        return ConnectError("certificate", f"{where}: certificate not trusted: {reason}")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError) or _in_chain(exc, TimeoutError):
        return ConnectError(
            "timeout", f"{where}: timed out after {timeout:g}s waiting for {waiting}"
        )
    if tls := _in_chain(exc, ssl.SSLError):
        reason = tls.reason or str(tls)
        return ConnectError("tls", f"{where}: TLS handshake failed: {reason}")
    if dns := _in_chain(exc, socket.gaierror):
        return ConnectError("dns", f"{where}: cannot resolve {host}: {dns.strerror}")
    if _in_chain(exc, ConnectionRefusedError):
        return ConnectError("tcp", f"{where}: connection refused (nothing listening there?)")
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        reply = _scrub(exc.message, secrets)
        return ConnectError(
            "auth",
            f"{where}: authentication rejected: {exc.code} {reply}",
            code=exc.code,
            reply=reply,
        )
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return ConnectError(
            "protocol", f"{where}: the server closed the connection during {waiting}"
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        reply = _scrub(exc.message, secrets)
        return ConnectError(
            "protocol",
            f"{where}: unexpected reply during {waiting}: {exc.code} {reply}",
            code=exc.code,
            reply=reply,
        )
    if (oserror := _in_chain(exc, OSError)) and not isinstance(oserror, ssl.SSLError):
        reason = oserror.strerror or str(oserror)
        return ConnectError("tcp", f"{where}: cannot connect: {reason}")
    return ConnectError("protocol", f"{where}: {_scrub(str(exc), secrets)}")
