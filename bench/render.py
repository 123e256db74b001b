"""Messages/s of CompiledCampaign.render for ~10 KB personalised messages.

"render" uses a merge-heavy template (~150 substitutions, urlencode, autoescape);
"light" the same size with two merge fields. Compared with the naive way: an ``EmailMessage`` built and serialised per
recipient (same templates, same headers). With and without DKIM signing
(``core.dkim``, RSA-2048 through ``cryptography``). Single thread.
Run: ``make bench BENCH_ARGS=render`` (``--n=N`` recipients, default 2000).
"""

from __future__ import annotations

import os
import tempfile
import time
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from core.config import Config
from core.content import compile_campaign
from core.content.templates import merge_context
from core.content.unsubscribe import unsubscribe_token, unsubscribe_url
from core.dkim import generate_key
from core.store import Store

PARAGRAPH = (
    "<p>Dear {{ first_name | default('reader') }}, this season in {{ city }} brings new "
    "courses on your <strong>{{ plan }}</strong> plan. Read the "
    '<a href="https://example.com/news?u={{ email | urlencode }}">full story</a>.</p>\n'
)
HTML = (
    "<html><body>\n"
    + PARAGRAPH * 36
    + '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>\n'
)
TEXT = (
    "Dear {{ first_name | default('reader') }}, this season in {{ city }} brings new "
    "courses on your {{ plan }} plan. Full story: https://example.com/news\n\n"
) * 30 + "Unsubscribe: {{ unsubscribe_url }}\n"


# The same size with two merge fields instead of ~150: the MIME work without Jinja's.
HTML_LIGHT = HTML.replace("{{ city }}", "Lyon").replace("{{ plan }}", "pro")
HTML_LIGHT = HTML_LIGHT.replace("{{ first_name | default('reader') }}", "reader")
HTML_LIGHT = HTML_LIGHT.replace("{{ email | urlencode }}", "1")
HTML_LIGHT = HTML_LIGHT.replace("<html><body>", "<html><body>{{ first_name }}")
TEXT_LIGHT = TEXT.replace("{{ city }}", "Lyon").replace("{{ plan }}", "pro")


def _setup(folder: Path, n: int) -> tuple[Store, int, list[dict[str, Any]]]:
    store = Store(folder / "bench.db")
    list_id = store.lists.create("bench")
    rows = [
        {
            "email": f"reader{i}@example.com",
            "domain": "example.com",
            "fields": {"first_name": f"Reader{i}", "city": "Lyon", "plan": "pro"},
        }
        for i in range(n)
    ]
    store.subscribers.upsert_many(rows, list_id=list_id)
    campaign_id = store.campaigns.create(
        name="bench",
        list_id=list_id,
        from_name="Bench",
        from_email="news@bench.example",
        subject="News for {{ first_name }} in {{ city }}",
        text_body=TEXT,
        html_body=HTML,
    )
    store.campaigns.create(
        name="light",
        list_id=list_id,
        from_name="Bench",
        from_email="news@bench.example",
        subject="News for {{ first_name }}",
        text_body=TEXT_LIGHT,
        html_body=HTML_LIGHT,
    )
    recipients = [
        {"subscriber_id": i, "email": r["email"], "fields": r["fields"], "list_id": list_id}
        for i, r in enumerate(rows)
    ]
    return store, campaign_id, recipients


def _rate(render: Any, recipients: list[dict[str, Any]], rounds: int = 3) -> tuple[float, int]:
    """Best-of-rounds messages/s, and the size of one message."""
    rates = []
    size = 0
    for _ in range(rounds):
        start = time.perf_counter()
        for recipient in recipients:
            size = len(render(recipient))
        rates.append(len(recipients) / (time.perf_counter() - start))
    return max(rates), size


def _naive(compiled: Any, config: Config) -> Any:
    """One EmailMessage per recipient: what the skeleton avoids."""
    base = config.get("unsubscribe", "base_url")

    def render(recipient: dict[str, Any]) -> bytes:
        token = unsubscribe_token(compiled.secret, recipient["email"], recipient["list_id"])
        url = unsubscribe_url(base, token)
        subject, text, html = compiled.templates.render(
            merge_context(recipient["fields"], recipient["email"], url, "today")
        )
        msg = EmailMessage(policy=SMTP)
        msg["Date"] = formatdate(localtime=True)
        msg["Message-ID"] = make_msgid(domain="bench.example")
        msg["From"] = "Bench <news@bench.example>"
        msg["To"] = recipient["email"]
        msg["Subject"] = subject
        msg["List-Unsubscribe"] = f"<{url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg.set_content(text, charset="utf-8", cte="quoted-printable")
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
        return msg.as_bytes()

    return render


def main(argv: list[str]) -> dict[str, Any]:
    n = next((int(a.split("=", 1)[1]) for a in argv if a.startswith("--n=")), 2000)
    with tempfile.TemporaryDirectory(prefix="postroom-bench-") as tmp:
        os.environ["XDG_DATA_HOME"] = tmp  # the DKIM key file goes here
        store, campaign_id, recipients = _setup(Path(tmp), n)
        config = Config()
        plain = compile_campaign(store, campaign_id, config)
        fast, size = _rate(lambda r: plain.render(r).data, recipients)
        light = compile_campaign(store, store.campaigns.require("light")["id"], config)
        light_rate, _ = _rate(lambda r: light.render(r).data, recipients)
        naive, naive_size = _rate(_naive(plain, config), recipients[: max(200, n // 5)])
        generate_key(store, "bench.example", "bench")
        signed = compile_campaign(store, campaign_id, config)
        dkim_rate, dkim_size = _rate(lambda r: signed.render(r).data, recipients)
        store.close()
    result = {
        "recipients": n,
        "message_bytes": size,
        "message_bytes_dkim": dkim_size,
        "message_bytes_naive": naive_size,
        "render_per_s": round(fast),
        "render_us": round(1e6 / fast, 1),
        "render_light_template_per_s": round(light_rate),
        "render_light_template_us": round(1e6 / light_rate, 1),
        "render_dkim_per_s": round(dkim_rate),
        "render_dkim_us": round(1e6 / dkim_rate, 1),
        "naive_email_message_per_s": round(naive),
        "naive_us": round(1e6 / naive, 1),
        "speedup_vs_naive": round(fast / naive, 1),
        "note": "single thread, best of 3 rounds; the other core is busy with other engineers",
    }
    for key, value in result.items():
        print(f"   {key}: {value}")
    return result
