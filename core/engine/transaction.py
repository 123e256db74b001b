"""One SMTP transaction (MAIL, one RCPT, DATA) on an open session, lean.

When the relay advertises PIPELINING (RFC 2920; SES, Gmail, Postfix do),
MAIL, RCPT and DATA go out in one write and their three replies are read
together: two round trips fewer per message, which is most of the cost
beyond the relay's own reply time when each connection waits for it.
aiosmtplib does the session setup (TLS, AUTH) and then hands the transport
to ``PipelinedSession`` (aiosmtplib's reader keeps one reply at a time and
cannot take pipelined replies). Without PIPELINING, ``PlainSession`` sends
each command and waits, through aiosmtplib's own methods.

aiosmtplib's ``sendmail`` re-parses both addresses four times and runs two
regular expressions over the whole message per call (~150 µs of the
engine's ~550 µs per 10 KB message). Here the envelope is encoded once
(and checked for characters that could inject a command), and the payload
is dot-stuffed with ``bytes.replace``; line endings are normalised only
when the message is not already pure CRLF (the content builder's output
always is). Errors are aiosmtplib's own exceptions, as ``sendmail`` raises
them, so reply classification is unchanged; after a refused command the
envelope is reset (RSET) as ``sendmail`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import deque

import aiosmtplib
from aiosmtplib.protocol import normalize_message_line_endings

UNSAFE = re.compile(rb"[\x00-\x20<>\x7f]")  # nothing that could end or inject a command


class EnvelopeError(ValueError):
    """An address that cannot go on an SMTP command line as it is."""


class UnconfirmedDelivery(Exception):  # noqa: N818 - a fact about the message, not a bug
    """The message went out but its reply was lost (close, reset or timeout).

    The relay may have queued it (RFC 1047): resending on its own could
    deliver it twice, so the outcome is unknown until the operator decides.
    """


def envelope_address(address: str) -> bytes:
    """``<address>`` as bytes for MAIL FROM / RCPT TO; EnvelopeError when unsafe."""
    try:
        encoded = address.strip().encode("ascii")
    except UnicodeEncodeError:
        raise EnvelopeError(f"{address!r} is not ASCII (the relay needs SMTPUTF8)") from None
    if not encoded or UNSAFE.search(encoded):
        raise EnvelopeError(f"{address!r} cannot be sent on an SMTP command line")
    return b"<" + encoded + b">"


def data_payload(message: bytes) -> bytes:
    """The bytes after DATA: CRLF line endings, dot-stuffed, ending in CRLF.CRLF."""
    n_lf = message.count(b"\n")
    if n_lf != message.count(b"\r") or n_lf != message.count(b"\r\n"):
        message = normalize_message_line_endings(message)
    elif not message.endswith(b"\r\n"):
        message += b"\r\n"
    if message.startswith(b"."):
        message = b"." + message
    return message.replace(b"\r\n.", b"\r\n..") + b".\r\n"


async def transact(
    smtp: aiosmtplib.SMTP, mail_from: bytes, rcpt_to: bytes, payload: bytes, timeout: float
) -> str:
    """Send one message to one recipient; returns the final reply text.

    Raises SMTPSenderRefused, SMTPRecipientsRefused, SMTPDataError (after an
    RSET), SMTPServerDisconnected / SMTPTimeoutError (session closed before the
    message went out) or UnconfirmedDelivery (closed after it went out).
    """
    options = (b"SIZE=%d" % len(payload),) if smtp.supports_extension("size") else ()
    reply = await smtp.execute_command(b"MAIL", b"FROM:" + mail_from, *options, timeout=timeout)
    if reply.code != 250:
        await _reset(smtp, timeout)
        raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, mail_from.decode())
    reply = await smtp.execute_command(b"RCPT", b"TO:" + rcpt_to, timeout=timeout)
    if reply.code not in (250, 251):
        await _reset(smtp, timeout)
        refused = aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, rcpt_to.decode())
        raise aiosmtplib.SMTPRecipientsRefused([refused])
    reply = await smtp.execute_command(b"DATA", timeout=timeout)
    if reply.code != 354:
        await _reset(smtp, timeout)
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)
    protocol = smtp.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    try:
        # No await between the write and read_response: the reply cannot be missed.
        protocol.write(payload)
        reply = await protocol.read_response(timeout=timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
        smtp.close()  # a late reply must never be paired with the next command
        raise _unconfirmed(exc) from exc
    if reply.code != 250:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)
    return reply.message


def _unconfirmed(exc: BaseException) -> UnconfirmedDelivery:
    return UnconfirmedDelivery(
        f"no reply after the message was sent ({type(exc).__name__}: {exc});"
        " the relay may have accepted it"
    )


async def _reset(smtp: aiosmtplib.SMTP, timeout: float) -> None:
    with contextlib.suppress(aiosmtplib.SMTPException, OSError):
        await smtp.execute_command(b"RSET", timeout=timeout)


class PlainSession:
    """An aiosmtplib session without PIPELINING: one command, one reply."""

    def __init__(self, smtp: aiosmtplib.SMTP) -> None:
        self.smtp = smtp

    @property
    def is_connected(self) -> bool:
        return self.smtp.is_connected

    async def transact(self, mail_from: bytes, rcpt_to: bytes, payload: bytes, timeout: float):
        return await transact(self.smtp, mail_from, rcpt_to, payload, timeout)

    async def quit(self) -> None:
        await self.smtp.quit()

    def close(self) -> None:
        self.smtp.close()


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class PipelinedSession(asyncio.Protocol):
    """The session's transport after aiosmtplib's handshake, with pipelined transactions."""

    def __init__(self, transport: asyncio.Transport, size: bool) -> None:
        self.transport = transport
        self.size = size
        self._buffer = bytearray()
        self._replies: deque[aiosmtplib.SMTPResponse] = deque()
        self._waiter: asyncio.Future | None = None
        self._lost: Exception | None = None

    @classmethod
    def take_over(cls, smtp: aiosmtplib.SMTP) -> PipelinedSession:
        session = cls(smtp.transport, smtp.supports_extension("size"))
        smtp.transport.set_protocol(session)
        return session

    # -- asyncio.Protocol ------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        try:
            self._parse()
        except aiosmtplib.SMTPResponseException as exc:
            self._lost = exc
            self.transport.close()
        self._wake()

    def eof_received(self) -> bool:
        self._lost = self._lost or aiosmtplib.SMTPServerDisconnected("Unexpected EOF received")
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = self._lost or aiosmtplib.SMTPServerDisconnected("Connection lost")
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _parse(self) -> None:
        """Move every complete reply (multi-line ones joined) from the buffer to the queue."""
        start = 0
        while True:
            lines, pos = [], start
            while (end := self._buffer.find(b"\n", pos)) >= 0:
                line = bytes(self._buffer[pos : end + 1])
                pos = end + 1
                lines.append(line)
                if line[3:4] != b"-":
                    break
            else:
                break  # no complete reply left
            try:
                code = int(lines[-1][:3])
            except ValueError:
                raise aiosmtplib.SMTPResponseException(
                    -1, f"Malformed SMTP response line: {lines[-1][:80]!r}"
                ) from None
            text = b"\n".join(x[4:].strip(b" \t\r\n") for x in lines)
            self._replies.append(
                aiosmtplib.SMTPResponse(code, text.decode("utf-8", "surrogateescape"))
            )
            start = pos
        del self._buffer[:start]

    # -- the session ---------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        return self._lost is None and not self.transport.is_closing()

    def _write(self, data: bytes) -> None:
        if not self.is_connected:
            raise self._lost or aiosmtplib.SMTPServerDisconnected("Connection lost")
        self.transport.write(data)

    async def _reply(self, timeout: float) -> aiosmtplib.SMTPResponse:
        if not self._replies:
            if self._lost is not None:
                raise self._lost
            loop = asyncio.get_running_loop()
            self._waiter = waiter = loop.create_future()
            # A timer on the future itself: lighter than asyncio.wait_for, 4x per message.
            timer = loop.call_later(timeout, _expire, waiter)
            try:
                await waiter
            except TimeoutError:
                self.close()  # a late reply must never be paired with the next command
                raise aiosmtplib.SMTPReadTimeoutError(
                    "Timed out waiting for server response"
                ) from None
            finally:
                timer.cancel()
                self._waiter = None
            if not self._replies:
                raise self._lost or aiosmtplib.SMTPServerDisconnected("Connection lost")
        return self._replies.popleft()

    async def transact(
        self, mail_from: bytes, rcpt_to: bytes, payload: bytes, timeout: float
    ) -> str:
        """As ``transact`` above, with MAIL, RCPT and DATA in one write."""
        size = b" SIZE=%d" % len(payload) if self.size else b""
        self._write(b"MAIL FROM:" + mail_from + size + b"\r\nRCPT TO:" + rcpt_to + b"\r\nDATA\r\n")
        replies: list[aiosmtplib.SMTPResponse] = []
        failure: Exception | None = None
        for _ in range(3):
            try:
                replies.append(await self._reply(timeout))
            except aiosmtplib.SMTPServerDisconnected:
                if failure is None:
                    raise
                break  # the refusal came first (e.g. 421 then close): report that
            failure = failure or _refusal(len(replies), replies[-1], mail_from, rcpt_to)
        if failure is not None:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                if len(replies) == 3 and replies[2].code == 354:
                    self._write(b".\r\n")  # DATA was accepted anyway: end it empty
                    await self._reply(timeout)
                if self.is_connected:
                    self._write(b"RSET\r\n")
                    await self._reply(timeout)
            raise failure
        self._write(payload)
        try:
            reply = await self._reply(timeout)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
            self.close()
            raise _unconfirmed(exc) from exc
        if reply.code != 250:
            raise aiosmtplib.SMTPDataError(reply.code, reply.message)
        return reply.message

    async def quit(self) -> None:
        self._write(b"QUIT\r\n")
        try:
            await self._reply(5.0)
        finally:
            self.close()

    def close(self) -> None:
        self.transport.close()


def _refusal(
    n: int, reply: aiosmtplib.SMTPResponse, mail_from: bytes, rcpt_to: bytes
) -> Exception | None:
    """The exception ``sendmail`` would raise for the ``n``-th pipelined reply, if any."""
    if n == 1 and reply.code != 250:
        return aiosmtplib.SMTPSenderRefused(reply.code, reply.message, mail_from.decode())
    if n == 2 and reply.code not in (250, 251):
        refused = aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, rcpt_to.decode())
        return aiosmtplib.SMTPRecipientsRefused([refused])
    if n == 3 and reply.code != 354:
        return aiosmtplib.SMTPDataError(reply.code, reply.message)
    return None


Session = PlainSession | PipelinedSession


def session_for(smtp: aiosmtplib.SMTP) -> Session:
    """Pipelined when the relay advertises PIPELINING, else plain."""
    if smtp.supports_extension("pipelining") and smtp.transport is not None:
        return PipelinedSession.take_over(smtp)
    return PlainSession(smtp)
