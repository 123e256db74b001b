"""Checking account values as an operator types them (console form, CLI, import).

``parse_field(name, text)`` turns one typed value into its column value or
an error sentence, so the form can show the error beside the field while
typing; ``check_account(values)`` adds the rules that span fields.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from typing import Any

from core.accounts.connect import plaintext_auth_problem
from core.accounts.secrets import check_reference

TLS_MODES = ("starttls", "implicit", "none")
AUTH_MODES = ("password", "xoauth2", "none")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class AccountValueError(ValueError):
    """One or more bad values; ``errors`` maps field -> sentence."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {text}" for name, text in errors.items()))
        self.errors = errors


def _name(text: str) -> str:
    if not _NAME.fullmatch(text):
        raise ValueError("letters, digits, '.', '_' or '-', starting with a letter or digit")
    return text


def _host(text: str) -> str:
    host = text.strip().rstrip(".")
    if not host:
        raise ValueError("required")
    if ":" in host and host.count(":") >= 2:  # IPv6 literal
        return host
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in host.split(".")):
        raise ValueError("not a host name or address")
    return host


def _int(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.replace(",", "").replace("_", ""))
        except ValueError:
            raise ValueError("a whole number") from None
        if value < low or (high is not None and value > high):
            raise ValueError(f"between {low} and {high}" if high else f"at least {low}")
        return value

    return parse


def _optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def wrapper(text: str) -> Any:
        return None if text.strip() in ("", "-", "none") else parse(text.strip())

    return wrapper


def _rate(text: str) -> float:
    # "2", "2/s", "30/min", "100/h"
    number, _, unit = text.strip().partition("/")
    divisor = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600}.get(
        unit.strip().lower()
    )
    try:
        value = float(number)
    except ValueError:
        value = -1
    if divisor is None or value <= 0:
        raise ValueError("messages per second above 0 (or N/min, N/h)")
    return value / divisor


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"one of {', '.join(choices)}")
        return text

    return parse


def _line(text: str) -> str | None:
    if _CONTROL.search(text):
        raise ValueError("must not contain control characters")
    return text.strip() or None


def _email(text: str) -> str | None:
    value = _line(text)
    if value and (value.count("@") != 1 or " " in value or not all(value.split("@"))):
        raise ValueError("an address like bounces@example.com")
    return value


def _secret(text: str) -> str | None:
    if not text:
        return None
    if problem := check_reference(text):
        raise ValueError(problem)
    return text


def _command(text: str) -> str | None:
    value = _line(text)
    if value:
        try:
            shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot parse the command: {exc}") from None
    return value


def _warmup(text: str) -> str | None:
    if not text.strip():
        return None
    try:
        caps = [int(part) for part in re.split(r"[,\s]+", text.strip().strip("[]")) if part]
    except ValueError:
        raise ValueError("daily caps separated by commas, e.g. 50,100,200,400") from None
    if not caps or any(cap < 1 for cap in caps):
        raise ValueError("each daily cap must be at least 1")
    return json.dumps(caps)


def _flag(text: str) -> int:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return 1
    if lowered in ("0", "false", "no", "off", ""):
        return 0
    raise ValueError("yes or no")


PARSERS: dict[str, Callable[[str], Any]] = {
    "name": _name,
    "host": _host,
    "port": _int(1, 65535),
    "tls": _choice(TLS_MODES),
    "auth": _choice(AUTH_MODES),
    "username": _line,
    "secret": _secret,
    "oauth_token_cmd": _command,
    "envelope_from": _email,
    "rate": _rate,
    "max_connections": _int(1, 500),
    "max_messages_per_connection": _int(1),
    "max_per_hour": _optional(_int(1)),
    "max_per_day": _optional(_int(1)),
    "max_message_bytes": _optional(_int(1024)),
    "warmup": _warmup,
    "allow_plaintext_auth": _flag,
    "verify_tls": _flag,
}


def parse_field(name: str, text: str) -> tuple[Any, str | None]:
    """(value, None) or (None, error) for one typed value."""
    try:
        return PARSERS[name](text), None
    except ValueError as exc:
        return None, str(exc)


def cross_field_errors(values: dict[str, Any], *, has_secret: bool = False) -> dict[str, str]:
    """Rules between fields; ``has_secret`` when an edit keeps a stored secret."""
    errors: dict[str, str] = {}
    auth = values.get("auth") or "password"
    if auth != "none" and not values.get("username"):
        errors["username"] = f"required for auth = {auth}"
    if auth == "password" and not (values.get("secret") or has_secret):
        errors["secret"] = "required for auth = password (a password, env:NAME or file:PATH)"
    if auth == "xoauth2" and not values.get("oauth_token_cmd"):
        errors["oauth_token_cmd"] = "required for auth = xoauth2"
    if values.get("host") and (problem := plaintext_auth_problem(values)):
        errors["tls"] = problem
    return errors


def check_account(values: dict[str, Any], *, has_secret: bool = False) -> dict[str, Any]:
    """Values as given (already typed) checked field by field and across fields.

    Raises ``AccountValueError`` with every problem at once.
    """
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if name not in PARSERS:
            clean[name] = value
            continue
        text = "" if value is None else value
        if isinstance(text, bool):
            text = "yes" if text else "no"
        if name == "warmup" and isinstance(text, list):
            text = ",".join(str(cap) for cap in text)
        parsed, error = parse_field(name, str(text))
        if error:
            errors[name] = error
        else:
            clean[name] = parsed
    if not errors:
        errors.update(cross_field_errors(clean, has_secret=has_secret))
    if errors:
        raise AccountValueError(errors)
    return clean
