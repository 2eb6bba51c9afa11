"""asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a JSON header line, then one JSON array per event
``[seconds, code, data]``, code ``o`` (output), ``i`` (input), ``r`` (resize, ``"COLSxROWS"``) or ``m`` (marker).

The file is only ever appended to, whole lines at a time, so a process killed mid-write leaves at most one torn last
line; the readers here ignore it.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Final, NamedTuple

from console_web.recording.plain_output import PlainOutput
from jumpoint.core.errors import InternalError, NotFound

TAIL_BYTES: Final = 1 << 20
"""playable_cast checks the last complete line within this many bytes of the end."""


class CastEvent(NamedTuple):
    """One event: seconds since the start, code (``o``, ``i``, ``r`` or ``m``) and data."""

    time: float
    code: str
    data: str


class CastWriter:
    """Encodes a session into asciicast v2 lines, kept in memory until :meth:`take`.

    Output and input are decoded as UTF-8 incrementally (a character split across chunks stays whole; invalid bytes
    become U+FFFD); times are seconds since the start, rounded to microseconds. Every line is exactly what
    ``json.dumps(..., ensure_ascii=False)`` makes of it (U+2028 and U+2029 escaped), built faster for big events.
    """

    def __init__(
        self,
        *,
        width: int,
        height: int,
        timestamp: float,
        title: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        header: dict[str, Any] = {"version": 2, "width": width, "height": height, "timestamp": int(timestamp)}
        if title:
            header["title"] = title
        if env:
            header["env"] = env
        self._parts: list[bytes] = [_line(header)]
        self.pending_bytes = len(self._parts[0])
        """Bytes waiting in memory for :meth:`take`."""
        self._output = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._input = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def output(self, data: bytes, at: float, controls: bool | None = None) -> str:
        """An ``o`` event; returns the decoded text (for the transcript). ``controls``: whether the text may hold
        C0 controls other than BS, TAB, LF, CR and ESC (None: look; False lets a big event skip that scan)."""
        text = self._output.decode(data)
        if text:
            self._event(at, "o", text, controls)
        return text

    def decode_output(self, data: bytes) -> str:
        """Decode output as :meth:`output` does, without recording it (pair with :meth:`output_text`)."""
        return self._output.decode(data)

    def output_text(self, text: str, at: float, controls: bool | None = None) -> None:
        """An ``o`` event of text already decoded with :meth:`decode_output`; see :meth:`output`."""
        if text:
            self._event(at, "o", text, controls)

    @property
    def can_take_plain(self) -> bool:
        """Whether :meth:`output_plain` may be used now: no part of a character is waiting from earlier output."""
        return not self._output.getstate()[0]

    def output_plain(self, plain: PlainOutput, at: float) -> None:
        """An ``o`` event of plain output (only when :attr:`can_take_plain`): the same line :meth:`output` writes."""
        self._add(at, "o", _plain_body(plain))

    def input(self, data: bytes, at: float) -> None:
        """An ``i`` event."""
        text = self._input.decode(data)
        if text:
            self._event(at, "i", text)

    def resize(self, cols: int, rows: int, at: float) -> None:
        """An ``r`` event."""
        self._event(at, "r", f"{cols}x{rows}")

    def marker(self, label: str, at: float) -> None:
        """An ``m`` event."""
        self._event(at, "m", label)

    def finish(self, at: float) -> str:
        """The stream ended: bytes of an unfinished character become U+FFFD. Returns that output text."""
        text = self._output.decode(b"", final=True)
        if text:
            self._event(at, "o", text)
        typed = self._input.decode(b"", final=True)
        if typed:
            self._event(at, "i", typed)
        return text

    def take(self) -> list[bytes]:
        """The lines encoded since the last call, as pieces to write in order without joining (a line may span
        several pieces)."""
        parts, self._parts = self._parts, []
        self.pending_bytes = 0
        return parts

    def _event(self, at: float, code: str, data: str, controls: bool | None = None) -> None:
        self._add(at, code, json_utf8_body(data, controls))

    def _add(self, at: float, code: str, body: bytes) -> None:
        # as json.dumps writes it: the float with repr(), ", " between the items; the code is one ASCII letter. The
        # escaped text stays its own piece: output events are up to 256 KiB, and each copy of them counts.
        head = b'[%s, "%s", "' % (repr(round(at, 6)).encode(), code.encode())
        self._parts += (head, body, b'"]\n')
        self.pending_bytes += len(head) + len(body) + 3


_RARE_CONTROLS: Final = tuple(bytes([c]) for c in range(0x20) if c not in b"\b\t\n\f\r\x1b")
_COMMON_ESCAPES: Final = (
    (b"\n", b"\\n"),
    (b"\r", b"\\r"),
    (b"\x1b", b"\\u001b"),
    (b"\t", b"\\t"),
    (b"\b", b"\\b"),
    (b"\f", b"\\f"),
)


def json_utf8(text: str, controls: bool | None = None) -> bytes:
    """``text`` as a JSON string literal in UTF-8: exactly ``json.dumps(text, ensure_ascii=False).encode()``, but
    with U+2028 and U+2029 escaped (some line readers split there). See :func:`json_utf8_body`."""
    return b'"' + json_utf8_body(text, controls) + b'"'


def json_utf8_body(text: str, controls: bool | None = None) -> bytes:
    """What goes between the quotes of :func:`json_utf8`'s literal.

    Terminal output is mostly text with a few kinds of characters to escape, so instead of the encoder's walk
    character by character this replaces each kind that occurs in the UTF-8 bytes (every byte to escape is ASCII,
    and UTF-8 never uses ASCII bytes inside a longer character), each scan and replacement at memchr speed: several
    times faster on big output. ``controls=False`` promises there is no C0 control other than BS, TAB, LF, FF, CR and
    ESC in ``text``, which skips looking for them.
    """
    data = text.encode()
    if b"\\" in data:
        data = data.replace(b"\\", b"\\\\")
    if b'"' in data:
        data = data.replace(b'"', b'\\"')
    for raw, escaped in _COMMON_ESCAPES:
        if raw in data:
            data = data.replace(raw, escaped)
    if controls is not False:
        for raw in _RARE_CONTROLS:
            if raw in data:
                data = data.replace(raw, b"\\u%04x" % raw[0])
    if not data.isascii():
        if b"\xe2\x80\xa8" in data:
            data = data.replace(b"\xe2\x80\xa8", b"\\u2028")
        if b"\xe2\x80\xa9" in data:
            data = data.replace(b"\xe2\x80\xa9", b"\\u2029")
    return data


def _plain_body(plain: PlainOutput) -> bytes:
    """:func:`json_utf8_body` of plain output: one replacement for each CR LF."""
    data = plain.bare
    if b"\\" in data:
        data = data.replace(b"\\", b"\\\\")
    if b'"' in data:
        data = data.replace(b'"', b'\\"')
    if b"\t" in data:
        data = data.replace(b"\t", b"\\t")
    return data.replace(b"\n", b"\\r\\n" if plain.crlf else b"\\n")


def _line(value: object) -> bytes:
    text = json.dumps(value, ensure_ascii=False)
    if "\u2028" in text or "\u2029" in text:  # valid JSON, but some line readers would split there
        text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text.encode() + b"\n"


# --- reading -----------------------------------------------------------------------------------------
def read_cast(path: Path) -> tuple[dict[str, Any], list[CastEvent]]:
    """The header and the events of a cast. A torn last line is ignored; a missing file raises :class:`NotFound`,
    a damaged one (no valid header, a bad line before the end) :class:`InternalError`."""
    with _open(path) as handle:
        lines = _complete_lines(handle)
        header = _header(path, next(lines, b""))
        events: list[CastEvent] = []
        for number, line in enumerate(lines, start=2):
            event = _event(line)
            if event is None:
                raise InternalError(f"the recording {path} is damaged at line {number}")
            events.append(event)
    return header, events


def playable_cast(path: Path) -> bytes:
    """The cast cut to its last complete event: what a player can load, also while the session is still writing
    it or after a crash tore its last line. Errors as :func:`read_cast`."""
    with _open(path) as handle:
        size = handle.seek(0, 2)
        end = _end_of_complete_lines(handle, size)
        handle.seek(0)
        data = handle.read(end)
    first = data.split(b"\n", 1)[0]
    _header(path, first)
    if data.count(b"\n") > 1 and _event(data[data.rfind(b"\n", 0, len(data) - 1) + 1 : -1]) is None:
        raise InternalError(f"the recording {path} is damaged near its end")
    return data


def _end_of_complete_lines(handle: BinaryIO, size: int) -> int:
    """The offset just after the file's last LF (0 when there is none)."""
    position = size
    while position > 0:
        start = max(0, position - TAIL_BYTES)
        handle.seek(start)
        chunk = handle.read(position - start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        position = start
    return 0


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise NotFound(f"the recording {path.name} does not exist") from None
    except OSError as exc:
        raise InternalError(f"cannot read the recording {path}: {exc.strerror}") from None


def _complete_lines(handle: BinaryIO) -> Iterator[bytes]:
    for line in handle:
        if not line.endswith(b"\n"):
            return  # torn by a crash mid-write
        yield line


def _header(path: Path, line: bytes) -> dict[str, Any]:
    try:
        header = json.loads(line)
    except ValueError:
        header = None
    if not (
        isinstance(header, dict)
        and header.get("version") == 2
        and isinstance(header.get("width"), int)
        and isinstance(header.get("height"), int)
    ):
        raise InternalError(f"the recording {path} has no asciicast v2 header")
    return header


def _event(line: bytes) -> CastEvent | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    if (
        isinstance(value, list)
        and len(value) == 3
        and isinstance(value[0], int | float)
        and isinstance(value[1], str)
        and isinstance(value[2], str)
    ):
        return CastEvent(float(value[0]), value[1], value[2])
    return None
