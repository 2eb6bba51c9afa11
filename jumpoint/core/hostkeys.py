"""Host keys: the value type, the verdict of a check, and the store interface the Jumpoint implements."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass
from typing import Literal, Protocol

CERTIFICATE_ALGORITHM = "x509-sha256"
"""A TLS server certificate (VNC's VeNCrypt, RDP) cached like a host key: the blob holds its SHA-256."""
_DIGEST_SIZE = 32
KNOWN_HOST_MAX = 253
"""The longest host name a cached key is kept for (a DNS name; IP addresses are shorter)."""
KEY_BLOB_MAX = 16 * 1024
"""The longest base64 key blob accepted from anyone (an RSA-16384 key is about 2,800 characters)."""
_ALGORITHM = re.compile(r"^[A-Za-z0-9@._+-]{1,64}$")
_HOST_FORBIDDEN = frozenset(",[]*?!|#/\\")


@dataclass(frozen=True, slots=True)
class HostKey:
    """A public host key as OpenSSH writes it: algorithm name and base64 key blob."""

    algorithm: str
    blob_b64: str

    @property
    def fingerprint(self) -> str:
        """The SHA256 fingerprint in OpenSSH's form, e.g. ``SHA256:abc...`` (unpadded base64); for a certificate,
        the certificate's own SHA-256 as ``SHA256:AB:CD:...`` (what ``openssl x509 -fingerprint -sha256`` shows)."""
        digest = certificate_digest(self)
        if digest is not None:
            return certificate_fingerprint(digest)
        digest = hashlib.sha256(base64.b64decode(self.blob_b64)).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    def openssh(self) -> str:
        """``algorithm base64`` as in a known_hosts line."""
        return f"{self.algorithm} {self.blob_b64}"


@dataclass(frozen=True, slots=True)
class KnownHost:
    """One cached key for one host and port."""

    host: str
    port: int
    key: HostKey
    added_at: str = ""


@dataclass(frozen=True, slots=True)
class HostKeyVerdict:
    """The result of checking a presented key against the cache.

    ``status`` is ``valid`` (a cached key matches), ``unknown`` (nothing cached for this host and port), or
    ``mismatch`` (keys are cached and none matches: always refused). ``known`` lists the cached keys.
    """

    status: Literal["valid", "unknown", "mismatch"]
    known: tuple[HostKey, ...] = ()


HostKeyDecision = Literal["save", "once", "abort"]


class HostKeyStore(Protocol):
    """The Jumpoint host's cache of trusted host keys (SSH keys; RDP certificate fingerprints later)."""

    def check(self, host: str, port: int, key: HostKey) -> HostKeyVerdict:
        """Compare ``key`` with what is cached for ``host:port``."""
        ...

    def trust(self, host: str, port: int, key: HostKey) -> None:
        """Cache ``key`` for ``host:port`` (durably, before returning)."""
        ...

    def list(self) -> list[KnownHost]:
        """Every cached key."""
        ...

    def remove(self, host: str, port: int, fingerprint: str | None = None) -> int:
        """Forget the keys of ``host:port`` (only the one with ``fingerprint`` if given); return how many."""
        ...


def parse_host_key(algorithm: str, blob_b64: str) -> HostKey:
    """The key ``algorithm`` / ``blob_b64`` after checking it: ValueError says what is wrong.

    Checks that the algorithm is a key algorithm name, that the blob is base64 of at most :data:`KEY_BLOB_MAX`
    characters, and that the blob names the same algorithm (its first SSH string), so a key can never be filed
    under another algorithm than its own.
    """
    if not _ALGORITHM.match(algorithm):
        raise ValueError(f"{algorithm!r} is not a key algorithm name")
    if len(blob_b64) > KEY_BLOB_MAX:
        raise ValueError(f"the key is over {KEY_BLOB_MAX} base64 characters")
    try:
        blob = base64.b64decode(blob_b64, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the key is not valid base64") from None
    if len(blob) < 4:
        raise ValueError("the key is too short")
    (size,) = struct.unpack(">I", blob[:4])
    if blob[4 : 4 + size] != algorithm.encode():
        raise ValueError(f"the key data is not an {algorithm} key")
    return HostKey(algorithm=algorithm, blob_b64=blob_b64)


def check_known_host(host: str) -> str:
    """``host`` as keys are cached for it (lower case), after checking that a known_hosts line can hold it.

    ValueError for an empty name, one over :data:`KNOWN_HOST_MAX` characters, or one with white space, a leading
    ``-`` or ``@``, or any of ``, [ ] * ? ! | # / \\`` (separators, patterns, hashes and markers of known_hosts).
    """
    if not 1 <= len(host) <= KNOWN_HOST_MAX:
        raise ValueError(f"a host name must be 1 to {KNOWN_HOST_MAX} characters")
    if host[0] in "-@" or any(ch.isspace() or ch in _HOST_FORBIDDEN for ch in host):
        raise ValueError(f"{host!r} is not a plain host name or IP address")
    return host.lower()


def _ssh_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def certificate_fingerprint(sha256: bytes) -> str:
    """A certificate's SHA-256 as ``SHA256:AB:CD:...`` (what ``openssl x509 -noout -fingerprint -sha256`` prints,
    with the prefix)."""
    return "SHA256:" + sha256.hex(":").upper()


def certificate_host_key(sha256: bytes) -> HostKey:
    """The cache entry of a TLS certificate with this SHA-256 (``string "x509-sha256"``, ``string digest``, so the
    known-hosts file keeps one format)."""
    if len(sha256) != _DIGEST_SIZE:
        raise ValueError("a SHA-256 digest is 32 bytes")
    blob = _ssh_string(CERTIFICATE_ALGORITHM.encode()) + _ssh_string(sha256)
    return HostKey(algorithm=CERTIFICATE_ALGORITHM, blob_b64=base64.b64encode(blob).decode("ascii"))


def certificate_digest(key: HostKey) -> bytes | None:
    """The certificate SHA-256 of an ``x509-sha256`` entry; None for any other key or a malformed blob."""
    if key.algorithm != CERTIFICATE_ALGORITHM:
        return None
    try:
        blob = base64.b64decode(key.blob_b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    head = _ssh_string(CERTIFICATE_ALGORITHM.encode()) + struct.pack(">I", _DIGEST_SIZE)
    if len(blob) != len(head) + _DIGEST_SIZE or not blob.startswith(head):
        return None
    return blob[len(head) :]
