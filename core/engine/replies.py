"""Reading an SMTP reply: what the engine does next (SENDING-RULES.md §3).

Pure functions over (code, text); no I/O. The tables below are the policy:
change them here and in the table-driven tests together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"  # transient: retry later with backoff
    RECONNECT = "reconnect"  # the server closed the session: retry soon on a new one
    THROTTLED = "throttled"  # sending too fast: slow the account, requeue, no attempt counted
    BOUNCED = "bounced"  # permanent for this address: suppress
    FAILED = "failed"  # permanent for this message, address kept
    ACCOUNT_FAULT = "account_fault"  # auth/TLS: pause the account, requeue the message
    ACCOUNT_QUOTA = "account_quota"  # the relay's own daily quota: pause the account, requeue
    UNKNOWN = "unknown"  # sent, reply lost: may have been accepted; the operator decides


@dataclass(frozen=True)
class Verdict:
    kind: Kind
    code: int | None
    enhanced: str | None
    text: str
    wait_seconds: float | None = None  # a wait the reply names
    alert: str | None = None  # a campaign-level problem worth telling the operator

    @property
    def summary(self) -> str:
        repeats = self.enhanced and self.text.startswith(self.enhanced)
        parts = [
            str(self.code) if self.code else "",
            "" if repeats else self.enhanced or "",
            self.text,
        ]
        return " ".join(p for p in parts if p).strip()


_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_WAIT = re.compile(
    r"(?:try again|retry|wait|again in|after)\D{0,20}?(\d+)\s*(seconds?|secs?|s\b|minutes?|mins?|hours?)",
    re.IGNORECASE,
)
_UNIT = {"s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "min": 60, "mins": 60}

# Throttle signals: (code or None for any, enhanced or None, text fragment or None).
THROTTLE_SIGNALS: tuple[tuple[int | None, str | None, str | None], ...] = (
    (421, "4.7.28", None),  # Gmail: unusual rate
    (421, None, "RP-00"),  # Outlook.com: rate limited (RP-001..)
    (450, "4.2.1", None),  # Gmail: user receiving/sending too fast
    (454, None, "throttl"),  # SES: Throttling failure: Maximum sending rate exceeded
    (432, "4.3.2", None),  # Office 365: concurrent connections limit
    (None, None, "TSS04"),  # Yahoo: temporarily deferred, too fast
    (421, None, "too many"),  # "too many messages/connections"
)

# Relay quota exhausted for the account (not the recipient's fault).
ACCOUNT_QUOTA_SIGNALS: tuple[tuple[int | None, str | None, str | None], ...] = (
    (550, "5.4.5", None),  # Gmail: daily user sending limit exceeded
    (None, None, "SubmissionQuotaExceeded"),  # Office 365
    (550, "5.2.251", None),
    (550, "5.2.252", None),
    (550, "5.2.253", None),
    (550, "5.2.254", None),
    (550, "5.2.255", None),
    (454, None, "quota exceeded"),  # SES: Daily message quota exceeded
)

AUTH_FAULT_CODES = (530, 534, 535)
# 5.7.30 (Office 365: basic auth disabled) and 5.7.8/5.7.0 with an auth text are account faults too.
AUTH_FAULT_ENHANCED = ("5.7.30", "5.7.8", "5.7.9")

HARD_BOUNCE_SUBJECTS = ("1.1", "1.2", "1.3", "2.1", "1.10")
BARE_HARD_BOUNCE_CODES = (550, 551, 553)  # mailbox unavailable / not local / bad name


def enhanced_code(text: str) -> str | None:
    match = _ENHANCED.search(text or "")
    return ".".join(match.groups()) if match else None


def named_wait(text: str) -> float | None:
    """A wait the reply asks for ("try again in 60 seconds"), in seconds."""
    match = _WAIT.search(text or "")
    if not match:
        return None
    number, unit = int(match.group(1)), match.group(2).lower()
    if unit.startswith("h"):
        return number * 3600.0
    return float(number * _UNIT.get(unit, 60 if unit.startswith("m") else 1))


def _matches(
    signals: tuple[tuple[int | None, str | None, str | None], ...],
    code: int,
    enhanced: str | None,
    text: str,
) -> bool:
    lowered = text.lower()
    for want_code, want_enhanced, fragment in signals:
        if want_code is not None and want_code != code:
            continue
        if want_enhanced is not None and want_enhanced != enhanced:
            continue
        if fragment is not None and fragment.lower() not in lowered:
            continue
        return True
    return False


def classify(code: int, text: str) -> Verdict:
    """What a reply to MAIL/RCPT/DATA means for this message and this account."""
    text = (text or "").strip()
    enhanced = enhanced_code(text)
    wait = named_wait(text)

    def verdict(kind: Kind, alert: str | None = None) -> Verdict:
        return Verdict(kind, code, enhanced, text, wait, alert)

    if 200 <= code < 300:
        return verdict(Kind.SENT)
    if _matches(THROTTLE_SIGNALS, code, enhanced, text):
        return verdict(Kind.THROTTLED)
    if _matches(ACCOUNT_QUOTA_SIGNALS, code, enhanced, text):
        return verdict(Kind.ACCOUNT_QUOTA)
    if code in AUTH_FAULT_CODES or enhanced in AUTH_FAULT_ENHANCED:
        return verdict(Kind.ACCOUNT_FAULT)
    subject = enhanced.split(".", 1)[1] if enhanced else None
    if 400 <= code < 500:
        return verdict(Kind.RECONNECT if code == 421 else Kind.DEFERRED)
    if code < 500:
        return verdict(Kind.DEFERRED)
    # Permanent (5xx) from here on.
    if subject == "2.2":  # mailbox full: soft even when 5xx
        return verdict(Kind.DEFERRED)
    if subject == "5.3":  # too many recipients: we send one, so retry later
        return verdict(Kind.DEFERRED)
    if subject == "3.4":
        return verdict(Kind.FAILED, "message too big for the receiving server")
    if subject and (subject.startswith("7.") or enhanced == "5.7.515"):
        return verdict(
            Kind.FAILED,
            f"policy/authentication rejection ({enhanced}): check SPF, DKIM, DMARC alignment",
        )
    if subject in HARD_BOUNCE_SUBJECTS:
        return verdict(Kind.BOUNCED)
    if subject is None and code in BARE_HARD_BOUNCE_CODES:
        return verdict(Kind.BOUNCED)
    return verdict(Kind.FAILED)


def classify_network_error(error: BaseException) -> Verdict:
    """A connection reset, a close or a timeout in the middle of a transaction."""
    text = str(error) or type(error).__name__
    return Verdict(Kind.DEFERRED, None, None, f"{type(error).__name__}: {text}")
