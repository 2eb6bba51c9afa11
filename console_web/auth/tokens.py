"""Random bearer secrets (API tokens, Jumpoint tokens, registration keys, cookies) and their stored hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

API_TOKEN_PREFIX = "ojt_"  # noqa: S105 (a prefix, not a secret)
JUMPOINT_TOKEN_PREFIX = "ojj_"  # noqa: S105 (a prefix, not a secret)
REGISTRATION_KEY_PREFIX = "ojr_"
DISPLAY_PREFIX_LEN = 12


@dataclass(frozen=True, slots=True)
class MintedSecret:
    """A fresh secret: ``text`` is shown once and never stored; ``digest`` is what the database keeps."""

    text: str
    digest: str

    @property
    def display_prefix(self) -> str:
        """The first characters, safe to show in lists so people recognise their tokens."""
        return self.text[:DISPLAY_PREFIX_LEN]


def hash_secret(text: str) -> str:
    """The SHA-256 of ``text`` as lowercase hex (the only form in which secrets are stored)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def mint(prefix: str = "") -> MintedSecret:
    """A new secret ``prefix + token_urlsafe(32)`` and its hash."""
    text = prefix + secrets.token_urlsafe(32)
    return MintedSecret(text, hash_secret(text))
