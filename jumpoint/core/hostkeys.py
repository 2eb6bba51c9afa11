"""Host keys: the value type, the verdict of a check, and the store interface the Jumpoint implements."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class HostKey:
    """A public host key as OpenSSH writes it: algorithm name and base64 key blob."""

    algorithm: str
    blob_b64: str

    @property
    def fingerprint(self) -> str:
        """The SHA256 fingerprint in OpenSSH's form, e.g. ``SHA256:abc...`` (unpadded base64)."""
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
