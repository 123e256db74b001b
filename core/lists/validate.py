"""Address syntax checks: email-validator's rules, without its per-address cost.

email-validator costs ~24 µs an address; a million-row import cannot pay
that. Almost every real address has a plain ASCII dot-atom local part, so
the local part is checked with email-validator's own dot-atom pattern and
the domain, which repeats across a list, is validated by email-validator
once and cached. Anything unusual (quotes, non-ASCII local part, a display
name) takes the full email-validator path. No network is used.

Addresses are normalised to one form everywhere (import, suppression,
lookup): local part lower-cased, domain lower-cased and IDNA/UTS-46
normalised in its Unicode form (``xn--mnchen-3ya.example`` and
``MÜNCHEN.example`` both become ``münchen.example``), which is what
operators type and read; the message builder turns it into the ASCII
(punycode) form for RCPT TO when a relay has no SMTPUTF8. Lower-casing
the local part is a choice: RFC 5321 lets it be case-sensitive, but no
mainstream mailbox provider treats it so, and mailing one person twice (or
missing a suppression by case) is the worse failure.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import idna
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
    email: str  # normalised: local@domain, lower-case, Unicode domain
    domain: str  # the normalised (Unicode) domain
    role: bool


class Validator:
    """Validates and normalises addresses, validating each distinct domain once.

    Not thread-safe (the cache is a plain dict); one per import.
    """

    def __init__(self) -> None:
        # domain as written -> (normal domain, its ASCII length, reason it is invalid or "")
        self._domains: dict[str, tuple[str, int, str]] = {}

    def check(self, raw: str) -> Address:
        """The normalised address, or ``AddressError`` with the reason."""
        text = raw.strip()
        local, at, domain = text.rpartition("@")
        if at and local.isascii() and _DOT_ATOM.fullmatch(local):
            domain, ascii_length = self._domain(domain)
        else:
            local, domain, ascii_length = _full_check(text)
        local = local.lower()
        email = f"{local}@{domain}"
        longest = max(len(email.encode()), len(text.encode()), len(local) + 1 + ascii_length)
        if longest > _MAX_ADDRESS:
            raise AddressError(f"address is longer than {_MAX_ADDRESS} characters")
        return Address(email, domain, local.partition("+")[0] in ROLE_LOCAL_PARTS)

    def _domain(self, domain: str) -> tuple[str, int]:
        found = self._domains.get(domain)
        if found is None:
            try:
                found = (*_full_check("x@" + domain)[1:], "")
            except AddressError as exc:
                found = ("", 0, str(exc))
            if len(self._domains) < 100_000:  # bounded: a list has few domains
                self._domains[domain] = found
        if found[2]:
            raise AddressError(found[2])
        return found[0], found[1]


def _full_check(text: str) -> tuple[str, str, int]:
    """email-validator's whole check: (local part, domain, length of its ASCII form)."""
    if not text:
        raise AddressError("no address")
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise AddressError(str(exc)) from None
    return result.local_part, result.domain, len(result.ascii_domain)


def normalize(raw: str) -> str:
    """One address in Postroom's normal form (raises ``AddressError``)."""
    return Validator().check(raw).email


@dataclass
class MxChecker:
    """The optional MX check of an import's distinct domains (not per row).

    Called with the domains, returns the ones that cannot receive mail (no
    MX and no A/AAAA, NXDOMAIN, or a null MX). Lookups run concurrently,
    through ``core.dnscheck`` (cached per TTL); a domain whose DNS failed is
    kept in ``failed`` and never called undeliverable.
    """

    resolver: object | None = None  # core.dnscheck.Resolver; None = the default
    concurrency: int = 32
    failed: list[str] = field(default_factory=list)

    def __call__(self, domains: Iterable[str]) -> set[str]:
        return asyncio.run(self._check(list(domains)))

    async def _check(self, domains: list[str]) -> set[str]:
        from core.dnscheck import mx_status  # dnspython loads only when asked

        gate = asyncio.Semaphore(self.concurrency)

        async def one(domain: str):  # noqa: ANN202
            async with gate:
                # DNS names go out in their ASCII (punycode) form.
                return await mx_status(idna.encode(domain).decode("ascii"), self.resolver)

        results = await asyncio.gather(*(one(d) for d in domains))
        self.failed = sorted(
            d for d, r in zip(domains, results, strict=True) if r.deliverable is None
        )
        return {d for d, r in zip(domains, results, strict=True) if r.deliverable is False}
