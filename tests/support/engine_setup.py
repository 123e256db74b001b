"""Building engine test databases: a list, accounts on fixture servers, a campaign.

``simple_compile`` stands in for core.content.compile_campaign until it lands:
it builds each message by splicing the recipient into fixed bytes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import Config
from core.store import Store


@dataclass(frozen=True)
class Rendered:
    data: bytes
    message_id: str


class SimpleCompiled:
    def __init__(self, campaign: dict[str, Any]) -> None:
        self.envelope_from = campaign["from_email"] or "news@example.org"
        self.subject = campaign["subject"] or "Hello"

    def render(self, recipient: dict[str, Any]) -> Rendered:
        email = recipient["email"]
        if recipient["fields"].get("broken"):
            raise ValueError("'first_name' is undefined")
        message_id = f"<{recipient['subscriber_id']}.test@example.org>"
        data = (
            f"From: {self.envelope_from}\r\nTo: {email}\r\nSubject: {self.subject}\r\n"
            f"Message-ID: {message_id}\r\n\r\nHello {email}\r\n"
        ).encode()
        return Rendered(data, message_id)


def simple_compile(store: Store, campaign_id: int, config: Config) -> SimpleCompiled:
    return SimpleCompiled(store.campaigns.get(campaign_id))


def add_account(store: Store, name: str, port: int, **values: Any) -> int:
    defaults = {
        "host": "127.0.0.1",
        "port": port,
        "tls": "none",
        "auth": "none",
        "rate": 1000.0,
        "max_connections": 2,
        "max_messages_per_connection": 100,
    }
    return store.accounts.create(name=name, **{**defaults, **values})


def make_campaign(
    store: Store,
    recipients: list[str],
    accounts: dict[int, int],
    name: str = "spring",
    fields: dict[str, dict[str, Any]] | None = None,
    **values: Any,
) -> int:
    list_id = store.lists.ensure(f"{name}-list")
    store.subscribers.upsert_many(
        [
            {
                "email": email,
                "domain": email.rsplit("@", 1)[1],
                "fields": (fields or {}).get(email, {}),
            }
            for email in recipients
        ],
        list_id=list_id,
    )
    values = {"from_email": "news@example.org", "subject": "Spring news", **values}
    campaign_id = store.campaigns.create(name=name, list_id=list_id, **values)
    store.campaigns.set_accounts(campaign_id, accounts)
    return campaign_id


def addresses(n: int, domain: str = "example.com", prefix: str = "user") -> list[str]:
    return [f"{prefix}{i}@{domain}" for i in range(n)]


def engine_config(**engine: Any) -> Config:
    config = Config()
    config.values["engine"].update(
        {"smtp_timeout_seconds": 2, "connection_idle_seconds": 5, "commit_interval_ms": 5}
    )
    config.values["engine"].update(engine)
    return config


def ledger_states(db_path: Path, campaign_id: int) -> dict[str, str]:
    """{email: state} straight from the database file."""
    store = Store(db_path)
    try:
        rows = store.db.all(
            "SELECT email, state FROM deliveries WHERE campaign_id = ?", (campaign_id,)
        )
    finally:
        store.close()
    return {row["email"]: row["state"] for row in rows}


class FakeClock:
    """An injected clock: tests move time forward instead of waiting."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def wait_until(predicate, timeout: float = 10.0) -> None:  # noqa: ANN001
    """Poll from a plain thread (an engine under LocalControl runs in its own)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


async def until(predicate, timeout: float = 10.0) -> None:
    """Yield to the engine until ``predicate()`` holds (fails after ``timeout``)."""
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)
