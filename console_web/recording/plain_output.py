"""Recognising plain terminal output (lines of text, no escape sequences), which both encoders then take in bulk.

A flood of output (a log, ``base64``, a build) is mostly ASCII lines ending in CR LF. For it, what the asciicast and
the transcript writers need to know (is there anything to strip or escape, does every CR start a CR LF, how many
lines, is any line long or ending in blanks) comes from one vectorised pass over the bytes, instead of a dozen
scans, a UTF-8 round trip and two regular expressions per encoder. Everything else takes the general way, which
gives the same files; the tests compare both byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

MIN_BYTES: Final = 16 * 1024
"""Output shorter than this takes the general way (there, a handful of scans cost less than setting up arrays)."""

_LF, _CR, _TAB, _SPACE = 10, 13, 9, 32


@dataclass(frozen=True, slots=True)
class PlainOutput:
    """Output that is ASCII text whose only controls are LF, TAB and CR, and if it has CRs, each LF right after one
    (a terminal's new line is CR LF)."""

    bare: bytes
    """The output without its CRs: the text a terminal shows, line by line."""
    lines: int
    """The number of LFs."""
    crlf: bool
    """Whether the output has CRs (then it is ``bare`` with each LF as CR LF)."""
    long_line_inside: bool
    """Whether a line between the first and the last LF may be longer than the transcript's line limit."""
    blank_before_lf: bool
    """Whether a space or a TAB ends a line that ends in the output (not counting a LF at its very start)."""


def scan_plain(data: bytes, max_line: int) -> PlainOutput | None:
    """``data`` as :class:`PlainOutput`, or None when it is short, not ASCII, or holds an escape sequence, another
    control (BS, DEL, ...), a CR that is not part of a CR LF, or a LF without its CR among CR LFs. ``max_line``: the
    transcript's line limit."""
    if len(data) < MIN_BYTES or b"\x1b" in data or b"\x7f" in data or not data.isascii():
        return None
    array = np.frombuffer(data, np.uint8)
    lfs = np.flatnonzero(array == _LF)
    bare = data.replace(b"\r", b"") if b"\r" in data else data
    crs = len(data) - len(bare)
    tabs = int(np.count_nonzero(array == _TAB)) if b"\t" in data else 0
    if int(np.count_nonzero(array < _SPACE)) != len(lfs) + crs + tabs:
        return None  # BS, BEL, FF ...
    if crs:
        # As many CRs as LFs, and a CR before every LF: every CR is part of a CR LF.
        if crs != len(lfs) or lfs[0] == 0 or not bool(np.all(array[lfs - 1] == _CR)):
            return None
        ends = lfs[lfs > 1] - 2  # the byte before each CR LF
    else:
        ends = lfs[lfs > 0] - 1
    before = array[ends]
    inner = np.diff(lfs)
    return PlainOutput(
        bare=bare,
        lines=len(lfs),
        crlf=bool(crs),
        # The bytes between two LFs bound the characters of the line between them (a CR counts too: still a bound).
        long_line_inside=bool(len(inner)) and int(inner.max()) - 1 > max_line,
        blank_before_lf=bool(np.any((before == _SPACE) | (before == _TAB))),
    )
