"""Content lint: the signals SpamAssassin's stock rules score, reproduced before sending.

Each rule has the name of the SpamAssassin rule it is modelled on and a
score of the same order; as in SpamAssassin, 5 or more is spam. Where
Debian's ``spamassassin`` is installed its real score is added
(``spamassassin -t -L``, local tests only). Sizes are measured too: Gmail
clips HTML past ~102 KB, relays refuse messages over their limit.
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from urllib.parse import urlsplit

from core.content.templates import html_to_text

THRESHOLD = 5.0
GMAIL_CLIP_BYTES = 102 * 1024
FUTURE_SLACK_SECONDS = 3 * 3600
SHORTENERS = frozenset(
    [
        "bit.ly",
        "tinyurl.com",
        "t.co",
        "goo.gl",
        "ow.ly",
        "is.gd",
        "buff.ly",
        "rebrand.ly",
        "cutt.ly",
        "shorturl.at",
        "tiny.cc",
        "rb.gy",
        "t.ly",
        "bl.ink",
        "lnkd.in",
        "s.id",
        "v.gd",
        "qrco.de",
    ]
)
_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    ]
)
_WORD = re.compile(r"[^\W\d_]{3,}")
_URL = re.compile(r"https?://\S+|mailto:\S+")
_HIDING = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*[01](\.\d+)?\s*(px|pt)?\s*(;|$)"
)
_COLOR = re.compile(
    r"(?:^|;)\s*(background-color|background|color)\s*:\s*#([0-9a-f]{3}|[0-9a-f]{6})\b"
)
_LOOKS_LIKE_URL = re.compile(r"^(https?://)?([a-z0-9-]+\.)+[a-z]{2,}(/\S*)?$", re.IGNORECASE)


@dataclass(frozen=True)
class LintHit:
    rule: str
    score: float
    reason: str
    fix: str


@dataclass
class LintResult:
    hits: list[LintHit] = field(default_factory=list)
    size: int = 0
    html_size: int = 0
    spamassassin: float | None = None
    spamassassin_note: str = ""

    @property
    def score(self) -> float:
        return round(sum(hit.score for hit in self.hits), 1)

    @property
    def spam(self) -> bool:
        return self.score >= THRESHOLD or (self.spamassassin or 0) >= THRESHOLD

    @property
    def clipped_by_gmail(self) -> bool:
        return self.html_size > GMAIL_CLIP_BYTES


def _luminance(hex_colour: str) -> float:
    if len(hex_colour) == 3:
        hex_colour = "".join(c * 2 for c in hex_colour)
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _hidden_by_style(style: str) -> bool:
    """display:none, a 0-1 px font, or text colour too close to its background."""
    style = style.lower()
    if _HIDING.search(style):
        return True
    colours = {name: value for name, value in _COLOR.findall(style)}
    text = colours.get("color")
    if text is None:
        return False
    background = colours.get("background-color") or colours.get("background") or "ffffff"
    return abs(_luminance(text) - _luminance(background)) < 0.05


class _HtmlFacts(HTMLParser):
    """What the rules need from an HTML body: visible text, images, links, hidden text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.images = 0
        self.linked_images = 0
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.hidden_text = ""
        self._stack: list[tuple[str, bool]] = []
        self._link: list[str] | None = None
        self._href = ""
        self._skip = 0

    @property
    def hidden(self) -> bool:
        return any(flag for _, flag in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "style", "head", "title"):
            self._skip += 1
        if tag == "img":
            self.images += 1
            self.linked_images += self._link is not None
        if tag == "a":
            self._link, self._href = [], values.get("href") or ""
        if tag not in _VOID:
            self._stack.append((tag, _hidden_by_style(values.get("style") or "")))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self._skip = max(0, self._skip - 1)
        if tag == "a" and self._link is not None:
            self.links.append((self._href, " ".join("".join(self._link).split())))
            self._link = None
        for index in range(len(self._stack) - 1, -1, -1):
            if self._stack[index][0] == tag:
                del self._stack[index:]
                break

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self.hidden and data.strip() and not self.hidden_text:
            self.hidden_text = data.strip()[:40]
        self.text.append(data)
        if self._link is not None:
            self._link.append(data)

    @property
    def visible_chars(self) -> int:
        return len(" ".join("".join(self.text).split()))


def _words(text: str) -> set[str]:
    return set(_WORD.findall(_URL.sub(" ", text).lower()))


def _host(url: str) -> str:
    try:
        return (urlsplit(url if "//" in url else f"//{url}").hostname or "").lower()
    except ValueError:
        return ""


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _body(msg: EmailMessage, kind: str) -> str | None:
    part = msg.get_body((kind,))
    return None if part is None else part.get_content().replace("\r\n", "\n")


def lint_message(data: bytes, *, now: float) -> LintResult:
    """Score one rendered message (bytes as sent)."""
    msg = message_from_bytes(data, policy=policy.default)
    result = LintResult(size=len(data))
    hit = result.hits.append
    text, html = _body(msg, "plain"), _body(msg, "html")
    facts = _HtmlFacts()
    if html is not None:
        result.html_size = len(html.encode("utf-8"))
        facts.feed(html)
        facts.close()

    if html is not None and text is None:
        hit(LintHit("MIME_HTML_ONLY", 1.1, "HTML with no text part", "add a text body"))
    if html is not None and text is not None:
        a, b = _words(text), _words(html_to_text(html))
        if a and b and len(a & b) / len(a | b) < 0.5:
            hit(
                LintHit(
                    "MPART_ALT_DIFF",
                    0.8,
                    "the text and HTML parts say different things",
                    "make the text part a version of the HTML (or leave it empty to derive it)",
                )
            )
    if facts.images and facts.visible_chars < 400:
        hit(
            LintHit(
                "HTML_IMAGE_ONLY",
                1.5,
                f"{facts.images} image(s) and only {facts.visible_chars} characters of text",
                "add real text; do not put the message in an image",
            )
        )
    if facts.linked_images and facts.visible_chars < 200:
        hit(
            LintHit(
                "HTML_SHORT_LINK_IMG",
                1.0,
                "very short HTML with a linked image",
                "add text around the linked image",
            )
        )
    subject = str(msg.get("Subject", ""))
    letters = [c for c in subject if c.isalpha()]
    if len(letters) >= 8 and len(subject.split()) >= 2 and all(c.isupper() for c in letters):
        hit(
            LintHit(
                "SUBJ_ALL_CAPS", 1.0, "the subject is all capitals", "write it in sentence case"
            )
        )
    for name, rule, score in (
        ("Date", "MISSING_DATE", 1.4),
        ("Message-ID", "MISSING_MID", 0.5),
        ("To", "MISSING_HEADERS", 1.0),
    ):
        if name not in msg:
            hit(LintHit(rule, score, f"no {name} header", f"send a {name} header"))
    if "Date" in msg:
        try:
            sent = parsedate_to_datetime(str(msg["Date"])).timestamp()
        except (TypeError, ValueError):
            hit(
                LintHit("INVALID_DATE", 1.0, "the Date header cannot be read", "use RFC 5322 dates")
            )
        else:
            if sent > now + FUTURE_SLACK_SECONDS:
                hit(
                    LintHit(
                        "DATE_IN_FUTURE_03_06",
                        1.5,
                        "the Date header is in the future",
                        "fix the sending machine's clock and time zone",
                    )
                )
    if facts.hidden_text:
        hit(
            LintHit(
                "HTML_FONT_LOW_CONTRAST",
                1.0,
                f"hidden or low-contrast text ({facts.hidden_text!r})",
                "remove text that readers cannot see",
            )
        )
    hrefs = [href for href, _ in facts.links] + (_URL.findall(text) if text else [])
    hosts = {_host(href) for href in hrefs if href.startswith(("http://", "https://"))}
    if any(_is_ip(host) for host in hosts):
        hit(
            LintHit(
                "NUMERIC_HTTP_ADDR",
                1.5,
                "a link points to a bare IP address",
                "link to a domain name",
            )
        )
    for href, label in facts.links:
        shows_url = _LOOKS_LIKE_URL.match(label) and href.startswith(("http://", "https://"))
        if shows_url and _host(label) != _host(href):
            hit(
                LintHit(
                    "URI_TEXT_MISMATCH",
                    1.5,
                    f"link text shows {label} but goes to {_host(href)}",
                    "make the visible URL the real one, or use words as link text",
                )
            )
            break
    shortened = sorted(host for host in hosts if host in SHORTENERS)
    if shortened:
        hit(
            LintHit(
                "URI_SHORTENER",
                1.0,
                f"links through a URL shortener ({shortened[0]})",
                "link to the real address",
            )
        )
    bodies = " ".join(part for part in (text, html) if part)
    if "unsubscribe" not in bodies.lower():
        hit(
            LintHit(
                "NO_UNSUBSCRIBE",
                1.0,
                "no visible unsubscribe link in the body",
                'add <a href="{{ unsubscribe_url }}">Unsubscribe</a> (providers require it)',
            )
        )
    return result


def spamassassin_score(data: bytes, timeout: float = 60.0) -> tuple[float | None, str]:
    """SpamAssassin's own score with local tests only, or None with why it is missing."""
    program = shutil.which("spamassassin")
    if program is None:
        return None, "spamassassin not installed (apt install spamassassin for a real score)"
    try:
        done = subprocess.run(  # noqa: S603 - fixed program and arguments
            [program, "-t", "-L"], input=data, capture_output=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"spamassassin did not run: {exc}"
    match = re.search(rb"X-Spam-Status: \w+,\s+score=(-?\d+(?:\.\d+)?)", done.stdout)
    if match is None:
        return None, "spamassassin gave no score"
    return float(match.group(1)), "spamassassin -t -L"


def lint(data: bytes, *, now: float, use_spamassassin: bool = True) -> LintResult:
    result = lint_message(data, now=now)
    if use_spamassassin:
        result.spamassassin, result.spamassassin_note = spamassassin_score(data)
    return result
