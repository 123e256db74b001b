"""Campaign templates: Jinja2 in a sandbox, strict about missing fields.

Merge variables: every custom field of the subscriber (also reachable as
``fields["name with spaces"]``), ``email``, ``unsubscribe_url`` and
``view_date``; the built-ins win over a custom field of the same name.
``{{ first_name | default("there") }}`` works: StrictUndefined only fails when
a missing value is printed or used, and ``default`` tests for it first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from core.content.errors import CompileError, RenderError

# HTML is autoescaped; text and the subject are not (they are not HTML).
_HTML_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)
_TEXT_ENV = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
)

_MISSING = re.compile(r"^'([^']+)' is undefined$")


def compile_template(source: str, what: str, *, html: bool = False) -> Any:
    """A compiled template; a syntax error becomes one line naming ``what`` and the line."""
    env = _HTML_ENV if html else _TEXT_ENV
    try:
        return env.from_string(source)
    except TemplateSyntaxError as exc:
        raise CompileError(f"{what}: line {exc.lineno}: {exc.message}") from None


def render_template(template: Any, context: dict[str, Any], what: str) -> str:
    """Render for one recipient; any failure becomes a ``RenderError`` naming ``what``."""
    try:
        return template.render(context)
    except UndefinedError as exc:
        match = _MISSING.match(str(exc))
        field = match.group(1) if match else None
        reason = f"missing field {field!r}" if field else str(exc)
        raise RenderError(f"{what}: {reason}", field=field) from None
    except SecurityError as exc:
        raise RenderError(f"{what}: not allowed in a template: {exc}") from None
    except Exception as exc:  # a template is code: any error is this recipient's
        raise RenderError(f"{what}: {type(exc).__name__}: {exc}") from None


def merge_context(
    fields: dict[str, Any], email: str, unsubscribe_url: str, view_date: str
) -> dict[str, Any]:
    return {
        **fields,
        "fields": fields,
        "email": email,
        "unsubscribe_url": unsubscribe_url,
        "view_date": view_date,
    }


# -- text from HTML ---------------------------------------------------------

_BLOCKS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "center",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "tfoot",
        "thead",
        "tr",
        "ul",
    ]
)
_SKIPPED = frozenset(("head", "script", "style", "title", "template"))
_CELL = frozenset(("td", "th"))


class _TextMaker(HTMLParser):
    """Turns HTML into readable text: blocks become paragraphs, links "text (url)"."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.pre = 0
        self.links: list[tuple[str, int]] = []  # (href, index in out where its text starts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skip += 1
        elif tag in _BLOCKS:
            self.out.append("\n\n")
            self.pre += tag == "pre"
        elif tag == "br":
            self.out.append("\n")
        elif tag == "li":
            self.out.append("\n  * ")
        elif tag in _CELL:
            self.out.append(" ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt and not self.skip:
                self.out.append(alt)
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", len(self.out)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIPPED:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCKS:
            self.out.append("\n\n")
            if tag == "pre":
                self.pre = max(0, self.pre - 1)
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            text = "".join(self.out[start:]).strip()
            if href and not href.startswith(("#", "javascript:")) and href not in text:
                del self.out[start:]
                self.out.append(f"{text} ({href})" if text else href)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        self.out.append(data if self.pre else re.sub(r"\s+", " ", data))

    def text(self) -> str:
        return tidy_text("".join(self.out)).strip() + "\n"


_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_LEADING_SPACE = re.compile(r"\n[ \t]+(?![ \t]|\* )")
_BLANK_LINES = re.compile(r"\n{3,}")


def tidy_text(text: str) -> str:
    """Cheap per-recipient clean-up of derived text: no trailing spaces, one blank line."""
    text = _TRAILING_SPACE.sub("\n", text)
    text = _LEADING_SPACE.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text)


def html_to_text(html: str) -> str:
    """Readable text of rendered HTML (the preview's 'HTML as text')."""
    maker = _TextMaker()
    maker.feed(html)
    maker.close()
    return maker.text()


_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_SLOT = re.compile("\ue000(\\d+)\ue001")


def text_template_from_html(html_source: str) -> str:
    """A text *template* derived once from the HTML template.

    Jinja constructs are swapped for private-use placeholders before the HTML
    is converted and put back after, so deriving costs nothing per recipient
    and links keep their merge variables (``Unsubscribe ({{ unsubscribe_url }})``).
    """
    constructs: list[str] = []

    def hide(match: re.Match[str]) -> str:
        constructs.append(match.group(0))
        return f"\ue000{len(constructs) - 1}\ue001"

    text = html_to_text(_JINJA.sub(hide, html_source))
    return _SLOT.sub(lambda m: constructs[int(m.group(1))], text)


@dataclass(frozen=True)
class CampaignTemplates:
    """The three compiled templates of a campaign."""

    subject: Any
    text: Any
    html: Any | None
    text_derived: bool

    @classmethod
    def compile(cls, subject: str, text: str, html: str) -> CampaignTemplates:
        if not text.strip() and not html.strip():
            raise CompileError("the campaign has neither a text nor an HTML body")
        derived = not text.strip()
        return cls(
            subject=compile_template(subject, "subject"),
            text=compile_template(text_template_from_html(html) if derived else text, "text body"),
            html=compile_template(html, "HTML body", html=True) if html.strip() else None,
            text_derived=derived,
        )

    def render(self, context: dict[str, Any]) -> tuple[str, str, str | None]:
        """(subject, text, html) for one recipient."""
        subject = render_template(self.subject, context, "subject")
        text = render_template(self.text, context, "text body")
        if self.text_derived:
            text = tidy_text(text)
        html = render_template(self.html, context, "HTML body") if self.html else None
        return subject, text, html
