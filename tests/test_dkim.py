"""DKIM keys and signatures, verified by dkimpy against the key our DNS serves."""

from __future__ import annotations

import os
import stat

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from core.dkim import (
    DkimError,
    DkimSigner,
    generate_key,
    import_key,
    public_dns_record,
    relaxed_body,
    signer_for,
)
from tests.support.dns_server import DnsServer
from tests.support.domains import loopback_dnsfunc

MESSAGE = (
    b"From: News <news@example.com>\r\n"
    b"To: reader@example.org\r\n"
    b"Subject: Spring   sale\r\n"
    b"\tends Friday\r\n"
    b"Date: Mon, 03 Mar 2025 10:00:00 +0000\r\n"
    b"Message-ID: <abc@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"List-Unsubscribe: <https://lists.example.com/u/tok123>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"X-Mailer: postroom\r\n"
    b"\r\n"
    b"Hello  reader,\r\n"
    b"\r\n"
    b"the sale ends Friday.\r\n"
    b"\r\n"
    b"\r\n"
)


@pytest.fixture
def dns_server():
    with DnsServer() as server:
        yield server


def signature_tags(header: bytes) -> dict[bytes, bytes]:
    value = header.split(b":", 1)[1]
    return dkim.util.parse_tag_value(b"".join(value.split()))


@pytest.fixture(scope="module")
def pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def test_generated_key_signs_mail_that_verifies_against_the_published_record(
    store, dns_server, tmp_path
):
    key = generate_key(store, "Example.com", "s2025")
    assert key.path == tmp_path / "xdg-data" / "postroom" / "dkim" / "example.com" / "s2025.pem"
    assert stat.S_IMODE(os.stat(key.path).st_mode) == 0o600
    assert store.dkim_keys.get("example.com", "s2025")["key_path"] == str(key.path)

    name, value = key.public_dns_record()
    assert name == "s2025._domainkey.example.com"
    assert value.startswith("v=DKIM1; k=rsa; p=")
    dns_server.txt(name, value)

    signer = signer_for(store, "example.com")
    assert signer.key_bits == 2048
    signed = signer.sign(MESSAGE) + MESSAGE
    assert dkim.verify(signed, dnsfunc=loopback_dnsfunc(dns_server))
    assert dns_server.queried(name, "TXT") >= 1

    tampered = signed.replace(b"ends Friday.", b"ends Sunday.")
    assert not dkim.verify(tampered, dnsfunc=loopback_dnsfunc(dns_server))
    resubjected = signed.replace(b"Spring   sale", b"Summer sale")
    assert not dkim.verify(resubjected, dnsfunc=loopback_dnsfunc(dns_server))


def test_both_unsubscribe_headers_are_in_h_and_absent_headers_are_not(pem):
    header = DkimSigner("example.com", "s1", pem).sign(MESSAGE)
    tags = signature_tags(header)
    signed = tags[b"h"].split(b":")
    assert b"list-unsubscribe" in signed
    assert b"list-unsubscribe-post" in signed
    assert {b"from", b"to", b"subject", b"date", b"message-id"} <= set(signed)
    assert b"reply-to" not in signed and b"x-mailer" not in signed
    assert tags[b"a"] == b"rsa-sha256"
    assert tags[b"c"] == b"relaxed/relaxed"
    assert (tags[b"d"], tags[b"s"]) == (b"example.com", b"s1")
    assert header.endswith(b"\r\n")
    assert all(len(line) <= 78 for line in header.split(b"\r\n"))


def test_relaxed_canonicalisation_survives_refolding_and_trailing_blanks(pem, dns_server):
    signer = DkimSigner("example.com", "s1", pem, clock=lambda: 1_700_000_000)
    dns_server.txt(*public_dns_record(pem, "example.com", "s1"))
    signed = signer.sign(MESSAGE) + MESSAGE
    assert signature_tags(signer.sign(MESSAGE))[b"t"] == b"1700000000"
    # A relay that rewraps a header and strips trailing blank lines: still valid.
    relayed = signed.replace(b"Spring   sale\r\n\tends", b"Spring sale ends").rstrip(b"\r\n")
    assert dkim.verify(relayed + b"\r\n", dnsfunc=loopback_dnsfunc(dns_server))


def test_imported_key_is_copied_private_and_signs(store, pem, tmp_path, dns_server):
    source = tmp_path / "old.pem"
    source.write_bytes(pem)
    key = import_key(store, "example.com", "legacy", source)
    assert stat.S_IMODE(os.stat(key.path).st_mode) == 0o600
    assert key.path != source
    dns_server.txt(*key.public_dns_record())
    assert key.public_dns_record() == public_dns_record(pem, "example.com", "legacy")
    signed = signer_for(store, "example.com").sign(MESSAGE) + MESSAGE
    assert dkim.verify(signed, dnsfunc=loopback_dnsfunc(dns_server))


def test_unusable_keys_are_refused_in_one_line(store, tmp_path):
    encrypted = tmp_path / "enc.pem"
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"hunter2"),
        )
    )
    with pytest.raises(DkimError, match="encrypted; decrypt it first"):
        import_key(store, "example.com", "s1", encrypted)
    ec_key = tmp_path / "ec.pem"
    ec_key.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(DkimError, match="not an RSA key"):
        import_key(store, "example.com", "s1", ec_key)
    garbage = tmp_path / "junk.pem"
    garbage.write_text("hello")
    with pytest.raises(DkimError, match="junk.pem: not a PEM private key"):
        import_key(store, "example.com", "s1", garbage)
    with pytest.raises(DkimError, match="No such file"):
        import_key(store, "example.com", "s1", tmp_path / "absent.pem")
    assert store.dkim_keys.all() == []


def test_a_selector_is_never_overwritten(store):
    first = generate_key(store, "example.com", "s1")
    before = first.path.read_bytes()
    with pytest.raises(DkimError, match="already has a key for selector 's1'"):
        generate_key(store, "example.com", "s1")
    assert first.path.read_bytes() == before


def test_names_that_could_inject_headers_or_paths_are_refused(store, pem):
    for selector in ("s1\r\nBcc: x@evil.test", "../../etc", "a b", ""):
        with pytest.raises(DkimError, match="not a valid DNS name"):
            generate_key(store, "example.com", selector)
    with pytest.raises(DkimError, match="not a valid DNS name"):
        DkimSigner("example.com\r\n", "s1", pem)


def test_no_key_means_no_signer_and_a_lost_key_file_is_an_error(store):
    assert signer_for(store, "example.com") is None
    key = generate_key(store, "example.com", "s1")
    key.path.unlink()
    with pytest.raises(DkimError, match=str(key.path)):
        signer_for(store, "example.com")


def test_a_message_without_from_is_not_signed(pem):
    with pytest.raises(DkimError, match="no From header"):
        DkimSigner("example.com", "s1", pem).sign(b"To: a@b.c\r\n\r\nhi\r\n")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\r\n",
        b"\r\n\r\n\r\n",
        b"plain line\r\n",
        b"no final newline",
        b"trailing spaces   \r\nand\ttabs\t\r\n\r\n\r\n",
        b"  indented  <p>  html  </p>\r\n\t\tdeep\r\n",
        b"=20soft=\r\nbreak =\r\n",
        b"x \r\n \r\n\t\r\n",
    ],
)
def test_relaxed_body_matches_dkimpy(body):
    reference = dkim.CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
    assert relaxed_body(body) == reference.canonicalize_body(body)
