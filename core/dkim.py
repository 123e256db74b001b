"""DKIM signing (RFC 6376) and the keys it uses.

Canonicalisation, header selection and the signature header come from
dkimpy; the RSA step is done by ``cryptography`` with a key parsed once,
because dkimpy's pure-Python RSA costs ~6.8 ms per signature against
~0.25 ms (SENDING-RULES.md §1). Keys are 2048-bit RSA files, mode 0600,
under ``<data dir>/dkim/<domain>/<selector>.pem`` and recorded in the
``dkim_keys`` table; the newest key of a domain signs its mail.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import dkim
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from dkim.canonicalization import correct_empty_body, strip_trailing_lines

from core.config import data_dir

if TYPE_CHECKING:
    from core.store import Store

# Signed when present, in this order. List-Unsubscribe-Post is not in
# dkimpy's default list, yet RFC 8058 requires both unsubscribe headers to
# be covered (SENDING-RULES.md §1).
DEFAULT_SIGNED_HEADERS: tuple[bytes, ...] = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"mime-version",
    b"content-type",
    b"reply-to",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"feedback-id",
)

MIN_KEY_BITS = 1024  # receivers ignore shorter keys; 2048 is what we generate
KEY_BITS = 2048

_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?"
_NAME = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
_CANON = dkim.CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")


class DkimError(Exception):
    """A DKIM key or signing problem, in one line for the operator."""


def check_name(value: str, what: str) -> str:
    """A domain or selector as DNS labels, lower-cased; refuses anything else.

    These values end up in headers, DNS names and file names, so only
    letters, digits, '-', '_' and dots get through.
    """
    name = value.lower().rstrip(".")
    if not _NAME.match(name) or len(name) > 253:
        raise DkimError(f"{what} {value!r} is not a valid DNS name")
    return name


def load_private_key(pem: bytes, source: str = "key") -> rsa.RSAPrivateKey:
    """Parse an unencrypted PEM RSA key (PKCS#1 or PKCS#8) of at least 1024 bits."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:
        raise DkimError(f"{source}: the key is encrypted; decrypt it first") from None
    except (ValueError, UnsupportedAlgorithm):
        raise DkimError(f"{source}: not a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise DkimError(f"{source}: not an RSA key (Postroom signs rsa-sha256)")
    if key.key_size < MIN_KEY_BITS:
        raise DkimError(f"{source}: {key.key_size}-bit key; receivers need at least 1024")
    return key


class DkimSigner:
    """Signs messages for one domain and selector (rsa-sha256, relaxed/relaxed)."""

    def __init__(
        self,
        domain: str,
        selector: str,
        private_key_pem: bytes,
        headers: tuple[bytes, ...] = DEFAULT_SIGNED_HEADERS,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.domain = check_name(domain, "domain").encode("ascii")
        self.selector = check_name(selector, "selector").encode("ascii")
        self.headers = tuple(h.lower() for h in headers)
        if b"from" not in self.headers:
            raise DkimError("the From header must be signed")
        self._key = load_private_key(private_key_pem, f"DKIM key {selector}._domainkey.{domain}")
        self._clock = clock

    @property
    def key_bits(self) -> int:
        return self._key.key_size

    def public_key(self) -> rsa.RSAPublicKey:
        return self._key.public_key()

    def sign(self, message: bytes) -> bytes:
        """The ``DKIM-Signature: ...\\r\\n`` header (folded) to prepend to ``message``."""
        try:
            # Parse only the header block: dkimpy's parser splits the whole
            # message into lines, which costs more than the RSA step.
            head, blank, body = message.partition(b"\r\n\r\n")
            if blank:
                headers, _ = dkim.rfc822_parse(head + blank)
            else:
                headers, body = dkim.rfc822_parse(message)
        except dkim.MessageFormatError as exc:
            raise DkimError(f"cannot sign: {exc}") from None
        present = {name.lower() for name, _ in headers}
        include = tuple(h for h in self.headers if h in present)
        if b"from" not in include:
            raise DkimError("cannot sign: the message has no From header")
        body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest())
        fields = [
            (b"v", b"1"),
            (b"a", b"rsa-sha256"),
            (b"c", b"relaxed/relaxed"),
            (b"d", self.domain),
            (b"s", self.selector),
            (b"t", str(int(self._clock())).encode("ascii")),
            (b"h", b" : ".join(include)),  # spaces let fold() break the list
            (b"bh", body_hash),
            (b"b", b""),
        ]
        unsigned = _fold(b"; ".join(b"=".join(field) for field in fields))
        hasher = hashlib.sha256()
        dkim.hash_headers(
            hasher,
            _CANON,
            _CANON.canonicalize_headers(headers),
            include,
            (b"DKIM-Signature", b" " + unsigned),
            dict(fields),
        )
        signature = self._key.sign(
            hasher.digest(), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
        )
        fields[-1] = (b"b", base64.b64encode(signature))
        return b"DKIM-Signature: " + _fold(b"; ".join(b"=".join(f) for f in fields)) + b"\r\n"


_TRAILING_WSP = re.compile(rb"[\t ]+\r\n")
_WSP_RUN = re.compile(rb"[\t ]+")


def relaxed_body(body: bytes) -> bytes:
    """RFC 6376 relaxed body canonicalisation, as dkimpy does it, but cheaper.

    The two regex passes cost ~0.3 ms on a 10 KB body; our own bodies are
    quoted-printable and usually need neither, which a substring test
    (a few µs) can tell. Tests prove the result with ``dkim.verify``.
    """
    if b"\t" in body or b" \r\n" in body:
        body = _TRAILING_WSP.sub(b"\r\n", body)
    if b"\t" in body or b"  " in body:
        body = _WSP_RUN.sub(b" ", body)
    return correct_empty_body(strip_trailing_lines(body))


def _fold(value: bytes) -> bytes:
    # Folds only at spaces (and inside b=, where whitespace is ignored), so
    # relaxed canonicalisation hashes the folded and unfolded forms alike.
    return dkim.fold(value, namelen=len(b"DKIM-Signature: "))


# -- keys on disk and in the store -------------------------------------------


@dataclass(frozen=True)
class DkimKey:
    domain: str
    selector: str
    path: Path

    @property
    def dns_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    def pem(self) -> bytes:
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise DkimError(f"{self.path}: {exc.strerror}") from None

    def public_dns_record(self) -> tuple[str, str]:
        return public_dns_record(self.pem(), self.domain, self.selector)


def key_dir() -> Path:
    return data_dir() / "dkim"


def public_key_txt(public_key: rsa.RSAPublicKey) -> str:
    """The TXT value that publishes ``public_key``: ``v=DKIM1; k=rsa; p=...``."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"


def public_dns_record(private_key_pem: bytes, domain: str, selector: str) -> tuple[str, str]:
    """``(name, value)`` of the TXT record to publish for this key.

    The value is one string; zone files and DNS consoles split it into
    255-byte pieces (core.dnscheck.records.zone_txt does).
    """
    domain = check_name(domain, "domain")
    selector = check_name(selector, "selector")
    key = load_private_key(private_key_pem, f"DKIM key {selector}._domainkey.{domain}")
    return f"{selector}._domainkey.{domain}", public_key_txt(key.public_key())


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` mode 0600 in one step: a crash leaves no half key."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.link(tmp, path)  # fails if the file exists: never overwrite a key
    except FileExistsError:
        raise DkimError(f"{path}: already exists; choose another selector") from None
    finally:
        os.unlink(tmp)


def _store_key(store: Store, domain: str, selector: str, key: rsa.RSAPrivateKey) -> DkimKey:
    domain = check_name(domain, "domain")
    selector = check_name(selector, "selector")
    if store.dkim_keys.get(domain, selector) is not None:
        raise DkimError(
            f"{domain} already has a key for selector {selector!r}; "
            "use a new selector to rotate keys"
        )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = key_dir() / domain / f"{selector}.pem"
    _write_private(path, pem)
    try:
        store.dkim_keys.add(domain, selector, str(path))
    except Exception:
        path.unlink()
        raise
    return DkimKey(domain, selector, path)


def generate_key(store: Store, domain: str, selector: str, *, bits: int = KEY_BITS) -> DkimKey:
    """Make a new RSA key for ``domain``/``selector``, store it 0600 and record it."""
    if bits < MIN_KEY_BITS:
        raise DkimError(f"{bits}-bit keys are too short; use at least {KEY_BITS}")
    check_name(domain, "domain")
    check_name(selector, "selector")
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return _store_key(store, domain, selector, key)


def import_key(store: Store, domain: str, selector: str, pem_path: Path) -> DkimKey:
    """Copy an existing unencrypted PEM key into Postroom's key directory."""
    try:
        pem = Path(pem_path).read_bytes()
    except OSError as exc:
        raise DkimError(f"{pem_path}: {exc.strerror}") from None
    return _store_key(store, domain, selector, load_private_key(pem, str(pem_path)))


def keys_for(store: Store, domain: str) -> list[DkimKey]:
    """The domain's keys, newest (the one that signs) first."""
    return [
        DkimKey(row["domain"], row["selector"], Path(row["key_path"]))
        for row in store.dkim_keys.for_domain(domain)
    ]


def signer_for(store: Store, domain: str) -> DkimSigner | None:
    """A signer with the domain's newest key, or None when it has no key.

    A recorded key whose file is gone or unreadable raises DkimError:
    sending unsigned mail by surprise would be worse than stopping.
    """
    keys = keys_for(store, domain)
    if not keys:
        return None
    key = keys[0]
    return DkimSigner(key.domain, key.selector, key.pem())
