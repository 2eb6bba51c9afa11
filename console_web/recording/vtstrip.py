"""Removing escape sequences from terminal output, incrementally, for the plain-text transcript.

:class:`EscapeStripper` removes CSI, OSC, DCS/SOS/PM/APC strings, charset designations, other ESC sequences, C0
controls other than TAB, LF, CR and BS, and C1 controls (7-bit and 8-bit forms). A sequence split across chunks is
carried to the next one; at most :data:`MAX_PENDING` characters are ever held: past that the rest of the sequence
is skipped as it arrives, without keeping it. The moves that matter to a line of text are kept as one-character
tokens (see the ``MOVE_*`` constants) for :class:`~console_web.recording.transcript.TranscriptWriter`.
"""

from __future__ import annotations

import re
from typing import Final, Literal

MAX_PENDING: Final = 4096
"""The longest unfinished sequence carried from one chunk to the next."""
MAX_MOVE: Final = 512
"""A cursor move of more columns than this is cut to it."""

MOVE_RIGHT: Final = "\x1c"
"""The cursor moved one column right without writing (CUF)."""
ERASE_TO_END: Final = "\x1d"
"""The line was erased from the cursor to its end (EL 0)."""
LINE_BREAK: Final = "\x1e"
"""The cursor moved to another row (CUP, CUU, CUD, RI ...): ends the current line if it has text."""

_ST = r"(?:\x07|\x9c|\x18|\x1a|\x1b\\|(?=\x1b))"  # BEL, ST (8-bit or ESC \), CAN or SUB; another ESC ends it too
_STRING_BODY = r"[^\x07\x9c\x18\x1a\x1b]*"
_MOTION_FINALS = "ABCDEFGHKdf`"
_OTHER_FINALS = "".join(chr(c) for c in range(0x40, 0x7F) if chr(c) not in _MOTION_FINALS)
_MOVE_TAIL = rf"[\x30-\x3f]*[\x20-\x2f]*[{_MOTION_FINALS}]"
_SCREEN_SWITCH = r"\?(?:1049|1047|47)[hl]"  # entering or leaving the alternate screen: another row

# Pass 1 removes everything except line feeds, tabs, CR, BS, the cursor moves and IND/NEL/RI. Text without C1
# characters (nearly all) takes the fast form: a pattern that starts with ESC (found at C speed), then the controls.
_REMOVE_ESC = re.compile(
    rf"\x1b(?:[\]PX^_]{_STRING_BODY}{_ST}"  # OSC, DCS, SOS, PM, APC
    rf"|\[(?!{_SCREEN_SWITCH})[\x30-\x3f]*[\x20-\x2f]*[{re.escape(_OTHER_FINALS)}]"  # CSI other than the moves
    r"|[\x20-\x2f]+[\x30-\x7e]"  # with intermediates: charset designations, DECALN ...
    r"|[\x30-\x43\x46-\x4c\x4e\x4f\x51-\x57\x59\x5a\x5c\x60-\x7e]"  # ESC 7, ESC =, ESC c ... (not IND NEL RI)
    rf"|(?!\[(?:{_MOVE_TAIL}|{_SCREEN_SWITCH})|[DEM]))"  # an ESC that starts nothing valid
)
_CONTROL_BYTES = bytes([*range(0x00, 0x08), 0x0B, 0x0C, *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
_CONTROLS = dict.fromkeys(_CONTROL_BYTES)
_CONTROL_CHARS: Final = tuple(chr(c) for c in _CONTROL_BYTES)
_C1 = re.compile(r"[\x80-\x9f]")
_C1_INTRODUCERS = "\x9b\x9d\x90\x98\x9e\x9f"
_REMOVE_ALL = re.compile(
    rf"(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f]){_STRING_BODY}{_ST}"
    rf"|(?:\x1b\[|\x9b)(?!{_SCREEN_SWITCH})[\x30-\x3f]*[\x20-\x2f]*[{re.escape(_OTHER_FINALS)}]"
    r"|\x1b[\x20-\x2f]+[\x30-\x7e]"
    r"|\x1b[\x30-\x43\x46-\x4c\x4e\x4f\x51-\x57\x59\x5a\x5c\x60-\x7e]"
    rf"|\x1b(?!\[(?:{_MOVE_TAIL}|{_SCREEN_SWITCH})|[DEM])|\x9b(?!{_MOVE_TAIL}|{_SCREEN_SWITCH})"
    r"|[\x00-\x07\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f\x80-\x84\x86-\x8c\x8e\x8f\x91-\x97\x99\x9a\x9c]"
)
# Pass 2 turns the moves into tokens.
_MOVE = re.compile(
    rf"(?:\x1b\[|\x9b)(?:([\x30-\x3f]*)[\x20-\x2f]*([{_MOTION_FINALS}])|{_SCREEN_SWITCH})|\x1b([DEM])|([\x85\x8d])"
)
# An unfinished sequence: from where it starts to the very end of the text.
_UNFINISHED = re.compile(
    rf"(?:(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f]){_STRING_BODY}\x1b?"
    r"|(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*"
    r"|\x1b[\x20-\x2f]*)\Z"
)
_END_OF_STRING = re.compile(r"[\x07\x9c\x18\x1a]|\x1b\\?")
_END_OF_CSI = re.compile(r"[\x40-\x7e\x18\x1a\x1b]")
_END_OF_ESC = re.compile(r"[\x30-\x7e\x18\x1a\x1b]")

Skipping = Literal["", "string", "string-esc", "csi", "esc"]


def has_controls(text: str) -> bool:
    """Whether ``text`` holds a C0 control other than BS, TAB, LF, CR and ESC, or DEL: what the stripper deletes
    (and, but for FF, what JSON escapes as ``\\u00XX``). One memchr-speed scan per character: on big output much
    cheaper than deleting them, and they are rare."""
    return any(c in text for c in _CONTROL_CHARS)


class EscapeStripper:
    """Feed it decoded terminal output chunk by chunk; it returns the text with escape sequences removed."""

    def __init__(self) -> None:
        self._carry = ""
        self._skipping: Skipping = ""

    @property
    def idle(self) -> bool:
        """Whether nothing is carried or being skipped: then text without ESC and controls passes unchanged."""
        return not self._carry and not self._skipping

    def feed(self, text: str, controls: bool | None = None) -> str:
        """The text of ``text`` (plus what was carried), without the sequences; the moves as tokens. ``controls``:
        what :func:`has_controls` says of ``text`` (None: not known); False skips deleting controls."""
        if self._skipping:
            text = self._skip(text)
            if self._skipping:
                return ""
        carried = bool(self._carry)
        data = self._carry + text if carried else text
        self._carry = ""
        c1 = not data.isascii() and _C1.search(data) is not None
        start = _unfinished(data, c1)
        if start is not None:
            if len(data) - start <= MAX_PENDING:
                self._carry = data[start:]
            else:
                self._skipping = _kind(data[start:])
                if self._skipping == "string" and data.endswith("\x1b"):
                    self._skipping = "string-esc"
            data = data[:start]
        if not data:
            return ""
        if c1:
            data = _REMOVE_ALL.sub("", data)
        else:
            if "\x1b" in data:
                data = _REMOVE_ESC.sub("", data)
            if controls is None or controls or carried:  # what was carried is an escape sequence: it may hold some
                # Faster than a regex: str.translate for ASCII text, bytes.translate otherwise.
                data = (
                    data.translate(_CONTROLS)
                    if data.isascii()
                    else data.encode().translate(None, _CONTROL_BYTES).decode()
                )
        if c1 or "\x1b" in data:
            data = _MOVE.sub(_move_token, data)
        return data

    def finish(self) -> None:
        """The stream ended: an unfinished sequence is dropped."""
        self._carry = ""
        self._skipping = ""

    def _skip(self, text: str) -> str:
        """Drop the rest of an over-long sequence; returns what follows it (the skipping ends there)."""
        if self._skipping == "string-esc":  # the string's last chunk ended with an ESC: ST, or a new sequence
            self._skipping = ""
            return text[1:] if text[:1] == "\\" else "\x1b" + text
        pattern = {"string": _END_OF_STRING, "csi": _END_OF_CSI, "esc": _END_OF_ESC}[self._skipping]
        end = pattern.search(text)
        if end is None:
            return ""
        if self._skipping == "string" and end.group() == "\x1b" and end.end() == len(text):
            self._skipping = "string-esc"
            return ""
        self._skipping = ""
        # A new ESC is not part of the skipped sequence; a final byte, a terminator or CAN/SUB is.
        return text[end.start() :] if end.group() == "\x1b" else text[end.end() :]


def _unfinished(data: str, c1: bool) -> int | None:
    """Where an unfinished sequence at the end of ``data`` starts: at the last introducer, or for a string whose
    terminator may be split (ESC, then \\), at the one before a final ESC."""
    last = data.rfind("\x1b")
    candidates = {last}
    if c1:
        candidates.update(data.rfind(c) for c in _C1_INTRODUCERS)
    if data.endswith("\x1b"):
        candidates.add(data.rfind("\x1b", 0, len(data) - 1))
        if c1:
            candidates.update(data.rfind(c, 0, len(data) - 1) for c in _C1_INTRODUCERS)
    for start in sorted(candidates):
        if start >= 0 and _UNFINISHED.match(data, start):
            return start
    return None


def _kind(sequence: str) -> Skipping:
    if sequence[:2] == "\x1b[" or sequence[:1] == "\x9b":
        return "csi"
    if sequence[:1] == "\x1b" and (len(sequence) < 2 or sequence[1] not in "]PX^_"):
        return "esc"
    return "string"


def _move_token(match: re.Match[str]) -> str:
    params, final, esc_final, c1 = match.groups()
    if esc_final is not None:
        return "\n" if esc_final in "DE" else LINE_BREAK  # IND, NEL; RI moves up
    if c1 is not None:
        return "\n" if c1 == "\x85" else LINE_BREAK
    if final is None:
        return LINE_BREAK  # the alternate screen
    first = params.split(";", 1)[0]
    count = min(int(first), MAX_MOVE) if first.isdigit() and int(first) > 0 else 1
    if final == "C":
        return MOVE_RIGHT * count
    if final == "D":
        return "\b" * count
    if final in "G`":
        return "\r" + MOVE_RIGHT * (count - 1)
    if final == "K":
        return ERASE_TO_END if first in ("", "0") else ""
    return LINE_BREAK  # A B E F H d f: another row
