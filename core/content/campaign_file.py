"""Campaigns as TOML files, so they can be kept in version control.

```toml
name = "welcome"
list = "demo"                 # or: segment = "NAME"
from_name = "Postroom Demo"
from_email = "news@example.com"
reply_to = "support@example.com"
subject = "Welcome aboard, {{ first_name | default('there') }}"
text_file = "welcome.txt"     # relative to this file; or inline: text = "..."
html_file = "welcome.html"    # or inline: html = "..."
attachments = ["menu.pdf"]    # relative to this file
feedback_id = "welcome:demo"
rate = 5.0                    # campaign cap, messages/second
start = 2026-05-01T09:00:00Z  # optional start time
[headers]
X-Campaign = "welcome"
[accounts]                    # the pool: account name = weight
demo-sink = 1
```
A file is checked completely (templates compile, From is valid, every name
exists) before anything is written, and written in one transaction.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from core.content.errors import ContentError
from core.content.headers import header_name, sender_address
from core.content.templates import CampaignTemplates
from core.store import Store, StoreError

KEYS = {
    "name",
    "list",
    "segment",
    "from_name",
    "from_email",
    "reply_to",
    "subject",
    "text",
    "text_file",
    "html",
    "html_file",
    "attachments",
    "headers",
    "feedback_id",
    "rate",
    "start",
    "accounts",
}


class CampaignFileError(ContentError):
    """A problem in a campaign file, worded 'FILE: KEY: problem'."""


def _string(path: Path, data: dict[str, Any], key: str, default: str = "") -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise CampaignFileError(f"{path}: {key}: expected a string, got {value!r}")
    return value


def _body(path: Path, data: dict[str, Any], key: str) -> str:
    if key in data and f"{key}_file" in data:
        raise CampaignFileError(f"{path}: {key}: give {key} or {key}_file, not both")
    if f"{key}_file" not in data:
        return _string(path, data, key)
    name = _string(path, data, f"{key}_file")
    try:
        return (path.parent / name).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise CampaignFileError(f"{path}: {key}_file: {name}: {reason}") from None


def _start(path: Path, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.timestamp()  # naive means local time, as the operator wrote it
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise CampaignFileError(f"{path}: start: expected a date-time like 2026-05-01T09:00:00Z")


def read_campaign_file(path: Path, store: Store) -> tuple[dict[str, Any], dict[int, int]]:
    """Campaign fields and the account pool {account id: weight}, fully checked."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise CampaignFileError(f"{path}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CampaignFileError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise CampaignFileError(
            f"{path}: {unknown[0]}: unknown key (known: {', '.join(sorted(KEYS))})"
        )
    name = _string(path, data, "name").strip()
    if not name:
        raise CampaignFileError(f"{path}: name: required")
    values: dict[str, Any] = {
        "name": name,
        "from_name": _string(path, data, "from_name"),
        "from_email": _string(path, data, "from_email"),
        "reply_to": _string(path, data, "reply_to"),
        "subject": _string(path, data, "subject"),
        "text_body": _body(path, data, "text"),
        "html_body": _body(path, data, "html"),
        "feedback_id": _string(path, data, "feedback_id"),
        "scheduled_at": _start(path, data.get("start")),
        "list_id": None,
        "segment_id": None,
    }
    try:
        CampaignTemplates.compile(values["subject"], values["text_body"], values["html_body"])
        sender_address(values["from_email"], "from_email", smtputf8=True)
        if values["reply_to"].strip():
            sender_address(values["reply_to"], "reply_to", smtputf8=True)
        headers = data.get("headers", {})
        if not isinstance(headers, dict):
            raise CampaignFileError("headers: expected a table")
        values["headers"] = {header_name(k): str(v) for k, v in headers.items()}
    except ContentError as exc:
        raise CampaignFileError(f"{path}: {exc}") from None
    rate = data.get("rate")
    if rate is not None and (not isinstance(rate, int | float) or rate <= 0):
        raise CampaignFileError(f"{path}: rate: expected a positive number, got {rate!r}")
    values["rate"] = None if rate is None else float(rate)
    attachments = data.get("attachments", [])
    if not isinstance(attachments, list) or not all(isinstance(a, str) for a in attachments):
        raise CampaignFileError(f"{path}: attachments: expected a list of file names")
    values["attachments"] = []
    for entry in attachments:
        file = (path.parent / entry).expanduser().resolve()
        if not file.is_file():
            raise CampaignFileError(f"{path}: attachments: {entry}: no such file")
        values["attachments"].append(str(file))

    if ("list" in data) == ("segment" in data):
        raise CampaignFileError(f"{path}: list: give exactly one of list or segment")
    try:
        if "list" in data:
            values["list_id"] = store.lists.require(_string(path, data, "list"))["id"]
        else:
            segment = store.segments.by_name(_string(path, data, "segment"))
            if segment is None:
                raise StoreError(f"no segment named {data['segment']!r}")
            values["segment_id"] = segment["id"]
        pool = data.get("accounts", {})
        if not isinstance(pool, dict) or not pool:
            raise CampaignFileError(f"{path}: accounts: give at least one, as name = weight")
        weights: dict[int, int] = {}
        for account, weight in pool.items():
            if not isinstance(weight, int) or isinstance(weight, bool) or weight <= 0:
                raise CampaignFileError(
                    f"{path}: accounts: {account}: weight must be a positive integer"
                )
            weights[store.accounts.require(account)["id"]] = weight
    except StoreError as exc:
        raise CampaignFileError(f"{path}: {exc}") from None
    return values, weights


def create_from_file(store: Store, path: Path, *, replace: bool = False) -> int:
    """Create the campaign in ``path`` (or, with ``replace``, update that draft)."""
    values, weights = read_campaign_file(path, store)
    existing = store.campaigns.by_name(values["name"])
    if existing and not replace:
        raise CampaignFileError(
            f"{path}: a campaign named {values['name']!r} already exists (use --replace)"
        )
    if existing and existing["state"] not in ("draft", "scheduled"):
        raise CampaignFileError(
            f"{path}: campaign {values['name']!r} is {existing['state']}; only drafts can be replaced"
        )
    with store.db.transaction():
        if existing:
            campaign_id = existing["id"]
            store.campaigns.update(campaign_id, **values)
        else:
            campaign_id = store.campaigns.create(**values)
        store.campaigns.set_accounts(campaign_id, weights)
    return campaign_id


def export_campaign(store: Store, name: str) -> str:
    """The campaign as a TOML file that ``create_from_file`` reads back identically."""
    campaign = store.campaigns.require(name)
    names = store.campaigns.audience_names(campaign["id"])
    data: dict[str, Any] = {"name": campaign["name"]}
    if names["segment_name"]:
        data["segment"] = names["segment_name"]
    elif names["list_name"]:
        data["list"] = names["list_name"]
    for key in ("from_name", "from_email", "reply_to", "subject"):
        data[key] = campaign[key]
    data["text"] = campaign["text_body"]
    data["html"] = campaign["html_body"]
    if campaign["attachments"]:
        data["attachments"] = list(campaign["attachments"])
    if campaign["feedback_id"]:
        data["feedback_id"] = campaign["feedback_id"]
    if campaign["rate"] is not None:
        data["rate"] = campaign["rate"]
    if campaign["scheduled_at"] is not None:
        data["start"] = dt.datetime.fromtimestamp(campaign["scheduled_at"], dt.UTC)
    if campaign["headers"]:
        data["headers"] = dict(campaign["headers"])
    data["accounts"] = {a["name"]: a["weight"] for a in store.campaigns.accounts(campaign["id"])}
    header = f"# Campaign {campaign['name']!r}, exported by Postroom.\n"
    return header + tomli_w.dumps(data, multiline_strings=True)
