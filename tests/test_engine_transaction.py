"""The lean transaction path: envelope encoding, DATA payloads, pipelined sessions."""

from __future__ import annotations

import pytest

from core.accounts.connect import open_session
from core.engine.transaction import (
    EnvelopeError,
    PipelinedSession,
    PlainSession,
    data_payload,
    envelope_address,
    session_for,
)
from tests.support.smtp_server import ScriptedSMTPServer, reply


def test_envelope_addresses_refuse_anything_that_could_inject_a_command():
    assert envelope_address("a@example.com") == b"<a@example.com>"
    for bad in ("a@example.com>\r\nRCPT TO:<b@evil", "a b@example.com", "jörg@example.com", ""):
        with pytest.raises(EnvelopeError):
            envelope_address(bad)


def test_data_payload_dot_stuffs_and_normalises_line_endings():
    assert data_payload(b"A: b\r\n\r\n.hidden\r\nend") == b"A: b\r\n\r\n..hidden\r\nend\r\n.\r\n"
    assert data_payload(b".x\nlone\rcr\r\n") == b"..x\r\nlone\r\ncr\r\n.\r\n"


@pytest.mark.parametrize("pipelining", [True, False])
async def test_a_session_sends_refuses_and_resets_like_sendmail(pipelining):
    with ScriptedSMTPServer(pipelining=pipelining) as server:
        server.script("gone@example.com", reply("550 5.1.1 No such user"))
        server.script("spam@example.com", reply("554 5.7.1 Rejected", at="data"))
        account = {"host": "127.0.0.1", "port": server.port, "tls": "none", "auth": "none"}
        session = session_for(await open_session(account, timeout=2))
        assert isinstance(session, PipelinedSession if pipelining else PlainSession)
        sender = b"<news@example.org>"
        body = data_payload(b"Subject: hi\r\n\r\n.dot line\r\n")
        assert "OK" in await session.transact(sender, b"<a@example.com>", body, 2)
        with pytest.raises(Exception) as refused:
            await session.transact(sender, b"<gone@example.com>", body, 2)
        assert refused.value.recipients[0].code == 550
        with pytest.raises(Exception) as rejected:
            await session.transact(sender, b"<spam@example.com>", body, 2)
        assert rejected.value.code == 554
        assert "OK" in await session.transact(sender, b"<b@example.com>", body, 2)
        await session.quit()
        assert not session.is_connected
    assert server.received_counts() == {"a@example.com": 1, "b@example.com": 1}
    assert server.received[0].data.endswith(b".dot line\r\n")
