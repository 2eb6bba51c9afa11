"""Password hashing with argon2id (argon2-cffi defaults), run off the event loop.

Verification of an unknown user runs against a dummy hash so it takes the same time as a real one.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
_dummy_hash: str | None = None


def configure_hasher(hasher: PasswordHasher) -> None:
    """Replace the hasher (tests use cheap parameters); production keeps the defaults."""
    global _hasher, _dummy_hash
    _hasher = hasher
    _dummy_hash = None


def hash_password_sync(password: str) -> str:
    """Hash ``password`` (blocking; prefer :func:`hash_password` on the event loop)."""
    return _hasher.hash(password)


async def hash_password(password: str) -> str:
    """Hash ``password`` in a worker thread."""
    return await asyncio.to_thread(_hasher.hash, password)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The result of a check: whether it matched and, if so, a new hash when the parameters changed."""

    ok: bool
    new_hash: str | None = None


def _verify(stored_hash: str | None, password: str) -> Verdict:
    global _dummy_hash
    if stored_hash is None:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash("dummy password for timing")
        with contextlib.suppress(VerificationError, InvalidHashError):
            _hasher.verify(_dummy_hash, password)
        return Verdict(False)
    try:
        _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return Verdict(False)
    if _hasher.check_needs_rehash(stored_hash):
        return Verdict(True, _hasher.hash(password))
    return Verdict(True)


async def verify_password(stored_hash: str | None, password: str) -> Verdict:
    """Check ``password`` against ``stored_hash`` (``None``: no such user; checks a dummy, never matches)."""
    return await asyncio.to_thread(_verify, stored_hash, password)
