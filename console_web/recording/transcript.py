"""The plain-text transcript of a terminal session (``<id>.txt``), its time index (``<id>.tidx``), and search.

The transcript is what the terminal displayed, line by line, without escape sequences: CR LF becomes LF, a bare CR
or a backspace moves the cursor within the line and what follows overwrites it (so typing ``echo hi`` at a prompt,
with corrections, reads as one line), EL erases to the end of the line, a move to another row ends the line. Lines
longer than :data:`MAX_LINE` characters are split. Only complete lines are written (the line in progress when the
recording closes is written then).

The time index has one line per transcript line: the second of the recording (``%.3f``) at which that transcript
line was completed, so line N of one file goes with line N of the other, and a search result can open the playback
at that point. Both files are append-only; a torn last line (a crash mid-write) is ignored by the readers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from console_web.recording.files import TIME_INDEX, TRANSCRIPT, is_session_id, recording_path
from console_web.recording.plain_output import PlainOutput
from console_web.recording.vtstrip import ERASE_TO_END, LINE_BREAK, MOVE_RIGHT, EscapeStripper
from jumpoint.core.errors import BadRequest, InternalError

MAX_LINE: Final = 4096
"""Transcript lines are split after this many characters."""
MAX_LINE_BYTES: Final = 4 * MAX_LINE + 1
"""Readers keep at most this much of a line (a file from elsewhere may hold longer ones)."""

_MOVES = ("\b", MOVE_RIGHT, ERASE_TO_END, LINE_BREAK)
_TRAILING_BLANKS = re.compile(r"[ \t]+\n")
# The common case works on the UTF-8 bytes (bytes.replace is several times faster than str.replace), and searches
# with a literal prefix (a character class, or "ab" in text, scan much slower).
_TRAILING_BLANKS_B = re.compile(rb"[ \t]+\n")
_TRAILING_SPACE_B = re.compile(rb" \n")
_TRAILING_TAB_B = re.compile(rb"\t\n")
_BARE_CR_B = re.compile(rb"\r(?!\n)")
_WINDOW: Final = MAX_LINE // 2
_TOKENS = re.compile(f"([\n\r\b{MOVE_RIGHT}{ERASE_TO_END}{LINE_BREAK}])")


class TranscriptWriter:
    """Turns decoded terminal output into transcript and time-index lines, kept in memory until :meth:`take`."""

    def __init__(self) -> None:
        self._stripper = EscapeStripper()
        self._line = ""  # the line in progress
        self._col = 0  # the cursor in it
        self._text: list[bytes] = []
        self._times: list[bytes] = []
        self.pending_bytes = 0
        """Bytes waiting in memory for :meth:`take`."""

    def output(self, text: str, at: float, controls: bool | None = None) -> None:
        """Terminal output (already decoded), received ``at`` seconds into the recording. ``controls``: what
        :func:`~console_web.recording.vtstrip.has_controls` says of ``text``, if known (saves a scan)."""
        plain = self._stripper.feed(text, controls)
        if not plain:
            return
        raw = plain.encode() if self._col == len(self._line) and not any(m in plain for m in _MOVES) else b""
        if raw and b"\r" not in raw:
            # The common case, and all of a flood of output: whole lines at C speed.
            self._append(raw, None, at)
        elif raw and (crlf := _without_crlf(raw)) is not None:
            # The same with CR LF (a terminal's new line), which becomes LF: every CR is part of one, all go.
            self._append(*crlf, at)
        else:
            self._edit(plain.replace("\r\n", "\n") if "\r\n" in plain else plain, at)
        if len(self._line) > MAX_LINE:
            self._complete([self._line], at)
            self._line, self._col = "", 0

    @property
    def can_take_plain(self) -> bool:
        """Whether :meth:`output_plain` may be used now: no escape sequence is pending and the cursor is at the end
        of the line in progress."""
        return self._stripper.idle and self._col == len(self._line)

    def output_plain(self, plain: PlainOutput, at: float) -> None:
        """Plain output (only when :attr:`can_take_plain`): the same lines :meth:`output` makes of it."""
        self._append(plain.bare, plain.lines, at, plain)
        if len(self._line) > MAX_LINE:
            self._complete([self._line], at)
            self._line, self._col = "", 0

    def finish(self, at: float) -> None:
        """The recording ends: the line in progress (if it has text) is completed."""
        self._stripper.finish()
        if self._line.strip():
            self._complete([self._line], at)
        self._line, self._col = "", 0

    def take(self) -> tuple[list[bytes], list[bytes]]:
        """The transcript lines and the time-index lines completed since the last call (lists of byte strings, to
        write without joining)."""
        text, times = self._text, self._times
        self._text, self._times = [], []
        self.pending_bytes = 0
        return text, times

    def _append(self, raw: bytes, count: int | None, at: float, plain: PlainOutput | None = None) -> None:
        """UTF-8 text without edits or CRs, the cursor at the end of the line: whole lines, at C speed, without
        splitting them when none can be over MAX_LINE (the rare other case takes the general way). ``count``: the
        number of LFs in ``raw``, if known; ``plain``: what a scan of the output already found out."""
        last = raw.rfind(b"\n")
        if last < 0:
            self._line += raw.decode()
        elif len(self._line) + raw.find(b"\n") > MAX_LINE or (
            plain.long_line_inside if plain is not None else _long_line_inside(raw, last)
        ):
            lines = raw.decode().split("\n")  # lengths in bytes were only an upper bound: count characters
            lines[0] = self._line + lines[0]
            self._line = lines.pop()
            self._complete(lines, at)
        else:
            head = raw if last == len(raw) - 1 else raw[: last + 1]
            prefix = self._line.encode()
            if (plain.blank_before_lf if plain is not None else _blank_before_lf(head)) or (
                head[:1] == b"\n" and prefix[-1:] in (b" ", b"\t")
            ):
                head = _TRAILING_BLANKS_B.sub(b"\n", prefix + head)
                prefix = b""
            self._add(prefix + head if prefix else head, raw.count(b"\n") if count is None else count, at)
            self._line = raw[last + 1 :].decode()
        self._col = len(self._line)

    def _edit(self, plain: str, at: float) -> None:
        done: list[str] = []
        line, col = self._line, self._col
        for piece in _TOKENS.split(plain):
            if piece == "\n" or (piece == LINE_BREAK and line.strip()):
                done.append(line)
                line, col = "", 0
            elif piece in ("\r", LINE_BREAK):
                col = 0
            elif piece == "\b":
                col = max(0, col - 1)
            elif piece == MOVE_RIGHT:
                col += 1
            elif piece == ERASE_TO_END:
                line = line[:col]
            elif piece:
                if col > len(line):
                    line += " " * (col - len(line))
                line = line[:col] + piece + line[col + len(piece) :]
                col += len(piece)
        self._line, self._col = line, col
        if done:
            self._complete(done, at)

    def _complete(self, lines: list[str], at: float) -> None:
        if max(map(len, lines)) > MAX_LINE:
            lines = [part for line in lines for part in _split(line)]
        joined = "\n".join(lines) + "\n"
        if " \n" in joined or "\t\n" in joined:
            joined = _TRAILING_BLANKS.sub("\n", joined)
        self._add(joined.encode(), len(lines), at)

    def _add(self, text: bytes, count: int, at: float) -> None:
        """``count`` complete lines (``text``, each ending in LF), completed ``at``."""
        times = f"{at:.3f}\n".encode() * count
        self._text.append(text)
        self._times.append(times)
        self.pending_bytes += len(text) + len(times)


def _split(line: str) -> list[str]:
    return [line[i : i + MAX_LINE] for i in range(0, len(line), MAX_LINE)] or [""]


def _blank_before_lf(text: bytes) -> bool:
    """Whether a line of ``text`` ends in a space or a TAB."""
    return _TRAILING_SPACE_B.search(text) is not None or (b"\t" in text and _TRAILING_TAB_B.search(text) is not None)


def _without_crlf(raw: bytes) -> tuple[bytes, int] | None:
    """``raw`` without its CRs and its number of LFs, when every CR in it is followed by a LF (None otherwise).

    Terminal output (onlcr) ends every line with CR LF: then two replaces and a comparison, all at memory speed,
    settle it and count the lines too; other text takes a search."""
    bare = raw.replace(b"\r", b"")
    with_cr = bare.replace(b"\n", b"\r\n")
    if with_cr == raw:
        return bare, len(with_cr) - len(bare)
    return (bare, bare.count(b"\n")) if _BARE_CR_B.search(raw) is None else None


def _long_line_inside(raw: bytes, last: int) -> bool:
    """Whether a line between the first and the ``last`` LF of ``raw`` may be over MAX_LINE: False when every
    window of MAX_LINE // 2 bytes there holds a LF (a longer line would fill a whole window; a character is one
    byte or more, so this also bounds the characters)."""
    find = raw.find
    start = find(b"\n") + 1
    while start < last:
        if find(b"\n", start, start + _WINDOW) < 0:  # a window past ``last`` finds the LF at ``last``
            return True
        start += _WINDOW
    return False


# --- search ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TranscriptMatch:
    """A transcript line that matched: its number (from 1), its text, and the second of the recording it has."""

    line: int
    text: str
    time: float


def search_transcript(directory: Path, session_id: str, query: str, limit: int) -> list[TranscriptMatch]:
    """The first ``limit`` lines of the session's transcript containing ``query`` (case-insensitive), in order.

    Streams the files (never a whole file in memory); [] when the session has no transcript. An invalid session id
    or an empty query raises :class:`BadRequest`; an unreadable file :class:`InternalError`.
    """
    if not query:
        raise BadRequest("the search text is empty")
    text_path = recording_path(directory, session_id, TRANSCRIPT)
    index_path = recording_path(directory, session_id, TIME_INDEX)
    needle = query.casefold()
    found: list[TranscriptMatch] = []
    if limit <= 0:
        return found
    try:
        with text_path.open("rb") as text, _open_optional(index_path) as index:
            times = _times(index)
            for number, raw in enumerate(_lines(text), start=1):
                seconds = next(times)
                line = raw.decode("utf-8", "replace")
                if needle in line.casefold():
                    found.append(TranscriptMatch(number, line, seconds))
                    if len(found) >= limit:
                        break
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise InternalError(f"cannot read the transcript {text_path}: {exc.strerror}") from None
    return found


def search_recordings(
    directory: Path, session_ids: Iterable[str], query: str, limit: int
) -> list[tuple[str, TranscriptMatch]]:
    """Search the sessions' transcripts in the order given, stopping once ``limit`` matches are found in all;
    sessions without a transcript (or with an id that cannot name one) are skipped."""
    found: list[tuple[str, TranscriptMatch]] = []
    for session_id in session_ids:
        if len(found) >= limit:
            break
        if is_session_id(session_id):
            found += [(session_id, m) for m in search_transcript(directory, session_id, query, limit - len(found))]
    return found


def _lines(handle: BinaryIO) -> Iterator[bytes]:
    """The complete lines (without the LF) of a file, each cut to MAX_LINE_BYTES; a torn last line is ignored."""
    while line := handle.readline(MAX_LINE_BYTES):
        if line.endswith(b"\n"):
            yield line[:-1]
            continue
        if len(line) < MAX_LINE_BYTES:
            return  # the end of the file without a newline: torn
        while (rest := handle.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
            pass
        if not rest:
            return
        yield line


def _times(index: BinaryIO | None) -> Iterator[float]:
    """The time of each transcript line; the last known time where the index is short or damaged."""
    seconds = 0.0
    if index is not None:
        for raw in _lines(index):
            try:
                seconds = float(raw)
            except ValueError:
                pass
            yield seconds
    while True:
        yield seconds


def _open_optional(path: Path) -> AbstractContextManager[BinaryIO | None]:
    try:
        return path.open("rb")
    except FileNotFoundError:
        return nullcontext()
