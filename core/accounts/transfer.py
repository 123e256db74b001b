"""Accounts to and from TOML (``[[account]]`` tables), secrets never in clear.

Export writes a secret only as the reference it was given (``env:NAME``,
``file:PATH``); a password stored in the database is left out, with a
comment saying so. Import refuses passwords written in clear, checks every
account before writing any, and writes them all in one transaction.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from core.accounts.presets import LIMIT_FIELDS, limit_sources
from core.accounts.secrets import is_reference
from core.accounts.validation import AccountValueError, check_account
from core.store.accounts import ACCOUNT_FIELDS

# Written in this order; None values are left out (TOML has no null).
EXPORT_FIELDS = tuple(f for f in ACCOUNT_FIELDS if f not in ("limits_source", "warmup_started_at"))
_FLAGS = ("allow_plaintext_auth", "verify_tls")

HEADER = """\
# Postroom sending accounts. Import with: postroom accounts import FILE
# Secrets appear only as references (env:NAME, file:PATH); passwords kept in
# the database are never exported.
"""


class TransferError(Exception):
    """A bad accounts file, as 'file: where: problem' (nothing was written)."""


def _export_one(account: dict[str, Any]) -> str:
    data: dict[str, Any] = {}
    for name in EXPORT_FIELDS:
        value = account.get(name)
        if value is None or name == "secret":
            continue
        if name in _FLAGS:
            value = bool(value)
        elif name == "warmup":
            value = json.loads(value)
        data[name] = value
    secret = account.get("secret")
    comment = ""
    if is_reference(secret):
        data["secret"] = secret
    elif secret:
        comment = (
            "# secret: stored in the database, not exported."
            ' Set secret = "env:NAME" or "file:PATH".\n'
        )
    data["limit_sources"] = limit_sources(account)
    text = tomli_w.dumps({"account": [data]})
    header, _, rest = text.partition("\n")
    return f"{header}\n{comment}{rest}"


def export_accounts(accounts: list[dict[str, Any]]) -> str:
    """TOML text for ``accounts`` (rows from the store)."""
    return HEADER + "".join(f"\n{_export_one(account)}" for account in accounts)


def parse_accounts(text: str, source: str | Path) -> list[dict[str, Any]]:
    """Checked account values from TOML text; ``TransferError`` names file and account."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TransferError(f"{source}: {exc}") from None
    tables = data.get("account", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise TransferError(f"{source}: expected [[account]] tables")
    unknown_top = set(data) - {"account"}
    if unknown_top:
        raise TransferError(f"{source}: unknown top-level key(s): {', '.join(sorted(unknown_top))}")
    parsed = []
    seen: set[str] = set()
    for number, table in enumerate(tables, start=1):
        where = f"{source}: account #{number} ({table.get('name', 'no name')})"
        values = dict(table)
        sources = values.pop("limit_sources", None)
        unknown = set(values) - set(EXPORT_FIELDS)
        if unknown:
            raise TransferError(f"{where}: unknown key(s): {', '.join(sorted(unknown))}")
        for required in ("name", "host", "port"):
            if required not in values:
                raise TransferError(f"{where}: {required} is required")
        secret = values.get("secret")
        if secret is not None and not is_reference(secret):
            raise TransferError(
                f"{where}: secret: only env:NAME or file:PATH references are accepted in files"
            )
        try:
            # A missing secret is allowed: exports leave stored passwords out.
            clean = check_account(values, has_secret=True)
        except AccountValueError as exc:
            raise TransferError(f"{where}: {exc}") from None
        if clean["name"] in seen:
            raise TransferError(f"{where}: the name appears twice in the file")
        seen.add(clean["name"])
        if isinstance(sources, dict):
            clean["limits_source"] = json.dumps(
                {k: str(v) for k, v in sources.items() if k in LIMIT_FIELDS}
            )
        parsed.append(clean)
    return parsed


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    without_secret: list[str] = field(default_factory=list)


def import_accounts(
    store: Any, accounts: list[dict[str, Any]], *, replace: bool = False, user: str = "postroom"
) -> ImportResult:
    """Create (or with ``replace``, update) accounts in one transaction."""
    result = ImportResult()
    existing = {a["name"]: a for a in store.accounts.all()}
    clashes = [a["name"] for a in accounts if a["name"] in existing]
    if clashes and not replace:
        raise TransferError(
            f"account(s) already exist: {', '.join(clashes)} (use --replace to update them)"
        )
    with store.db.transaction():
        for values in accounts:
            name = values["name"]
            current = existing.get(name)
            if current is not None:
                store.accounts.update(current["id"], **values)
                result.updated.append(name)
            else:
                store.accounts.create(**values)
                result.created.append(name)
            secret = values.get("secret") or (current or {}).get("secret")
            if (values.get("auth") or "password") == "password" and not secret:
                result.without_secret.append(name)
            store.audit.record(user, "account.import", name)
    return result
