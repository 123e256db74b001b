"""A small campaign on disk for content tests: a list, subscribers, an account."""

from __future__ import annotations

import json
from typing import Any

from core.store import Store

HTML = """<html><head><title>ignored</title><style>p {color: red}</style></head>
<body><p>Hello {{ first_name | default("there") }},</p>
<p>Your plan: <strong>{{ plan }}</strong>. Read the <a href="https://example.com/news">news</a>.</p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>
"""
TEXT = """Hello {{ first_name | default("there") }},

Your plan: {{ plan }}. Read the news: https://example.com/news

Unsubscribe: {{ unsubscribe_url }}
"""

PEOPLE = [
    ("ada@example.com", {"first_name": "Ada", "plan": "pro"}),
    ("grace@example.org", {"first_name": "Grace", "plan": "team"}),
    ("nobody@example.net", {"plan": "free"}),
]


def make_campaign(store: Store, people=PEOPLE, **overrides: Any) -> int:
    """A draft campaign on a list of ``people``; ``overrides`` replace campaign fields."""
    list_id = store.lists.ensure("news")
    store.subscribers.upsert_many(
        (
            {"email": email, "domain": email.rpartition("@")[2], "fields": fields}
            for email, fields in people
        ),
        list_id=list_id,
    )
    if store.accounts.by_name("relay") is None:
        store.accounts.create(name="relay", host="127.0.0.1", port=2525, tls="none", auth="none")
    values = {
        "name": "spring",
        "list_id": list_id,
        "from_name": "Example News",
        "from_email": "news@example.com",
        "reply_to": "help@example.com",
        "subject": "Spring news for {{ first_name | default('you') }}",
        "text_body": TEXT,
        "html_body": HTML,
        "feedback_id": "spring:news:example",
        **overrides,
    }
    campaign_id = store.campaigns.create(**values)
    store.campaigns.set_accounts(campaign_id, {store.accounts.require("relay")["id"]: 1})
    return campaign_id


def recipient(store: Store, email: str) -> dict[str, Any]:
    """The recipient dict the engine passes to ``render``."""
    row = store.subscribers.by_email(email)
    return {
        "subscriber_id": row["id"],
        "email": row["email"],
        "fields": json.loads(row["fields"]),
        "list_id": store.lists.by_name("news")["id"],
    }
