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
