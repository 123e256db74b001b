"""Header injection: CR, LF and NUL through every value that reaches a header.

Python 3.11.7 predates the CVE-2024-6923 fix, so this is Postroom's own guard.
"""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from core.config import Config
from core.content import RenderError, compile_campaign
from tests.support.campaigns import make_campaign, recipient

EVIL = "Eve\r\nBcc: x@evil\r\n\r\nbody"
VARIANTS = [EVIL, "Eve\nBcc: x@evil", "Eve\rBcc: x@evil", "Eve\x00\r\nBcc: x@evil"]

EXPECTED_HEADERS = {
    "date",
    "message-id",
    "to",
    "subject",
    "list-unsubscribe",
    "from",
    "reply-to",
    "list-unsubscribe-post",
    "feedback-id",
    "x-campaign",
    "mime-version",
    "content-type",
}


def render(store, email="ada@example.com", people=None, **overrides):
    people = people or [(email, {"first_name": "Ada", "plan": "pro"})]
    overrides.setdefault("headers", {"X-Campaign": "spring"})
    campaign_id = make_campaign(store, people=people, **overrides)
    compiled = compile_campaign(store, campaign_id, Config())
    data = compiled.render(recipient(store, email)).data
    return data, message_from_bytes(data, policy=policy.default)


def assert_no_injected_header(data: bytes, msg) -> None:
    assert {name.lower() for name in msg} == EXPECTED_HEADERS
    assert "Bcc" not in msg
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"\r\nBcc:" not in head and b"\x00" not in data
    for part in msg.walk():
        assert not part.defects


@pytest.mark.parametrize("evil", VARIANTS)
def test_subscriber_named_eve_cannot_add_a_header_through_the_subject(store, evil):
    data, msg = render(store, people=[("ada@example.com", {"first_name": evil, "plan": "pro"})])
    assert_no_injected_header(data, msg)
    assert msg["Subject"].startswith("Spring news for Eve")
    assert "Bcc: x@evil" in msg["Subject"]  # kept as harmless text on one line


@pytest.mark.parametrize("evil", VARIANTS)
@pytest.mark.parametrize(
    "field",
    ["from_name", "subject", "feedback_id"],
)
def test_campaign_fields_cannot_add_a_header(store, field, evil):
    data, msg = render(store, **{field: evil})
    assert_no_injected_header(data, msg)


@pytest.mark.parametrize("evil", VARIANTS)
def test_extra_header_values_cannot_add_a_header(store, evil):
    data, msg = render(store, headers={"X-Campaign": evil})
    assert_no_injected_header(data, msg)
    assert msg["X-Campaign"].startswith("Eve")


def test_extra_header_names_cannot_smuggle_a_header(store):
    from core.content import CompileError

    with pytest.raises(CompileError, match="header name"):
        render(store, headers={"X-A: 1\r\nBcc": "x@evil"})


@pytest.mark.parametrize("field", ["from_email", "reply_to"])
def test_addresses_with_line_breaks_are_refused_or_cleaned(store, field):
    from core.content import CompileError

    try:
        data, msg = render(store, **{field: "news@example.com\r\nBcc: x@evil"})
    except CompileError as exc:
        assert "\n" not in str(exc)
    else:
        assert_no_injected_header(data, msg)


@pytest.mark.parametrize("evil", ["ada@example.com\r\nBcc: x@evil", "ada@exa\x00mple.com"])
def test_recipient_address_with_control_characters_is_a_render_error(store, evil):
    campaign_id = make_campaign(store)
    compiled = compile_campaign(store, campaign_id, Config())
    with pytest.raises(RenderError, match="not a valid address"):
        compiled.render({"subscriber_id": 1, "email": evil, "fields": {}, "list_id": None})
