"""The desktop recording file (``<id>.ojd``) and its keyframe index (``<id>.didx``): format, writer and reader.

A desktop session is recorded as the desktop stream itself (the bytes of :mod:`jumpoint.core.desktop_wire`, exactly
as the console relays them) with the time each piece arrived. Integers are big-endian.

``<id>.ojd``::

    magic       8 bytes   b"OJDESK\\x00\\x01"  (format version 1)
    header_len  u32       at most MAX_HEADER
    header      JSON      {"version": 1, "started_at": <epoch seconds>, "title": <Jump Item name>}
    records     ...       until the end of the file

    record      u8 kind | u32 ms | u32 length | data (length bytes, at most MAX_RECORD_DATA)
                kind 1 OUTPUT: desktop stream bytes (the stream is the concatenation of every OUTPUT record's data)
                kind 2 MARKER: a UTF-8 label (a named point in the playback, e.g. why the session ended)
                ms: milliseconds since ``started_at``, never decreasing from one record to the next

Output records hold whatever arrived together and may begin or end inside a desktop message, except that a
KEYFRAME marker message always **starts** a record: every keyframe (a complete picture: KEYFRAME, SIZE, IMAGE tiles
covering the desktop, FRAME_END; the cursor's shape too) is a place where playback can start with a fresh parser.

``<id>.didx``::

    magic       8 bytes   b"OJDIDX\\x00\\x01"
    entries     u32 ms | u64 offset  (12 bytes each)   the record at ``offset`` in the .ojd starts with a KEYFRAME

Both files are only appended to, the index after the data it points to, so a live recording can be read while it
grows and one torn by a crash (a partial last record, a partial last entry) is read up to its last whole record.
Readers check every length against its cap before reading, check index entries against the data, and rebuild the
index by scanning the records when the sidecar is missing.

To seek to time T: take the last index entry at or before T, feed the records from its offset to a fresh parser
(drawing nothing until T, or drawing fast), then play on from T.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import json
import logging
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from jumpoint.core import desktop_wire
from jumpoint.core.errors import InternalError, ProtocolViolation

log = logging.getLogger(__name__)

MAGIC: Final = b"OJDESK\x00\x01"
INDEX_MAGIC: Final = b"OJDIDX\x00\x01"
VERSION: Final = 1
MAX_HEADER: Final = 4096
RECORD: Final = struct.Struct(">BII")
INDEX_ENTRY: Final = struct.Struct(">IQ")
OUTPUT: Final = 1
MARKER: Final = 2
KINDS: Final = frozenset({OUTPUT, MARKER})
MAX_RECORD_DATA: Final = 1 << 20
"""The largest record body the writer makes and readers accept."""
MAX_MARKER: Final = 1024
"""A marker label's largest size (UTF-8 bytes; longer ones are cut)."""
MAX_MS: Final = 0xFFFFFFFF
MAX_INDEX_ENTRIES: Final = 1 << 20
"""Readers take at most this many index entries (12 MiB; a keyframe a minute is 1,440 a day)."""
COALESCE_MS: Final = 5
"""Output that arrives within this many milliseconds of a record's first byte joins that record ..."""
COALESCE_BYTES: Final = 256 * 1024
"""... up to this size."""
_KEYFRAME_MESSAGE: Final = desktop_wire.encode_keyframe_marker()

Event = tuple[str, float, bytes | str]  # ("o", seconds, stream bytes) or ("m", seconds, label)


class DesktopFileError(InternalError):
    """A file that is not a desktop recording (or not one this version reads)."""


def encode_header(started_at: float, title: str) -> bytes:
    """The magic and the JSON header (the title cut so the header stays under :data:`MAX_HEADER`)."""
    title = title[:512]
    body = json.dumps({"version": VERSION, "started_at": started_at, "title": title}, ensure_ascii=True).encode()
    return MAGIC + struct.pack(">I", len(body)) + body


def _ms(seconds: float) -> int:
    return max(0, min(MAX_MS, int(seconds * 1000)))


class DesktopFileEncoder:
    """Turns recorded events into the bytes of the two files, keeping track of offsets and message boundaries.

    Not thread-safe: one batch at a time (the recorder's contract). ``offset`` is the size of the ``.ojd`` so far
    (the header included). The stream's message headers are scanned (:class:`desktop_wire.HeaderScanner`), so a
    KEYFRAME message found anywhere in a chunk starts a new record and gets an index entry; the last bytes of a chunk
    that end inside a message header (at most 4) wait for the next chunk, so a KEYFRAME header split between two
    chunks still starts its record.
    """

    def __init__(self, offset: int) -> None:
        self.offset = offset
        self.last_ms = 0
        self.keyframes = 0
        self._fed = 0  # stream bytes given to the scanner
        self._next = 0  # stream offset where the next message header starts
        self._carry = b""  # a partial header at the end of the last chunk (stream offset: _fed - len(_carry))
        self._scanner: desktop_wire.HeaderScanner | None = desktop_wire.HeaderScanner(desktop_wire.OUTPUT_TYPES)
        self._data: list[bytes] = []
        self._index: list[bytes] = []
        self._pending: list[bytes] = []  # the open output record's pieces
        self._pending_ms = 0
        self._pending_size = 0

    def add(self, events: list[Event]) -> tuple[list[bytes], list[bytes]]:
        """Encode ``events`` (in order); returns ``(data parts, index parts)`` to append to the two files, in whole
        records (only a partial message header at the very end waits for the next call, or :meth:`flush`)."""
        for code, seconds, data in events:
            ms = max(self.last_ms, _ms(seconds))
            self.last_ms = ms
            if code == "o":
                assert isinstance(data, bytes)
                self._output(ms, data)
            elif code == "m":
                assert isinstance(data, str)
                self._close_record()
                label = data.encode("utf-8")[:MAX_MARKER].decode("utf-8", "ignore").encode("utf-8")
                self._emit(MARKER, ms, [label], len(label))
        self._close_record()
        return self._take()

    def flush(self) -> tuple[list[bytes], list[bytes]]:
        """The end of the recording: a held-back partial header goes out as it is (the stream ends torn); returns what
        is left to append."""
        if self._carry:
            self._append(self.last_ms, self._carry)
            self._carry = b""
        self._close_record()
        return self._take()

    def _take(self) -> tuple[list[bytes], list[bytes]]:
        data, index = self._data, self._index
        self._data, self._index = [], []
        return data, index

    def _scan(self, data: bytes) -> list[int]:
        """Feed the scanner; the stream offsets where KEYFRAME messages start."""
        scanner = self._scanner
        self._fed += len(data)
        if scanner is None:
            self._next = self._fed
            return []
        cuts: list[int] = []
        try:
            for offset, kind, length in scanner.feed(data):
                self._next = offset + desktop_wire.HEADER.size + length
                if kind == desktop_wire.KEYFRAME:
                    cuts.append(offset)
        except ProtocolViolation as exc:
            # The console checked these bytes before relaying them, so this is a bug: record on, unindexed.
            log.error("desktop recording: the stream cannot be scanned any more (%s); no more keyframes indexed", exc)
            self._scanner = None
            self._next = self._fed
        return cuts

    def _output(self, ms: int, data: bytes) -> None:
        base = self._fed - len(self._carry)
        cuts = [cut - base for cut in self._scan(data)]
        buf = self._carry + data if self._carry else data
        self._carry = b""
        partial = self._fed - self._next
        if 0 < partial < desktop_wire.HEADER.size:
            buf, self._carry = buf[:-partial], buf[-partial:]
        points = [0, *(cut for cut in cuts if cut > 0), len(buf)]
        for start, stop in itertools.pairwise(points):
            if start in cuts:  # a KEYFRAME message starts here: so does a record, which the index points to
                self._close_record()
                self.keyframes += 1
                self._index.append(INDEX_ENTRY.pack(ms, self.offset))
            self._append(ms, buf[start:stop])

    def _append(self, ms: int, piece: bytes) -> None:
        """Add stream bytes to the open record, or start one."""
        if self._pending and (ms - self._pending_ms > COALESCE_MS or self._pending_size + len(piece) > COALESCE_BYTES):
            self._close_record()
        if not self._pending:
            self._pending_ms = ms
        while piece:
            room = MAX_RECORD_DATA - self._pending_size
            if room <= 0:
                self._close_record()
                self._pending_ms = ms
                continue
            part, piece = piece[:room], piece[room:]
            self._pending.append(part)
            self._pending_size += len(part)

    def _close_record(self) -> None:
        if self._pending:
            self._emit(OUTPUT, self._pending_ms, self._pending, self._pending_size)
            self._pending, self._pending_size = [], 0

    def _emit(self, kind: int, ms: int, parts: list[bytes], size: int) -> None:
        self._data.append(RECORD.pack(kind, ms, size))
        self._data.extend(parts)
        self.offset += RECORD.size + size


# --- reading -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Record:
    """One record: where it starts in the file, its kind, its time (ms since the start), its data's length and its
    data (empty when read without)."""

    offset: int
    kind: int
    ms: int
    length: int
    data: bytes

    @property
    def end(self) -> int:
        """Where the next record starts."""
        return self.offset + RECORD.size + self.length


@dataclass(frozen=True, slots=True)
class Keyframe:
    """A place to start playback: the record at ``offset`` begins with a KEYFRAME message, at ``ms``."""

    ms: int
    offset: int


@dataclass(frozen=True, slots=True)
class RecordingIndex:
    """What a player needs before it starts: the keyframes (by time), the duration, where the whole records end."""

    started_at: float
    title: str
    data_start: int
    end: int
    duration_ms: int
    keyframes: list[Keyframe]

    def keyframe_at(self, ms: int) -> Keyframe | None:
        """The last keyframe at or before ``ms`` (the first one when ``ms`` is before it; None without any)."""
        if not self.keyframes:
            return None
        i = bisect.bisect_right([k.ms for k in self.keyframes], ms)
        return self.keyframes[max(0, i - 1)]


def read_header(f: BinaryIO) -> tuple[dict[str, Any], int]:
    """The JSON header and the offset of the first record; :class:`DesktopFileError` for anything else."""
    head = f.read(len(MAGIC) + 4)
    if len(head) < len(MAGIC) + 4 or head[: len(MAGIC)] != MAGIC:
        raise DesktopFileError("not an OpenJump desktop recording (or a newer version of one)")
    (length,) = struct.unpack(">I", head[len(MAGIC) :])
    if length > MAX_HEADER:
        raise DesktopFileError(f"the desktop recording's header claims {length} bytes (at most {MAX_HEADER})")
    raw = f.read(length)
    try:
        header = json.loads(raw) if len(raw) == length else None
    except (ValueError, UnicodeDecodeError):
        header = None
    if not isinstance(header, dict) or header.get("version") != VERSION:
        raise DesktopFileError("the desktop recording's header is not readable")
    return header, len(MAGIC) + 4 + length


def iter_records(f: BinaryIO, start: int, *, with_data: bool = True, stop: int | None = None) -> Iterator[Record]:
    """The whole records from ``start`` (a record boundary) on, ending quietly at the end of the file, at a torn or
    malformed record, or at ``stop`` (an offset)."""
    offset = start
    size = os.fstat(f.fileno()).st_size
    while (stop is None or offset < stop) and offset + RECORD.size <= size:
        f.seek(offset)
        head = f.read(RECORD.size)
        if len(head) < RECORD.size:
            return
        kind, ms, length = RECORD.unpack(head)
        if kind not in KINDS or length > MAX_RECORD_DATA or offset + RECORD.size + length > size:
            return
        data = f.read(length) if with_data else b""
        if with_data and len(data) < length:
            return
        yield Record(offset, kind, ms, length, data)
        offset += RECORD.size + length


def _starts_with_keyframe(f: BinaryIO, offset: int) -> bool:
    f.seek(offset)
    head = f.read(RECORD.size + len(_KEYFRAME_MESSAGE))
    if len(head) < RECORD.size + len(_KEYFRAME_MESSAGE):
        return False
    kind, _, length = RECORD.unpack_from(head)
    return kind == OUTPUT and length >= len(_KEYFRAME_MESSAGE) and head[RECORD.size :] == _KEYFRAME_MESSAGE


def read_index_entries(path: Path) -> list[Keyframe] | None:
    """The entries of a ``.didx`` (a torn last entry left out; at most :data:`MAX_INDEX_ENTRIES`), or None when there
    is none or it is not one."""
    try:
        with path.open("rb") as f:
            raw = f.read(len(INDEX_MAGIC) + MAX_INDEX_ENTRIES * INDEX_ENTRY.size)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InternalError(f"cannot read the keyframe index {path}: {exc.strerror}") from None
    if raw[: len(INDEX_MAGIC)] != INDEX_MAGIC:
        return None
    body = memoryview(raw)[len(INDEX_MAGIC) :]
    whole = len(body) - len(body) % INDEX_ENTRY.size
    return [Keyframe(ms, offset) for ms, offset in INDEX_ENTRY.iter_unpack(body[:whole])]


def scan_keyframes(f: BinaryIO, data_start: int) -> list[Keyframe]:
    """Rebuild the keyframe index from the records (when the sidecar is missing): one pass over the file."""
    scanner = desktop_wire.HeaderScanner(desktop_wire.OUTPUT_TYPES)
    found: list[Keyframe] = []
    stream = 0
    # bounded like the sidecar: past MAX_INDEX_ENTRIES keyframes, the later ones are not places to start
    try:
        for record in iter_records(f, data_start):
            if record.kind != OUTPUT:
                continue
            for offset, kind, _ in scanner.feed(record.data):
                if kind == desktop_wire.KEYFRAME and offset == stream and len(found) < MAX_INDEX_ENTRIES:
                    found.append(Keyframe(record.ms, record.offset))  # a KEYFRAME that starts a record
            stream += len(record.data)
    except ProtocolViolation as exc:
        log.warning("desktop recording: stream unreadable after %d bytes (%s)", stream, exc)
    return found


def read_index(path: Path, index_path: Path) -> RecordingIndex:
    """The recording's keyframes, duration and end, from the sidecar checked against the data (or rebuilt).

    Cost: reads the index, checks each entry's record header, and scans the records after the last good keyframe
    (at most about one keyframe interval of records). Raises :class:`DesktopFileError` for a file that is not a
    desktop recording, :class:`InternalError` for one that cannot be read, FileNotFoundError when it is missing.
    """
    with path.open("rb") as f:
        header, data_start = read_header(f)
        entries = read_index_entries(index_path)
        if entries is None:
            entries = scan_keyframes(f, data_start)
        keyframes: list[Keyframe] = []
        last_ms = -1
        for entry in entries:
            if entry.offset < data_start or entry.ms < last_ms or (keyframes and entry.offset <= keyframes[-1].offset):
                continue
            if not _starts_with_keyframe(f, entry.offset):
                continue
            keyframes.append(entry)
            last_ms = entry.ms
        # the end and the duration: walk the records after the last keyframe (its record torn: the one before)
        while True:
            start, duration = (keyframes[-1].offset, keyframes[-1].ms) if keyframes else (data_start, 0)
            end = start
            for record in iter_records(f, start, with_data=False):
                end, duration = record.end, max(duration, record.ms)
            if not keyframes or end > keyframes[-1].offset:
                break
            keyframes.pop()
    started = header.get("started_at")
    title = header.get("title")
    return RecordingIndex(
        started_at=float(started) if isinstance(started, int | float) else 0.0,
        title=title if isinstance(title, str) else "",
        data_start=data_start,
        end=end,
        duration_ms=duration,
        keyframes=keyframes,
    )


def stream_from(path: Path, offset: int, *, stop: int | None = None) -> Iterator[Record]:
    """The records of the recording at ``path`` from ``offset`` (a keyframe's, or the first record's: pass None to
    start at the beginning) to its end (or ``stop``), each read when asked for (one record in memory at a time)."""
    with path.open("rb") as f:
        _, data_start = read_header(f)
        yield from iter_records(f, max(offset, data_start), stop=stop)


def data_start_of(path: Path) -> int:
    """Where the first record of the recording at ``path`` starts."""
    with path.open("rb") as f:
        return read_header(f)[1]


def remove_quietly(path: Path) -> None:
    """Delete ``path`` if it exists (cleanup paths)."""
    with contextlib.suppress(OSError):
        path.unlink()
