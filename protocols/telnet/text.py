"""Terminal output as plain text for pattern matching: escape sequences and control characters removed."""

from __future__ import annotations

import re

# CSI (colours, cursor moves), OSC (window titles, ended by BEL or ST), and the other two-byte escapes.
_ESCAPES = r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]"
_CONTROLS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
_STRIP = re.compile(f"{_ESCAPES}|{_CONTROLS}")
_STRIP_BYTES = re.compile(f"{_ESCAPES}|{_CONTROLS}".encode())


def plain(text: str) -> str:
    """``text`` without escape sequences and control characters other than TAB, LF and CR."""
    return _STRIP.sub("", text)


def plain_bytes(data: bytes) -> bytes:
    """:func:`plain` for bytes (the output stream before decoding)."""
    return _STRIP_BYTES.sub(b"", data)
