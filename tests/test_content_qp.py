"""The body's quoted-printable encoder: its fast path reads back exactly like b2a_qp's."""

from __future__ import annotations

import binascii
import random
from email import message_from_bytes, policy

import pytest

from core.content.build import _qp


def parse(encoded: bytes) -> str:
    """What a mail client shows: the stdlib parser's reading of the body."""
    head = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable"
    content = message_from_bytes(head + b"\r\n\r\n" + encoded, policy=policy.default).get_content()
    return content.replace("\r\n", "\n")


def reference(text: str) -> bytes:
    data = text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n").encode("utf-8", "replace")
    return binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")


def texts(n: int) -> list[str]:
    rng = random.Random(7)
    alphabet = "ab .\t-\n" + "x" * 8
    lengths = (0, 1, 74, 75, 76, 77, 78, 150, 151, 152, 153, 400)
    out = ["Dear ana@example.com, " + "Lorem ipsum dolor sit amet. " * 300]  # one long line
    out += ["".join(rng.choice(alphabet) for _ in range(rng.choice(lengths))) for _ in range(n)]
    out += ["a = b, café\r\nline two \t\r\n.", "x" * 75 + " ", "x" * 76 + "\t", "From me\n.\n"]
    return out


@pytest.mark.parametrize("text", texts(400))
def test_the_body_reads_back_as_written_within_smtp_line_rules(text):
    encoded = _qp(text)
    assert parse(encoded) == parse(reference(text))
    assert parse(encoded).rstrip("\n") == text.replace("\r\n", "\n").rstrip("\n")
    lines = encoded.split(b"\r\n")
    assert b"\n" not in b"".join(lines) and b"\r" not in b"".join(lines)
    assert not any(line.endswith((b" ", b"\t")) for line in lines)  # relays strip those
    assert all(len(line) <= 76 for line in lines)
