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
from console_web.recording.vtstrip import ERASE_TO_END, LINE_BREAK, MOVE_RIGHT, EscapeStripper
from jumpoint.core.errors import BadRequest, InternalError

MAX_LINE: Final = 4096
"""Transcript lines are split after this many characters."""
MAX_LINE_BYTES: Final = 4 * MAX_LINE + 1
"""Readers keep at most this much of a line (a file from elsewhere may hold longer ones)."""

_EDITS = ("\r", "\b", MOVE_RIGHT, ERASE_TO_END, LINE_BREAK)
_TRAILING_BLANKS = re.compile(r"[ \t]+\n")
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

    def output(self, text: str, at: float) -> None:
        """Terminal output (already decoded), received ``at`` seconds into the recording."""
        plain = self._stripper.feed(text)
        if not plain:
            return
        if "\r\n" in plain:
            plain = plain.replace("\r\n", "\n")
        if self._col == len(self._line) and not any(edit in plain for edit in _EDITS):
            # The common case, and all of a flood of output: whole lines at C speed.
            lines = plain.split("\n")
            self._line += lines[0]
            if len(lines) > 1:
                lines[0] = self._line
                self._line = lines.pop()
                self._complete(lines, at)
            self._col = len(self._line)
        else:
            self._edit(plain, at)
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
        text = joined.encode()
        times = (f"{at:.3f}\n" * len(lines)).encode()
        self._text.append(text)
        self._times.append(times)
        self.pending_bytes += len(text) + len(times)


def _split(line: str) -> list[str]:
    return [line[i : i + MAX_LINE] for i in range(0, len(line), MAX_LINE)] or [""]


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
