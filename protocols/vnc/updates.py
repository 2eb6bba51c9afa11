"""Reading one FramebufferUpdate: rectangles decoded into the framebuffer, desktop events emitted in order.

Per rectangle: a pixel encoding writes into the :class:`~protocols.vnc.framebuffer.Framebuffer` and emits
``Damage`` (``Image(codec="jpeg")`` for a Tight JPEG rectangle, whose bytes are forwarded unchanged; with
``tight.png`` set, ``Image(codec="png")`` for a Tight fill or palette rectangle, written from what came; ``CopyRect``
for a copy); a pseudo-encoding changes state (``DesktopSize`` after a resize, with the framebuffer re-allocated;
``CursorShape``; the desktop name; ExtendedDesktopSize's screen layout and the answer to our SetDesktopSize). Every
pixel rectangle must lie inside the framebuffer. ``LastRect`` ends an update whose count was 0xFFFF.

One update is bounded: its consumer holds all of its events until its ``FrameEnd`` (the desktop stream encodes an
update whole), so the bounded :class:`~protocols.vnc.queue.EventQueue` between them does not bound that. Of the
cursor shapes in an update only the newest is kept, and emitted after the update's other events; every event counts
its payload bytes plus :data:`EVENT_COST` against the update's budget (:attr:`UpdateReader.budget` as it starts: the
desktop's RGBA size, at least :data:`UPDATE_MIN_BUDGET`; more if the update enlarges the desktop), and an update
past it is refused (``MalformedMessage``: "an update of more than N MiB").
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from jumpoint.core.desktop import MAX_DESKTOP_SIDE, CopyRect, CursorShape, Damage, DesktopOutput, DesktopSize
from protocols.vnc import messages as m
from protocols.vnc.encodings.copyrect import read_copyrect
from protocols.vnc.encodings.cursor import read_cursor
from protocols.vnc.encodings.raw import read_raw
from protocols.vnc.encodings.tight import TightDecoder
from protocols.vnc.encodings.zrle import ZrleDecoder
from protocols.vnc.framebuffer import Framebuffer
from protocols.vnc.messages import MalformedMessage, RectHeader, Screen
from protocols.vnc.stream import RfbStream

Emit = Callable[[DesktopOutput, int], Awaitable[None]]
"""Hand an event (and its payload size in bytes) to the consumer, waiting for room."""
MIB = 1024 * 1024
UPDATE_MIN_BUDGET = 32 * MIB
"""The least one update may hold (a larger desktop may hold its RGBA size: see :meth:`UpdateReader.budget`)."""
EVENT_COST = 256
"""What an event counts against the budget besides its payload: about its size in memory (the object, its
integers, a list slot), so an update of the most rectangles there can be (65,535) always fits the budget."""


@dataclass
class UpdateStats:
    """Counters since the connection started."""

    updates: int = 0
    rectangles: int = 0
    jpeg_rectangles: int = 0
    png_rectangles: int = 0
    """Tight fills and palettes handed on as PNG (``UpdateReader.tight.png``)."""
    damage_rectangles: int = 0
    copy_rectangles: int = 0
    by_encoding: dict[str, int] = field(default_factory=dict)


class UpdateReader:
    """The decoding state of one connection: framebuffer, zlib streams, what the server told us."""

    def __init__(self, stream: RfbStream, fb: Framebuffer, name: str, log: logging.Logger) -> None:
        self.stream = stream
        self.fb = fb
        self.name = name
        self.log = log
        self.tight = TightDecoder()
        """``tight.png``: hand Tight fills and palettes on as PNG images (lossless) rather than as damage."""
        self.zrle = ZrleDecoder()
        self.extended_desktop_size = False
        """The server sent an ExtendedDesktopSize rectangle: it takes SetDesktopSize."""
        self.screens: list[Screen] = []
        self.resize_refused: str | None = None
        """Why the server refused our last SetDesktopSize (None: not refused)."""
        self.size_changed = False
        self.stats = UpdateStats()
        self._held = 0
        self._budget = UPDATE_MIN_BUDGET
        self._cursor: CursorShape | None = None

    @property
    def budget(self) -> int:
        """The bytes one update's events may count (payload plus :data:`EVENT_COST` each): the desktop's RGBA size
        now, at least :data:`UPDATE_MIN_BUDGET` (an update drawing the whole desktop in JPEG stays well within)."""
        return max(UPDATE_MIN_BUDGET, self.fb.width * self.fb.height * 4)

    async def read(self, emit: Emit) -> None:
        """Read one FramebufferUpdate (its message type already read), emitting events; ``size_changed`` says
        whether the desktop was resized (the next request must then be a full one). MalformedMessage when the
        update's events count more than :attr:`budget`."""
        header = await self.stream.read(3)
        count = int.from_bytes(header[1:3], "big")
        self.stats.updates += 1
        self._held = 0
        self._budget = self.budget
        self._cursor = None
        for _ in range(count):
            rect = RectHeader.unpack(await self.stream.read(RectHeader.SIZE))
            if rect.encoding == m.ENC_LAST_RECT:
                break
            self.stats.rectangles += 1
            await self._rect(rect, emit)
        cursor, self._cursor = self._cursor, None
        if cursor is not None:
            self._count(len(cursor.rgba))
            await emit(cursor, len(cursor.rgba))

    def _count(self, size: int) -> None:
        """Count an event of ``size`` payload bytes against the update's budget (before it is emitted)."""
        self._held += size + EVENT_COST
        if self._held > self._budget:
            raise MalformedMessage(f"an update of more than {self._budget / MIB:.0f} MiB")

    async def _rect(self, rect: RectHeader, emit: Emit) -> None:
        x, y, w, h, enc = rect.x, rect.y, rect.width, rect.height, rect.encoding
        name = m.ENCODING_NAMES.get(enc)
        if name is None:
            await self._pseudo(rect, emit)
            return
        self.stats.by_encoding[name] = self.stats.by_encoding.get(name, 0) + 1
        if not self.fb.contains(x, y, w, h):
            raise MalformedMessage(
                f"a {name} rectangle {w}x{h}+{x}+{y} lies outside the {self.fb.width}x{self.fb.height} desktop"
            )
        stream, fb = self.stream, self.fb
        if enc == m.ENC_COPYRECT:
            src_x, src_y = await read_copyrect(stream, fb, x, y, w, h)
            if w and h:
                self.stats.copy_rectangles += 1
                self._count(0)
                await emit(CopyRect(src_x, src_y, x, y, w, h), 0)
            return
        image = None
        if enc == m.ENC_TIGHT:
            image = await self.tight.read(stream, fb, x, y, w, h)
        elif enc == m.ENC_ZRLE:
            await self.zrle.read(stream, fb, x, y, w, h)
        else:
            await read_raw(stream, fb, x, y, w, h)
        if not w or not h:
            return
        if image is not None:
            if image.codec == "jpeg":
                self.stats.jpeg_rectangles += 1
            else:
                self.stats.png_rectangles += 1
            self._count(len(image.data))
            await emit(image, len(image.data))
        else:
            self.stats.damage_rectangles += 1
            self._count(0)
            await emit(Damage(x, y, w, h), 0)

    async def _pseudo(self, rect: RectHeader, emit: Emit) -> None:
        enc = rect.encoding
        if enc == m.ENC_CURSOR:  # kept until the update ends: a newer shape replaces it
            self._cursor = await read_cursor(self.stream, rect.x, rect.y, rect.width, rect.height)
        elif enc == m.ENC_DESKTOP_SIZE:
            await self._resize(rect.width, rect.height, emit)
        elif enc == m.ENC_EXTENDED_DESKTOP_SIZE:
            head = await self.stream.read(4)
            screens = Screen.unpack_all(await self.stream.read(head[0] * Screen.SIZE))
            self.extended_desktop_size = True
            if rect.x == m.RESIZE_BY_US and rect.y != 0:
                self.resize_refused = m.RESIZE_STATUS.get(rect.y, f"status {rect.y}")
                self.log.warning("the VNC server refused the desktop size asked for: %s", self.resize_refused)
                return
            if rect.x == m.RESIZE_BY_US:
                self.resize_refused = None
            self.screens = screens
            await self._resize(rect.width, rect.height, emit)
        elif enc == m.ENC_DESKTOP_NAME:
            length = await self.stream.u32()
            data = await self.stream.read(min(length, m.MAX_NAME_BYTES))
            await self.stream.discard(length - len(data))
            self.name = m.decode_text(data)
        else:
            raise MalformedMessage(f"a rectangle of unknown encoding {enc}")

    async def _resize(self, width: int, height: int, emit: Emit) -> None:
        if (width, height) == (self.fb.width, self.fb.height):
            return
        if not (1 <= width <= MAX_DESKTOP_SIDE and 1 <= height <= MAX_DESKTOP_SIDE):
            raise MalformedMessage(f"desktop size {width}x{height} is outside 1x1..{MAX_DESKTOP_SIDE}")
        self.fb.resize(width, height)
        self.size_changed = True
        self._budget = max(self._budget, self.budget)
        self._count(0)
        await emit(DesktopSize(width, height), 0)
