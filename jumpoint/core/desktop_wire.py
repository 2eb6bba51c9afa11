"""The desktop stream: how desktop events travel Jumpoint -> console -> browser, and input travels back.

A desktop session's channel carries a **byte stream of self-delimiting messages**, exactly as a terminal session's
channel carries terminal bytes: the tunnel's DATA frames, the console's stream log, flow-control credit, positions,
reconnects and the browser socket's binary frames all treat it as bytes, and a message may span frames. Every
message is::

    +--------+------------------+---------------------------+
    | type:1 | length:4 (BE)    | body (length bytes)       |
    +--------+------------------+---------------------------+

with a per-type cap on ``length`` checked before anything is buffered (:data:`MAX_BODY`). Integers are big-endian.

Output (Jumpoint -> browser)::

    SIZE       u16 width, u16 height                       the desktop's size; clears nothing by itself
    IMAGE      u16 x, y, w, h, u8 codec, bytes data        codec 1 JPEG, 2 PNG, 3 WebP (complete image files)
    COPY       u16 src_x, src_y, x, y, w, h                copy a rectangle of the current picture
    CURSOR     u16 hot_x, hot_y, w, h, bytes png           the pointer's shape (w = h = 0: hidden)
    FRAME_END  (empty)                                     the picture is consistent: present it
    CLIPBOARD  bytes utf8                                  the target's clipboard text
    KEYFRAME   (empty)                                     a complete picture follows: SIZE, IMAGEs, FRAME_END

Input (browser -> Jumpoint)::

    POINTER    u16 x, y, u8 buttons                        bit 0 left, 1 middle, 2 right
    WHEEL      u16 x, y, i8 dx, i8 dy                      steps; positive dy scrolls down
    KEY        u32 keysym, u8 down, u16 scancode           scancode 0 = unknown
    CLIPBOARD  bytes utf8                                  a participant's clipboard text
    REFRESH    (empty)                                     ask for a complete picture
    SIZE       u16 width, u16 height                       the size the viewer asks the desktop to take
    QUALITY    u8 level                                    index into :data:`QUALITY_LEVELS`
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from jumpoint.core.desktop import (
    MAX_DESKTOP_SIDE,
    Clipboard,
    CopyRect,
    CursorShape,
    DesktopInput,
    DesktopSize,
    FrameEnd,
    Image,
    Key,
    Pointer,
    Quality,
    Refresh,
    Wheel,
)
from jumpoint.core.errors import ProtocolViolation

HEADER = struct.Struct(">BI")

# output
SIZE = 0x01
IMAGE = 0x02
COPY = 0x03
CURSOR = 0x04
FRAME_END = 0x05
CLIPBOARD = 0x06
KEYFRAME = 0x07
# input
IN_POINTER = 0x81
IN_WHEEL = 0x82
IN_KEY = 0x83
IN_CLIPBOARD = 0x84
IN_REFRESH = 0x85
IN_SIZE = 0x86
IN_QUALITY = 0x87

MAX_IMAGE = 60 * 1024
"""An encoded image rectangle's largest body: encoders tile larger pictures, so one message fits one tunnel frame."""
MAX_CLIPBOARD = 60 * 1024
"""Clipboard text beyond this (UTF-8 bytes) is cut: say so where it is cut."""

_SIZE = struct.Struct(">HH")
_RECT = struct.Struct(">HHHHB")
_COPY = struct.Struct(">HHHHHH")
_CURSOR = struct.Struct(">HHHH")
_POINTER = struct.Struct(">HHB")
_WHEEL = struct.Struct(">HHbb")
_KEY = struct.Struct(">IBH")

MAX_BODY: dict[int, int] = {
    SIZE: _SIZE.size,
    IMAGE: _RECT.size + MAX_IMAGE,
    COPY: _COPY.size,
    CURSOR: _CURSOR.size + MAX_IMAGE,
    FRAME_END: 0,
    CLIPBOARD: MAX_CLIPBOARD,
    KEYFRAME: 0,
    IN_POINTER: _POINTER.size,
    IN_WHEEL: _WHEEL.size,
    IN_KEY: _KEY.size,
    IN_CLIPBOARD: MAX_CLIPBOARD,
    IN_REFRESH: 0,
    IN_SIZE: _SIZE.size,
    IN_QUALITY: 1,
}
OUTPUT_TYPES = frozenset({SIZE, IMAGE, COPY, CURSOR, FRAME_END, CLIPBOARD, KEYFRAME})
INPUT_TYPES = frozenset({IN_POINTER, IN_WHEEL, IN_KEY, IN_CLIPBOARD, IN_REFRESH, IN_SIZE, IN_QUALITY})
CODECS = {"jpeg": 1, "png": 2, "webp": 3}
CODEC_NAMES = {number: name for name, number in CODECS.items()}
QUALITY_LEVELS = ("black_and_white", "few_colors", "more_colors", "full_color", "video")


def _message(kind: int, body: bytes) -> bytes:
    return HEADER.pack(kind, len(body)) + body


def cut_utf8(text: str, limit: int = MAX_CLIPBOARD) -> bytes:
    """``text`` as UTF-8, cut at a character boundary to at most ``limit`` bytes."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return data
    return data[:limit].decode("utf-8", "ignore").encode("utf-8")


# --- output ------------------------------------------------------------------------------------------------------
def encode_output(event: DesktopSize | Image | CopyRect | CursorShape | FrameEnd | Clipboard) -> bytes:
    """One output message. Images must be encoded (JPEG, PNG, WebP) and at most :data:`MAX_IMAGE` bytes; a cursor
    must be given as PNG data in ``rgba`` (see :func:`encode_cursor`)."""
    if isinstance(event, DesktopSize):
        return _message(SIZE, _SIZE.pack(event.width, event.height))
    if isinstance(event, Image):
        codec = CODECS.get(event.codec)
        if codec is None:
            raise ValueError(f"images travel encoded (jpeg, png, webp), not {event.codec}")
        if len(event.data) > MAX_IMAGE:
            raise ValueError(f"an image message holds at most {MAX_IMAGE} bytes, not {len(event.data)}: tile it")
        return _message(IMAGE, _RECT.pack(event.x, event.y, event.width, event.height, codec) + event.data)
    if isinstance(event, CopyRect):
        body = _COPY.pack(event.src_x, event.src_y, event.x, event.y, event.width, event.height)
        return _message(COPY, body)
    if isinstance(event, FrameEnd):
        return _message(FRAME_END, b"")
    if isinstance(event, Clipboard):
        return _message(CLIPBOARD, cut_utf8(event.text))
    raise TypeError(f"{type(event).__name__} is not sent this way")


def encode_cursor(hot_x: int, hot_y: int, width: int, height: int, png: bytes) -> bytes:
    """A CURSOR message with the shape as a PNG file (``width = height = 0`` and no data hides the pointer)."""
    if len(png) > MAX_IMAGE:
        raise ValueError("the cursor image is too large")
    return _message(CURSOR, _CURSOR.pack(hot_x, hot_y, width, height) + png)


def encode_keyframe_marker() -> bytes:
    """The KEYFRAME marker: a complete picture follows."""
    return _message(KEYFRAME, b"")


# --- input -------------------------------------------------------------------------------------------------------
def encode_input(event: DesktopInput) -> bytes:
    """One input message (browsers build the same bytes; tests and tools use this)."""
    if isinstance(event, Pointer):
        return _message(IN_POINTER, _POINTER.pack(event.x, event.y, event.buttons))
    if isinstance(event, Wheel):
        return _message(IN_WHEEL, _WHEEL.pack(event.x, event.y, event.dx, event.dy))
    if isinstance(event, Key):
        return _message(IN_KEY, _KEY.pack(event.keysym, int(event.down), event.scancode or 0))
    if isinstance(event, Clipboard):
        return _message(IN_CLIPBOARD, cut_utf8(event.text))
    if isinstance(event, Refresh):
        return _message(IN_REFRESH, b"")
    if isinstance(event, DesktopSize):
        return _message(IN_SIZE, _SIZE.pack(event.width, event.height))
    if isinstance(event, Quality):
        return _message(IN_QUALITY, bytes([QUALITY_LEVELS.index(event.level)]))
    raise TypeError(f"{type(event).__name__} is not an input event")


def decode_input(kind: int, body: bytes | memoryview) -> DesktopInput:
    """The input event of one message; ProtocolViolation naming what is wrong."""
    try:
        if kind == IN_POINTER:
            x, y, buttons = _POINTER.unpack(body)
            return Pointer(x, y, buttons)
        if kind == IN_WHEEL:
            x, y, dx, dy = _WHEEL.unpack(body)
            return Wheel(x, y, dx, dy)
        if kind == IN_KEY:
            keysym, down, scancode = _KEY.unpack(body)
            return Key(keysym, bool(down), scancode or None)
        if kind == IN_CLIPBOARD:
            return Clipboard(bytes(body).decode("utf-8"))
        if kind == IN_REFRESH:
            return Refresh()
        if kind == IN_SIZE:
            width, height = _SIZE.unpack(body)
            return DesktopSize(width, height)
        if kind == IN_QUALITY:
            return Quality(QUALITY_LEVELS[body[0]])  # type: ignore[arg-type]
    except (struct.error, ValueError, IndexError, UnicodeDecodeError) as exc:
        raise ProtocolViolation(f"malformed desktop input message {kind:#x}: {exc}") from None
    raise ProtocolViolation(f"unknown desktop input message {kind:#x}")


# --- parsing a stream --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Message:
    """One complete message of a stream: where it starts (stream offset), its type and its body."""

    offset: int
    kind: int
    body: bytes


class StreamParser:
    """Splits a desktop byte stream into messages, checking every header before buffering its body.

    ``allowed`` is the set of message types this direction may carry; anything else, or a body over its cap, raises
    :class:`ProtocolViolation`. At most one partial message is buffered (so at most ``max(MAX_BODY) + 5`` bytes).
    """

    def __init__(self, allowed: frozenset[int]) -> None:
        self._allowed = allowed
        self._buffer = bytearray()
        self._offset = 0  # stream offset of the first byte in the buffer

    @property
    def position(self) -> int:
        """Bytes fed so far."""
        return self._offset + len(self._buffer)

    def feed(self, data: bytes | memoryview) -> Iterator[Message]:
        """Add ``data`` and yield every message it completes, in order."""
        self._buffer += data
        buffer = self._buffer
        start = 0
        end = len(buffer)
        while end - start >= HEADER.size:
            kind, length = HEADER.unpack_from(buffer, start)
            cap = MAX_BODY.get(kind) if kind in self._allowed else None
            if cap is None:
                raise ProtocolViolation(f"unexpected desktop message type {kind:#x} at offset {self._offset + start}")
            if length > cap:
                raise ProtocolViolation(f"desktop message {kind:#x} of {length} bytes is over its {cap}-byte cap")
            stop = start + HEADER.size + length
            if stop > end:
                break
            yield Message(self._offset + start, kind, bytes(buffer[start + HEADER.size : stop]))
            start = stop
        if start:
            del buffer[:start]
            self._offset += start


def check_size(width: int, height: int) -> None:
    """ProtocolViolation unless the size is a desktop we accept."""
    if not (1 <= width <= MAX_DESKTOP_SIDE and 1 <= height <= MAX_DESKTOP_SIDE):
        raise ProtocolViolation(f"desktop size {width}x{height} is out of range")


def decode_size(body: bytes) -> tuple[int, int]:
    """The (width, height) of a SIZE body."""
    width, height = _SIZE.unpack(body)
    check_size(width, height)
    return width, height


class HeaderScanner:
    """Finds the message headers of a desktop byte stream without copying bodies (the console's view of it).

    Yields ``(offset, kind, length)`` for every header as it completes, checking the type and cap; bodies are
    skipped. At most one partial header (< 5 bytes) is kept.
    """

    def __init__(self, allowed: frozenset[int]) -> None:
        self._allowed = allowed
        self._position = 0
        self._skip = 0  # body bytes still to pass over
        self._partial = b""

    @property
    def at_boundary(self) -> bool:
        """Whether everything fed so far ends exactly at a message boundary."""
        return self._skip == 0 and not self._partial

    def feed(self, data: bytes | memoryview) -> Iterator[tuple[int, int, int]]:
        """Scan ``data``; yield each header it completes."""
        view = memoryview(data)
        while view:
            if self._skip:
                n = min(self._skip, len(view))
                self._skip -= n
                self._position += n
                view = view[n:]
                continue
            need = HEADER.size - len(self._partial)
            if len(view) < need:
                self._partial += bytes(view)
                self._position += len(view)
                return
            header = self._partial + bytes(view[:need])
            offset = self._position - len(self._partial)
            self._partial = b""
            self._position += need
            view = view[need:]
            kind, length = HEADER.unpack(header)
            cap = MAX_BODY.get(kind) if kind in self._allowed else None
            if cap is None:
                raise ProtocolViolation(f"unexpected desktop message type {kind:#x} at offset {offset}")
            if length > cap:
                raise ProtocolViolation(f"desktop message {kind:#x} of {length} bytes is over its {cap}-byte cap")
            self._skip = length
            yield offset, kind, length


def check_input_frame(data: bytes) -> None:
    """ProtocolViolation unless ``data`` is one or more whole, well-formed input messages."""
    scanner = HeaderScanner(INPUT_TYPES)
    for _ in scanner.feed(data):
        pass
    if not scanner.at_boundary:
        raise ProtocolViolation("a desktop input frame must hold whole messages")
