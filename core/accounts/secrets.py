"""Account secrets, resolved only at the moment a connection needs them.

An account's ``secret`` column holds a *reference*:

* ``env:NAME`` — the environment variable NAME;
* ``file:PATH`` — the first line of PATH (``~`` expands), e.g. an app password
  file kept 0600 beside the config;
* ``db:PASSWORD`` — the password itself, in the database (which is 0600).

Errors name the reference (``env:SES_PASSWORD``), never the value; for a
``db:`` secret the reference is "the password stored in the database".
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

SCHEMES = ("db", "env", "file")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SecretError(Exception):
    """A secret that cannot be resolved; the message never contains the value."""


def describe(secret: str | None) -> str:
    """How a secret may be shown: the reference for env:/file:, never a db: value."""
    if not secret:
        return "none"
    scheme, _, rest = secret.partition(":")
    if scheme in ("env", "file") and rest:
        return secret
    if scheme == "db":
        return "stored in database"
    return "invalid reference"


def is_reference(secret: str | None) -> bool:
    """True for env:/file: references, which may be exported and shown."""
    return bool(secret) and secret.split(":", 1)[0] in ("env", "file")


def check_reference(secret: str) -> str | None:
    """A one-line problem with the *form* of ``secret`` (no lookup), or None."""
    scheme, sep, rest = secret.partition(":")
    if not sep or scheme not in SCHEMES:
        return "a secret must start with env:, file: or db:"
    if not rest:
        return f"{scheme}: needs a value after the colon"
    if scheme == "env" and not _ENV_NAME.fullmatch(rest):
        return "env: takes a variable name (letters, digits, _)"
    return None


def _account_label(account: dict[str, Any]) -> str:
    return f"account {account.get('name') or '?'}"


def resolve_password(account: dict[str, Any]) -> str | None:
    """The account's password, looked up now; None when it needs none.

    Raises ``SecretError`` naming the reference when it cannot be found.
    """
    if account.get("auth", "password") != "password":
        return None
    secret = account.get("secret")
    label = _account_label(account)
    if not secret:
        raise SecretError(f"{label}: no password set (use env:NAME, file:PATH or store one)")
    if problem := check_reference(secret):
        # The text may be a password typed without a prefix: never repeat it.
        raise SecretError(f"{label}: secret is not a valid reference: {problem}")
    scheme, _, rest = secret.partition(":")
    if scheme == "db":
        return rest
    if scheme == "env":
        value = os.environ.get(rest)
        if value is None:
            raise SecretError(f"{label}: environment variable {rest} (env:{rest}) is not set")
        if not value:
            raise SecretError(f"{label}: environment variable {rest} (env:{rest}) is empty")
        return value
    return _read_secret_file(label, rest)


def _read_secret_file(label: str, raw_path: str) -> str:
    path = Path(raw_path).expanduser()
    where = f"file:{raw_path}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SecretError(f"{label}: {where}: no such file") from None
    except IsADirectoryError:
        raise SecretError(f"{label}: {where}: is a directory") from None
    except PermissionError:
        raise SecretError(f"{label}: {where}: permission denied") from None
    except UnicodeDecodeError:
        raise SecretError(f"{label}: {where}: not UTF-8 text") from None
    except OSError as exc:
        raise SecretError(f"{label}: {where}: {exc.strerror}") from None
    value = text.splitlines()[0] if text else ""
    if not value:
        raise SecretError(f"{label}: {where}: file is empty")
    return value


def loose_secret_file_warning(secret: str | None) -> str | None:
    """A warning when a file: secret is readable by group or others."""
    if not secret or not secret.startswith("file:"):
        return None
    path = Path(secret[5:]).expanduser()
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return f"{path} is readable by others (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}"
    return None
