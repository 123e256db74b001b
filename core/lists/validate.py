"""Address syntax checks: email-validator's rules, without its per-address cost.

email-validator costs ~24 µs an address; a million-row import cannot pay
that. Almost every real address has a plain ASCII dot-atom local part, so
the local part is checked with email-validator's own dot-atom pattern and
the domain, which repeats across a list, is validated by email-validator
once and cached. Anything unusual (quotes, non-ASCII local part, a display
name) takes the full email-validator path. No network is used.

Addresses are normalised to one form everywhere (import, suppression,
lookup): local part lower-cased, domain lower-cased and IDNA-encoded
(ASCII, so relays without SMTPUTF8 such as SES can take it). Lower-casing
the local part is a choice: RFC 5321 lets it be case-sensitive, but no
mainstream mailbox provider treats it so, and mailing one person twice (or
missing a suppression by case) is the worse failure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

# email-validator's RFC 5322 dot-atom (rfc_constants.DOT_ATOM_TEXT), ASCII only.
_ATEXT = r"a-zA-Z0-9_!#\$%&\'\*\+\-/=\?\^`\{\|\}~"
_DOT_ATOM = re.compile("[" + _ATEXT + "]+(?:\\.[" + _ATEXT + "]+)*")
_MAX_ADDRESS = 254  # RFC 5321 path limit, in UTF-8 octets

# Addresses that reach a function or a team, not a person: mailing them
# draws complaints and spam traps. Flagged, not rejected.
ROLE_LOCAL_PARTS = frozenset(
    [
        "abuse",
        "admin",
        "administrator",
        "billing",
        "compliance",
        "contact",
        "do-not-reply",
        "donotreply",
        "help",
        "hostmaster",
        "info",
        "list",
        "list-request",
        "mailer-daemon",
        "marketing",
        "no-reply",
        "noc",
        "noreply",
        "office",
        "postmaster",
        "privacy",
        "root",
        "sales",
        "security",
        "spam",
        "support",
        "unsubscribe",
        "webmaster",
    ]
)


class AddressError(ValueError):
    """An address that fails the syntax check; the message is the reason."""


@dataclass(frozen=True, slots=True)
class Address:
    email: str  # normalised: local@ascii-domain, lower-case
    domain: str  # ASCII (IDNA) domain
    role: bool


class Validator:
    """Validates and normalises addresses, validating each distinct domain once.

    Not thread-safe (the cache is a plain dict); one per import.
    """

    def __init__(self) -> None:
        # domain as written -> (ASCII domain, "") or ("", reason it is invalid)
        self._domains: dict[str, tuple[str, str]] = {}

    def check(self, raw: str) -> Address:
        """The normalised address, or ``AddressError`` with the reason."""
        text = raw.strip()
        local, at, domain = text.rpartition("@")
        if at and local.isascii() and _DOT_ATOM.fullmatch(local):
            ascii_domain = self._domain(domain)
        else:
            local, ascii_domain = _full_check(text)
        local = local.lower()
        email = f"{local}@{ascii_domain}"
        if len(email) > _MAX_ADDRESS or len(text.encode()) > _MAX_ADDRESS:
            raise AddressError(f"address is longer than {_MAX_ADDRESS} characters")
        return Address(email, ascii_domain, local.partition("+")[0] in ROLE_LOCAL_PARTS)

    def _domain(self, domain: str) -> str:
        found = self._domains.get(domain)
        if found is None:
            try:
                found = (_full_check("x@" + domain)[1], "")
            except AddressError as exc:
                found = ("", str(exc))
            if len(self._domains) < 100_000:  # bounded: a list has few domains
                self._domains[domain] = found
        if found[1]:
            raise AddressError(found[1])
        return found[0]


def _full_check(text: str) -> tuple[str, str]:
    """email-validator's whole check: (local part, ASCII domain)."""
    if not text:
        raise AddressError("no address")
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise AddressError(str(exc)) from None
    return result.local_part, result.ascii_domain


def normalize(raw: str) -> str:
    """One address in Postroom's normal form (raises ``AddressError``)."""
    return Validator().check(raw).email
