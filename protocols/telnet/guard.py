"""A backstop against a stored password shown back by the server: hold output that may be its start, drop it whole.

The auto-login types a stored password only at what the item's password prompt pattern recognised, and a server
hides what is typed there. If the pattern matched an echoing prompt instead (``login:``) or the server echoes
passwords, the password would come back as output and reach the browser, the recording and the transcript.

While a :class:`SecretGuard` watches, output passes through :meth:`SecretGuard.feed` before it is queued anywhere:

* output in which the secret shows in full is refused whole (``feed`` returns None), with whatever was held;
* an end of the output that could be the start of the secret (at most ``len(secret) - 1`` bytes) is held back until
  the next output tells, so a secret split across reads is still caught before any of it is passed on;
* the rest is passed on unchanged (the same object when nothing is held).

The match is on the bytes as the server sent them (after Telnet decoding); a server that decorates an echo
(escape sequences between the characters) is not caught: this is a backstop behind the pattern rules, not a filter.
"""

from __future__ import annotations


class SecretGuard:
    """Watches one secret in the output of one connection; sans-IO."""

    __slots__ = ("_held", "_secret")

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("an empty secret cannot be watched for")
        self._secret = secret
        self._held = b""

    def feed(self, data: bytes) -> bytes | None:
        """The output that is safe to pass on now; None if the secret showed in full (nothing of it is returned)."""
        text = self._held + data if self._held else data
        if self._secret in text:
            self._held = b""
            return None
        keep = _overlap(text, self._secret)
        if keep:
            self._held = text[-keep:]
            return text[:-keep]
        self._held = b""
        return text

    def release(self) -> bytes:
        """Stop holding: return what was held back (it never grew into the secret)."""
        held, self._held = self._held, b""
        return held


def _overlap(text: bytes, secret: bytes) -> int:
    """The length of the longest end of ``text`` that is a start of ``secret`` (shorter than ``secret``), else 0."""
    first = secret[:1]
    pos = text.find(first, max(0, len(text) - len(secret) + 1))
    while pos >= 0:
        if secret.startswith(text[pos:]):
            return len(text) - pos
        pos = text.find(first, pos + 1)
    return 0
