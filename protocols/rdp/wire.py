"""Bounded little helpers to read and write RDP's binary structures.

Every read is checked against the bytes actually present: a truncated or lying PDU raises :class:`MalformedPdu`
(saying what was being read), never ``struct.error`` or an ``IndexError`` from deep inside a parser.
"""

from __future__ import annotations

import struct


class MalformedPdu(ValueError):
    """The server sent a PDU this client cannot parse: truncated, a length that lies, a value out of range."""


class Reader:
    """Reads fields in order from one PDU's bytes."""

    __slots__ = ("_data", "_pos", "_what")

    def __init__(self, data: bytes | memoryview, what: str = "PDU") -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._what = what

    @property
    def remaining(self) -> int:
        """Bytes not read yet."""
        return len(self._data) - self._pos

    @property
    def position(self) -> int:
        """Bytes read so far."""
        return self._pos

    def need(self, count: int) -> None:
        """Raise MalformedPdu unless ``count`` more bytes are present."""
        if count < 0 or self._pos + count > len(self._data):
            raise MalformedPdu(f"{self._what} is truncated: {count} more bytes needed, {self.remaining} present")

    def take(self, count: int) -> bytes:
        """The next ``count`` bytes."""
        self.need(count)
        start = self._pos
        self._pos += count
        return bytes(self._data[start : self._pos])

    def view(self, count: int) -> memoryview:
        """The next ``count`` bytes without copying."""
        self.need(count)
        start = self._pos
        self._pos += count
        return self._data[start : self._pos]

    def rest(self) -> bytes:
        """Everything not read yet."""
        return self.take(self.remaining)

    def skip(self, count: int) -> None:
        """Skip ``count`` bytes."""
        self.need(count)
        self._pos += count

    def u8(self) -> int:
        """An unsigned byte."""
        self.need(1)
        value = self._data[self._pos]
        self._pos += 1
        return value

    def _unpack(self, fmt: str, size: int) -> int:
        self.need(size)
        (value,) = struct.unpack_from(fmt, self._data, self._pos)
        self._pos += size
        return int(value)

    def u16(self) -> int:
        """A little-endian unsigned 16-bit integer."""
        return self._unpack("<H", 2)

    def u16be(self) -> int:
        """A big-endian unsigned 16-bit integer."""
        return self._unpack(">H", 2)

    def s16(self) -> int:
        """A little-endian signed 16-bit integer."""
        return self._unpack("<h", 2)

    def u32(self) -> int:
        """A little-endian unsigned 32-bit integer."""
        return self._unpack("<I", 4)

    def u32be(self) -> int:
        """A big-endian unsigned 32-bit integer."""
        return self._unpack(">I", 4)

    def utf16z(self, count: int) -> str:
        """``count`` bytes of UTF-16LE text, cut at the first NUL."""
        raw = self.take(count)
        text = raw.decode("utf-16-le", errors="replace")
        return text.split("\0", 1)[0]

    def sub(self, count: int, what: str) -> Reader:
        """A reader over the next ``count`` bytes (a nested structure with its own length)."""
        return Reader(self.view(count), what)


def u8(value: int) -> bytes:
    """One unsigned byte."""
    return struct.pack("<B", value)


def u16(value: int) -> bytes:
    """A little-endian unsigned 16-bit integer."""
    return struct.pack("<H", value)


def u16be(value: int) -> bytes:
    """A big-endian unsigned 16-bit integer."""
    return struct.pack(">H", value)


def u32(value: int) -> bytes:
    """A little-endian unsigned 32-bit integer."""
    return struct.pack("<I", value)


def utf16z(text: str) -> bytes:
    """UTF-16LE text with its terminating NUL."""
    return text.encode("utf-16-le") + b"\0\0"


def fixed_utf16(text: str, size: int) -> bytes:
    """UTF-16LE text in a field of ``size`` bytes, cut to fit with a NUL at the end, zero-padded."""
    raw = text.encode("utf-16-le")[: size - 2]
    return raw + bytes(size - len(raw))
