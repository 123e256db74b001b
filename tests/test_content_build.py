"""Golden tests: every built message is parsed back with the stdlib parser."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime

import pytest

from core.config import Config
from core.content import CompileError, RenderError, compile_campaign
from core.content.unsubscribe import parse_token, unsubscribe_secret
from tests.support.campaigns import make_campaign, recipient

FIXED_NOW = 1_790_000_000.0  # 2026-09-21


def config(**unsubscribe) -> Config:
    cfg = Config()
    cfg.values["unsubscribe"].update(
        {"base_url": "https://lists.example.com/u", "mailto": "unsubscribe@example.com"},
        **unsubscribe,
    )
    return cfg


def build(store, email="ada@example.com", **overrides):
    campaign_id = make_campaign(store, **overrides)
    compiled = compile_campaign(store, campaign_id, config(), clock=lambda: FIXED_NOW)
    rendered = compiled.render(recipient(store, email))
    return compiled, rendered, message_from_bytes(rendered.data, policy=policy.default)


def body(msg, kind="plain") -> str:
    """A decoded body with SMTP's CRLF line ends read back as newlines."""
    part = msg if kind is None else msg.get_body((kind,))
    return part.get_content().replace("\r\n", "\n")


def assert_well_formed(data: bytes) -> None:
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    head = data.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78 * 2  # folded
    parsed = message_from_bytes(data, policy=policy.default)
    for part in parsed.walk():
        assert not part.defects, part.defects


def test_built_message_parses_back_with_every_required_header(store):
    compiled, rendered, msg = build(store)
    assert_well_formed(rendered.data)
    assert msg["From"] == "Example News <news@example.com>"
    assert msg["To"] == "ada@example.com"
    assert msg["Reply-To"] == "help@example.com"
    assert msg["Subject"] == "Spring news for Ada"
    assert msg["MIME-Version"] == "1.0"
    assert msg["Feedback-ID"] == "spring:news:example"
    # Date: RFC 5322 with a real zone (not -0000), the injected clock's time.
    assert re.search(r" [+-]\d{4}$", msg["Date"]) and not msg["Date"].endswith("-0000")
    assert parsedate_to_datetime(msg["Date"]).timestamp() == FIXED_NOW
    # Message-ID on the From domain, the same one the engine records.
    assert msg["Message-ID"] == rendered.message_id
    assert re.fullmatch(r"<[^@<>]+@example\.com>", rendered.message_id)
    assert compiled.envelope_from == "news@example.com"
    # Each header exactly once.
    names = [name.lower() for name in msg]
    assert len(names) == len(set(names))


def test_one_click_unsubscribe_headers_carry_a_verifiable_token(store):
    _, _, msg = build(store)
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = re.findall(r"<([^>]+)>", msg["List-Unsubscribe"])
    assert https.startswith("https://lists.example.com/u/")
    assert mailto.startswith("mailto:unsubscribe@example.com?subject=unsubscribe%20")
    token = https.rsplit("/", 1)[1]
    assert parse_token(unsubscribe_secret(store), token) == (
        "ada@example.com",
        store.lists.by_name("news")["id"],
    )
    # The same URL is in both bodies, for the visible unsubscribe link.
    assert https in body(msg, "plain")
    assert f'href="{https}"' in body(msg, "html")


def test_parts_are_alternative_utf8_quoted_printable(store):
    _, rendered, msg = build(store)
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for part in parts:
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert part.get_content_charset() == "utf-8"
        assert "MIME-Version" not in part
    text = body(parts[0], None)
    assert text.startswith("Hello Ada,\n\nYour plan: pro.")
    assert "<strong>pro</strong>" in body(parts[1], None)


def test_non_ascii_subject_names_and_long_lines_survive_encoding(store):
    long_line = "Grüße " + "x" * 3000
    people = [("jose@example.com", {"first_name": "José", "plan": "größer"})]
    _, rendered, msg = build(
        store,
        email="jose@example.com",
        people=people,
        from_name="Zoë’s Café",
        text_body="{{ first_name }} {{ plan }}\n" + long_line + "\n",
    )
    assert_well_formed(rendered.data)
    assert rendered.data.isascii()  # RFC 2047 words and QP: 7-bit on the wire
    assert msg["Subject"] == "Spring news for José"
    assert "=?utf-8?" in rendered.data.split(b"\r\n\r\n")[0].decode()
    assert msg["From"].addresses[0].display_name == "Zoë’s Café"
    assert body(msg, "plain") == f"José größer\n{long_line}\n"


def test_attachments_make_a_mixed_message(store, tmp_path):
    pdf = tmp_path / "menu.pdf"
    pdf.write_bytes(bytes(range(256)) * 40)
    _, rendered, msg = build(store, attachments=[str(pdf)])
    assert_well_formed(rendered.data)
    assert msg.get_content_type() == "multipart/mixed"
    body, attachment = msg.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert attachment.get_filename() == "menu.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment["Content-Transfer-Encoding"] == "base64"
    assert attachment.get_content() == pdf.read_bytes()


def test_missing_attachment_fails_the_compile_with_the_path(store, tmp_path):
    campaign_id = make_campaign(store, attachments=[str(tmp_path / "gone.pdf")])
    with pytest.raises(CompileError, match=r"attachment .*gone\.pdf: No such file"):
        compile_campaign(store, campaign_id, config())


def test_text_only_campaign_is_a_single_part(store):
    _, rendered, msg = build(store, html_body="")
    assert msg.get_content_type() == "text/plain"
    assert body(msg, None).startswith("Hello Ada,")
    assert_well_formed(rendered.data)


def test_text_is_derived_from_html_when_missing_with_links_kept(store):
    _, _, msg = build(store, text_body="")
    text = body(msg, "plain")
    url = re.findall(r"<([^>]+)>", msg["List-Unsubscribe"])[0]
    assert text == (
        "Hello Ada,\n\n"
        "Your plan: pro. Read the news (https://example.com/news).\n\n"
        f"Unsubscribe ({url})\n"
    )
    assert "ignored" not in text and "color" not in text


def test_every_message_gets_its_own_message_id(store):
    campaign_id = make_campaign(store)
    compiled = compile_campaign(store, campaign_id, config())
    ids = {compiled.render(recipient(store, "ada@example.com")).message_id for _ in range(50)}
    assert len(ids) == 50


def test_messages_are_identical_to_a_fresh_email_message_parse(store):
    """The spliced bytes decode to the same content a stdlib-built message would."""
    _, rendered, msg = build(store, email="nobody@example.net")
    assert msg["Subject"] == "Spring news for you"
    assert body(msg, "plain").startswith("Hello there,")
    assert msg.is_multipart() and msg.get_boundary() in rendered.data.decode()


# -- templates --------------------------------------------------------------


def test_missing_field_is_a_render_error_naming_the_field(store):
    people = [("ada@example.com", {"first_name": "Ada"})]  # no plan
    campaign_id = make_campaign(store, people=people)
    compiled = compile_campaign(store, campaign_id, config())
    with pytest.raises(RenderError, match="text body: missing field 'plan'") as caught:
        compiled.render(recipient(store, "ada@example.com"))
    assert caught.value.field == "plan"


def test_syntax_error_names_the_body_and_line(store):
    campaign_id = make_campaign(store, html_body="<p>ok</p>\n<p>{{ first_name </p>")
    with pytest.raises(CompileError, match=r"'spring': HTML body: line 2: "):
        compile_campaign(store, campaign_id, config())


def test_the_sandbox_refuses_python_internals(store):
    campaign_id = make_campaign(
        store, text_body="{{ email.__class__.__mro__[1].__subclasses__() }}"
    )
    compiled = compile_campaign(store, campaign_id, config())
    with pytest.raises(RenderError, match="text body"):
        compiled.render(recipient(store, "ada@example.com"))


def test_html_is_autoescaped_and_text_is_not(store):
    people = [("ada@example.com", {"first_name": "<b>Ada</b> & co", "plan": "pro"})]
    _, _, msg = build(store, people=people)
    assert "Hello &lt;b&gt;Ada&lt;/b&gt; &amp; co," in body(msg, "html")
    assert "Hello <b>Ada</b> & co," in body(msg, "plain")


def test_builtins_win_over_custom_fields_and_odd_names_are_reachable(store):
    people = [
        ("ada@example.com", {"unsubscribe_url": "https://evil", "sign up": "May", "plan": "x"})
    ]
    _, _, msg = build(
        store,
        people=people,
        text_body="{{ unsubscribe_url }} {{ fields['sign up'] }} {{ email }} {{ view_date }}",
    )
    text = body(msg, "plain")
    assert text.startswith("https://lists.example.com/u/")
    assert "May ada@example.com 21 September 2026" in text


# -- addresses --------------------------------------------------------------


def test_international_domain_goes_out_as_punycode(store):
    people = [("ada@münchen.example", {"plan": "pro"})]
    compiled, rendered, msg = build(store, email="ada@münchen.example", people=people)
    assert msg["To"] == "ada@xn--mnchen-3ya.example"
    assert compiled.envelope_recipient("ada@münchen.example") == "ada@xn--mnchen-3ya.example"
    assert rendered.data.isascii()


def test_non_ascii_local_part_needs_smtputf8(store):
    people = [("jörg@example.com", {"plan": "pro"})]
    campaign_id = make_campaign(store, people=people)
    plain = compile_campaign(store, campaign_id, config())
    with pytest.raises(RenderError, match="needs a relay that supports SMTPUTF8"):
        plain.render(recipient(store, "jörg@example.com"))
    utf8 = compile_campaign(store, campaign_id, config(), smtputf8=True)
    data = utf8.render(recipient(store, "jörg@example.com")).data
    msg = message_from_bytes(data, policy=policy.default)
    assert msg["To"] == "jörg@example.com"


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("from_email", "not an address", "From 'not an address'"),
        ("from_email", "", "From is required"),
        ("reply_to", "a@@b", "Reply-To"),
        ("subject", "  ", "subject is required"),
        ("headers", {"X Bad": "1"}, "header name 'X Bad'"),
        ("headers", {"List-Unsubscribe": "<https://x>"}, "written by Postroom"),
    ],
)
def test_bad_campaign_settings_are_one_line_compile_errors(store, field, value, match):
    campaign_id = make_campaign(store, **{field: value})
    with pytest.raises(CompileError, match=match) as caught:
        compile_campaign(store, campaign_id, config())
    assert "\n" not in str(caught.value)


# -- DKIM -------------------------------------------------------------------


def test_messages_are_dkim_signed_and_verify_against_the_published_key(store):
    import dkim
    import dns.resolver

    from core.dkim import generate_key
    from tests.support.dns_server import DnsServer

    key = generate_key(store, "example.com", "s1")
    with DnsServer() as server:
        server.txt(*key.public_dns_record())

        def dnsfunc(name: bytes, timeout: int = 5) -> bytes | None:
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = [server.address]
            resolver.port = server.port
            answer = resolver.resolve(name.decode().rstrip("."), "TXT")
            return b"".join(answer[0].strings)

        people = [("jose@münchen.example", {"first_name": "José", "plan": "größer"})]
        _, rendered, msg = build(store, email="jose@münchen.example", people=people)
        assert rendered.data.startswith(b"DKIM-Signature: ")
        assert dkim.verify(rendered.data, dnsfunc=dnsfunc)
        tampered = rendered.data.replace(b"Spring news", b"Spring NEWS")
        assert not dkim.verify(tampered, dnsfunc=dnsfunc)
    signature = "".join(str(msg["DKIM-Signature"]).split())
    signed = re.search(r"h=([^;]+)", signature).group(1).split(":")
    assert {"list-unsubscribe", "list-unsubscribe-post", "from", "subject"} <= set(signed)
    assert "d=example.com;" in signature and "s=s1;" in signature
    assert_well_formed(rendered.data)


@pytest.mark.parametrize(
    "unsubscribe",
    [
        {"base_url": "https://listes.exemple-été.fr/u"},
        {"base_url": "https://lists.example.com/" + "u" * 500},
        {"mailto": "désabonner@example.com"},
    ],
)
def test_an_unsubscribe_address_that_cannot_go_in_the_header_fails_the_compile(store, unsubscribe):
    campaign_id = make_campaign(store)
    with pytest.raises(CompileError, match=r"\[unsubscribe\] (base_url|mailto)"):
        compile_campaign(store, campaign_id, config(**unsubscribe))
