"""Everything that reaches a header goes through here.

Python 3.11.7 predates the CVE-2024-6923 fix: ``formataddr`` and the header
folder pass CR/LF through, so a subscriber named ``"Eve\\r\\nBcc: x@evil"``
could add a header. ``clean()`` strips CR, LF, NUL and the other control
characters from every value before it is folded; addresses are checked too.
"""

from __future__ import annotations

import re
from email.headerregistry import Address
from email.policy import SMTP, SMTPUTF8, EmailPolicy

import idna
from email_validator import EmailNotValidError, validate_email

from core.content.errors import CompileError, RenderError

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]+")
_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 ftext: printable ASCII but ':'
_ADDRESS_SPECIALS = re.compile(r'[\s<>(),;:"\[\]\\]')

# Headers Postroom writes itself; extra headers may not replace them.
RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "From",
        "To",
        "Cc",
        "Bcc",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
        "Reply-To",
        "Sender",
        "Return-Path",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "Feedback-ID",
        "DKIM-Signature",
        "Received",
    )
)


def clean(value: object) -> str:
    """``value`` as header-safe text: control characters (CR, LF, NUL...) become one space."""
    return _CONTROL.sub(" ", str(value)).strip()


def policy_for(smtputf8: bool) -> EmailPolicy:
    """policy.SMTP folds at 78 with RFC 2047 words; SMTPUTF8 keeps UTF-8 addresses raw."""
    return SMTPUTF8 if smtputf8 else SMTP


def fold(name: str, value: str, policy: EmailPolicy = SMTP) -> bytes:
    """One header line (folded, RFC 2047 encoded as needed, CRLF-terminated).

    Short plain-ASCII values are written directly: the header registry's
    parse-and-fold costs 40-60 µs, more than rendering both bodies.
    """
    value = clean(value)
    if value.isascii() and "=?" not in value and len(name) + len(value) <= 76:
        return f"{name}: {value}\r\n".encode("ascii")
    folded = policy.header_factory(name, value).fold(policy=policy)
    return folded.encode("utf-8" if policy.utf8 else "ascii")


def header_name(name: str) -> str:
    """An extra header's name, refused when malformed or one Postroom writes itself."""
    name = name.strip()
    if not _HEADER_NAME.match(name):
        raise CompileError(f"header name {name!r}: only printable ASCII without ':' or spaces")
    if name.lower() in RESERVED_HEADERS:
        raise CompileError(f"header {name!r} is written by Postroom and cannot be set")
    return name


def ascii_domain(domain: str) -> str:
    """The domain in its ASCII (IDNA 2008, punycode) form."""
    if domain.isascii():
        return domain.lower()
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise RenderError(
            f"domain {domain!r} is not a valid internationalised name: {exc}"
        ) from None


def recipient_address(email: str, *, smtputf8: bool) -> str:
    """The recipient as it goes into To and RCPT TO.

    A non-ASCII domain is sent as punycode (works everywhere); a non-ASCII
    local part needs a relay that advertises SMTPUTF8 (SES does not).
    Subscribers are validated on import; this is the cheap per-message guard.
    """
    email = str(email)
    local, at, domain = email.rpartition("@")
    if (
        not at
        or not local
        or not domain
        or _CONTROL.search(email)
        or _ADDRESS_SPECIALS.search(email)
    ):
        raise RenderError(f"{clean(email)!r} is not a valid address")
    if smtputf8:
        return email
    if not local.isascii():
        raise RenderError(f"{email}: a non-ASCII address needs a relay that supports SMTPUTF8")
    return f"{local}@{ascii_domain(domain)}"


def sender_address(value: str, what: str, *, smtputf8: bool) -> Address:
    """A From/Reply-To address, validated fully (it is checked once per campaign)."""
    value = clean(value)
    if not value:
        raise CompileError(f"{what} is required")
    try:
        checked = validate_email(
            value, check_deliverability=False, allow_smtputf8=smtputf8, test_environment=True
        )
    except EmailNotValidError as exc:
        raise CompileError(f"{what} {value!r}: {exc}") from None
    local, _, domain = checked.normalized.rpartition("@")
    if not smtputf8:
        domain = checked.ascii_domain
    return Address(addr_spec=f"{local}@{domain}")


def mailbox(name: str, address: Address) -> Address:
    """An address with a cleaned display name (quoted and encoded by the policy)."""
    return Address(display_name=clean(name), addr_spec=address.addr_spec)
