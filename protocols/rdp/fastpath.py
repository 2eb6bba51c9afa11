"""Fast-path output parsing and fast-path input encoding (MS-RDPBCGR 2.2.9.1.2, 2.2.8.1.2).

Output: a PDU holds updates, each possibly fragmented (reassembled here, bounded by the size the client
announced, each fragment counting at least :data:`FRAGMENT_COST` bytes) and bulk-compressed (decompressed per
fragment, before reassembly). Input: keyboard, Unicode, mouse and synchronize events, several per PDU.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from protocols.rdp.wire import MalformedPdu, Reader, u8

FASTPATH_OUTPUT_ENCRYPTED = 0x80
FASTPATH_OUTPUT_SECURE_CHECKSUM = 0x40
FRAGMENT_SINGLE = 0
FRAGMENT_LAST = 1
FRAGMENT_FIRST = 2
FRAGMENT_NEXT = 3
COMPRESSION_USED = 0x2

FASTPATH_INPUT_ENCRYPTED = 0x80
EVENT_SCANCODE = 0
EVENT_MOUSE = 1
EVENT_MOUSEX = 2
EVENT_SYNC = 3
EVENT_UNICODE = 4
KBDFLAGS_RELEASE = 0x01
KBDFLAGS_EXTENDED = 0x02

PTRFLAGS_HWHEEL = 0x0400
PTRFLAGS_WHEEL = 0x0200
PTRFLAGS_WHEEL_NEGATIVE = 0x0100
PTRFLAGS_MOVE = 0x0800
PTRFLAGS_DOWN = 0x8000
PTRFLAGS_BUTTON1 = 0x1000  # left
PTRFLAGS_BUTTON2 = 0x2000  # right
PTRFLAGS_BUTTON3 = 0x4000  # middle
WHEEL_NOTCH = 120
MAX_EVENTS_PER_PDU = 15
FRAGMENT_COST = 64
"""The least a fragment counts against the reassembly bound (about what keeping one costs besides its bytes), so
empty or tiny fragments cannot pile up under it."""


@dataclass(frozen=True, slots=True)
class FastPathUpdate:
    """One update of a fast-path PDU, still possibly compressed or a fragment."""

    code: int
    fragmentation: int
    compression_flags: int | None
    data: bytes


def parse_output_header(pdu: bytes) -> tuple[int, int]:
    """The header flags and where the updates (or the data signature) start."""
    offset = 3 if len(pdu) > 1 and pdu[1] & 0x80 else 2
    if len(pdu) < offset:
        raise MalformedPdu(f"a fast-path output header of {len(pdu)} bytes is cut short")
    return pdu[0], offset


def parse_updates(body: bytes) -> Iterator[FastPathUpdate]:
    """The updates of a fast-path PDU body (after the header and any signature, decrypted)."""
    reader = Reader(body, "fast-path output")
    while reader.remaining:
        header = reader.u8()
        code = header & 0x0F
        fragmentation = (header >> 4) & 0x3
        compression = (header >> 6) & 0x3
        flags = reader.u8() if compression & COMPRESSION_USED else None
        size = reader.u16()
        yield FastPathUpdate(code, fragmentation, flags, reader.take(size))


class Reassembler:
    """Joins the fragments of fast-path updates; at most ``limit`` bytes per update, each fragment counting at least
    :data:`FRAGMENT_COST` bytes (the last one excepted: an update of ``limit`` bytes always fits when its other
    fragments carry that much, as servers' fragments of a whole fast-path PDU do)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._code: int | None = None
        self._parts: list[bytes] = []
        self._size = 0
        self._cost = 0

    def add(self, code: int, fragmentation: int, data: bytes) -> bytes | None:
        """The whole update once its last fragment came; None while fragments are still expected."""
        if fragmentation == FRAGMENT_SINGLE:
            if self._code is not None:
                raise MalformedPdu("a fast-path update interrupted another update's fragments")
            return data
        if fragmentation == FRAGMENT_FIRST:
            if self._code is not None:
                raise MalformedPdu("a fast-path update started before the previous one ended")
            self._code, self._parts, self._size, self._cost = code, [], 0, 0
        elif self._code != code:
            raise MalformedPdu("a fast-path fragment does not continue the update in progress")
        self._size += len(data)
        self._cost += max(len(data), FRAGMENT_COST)
        if self._size > self.limit:
            raise MalformedPdu(f"a fragmented update is larger than the {self.limit} bytes announced")
        if self._cost > self.limit + FRAGMENT_COST:
            raise MalformedPdu(
                f"a fragmented update is larger than the {self.limit} bytes announced, counting each of its "
                f"{len(self._parts) + 1} fragments as at least {FRAGMENT_COST} bytes"
            )
        self._parts.append(data)
        if fragmentation == FRAGMENT_LAST:
            self._code = None
            whole = b"".join(self._parts)
            self._parts = []
            return whole
        return None


def scancode_event(scancode: int, down: bool) -> bytes:
    """A keyboard event for a set-1 scancode (``0xE0xx``: extended)."""
    flags = 0 if down else KBDFLAGS_RELEASE
    if scancode & 0xFF00 == 0xE000:
        flags |= KBDFLAGS_EXTENDED
    return u8(flags | (EVENT_SCANCODE << 5)) + u8(scancode & 0xFF)


def unicode_event(code_point: int, down: bool) -> bytes:
    """A Unicode keyboard event (UTF-16 code unit)."""
    flags = 0 if down else KBDFLAGS_RELEASE
    return u8(flags | (EVENT_UNICODE << 5)) + struct.pack("<H", code_point)


def unicode_events(code_point: int, down: bool) -> list[bytes]:
    """Unicode events for any code point (a surrogate pair beyond the BMP)."""
    if code_point < 0x10000:
        return [unicode_event(code_point, down)]
    value = code_point - 0x10000
    return [unicode_event(0xD800 | (value >> 10), down), unicode_event(0xDC00 | (value & 0x3FF), down)]


def mouse_event(flags: int, x: int, y: int) -> bytes:
    """A mouse event."""
    return u8(EVENT_MOUSE << 5) + struct.pack("<HHH", flags, x, y)


def button_events(x: int, y: int, before: int, after: int) -> list[bytes]:
    """A move, then one event per button whose state changed (wire buttons: bit 0 left, 1 middle, 2 right)."""
    events = [mouse_event(PTRFLAGS_MOVE, x, y)]
    for bit, flag in ((1, PTRFLAGS_BUTTON1), (2, PTRFLAGS_BUTTON3), (4, PTRFLAGS_BUTTON2)):
        if (before ^ after) & bit:
            events.append(mouse_event(flag | (PTRFLAGS_DOWN if after & bit else 0), x, y))
    return events


def wheel_events(x: int, y: int, dx: int, dy: int, horizontal: bool) -> list[bytes]:
    """Wheel events: positive ``dy`` scrolls down (a negative rotation in RDP), positive ``dx`` right."""
    events: list[bytes] = []
    for steps, base in ((dy, PTRFLAGS_WHEEL), (dx, PTRFLAGS_HWHEEL)):
        if not steps or (base == PTRFLAGS_HWHEEL and not horizontal):
            continue
        # RDP: positive rotation scrolls up (vertical) or right (horizontal).
        negative = steps > 0 if base == PTRFLAGS_WHEEL else steps < 0
        for _ in range(min(abs(steps), 20)):
            rotation = (0x100 - WHEEL_NOTCH) & 0xFF if negative else WHEEL_NOTCH
            flags = base | rotation | (PTRFLAGS_WHEEL_NEGATIVE if negative else 0)
            events.append(mouse_event(flags, x, y))
    return events


def sync_event(flags: int = 0) -> bytes:
    """A synchronize event (the toggle keys' state)."""
    return u8(flags | (EVENT_SYNC << 5))


def input_pdu(body: bytes, count: int, signature: bytes | None = None) -> bytes:
    """A fast-path input PDU of ``count`` events whose bytes are ``body`` (encrypted, with the plaintext's
    ``signature``, under classic RDP security). The count always fits the header (at most 15 events)."""
    if not 1 <= count <= MAX_EVENTS_PER_PDU:
        raise ValueError(f"a fast-path input PDU carries 1 to {MAX_EVENTS_PER_PDU} events")
    header = (count << 2) | (FASTPATH_INPUT_ENCRYPTED if signature is not None else 0)
    extra = signature or b""
    total = 1 + len(extra) + len(body)
    length = u8(total + 1) if total + 1 < 0x80 else struct.pack(">H", (total + 2) | 0x8000)
    return u8(header) + length + extra + body
