"""What one subscriber will receive: the exact bytes, and a readable view of them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from email import message_from_bytes, policy
from typing import Any

from core.content.build import CompiledCampaign
from core.content.errors import ContentError, RenderError
from core.content.templates import html_to_text
from core.lists.validate import AddressError, normalize


@dataclass(frozen=True)
class Preview:
    email: str
    subscriber_id: int
    data: bytes  # the message exactly as it would be sent (empty on error)
    headers: list[tuple[str, str]]
    text: str
    html_text: str | None  # the HTML part rendered as text
    error: str | None = None


def recipient_of(row: dict[str, Any], list_id: int | None) -> dict[str, Any]:
    """The engine's recipient dict from a subscriber row."""
    fields = row["fields"]
    return {
        "subscriber_id": row["id"],
        "email": row["email"],
        "fields": json.loads(fields) if isinstance(fields, str) else fields,
        "list_id": list_id,
    }


def _decode(part: Any) -> str:
    return part.get_content().replace("\r\n", "\n")


def preview_message(compiled: CompiledCampaign, row: dict[str, Any]) -> Preview:
    """Render for the subscriber ``row`` and read the result back as a client would."""
    try:
        rendered = compiled.render(recipient_of(row, compiled.list_id))
    except RenderError as exc:
        return Preview(row["email"], row["id"], b"", [], "", None, error=str(exc))
    msg = message_from_bytes(rendered.data, policy=policy.default)
    text_part = msg.get_body(("plain",))
    html_part = msg.get_body(("html",))
    return Preview(
        email=row["email"],
        subscriber_id=row["id"],
        data=rendered.data,
        headers=[(name, str(value)) for name, value in msg.items()],
        text=_decode(text_part) if text_part is not None else "",
        html_text=html_to_text(_decode(html_part)) if html_part is not None else None,
    )


def pick_subscriber(store: Any, list_id: int | None, *, email: str | None = None) -> dict[str, Any]:
    """The list member with ``email``, or the first member."""
    if list_id is None:
        raise ContentError("the campaign has no list or segment")
    if email:
        # The list stores addresses normalised (IDNA domain, lower-cased); so
        # must the lookup, or "ada@münchen.example" would never be found.
        try:
            email = normalize(email)
        except AddressError as exc:
            raise ContentError(f"{email}: {exc}") from None
        row = store.campaigns.audience_member(list_id, email)
        if row is None:
            raise ContentError(f"{email} is not a member of the campaign's list")
        return row
    row = store.campaigns.audience_neighbour(list_id, 0, 1)
    if row is None:
        raise ContentError("the campaign's list has no members")
    return row


def preview_text(preview: Preview) -> str:
    """The preview as plain text: headers, the text part, the HTML part as text."""
    if preview.error:
        return f"{preview.email}: cannot render: {preview.error}\n"
    lines = [f"{name}: {value}" for name, value in preview.headers]
    lines += ["", "──── text part ────", preview.text.rstrip("\n")]
    if preview.html_text is not None:
        lines += ["", "──── HTML part, as text ────", preview.html_text.rstrip("\n")]
    return "\n".join(lines) + "\n"
