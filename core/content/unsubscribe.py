"""Unsubscribe tokens: the recipient and list, with an HMAC nobody else can make.

A token is ``base64url(list:email) . base64url(HMAC-SHA256(secret, ...)[:16])``.
RFC 8058 asks for a component that is hard to forge; 128 bits of HMAC under
a 256-bit secret kept in the database is that. The email is encoded, not
encrypted, so the server can act without a lookup; treat the URLs as personal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from urllib.parse import quote

from core.store import StoreError

SECRET_SETTING = "unsubscribe_secret"
_CONTEXT = b"postroom-unsubscribe\0"
_MAC_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _payload(email: str, list_id: int | None) -> bytes:
    return f"{'' if list_id is None else int(list_id)}:{email}".encode()


def unsubscribe_token(secret: bytes, email: str, list_id: int | None) -> str:
    payload = _payload(email, list_id)
    mac = hmac.new(secret, _CONTEXT + payload, hashlib.sha256).digest()[:_MAC_BYTES]
    return f"{_b64(payload)}.{_b64(mac)}"


def parse_token(secret: bytes, token: str) -> tuple[str, int | None] | None:
    """(email, list_id) when the token is authentic, else None."""
    body, dot, tag = token.partition(".")
    if not dot or len(token) > 2048:
        return None
    try:
        payload, mac = _unb64(body), _unb64(tag)
        expected = hmac.new(secret, _CONTEXT + payload, hashlib.sha256).digest()[:_MAC_BYTES]
        if not hmac.compare_digest(mac, expected):
            return None
        list_part, _, email = payload.decode().partition(":")
        return email, int(list_part) if list_part else None
    except (binascii.Error, ValueError):
        return None


def unsubscribe_secret(store) -> bytes:  # noqa: ANN001 - core.store.Store
    """The secret the tokens are signed with (made with the database, migration 3)."""
    value = store.settings.get(SECRET_SETTING)
    if value is None:
        raise StoreError(f"{store.path}: the unsubscribe secret is missing from its settings")
    return bytes.fromhex(value)


def unsubscribe_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/{token}"


def unsubscribe_mailto(address: str, token: str) -> str:
    """mailto: URI the reply processing recognises by its subject."""
    return f"mailto:{address}?subject={quote('unsubscribe ' + token)}"
