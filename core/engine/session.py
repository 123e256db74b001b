"""Opening an SMTP session for an account.

Interim: until ``core.accounts.connect.open_session`` lands (accounts
helper, CONTRACTS.md) this is the engine's single place that opens a
connection, so swapping it is one line. It keeps to the same policy:
certificates verified unless the account says otherwise, no AUTH without TLS
except on loopback with the account's explicit opt-in.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from typing import Any

import aiosmtplib


class ConnectError(Exception):
    """Opening the session failed; ``stage`` says where (as in core.accounts.connect)."""

    def __init__(self, stage: str, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.stage = stage
        self.code = code
        self.reply = message


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _password(account: dict[str, Any]) -> str | None:
    secret = account.get("secret") or ""
    if secret.startswith("db:"):
        return secret[3:]
    if secret.startswith("env:"):
        value = os.environ.get(secret[4:])
        if value is None:
            raise ConnectError("secret", f"environment variable {secret[4:]} is not set")
        return value
    if secret.startswith("file:"):
        path = os.path.expanduser(secret[5:])
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError as exc:
            raise ConnectError("secret", f"cannot read {path}: {exc.strerror}") from None
    return None


async def open_session(
    account: dict[str, Any], *, timeout: float = 30.0, tls_context: ssl.SSLContext | None = None
) -> aiosmtplib.SMTP:
    host, tls = account["host"], account.get("tls", "starttls")
    wants_auth = account.get("auth", "none") != "none" and account.get("username")
    if (
        wants_auth
        and tls == "none"
        and not (_is_loopback(host) and account.get("allow_plaintext_auth"))
    ):
        raise ConnectError("auth_refused_plaintext", "refusing to send a password without TLS")
    password = _password(account) if wants_auth else None
    client = aiosmtplib.SMTP(
        hostname=host,
        port=account["port"],
        use_tls=tls == "implicit",
        start_tls=tls == "starttls",
        validate_certs=bool(account.get("verify_tls", 1)),
        tls_context=tls_context,
        username=account.get("username") if wants_auth else None,
        password=password,
        timeout=timeout,
    )
    try:
        await client.connect()
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise ConnectError("auth", exc.message, exc.code) from None
    except aiosmtplib.SMTPResponseException as exc:
        raise ConnectError("protocol", exc.message, exc.code) from None
    except ssl.SSLCertVerificationError as exc:
        raise ConnectError("certificate", str(exc.verify_message or exc)) from None
    except ssl.SSLError as exc:
        raise ConnectError("tls", str(exc)) from None
    except aiosmtplib.SMTPTimeoutError as exc:
        raise ConnectError("timeout", str(exc)) from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        message = str(exc)
        stage = "starttls_missing" if "STARTTLS" in message.upper() else "tcp"
        raise ConnectError(stage, message) from None
    return client


# Stages that mean the account itself is misconfigured: pause it.
ACCOUNT_FAULT_STAGES = (
    "auth",
    "auth_refused_plaintext",
    "secret",
    "tls",
    "certificate",
    "starttls_missing",
)
