"""A wrapper for secret values whose repr and str never show the value."""

from __future__ import annotations

import hmac
from typing import NoReturn


class Secret:
    """A secret string (password, passphrase, one-time code, private key text).

    The value is only available through :meth:`reveal`; ``repr``, ``str`` and formatting print a
    redaction, so a secret passed to a logger or an exception message never leaks. Pickling is refused.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value. Call it only at the point the value is handed to the target."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "***"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return id(self)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")
