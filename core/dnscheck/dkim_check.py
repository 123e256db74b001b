"""DKIM: the selector's TXT exists, parses, and publishes the key Postroom signs with."""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dkim.util import InvalidTagValueList, parse_tag_value

from core.dkim import DkimError, DkimKey, load_private_key, public_key_txt
from core.dnscheck.findings import Finding, zone_txt
from core.dnscheck.resolver import Resolver


def _public_key(p: str) -> rsa.RSAPublicKey | None:
    """The RSA key in a p= value (SubjectPublicKeyInfo, or bare PKCS#1)."""
    try:
        der = base64.b64decode("".join(p.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    for load in (serialization.load_der_public_key, _load_pkcs1):
        try:
            key = load(der)
        except (ValueError, TypeError):
            continue
        return key if isinstance(key, rsa.RSAPublicKey) else None
    return None


def _load_pkcs1(der: bytes) -> object:
    pem = b"-----BEGIN RSA PUBLIC KEY-----\n" + base64.encodebytes(der)
    return serialization.load_pem_public_key(pem + b"-----END RSA PUBLIC KEY-----\n")


async def check_dkim(resolver: Resolver, domain: str, key: DkimKey | None) -> list[Finding]:
    """Check the published record of ``key`` (None: Postroom has no key for ``domain``)."""
    if key is None:
        return [
            Finding(
                "dkim",
                "fail",
                f"Postroom has no DKIM key for {domain}: mail goes out unsigned. "
                f"Run: postroom dkim generate {domain} SELECTOR",
            )
        ]
    try:
        private = load_private_key(key.pem(), str(key.path))
    except DkimError as exc:
        return [Finding("dkim", "fail", str(exc))]
    expected = public_key_txt(private.public_key())
    publish = zone_txt(key.dns_name, expected)
    lookup = await resolver.lookup(key.dns_name, "TXT")
    if lookup.failed:
        return [Finding("dkim", "error", lookup.failure_text())]
    records = [r for r in lookup.records if "p=" in r]
    if not records:
        return [Finding("dkim", "fail", f"no DKIM record at {key.dns_name}", publish)]
    if len(records) > 1:
        return [Finding("dkim", "fail", f"{len(records)} DKIM records at {key.dns_name}", publish)]
    try:
        tags = {k.decode(): v.decode() for k, v in parse_tag_value(records[0].encode()).items()}
    except (InvalidTagValueList, UnicodeError) as exc:
        return [Finding("dkim", "fail", f"{key.dns_name} does not parse: {exc}", publish)]
    if tags.get("v", "DKIM1") != "DKIM1" or tags.get("k", "rsa") != "rsa":
        return [Finding("dkim", "fail", f"{key.dns_name} is not a v=DKIM1 RSA key", publish)]
    if not tags.get("p"):
        return [Finding("dkim", "fail", f"{key.dns_name} is revoked (empty p=)", publish)]
    published = _public_key(tags["p"])
    if published is None:
        return [Finding("dkim", "fail", f"{key.dns_name}: p= is not an RSA public key", publish)]
    if published.public_numbers() != private.public_key().public_numbers():
        return [
            Finding(
                "dkim",
                "fail",
                f"{key.dns_name} publishes a different key than the one Postroom signs "
                "with: every signature will fail",
                publish,
            )
        ]
    findings = [
        Finding(
            "dkim",
            "pass",
            f"{key.dns_name} matches Postroom's {published.key_size}-bit key",
        )
    ]
    if published.key_size < 2048:
        findings.append(Finding("dkim", "warn", f"{published.key_size}-bit key; 2048 advised"))
    if "y" in tags.get("t", "").split(":"):
        findings.append(
            Finding("dkim", "warn", "t=y: testing mode, receivers may ignore the signature")
        )
    return findings
