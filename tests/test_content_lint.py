"""Content lint: each rule fires on a crafted message and not on a clean one."""

from __future__ import annotations

import shutil
from email.message import EmailMessage
from email.utils import formatdate

import pytest

from core.config import Config
from core.content import compile_campaign
from core.content.lint import THRESHOLD, lint, lint_message, spamassassin_score
from tests.support.campaigns import make_campaign, recipient

NOW = 1_790_000_000.0
TEXT = "Hello Ada, here is our spring news about gardens and tools.\nUnsubscribe: https://x.example/u/1\n"
HTML = (
    "<p>Hello Ada, here is our spring news about gardens and tools.</p>"
    '<p><a href="https://x.example/u/1">Unsubscribe</a></p>'
)


def message(
    *,
    subject="Spring news",
    text: str | None = TEXT,
    html: str | None = HTML,
    date: float | None = NOW,
    headers=("To", "Message-ID"),
) -> bytes:
    msg = EmailMessage()
    msg["From"] = "news@example.com"
    if "To" in headers:
        msg["To"] = "ada@example.com"
    if "Message-ID" in headers:
        msg["Message-ID"] = "<1@example.com>"
    if date is not None:
        msg["Date"] = formatdate(date, localtime=True)
    msg["Subject"] = subject
    if text is not None:
        msg.set_content(text)
        if html is not None:
            msg.add_alternative(html, subtype="html")
    else:
        msg.set_content(html, subtype="html")
    return msg.as_bytes()


def rules(data: bytes) -> set[str]:
    return {hit.rule for hit in lint_message(data, now=NOW).hits}


def test_the_crafted_clean_message_and_a_real_campaign_fire_nothing(store):
    assert rules(message()) == set()
    campaign_id = make_campaign(store)
    compiled = compile_campaign(store, campaign_id, Config(), clock=lambda: NOW)
    data = compiled.render(recipient(store, "ada@example.com")).data
    result = lint_message(data, now=NOW)
    assert result.hits == [] and result.score == 0 and not result.spam


LONG = "Plenty of real words about the garden season and what we grow. " * 10
CASES = {
    "MIME_HTML_ONLY": {"text": None},
    "MPART_ALT_DIFF": {
        "text": "Completely unrelated words: invoice payment overdue account suspended.\n"
        "unsubscribe"
    },
    "HTML_IMAGE_ONLY": {
        "html": '<img src="https://x.example/a.png"><img src="https://x.example/b.png">'
        '<p>Spring news. <a href="https://x.example/u/1">Unsubscribe</a></p>',
        "text": "Spring news. Unsubscribe",
    },
    "HTML_SHORT_LINK_IMG": {
        "html": '<a href="https://x.example/buy"><img src="https://x.example/a.png"></a>'
        '<a href="https://x.example/u/1">Unsubscribe</a>',
        "text": "Unsubscribe",
    },
    "SUBJ_ALL_CAPS": {"subject": "HUGE SPRING SALE NOW"},
    "MISSING_DATE": {"date": None},
    "MISSING_MID": {"headers": ("To",)},
    "MISSING_HEADERS": {"headers": ("Message-ID",)},
    "DATE_IN_FUTURE_03_06": {"date": NOW + 6 * 3600},
    "HTML_FONT_LOW_CONTRAST": {
        "html": HTML + '<p style="color: #fefefe">cheap pills casino</p>',
    },
    "NUMERIC_HTTP_ADDR": {"html": HTML + '<p><a href="http://192.0.2.7/offer">offer</a></p>'},
    "URI_TEXT_MISMATCH": {
        "html": HTML + '<p><a href="https://evil.example/login">https://bank.example/login</a></p>'
    },
    "URI_SHORTENER": {"html": HTML + '<p><a href="https://bit.ly/3xYz">offer</a></p>'},
    "NO_UNSUBSCRIBE": {
        "text": "Hello Ada, here is our spring news about gardens and tools.\n",
        "html": "<p>Hello Ada, here is our spring news about gardens and tools.</p>",
    },
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_rule_fires_on_its_crafted_message(rule):
    fired = rules(message(**CASES[rule]))
    assert rule in fired


@pytest.mark.parametrize(
    "html",
    [
        HTML + '<p style="color: #ffffff; background-color: #003366">white on navy</p>',
        HTML + '<p><a href="https://x.example/news">x.example/news</a></p>',
        HTML + '<p><a href="https://x.example/about">About us</a></p>',
    ],
)
def test_near_misses_do_not_fire(html):
    assert rules(message(html=html)) == set()


def test_scores_add_up_and_five_is_spam():
    spammy = message(
        subject="FREE MONEY FOR YOU",
        text=None,
        html='<a href="http://192.0.2.7/x"><img src="http://192.0.2.7/i.png"></a>'
        '<a href="https://bit.ly/1">https://bank.example</a>',
        date=None,
    )
    result = lint_message(spammy, now=NOW)
    assert result.score >= THRESHOLD and result.spam
    assert result.score == round(sum(hit.score for hit in result.hits), 1)
    for hit in result.hits:
        assert hit.reason and hit.fix


def test_size_of_html_is_measured_against_gmail_clipping():
    big = message(html=HTML + "<p>" + "word " * 25_000 + "</p>", text=TEXT + "word " * 25_000)
    result = lint_message(big, now=NOW)
    assert result.html_size > 102 * 1024 and result.clipped_by_gmail
    assert not lint_message(message(), now=NOW).clipped_by_gmail


def test_spamassassin_absent_is_skipped_cleanly(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    result = lint(message(), now=NOW)
    assert result.spamassassin is None
    assert "not installed" in result.spamassassin_note


@pytest.mark.skipif(shutil.which("spamassassin") is None, reason="spamassassin not installed")
def test_spamassassin_scores_a_real_message():
    score, note = spamassassin_score(message())
    assert score is not None and note == "spamassassin -t -L"
