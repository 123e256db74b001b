"""Provider presets: host, port, TLS mode and default limits, each with its source.

A preset only fills in defaults; every limit stays editable. The source of
each limit is kept in the account's ``limits_source`` column (JSON: field ->
where the figure came from) so the operator can tell a published figure
from a Postroom guess from their own edit. Figures: shared/SENDING-RULES.md §2.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

LIMIT_FIELDS = (
    "rate",
    "max_connections",
    "max_messages_per_connection",
    "max_per_hour",
    "max_per_day",
    "max_message_bytes",
)
OPERATOR = "operator"
POSTROOM_DEFAULT = "Postroom default (no published figure)"
_SES_REGION = re.compile(r"[a-z]{2}(-gov)?-[a-z]+-\d")


class PresetError(ValueError):
    """An unknown preset or a bad preset option (region), in one line."""


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    host: str
    port: int
    tls: str
    auth: str
    limits: dict[str, float | int | None]
    sources: dict[str, str]
    note: str = ""
    options: tuple[str, ...] = field(default=())  # extra choices: "region", "sandbox"


_MB = 1024 * 1024

PRESETS: dict[str, Preset] = {
    "ses": Preset(
        key="ses",
        label="Amazon SES",
        host="email-smtp.{region}.amazonaws.com",
        port=587,
        tls="starttls",
        auth="password",
        limits={
            "rate": 14.0,
            "max_connections": 10,
            "max_messages_per_connection": 100,
            "max_per_hour": None,
            "max_per_day": 50_000,
            "max_message_bytes": 40 * _MB,
        },
        sources={
            "rate": "SES production: your account's sending rate (set yours from the SES console)",
            "max_per_day": "SES production: your account's 24-hour quota (counts recipients)",
            "max_message_bytes": "SES: 40 MB per message",
            "max_connections": POSTROOM_DEFAULT,
            "max_messages_per_connection": POSTROOM_DEFAULT,
        },
        note="SMTP credentials are not your AWS keys; SES does not offer SMTPUTF8.",
        options=("region", "sandbox"),
    ),
    "gmail": Preset(
        key="gmail",
        label="Gmail / Google Workspace",
        host="smtp.gmail.com",
        port=587,
        tls="starttls",
        auth="password",
        limits={
            "rate": 0.5,
            "max_connections": 2,
            "max_messages_per_connection": 50,
            "max_per_hour": None,
            "max_per_day": 2_000,
            "max_message_bytes": 25 * _MB,
        },
        sources={
            "max_per_day": "Google Workspace: 2,000 messages/day rolling (trial accounts 500)",
            "max_message_bytes": "Gmail: 25 MB per message",
            "rate": POSTROOM_DEFAULT,
            "max_connections": POSTROOM_DEFAULT,
            "max_messages_per_connection": "KumoMTA's Google default: 50 messages/connection",
        },
        note="Password logins need an app password; or use auth = xoauth2.",
    ),
    "office365": Preset(
        key="office365",
        label="Office 365",
        host="smtp.office365.com",
        port=587,
        tls="starttls",
        auth="xoauth2",
        limits={
            "rate": 0.5,
            "max_connections": 3,
            "max_messages_per_connection": 50,
            "max_per_hour": None,
            "max_per_day": 10_000,
            "max_message_bytes": 35 * _MB,
        },
        sources={
            "rate": "Exchange Online: 30 messages/minute",
            "max_connections": "Exchange Online: at most 3 concurrent connections per mailbox",
            "max_per_day": "Exchange Online: 10,000 recipients/day rolling",
            "max_message_bytes": "Exchange Online: 35 MB default message size",
            "max_messages_per_connection": POSTROOM_DEFAULT,
        },
        note="Basic-auth SMTP is being switched off: XOAUTH2 with oauth_token_cmd.",
    ),
    "outlook": Preset(
        key="outlook",
        label="Outlook.com (personal)",
        host="smtp-mail.outlook.com",
        port=587,
        tls="starttls",
        auth="xoauth2",
        limits={
            "rate": 0.1,
            "max_connections": 1,
            "max_messages_per_connection": 20,
            "max_per_hour": None,
            "max_per_day": 300,
            "max_message_bytes": 20 * _MB,
        },
        sources={
            "max_per_day": "Outlook.com: ~300/day (unofficial)",
            "rate": POSTROOM_DEFAULT,
            "max_connections": POSTROOM_DEFAULT,
            "max_messages_per_connection": POSTROOM_DEFAULT,
            "max_message_bytes": "Outlook.com: 20 MB per message",
        },
        note="Personal accounts are not meant for bulk mail.",
    ),
    "custom": Preset(
        key="custom",
        label="Custom / own MTA",
        host="",
        port=587,
        tls="starttls",
        auth="password",
        limits={
            "rate": 1.0,
            "max_connections": 2,
            "max_messages_per_connection": 100,
            "max_per_hour": None,
            "max_per_day": None,
            "max_message_bytes": None,
        },
        sources={},
        note="Set the limits your relay enforces.",
    ),
}

SES_SANDBOX = {
    "limits": {"rate": 1.0, "max_per_day": 200},
    "sources": {
        "rate": "SES sandbox: 1 message/second",
        "max_per_day": "SES sandbox: 200 messages/24 h (verified recipients only)",
    },
}


def preset(key: str) -> Preset:
    try:
        return PRESETS[key]
    except KeyError:
        raise PresetError(f"unknown preset {key!r} (one of: {', '.join(PRESETS)})") from None


def preset_values(key: str, *, region: str | None = None, sandbox: bool = False) -> dict[str, Any]:
    """Account columns a preset fills in, with ``limits_source`` as JSON."""
    chosen = preset(key)
    host = chosen.host
    limits = dict(chosen.limits)
    sources = {name: chosen.sources.get(name, POSTROOM_DEFAULT) for name in LIMIT_FIELDS}
    if key == "ses":
        region = (region or "").strip()
        if not _SES_REGION.fullmatch(region):
            raise PresetError("the SES preset needs --region, e.g. eu-west-1 or us-east-1")
        host = host.format(region=region)
        if sandbox:
            limits.update(SES_SANDBOX["limits"])
            sources.update(SES_SANDBOX["sources"])
    elif region or sandbox:
        raise PresetError(f"--region and --sandbox apply to the ses preset only, not {key}")
    if key == "custom":
        sources = {name: OPERATOR for name in LIMIT_FIELDS}
    return {
        "provider": key,
        "host": host,
        "port": chosen.port,
        "tls": chosen.tls,
        "auth": chosen.auth,
        **limits,
        "limits_source": json.dumps(sources),
    }


def limit_sources(account: dict[str, Any]) -> dict[str, str]:
    """Field -> source for an account (fields without a recorded source: operator)."""
    text = account.get("limits_source") or ""
    try:
        recorded = json.loads(text) if text else {}
    except json.JSONDecodeError:
        recorded = None
    if not isinstance(recorded, dict):  # free text (e.g. "sample") covers every limit
        return dict.fromkeys(LIMIT_FIELDS, text)
    return {name: str(recorded.get(name, OPERATOR)) for name in LIMIT_FIELDS}


def mark_operator_edits(account: dict[str, Any], changed: dict[str, Any]) -> str:
    """``limits_source`` after the operator changed some limits: those become 'operator'."""
    sources = limit_sources(account)
    for name in LIMIT_FIELDS:
        if name in changed and changed[name] != account.get(name):
            sources[name] = OPERATOR
    return json.dumps(sources)
