"""DKIM signatures per second: Postroom's DkimSigner against dkimpy's own sign().

Same 2048-bit key, same ~3 KB campaign message, relaxed/relaxed, same
header list. dkimpy re-parses the PEM and does RSA in pure Python on
every call; DkimSigner parses the key once and hands RSA to cryptography.
"""

from __future__ import annotations

import time

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from core.dkim import DEFAULT_SIGNED_HEADERS, DkimSigner


def _message(i: int) -> bytes:
    body = ("Hello reader, here is this month's news. " * 2 + "\r\n") * 35
    return (
        "From: News <news@example.com>\r\n"
        f"To: reader{i}@example.org\r\n"
        "Subject: March news\r\n"
        "Date: Mon, 03 Mar 2025 10:00:00 +0000\r\n"
        f"Message-ID: <{i}@example.com>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"List-Unsubscribe: <https://lists.example.com/u/{i:08x}>\r\n"
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        "\r\n" + body
    ).encode()


def _rate(sign, messages: list[bytes], seconds: float) -> tuple[float, int]:
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        sign(messages[count % len(messages)])
        count += 1
    return count / elapsed, count


def main(argv: list[str]) -> dict:
    seconds = 3.0
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    messages = [_message(i) for i in range(100)]
    signer = DkimSigner("example.com", "s1", pem)
    present = [h for h in DEFAULT_SIGNED_HEADERS if h not in (b"reply-to", b"feedback-id")]

    def dkimpy_sign(message: bytes) -> bytes:
        return dkim.sign(
            message,
            b"s1",
            b"example.com",
            pem,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=present,
        )

    ours, ours_n = _rate(signer.sign, messages, seconds)
    theirs, theirs_n = _rate(dkimpy_sign, messages, seconds)
    result = {
        "message_bytes": len(messages[0]),
        "key_bits": 2048,
        "postroom_signatures_per_second": round(ours, 1),
        "postroom_ms_per_signature": round(1000 / ours, 3),
        "dkimpy_signatures_per_second": round(theirs, 1),
        "dkimpy_ms_per_signature": round(1000 / theirs, 3),
        "speedup": round(ours / theirs, 1),
        "samples": {"postroom": ours_n, "dkimpy": theirs_n},
        "note": "one core; the machine's other core was busy with other engineers' work",
    }
    print(
        f"   DkimSigner: {ours:,.0f}/s ({1000 / ours:.3f} ms); "
        f"dkimpy.sign: {theirs:,.0f}/s ({1000 / theirs:.3f} ms); x{ours / theirs:.1f}"
    )
    return result
