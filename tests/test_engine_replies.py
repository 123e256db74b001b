"""Reading SMTP replies (SENDING-RULES.md §3) and retry timing: table-driven."""

from __future__ import annotations

import random

import pytest

from core.config import Config
from core.engine.backoff import gives_up, retry_delay
from core.engine.replies import Kind, classify, named_wait

REPLIES = [
    (250, "2.0.0 OK queued as 123", Kind.SENT),
    (550, "5.1.1 The email account that you tried to reach does not exist", Kind.BOUNCED),
    (550, "5.1.10 RESOLVER.ADR.RecipientNotFound", Kind.BOUNCED),
    (553, "5.1.3 Bad recipient address syntax", Kind.BOUNCED),
    (550, "5.2.1 The email account is disabled", Kind.BOUNCED),
    (550, "Requested action not taken: mailbox unavailable", Kind.BOUNCED),
    (552, "5.2.2 Mailbox full", Kind.DEFERRED),
    (552, "5.3.4 Message size exceeds fixed limit", Kind.FAILED),
    (550, "5.7.1 Message rejected as spam", Kind.FAILED),
    (
        550,
        "5.7.515 Access denied, sending domain does not meet the required authentication level",
        Kind.FAILED,
    ),
    (554, "5.7.26 Unauthenticated email is not accepted", Kind.FAILED),
    (554, "Transaction failed", Kind.FAILED),
    (452, "4.5.3 Too many recipients", Kind.DEFERRED),
    (451, "4.3.0 Temporary server error. Please try again later", Kind.DEFERRED),
    (450, "4.2.0 Mailbox busy", Kind.DEFERRED),
    (421, "4.4.2 Connection dropped due to timeout", Kind.RECONNECT),
    (421, "4.7.28 Our system has detected an unusual rate of unsolicited mail", Kind.THROTTLED),
    (
        421,
        "RP-001 (COL004-MC1F27) Unfortunately, some messages from 1.2.3.4 weren't sent",
        Kind.THROTTLED,
    ),
    (450, "4.2.1 The user you are trying to contact is receiving mail too quickly", Kind.THROTTLED),
    (454, "Throttling failure: Maximum sending rate exceeded.", Kind.THROTTLED),
    (432, "4.3.2 Concurrent connections limit exceeded", Kind.THROTTLED),
    (421, "4.7.0 [TSS04] Messages from 1.2.3.4 temporarily deferred", Kind.THROTTLED),
    (454, "Throttling failure: Daily message quota exceeded.", Kind.THROTTLED),
    (550, "5.4.5 Daily user sending limit exceeded", Kind.ACCOUNT_QUOTA),
    (
        554,
        "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException",
        Kind.ACCOUNT_QUOTA,
    ),
    (550, "5.2.252 SendAsDenied; over the sending limit", Kind.ACCOUNT_QUOTA),
    (535, "5.7.8 Username and Password not accepted", Kind.ACCOUNT_FAULT),
    (534, "5.7.9 Application-specific password required", Kind.ACCOUNT_FAULT),
    (530, "5.7.0 Authentication required", Kind.ACCOUNT_FAULT),
    (550, "5.7.30 Basic authentication is not supported for Client Submission", Kind.ACCOUNT_FAULT),
]


@pytest.mark.parametrize(("code", "text", "kind"), REPLIES)
def test_each_reply_is_read_as_the_sending_rules_say(code, text, kind):
    assert classify(code, text).kind is kind


def test_enhanced_code_and_alerts_are_kept_for_the_operator():
    verdict = classify(550, "5.7.515 Access denied")
    assert verdict.enhanced == "5.7.515"
    assert "DMARC" in verdict.alert
    assert classify(552, "5.3.4 too big").alert.startswith("message too big")
    assert classify(550, "5.1.1 no such user").summary == "550 5.1.1 no such user"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("4.7.0 Try again in 60 seconds", 60),
        ("451 please retry after 5 minutes", 300),
        ("Greylisted, wait 2 mins", 120),
        ("come back in 1 hour", None),
        ("Temporary failure", None),
    ],
)
def test_a_named_wait_is_read(text, seconds):
    assert named_wait(text) == seconds


def config(**engine) -> Config:
    cfg = Config()
    cfg.values["engine"].update(engine)
    return cfg


def test_backoff_doubles_from_the_initial_wait_up_to_the_cap_within_jitter():
    cfg = config(retry_jitter=0.2)
    rng = random.Random(7)
    for attempts, base in [(1, 300), (2, 600), (3, 1200), (4, 2400), (5, 4000), (9, 4000)]:
        delay = retry_delay(attempts, cfg, None, rng)
        assert base * 0.8 <= delay <= base * 1.2


def test_backoff_without_jitter_is_exact_and_honours_a_longer_named_wait():
    cfg = config(retry_jitter=0.0, retry_initial_seconds=60, retry_multiplier=3.0)
    assert retry_delay(1, cfg) == 60
    assert retry_delay(2, cfg) == 180
    assert retry_delay(1, cfg, named_wait=900) == 900
    assert retry_delay(2, cfg, named_wait=10) == 180


def test_giving_up_counts_from_the_first_attempt():
    cfg = config(give_up_after_seconds=3600)
    assert not gives_up(None, 10_000, cfg)
    assert not gives_up(1000, 4599, cfg)
    assert gives_up(1000, 4600, cfg)
