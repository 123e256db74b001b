"""The engine sends a campaign through real SMTP servers on loopback."""

from __future__ import annotations

import asyncio

from core.engine import Engine
from core.store import Store
from tests.support.engine_setup import (
    add_account,
    addresses,
    engine_config,
    ledger_states,
    make_campaign,
    simple_compile,
)
from tests.support.smtp_server import ScriptedSMTPServer


async def test_a_campaign_reaches_every_recipient_once_and_the_ledger_says_so(db_path):
    recipients = addresses(40)
    with ScriptedSMTPServer() as server:
        store = Store(db_path)
        account = add_account(store, "relay", server.port, max_connections=3)
        campaign = make_campaign(store, recipients, {account: 1})
        store.close()

        engine = Engine(db_path, engine_config(), compile=simple_compile)
        await engine.start()
        counts = engine.launch(campaign, user="ana")
        assert counts == {"queued": 40}
        await asyncio.wait_for(engine.run(campaign), 10)

    assert server.received_counts() == {r: 1 for r in recipients}
    assert set(ledger_states(db_path, campaign).values()) == {"sent"}
    store = Store(db_path)
    assert store.campaigns.get(campaign)["state"] == "completed"
    attempts = store.db.all("SELECT * FROM delivery_attempts WHERE outcome = 'sent'")
    assert len(attempts) == 40
    assert all(a["message_id"] and a["account_id"] == account for a in attempts)
    # Connections are reused: far fewer sessions than messages.
    assert server.sessions <= 3
    store.close()


async def test_the_real_content_path_renders_and_the_ledger_keeps_each_message_id(db_path):
    from email import message_from_bytes

    recipients = addresses(5)
    with ScriptedSMTPServer() as server:
        store = Store(db_path)
        account = add_account(store, "relay", server.port)
        campaign = make_campaign(store, recipients, {account: 1}, text_body="Hi {{ email }}")
        store.close()
        engine = Engine(db_path, engine_config())  # default compile: core.content
        await engine.start()
        engine.launch(campaign, user="ana")
        await asyncio.wait_for(engine.run(campaign), 10)

    ids = dict(
        Store(db_path).db.execute(
            "SELECT email, message_id FROM deliveries WHERE campaign_id = ?", (campaign,)
        )
    )
    for received in server.received:
        message = message_from_bytes(received.data)
        assert message["Message-ID"] == ids[received.rcpt]
        assert message["List-Unsubscribe"].startswith("<https://")
        body = message.get_payload(decode=True).decode()  # text only: not multipart
        assert f"Hi {received.rcpt}" in body
    assert sorted(r.rcpt for r in server.received) == sorted(recipients)


async def test_signed_campaigns_arrive_with_a_dkim_signature_that_verifies(db_path):
    import dkim

    from core.dkim import generate_key
    from tests.support.dns_server import DnsServer
    from tests.support.domains import loopback_dnsfunc

    recipients = addresses(12)
    with ScriptedSMTPServer() as server, DnsServer() as dns_server:
        store = Store(db_path)
        account = add_account(store, "relay", server.port, max_connections=3)
        campaign = make_campaign(store, recipients, {account: 1}, text_body="Hi {{ email }}")
        key = generate_key(store, "example.org", "s1")  # the campaign's From domain
        dns_server.txt(*key.public_dns_record())
        store.close()
        engine = Engine(db_path, engine_config())  # core.content; signing on worker threads
        await engine.start()
        engine.launch(campaign, user="ana")
        await asyncio.wait_for(engine.run(campaign), 20)
        verify = loopback_dnsfunc(dns_server)
        assert sorted(r.rcpt for r in server.received) == sorted(recipients)
        for received in server.received:
            assert received.data.startswith(b"DKIM-Signature: ")
            assert dkim.verify(received.data, dnsfunc=verify), received.rcpt
    assert set(ledger_states(db_path, campaign).values()) == {"sent"}
