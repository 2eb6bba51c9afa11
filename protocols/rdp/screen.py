"""The RDP desktop as the Jumpoint keeps it: RGBA pixels, the damage not yet handed on, and ordered side events.

RDP servers push updates without being asked, so the connection decodes every update into :class:`Screen` as it
arrives, and the consumer takes what changed when it is ready (:meth:`Screen.take`): a slow consumer gets the
damage of many updates merged into one frame, and nothing queues up. Damage is kept as exact rectangles up to
:data:`MAX_RECTS`, beyond which it collapses onto a grid of :data:`TILE` pixel tiles (bounded work, whatever the
server sends). Side events (size changes, cursor shapes, clipboard text, notices) keep their order, bounded by
:data:`MAX_SIDE_EVENTS` (older cursor shapes are dropped first: only the newest one matters).
"""

from __future__ import annotations

import asyncio
from collections import deque

import numpy as np
import numpy.typing as npt

from jumpoint.core.desktop import Clipboard, CursorShape, Damage, DesktopOutput, DesktopSize
from jumpoint.core.events import Notice

MAX_RECTS = 64
TILE = 64
MAX_SIDE_EVENTS = 64

SideEvent = DesktopSize | CursorShape | Clipboard | Notice


class Screen:
    """Pixels plus pending damage and side events; :meth:`take` waits for, and hands on, what changed."""

    def __init__(self, width: int, height: int) -> None:
        self.pixels: npt.NDArray[np.uint8] = self._blank(width, height)
        self._rects: list[tuple[int, int, int, int]] = []
        self._tiles: npt.NDArray[np.bool_] | None = None
        self._side: deque[SideEvent] = deque()
        self._changed = asyncio.Event()
        self._closed: BaseException | None = None
        self._ended = False
        self.drawn = asyncio.Event()
        """Set once the server drew something (the session is attached and shows its desktop)."""

    @staticmethod
    def _blank(width: int, height: int) -> npt.NDArray[np.uint8]:
        pixels = np.zeros((height, width, 4), np.uint8)
        pixels[:, :, 3] = 255
        return pixels

    @property
    def width(self) -> int:
        """The desktop's width."""
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        """The desktop's height."""
        return int(self.pixels.shape[0])

    def resize(self, width: int, height: int) -> None:
        """A new desktop size: blank pixels, pending damage dropped (the server redraws everything)."""
        if (width, height) == (self.width, self.height):
            return
        self.pixels = self._blank(width, height)
        self._rects = []
        self._tiles = None
        self._side = deque(event for event in self._side if not isinstance(event, DesktopSize))
        self.add_side(DesktopSize(width, height))

    def damage(self, x: int, y: int, width: int, height: int) -> None:
        """Mark a region as changed (clipped to the desktop; an empty one is ignored)."""
        right = min(x + width, self.width)
        bottom = min(y + height, self.height)
        x, y = max(x, 0), max(y, 0)
        if right <= x or bottom <= y:
            return
        if self._tiles is not None:
            self._tiles[y // TILE : (bottom - 1) // TILE + 1, x // TILE : (right - 1) // TILE + 1] = True
        else:
            self._rects.append((x, y, right - x, bottom - y))
            if len(self._rects) > MAX_RECTS:
                self._collapse()
        self.drawn.set()
        self._changed.set()

    def _collapse(self) -> None:
        rows = (self.height + TILE - 1) // TILE
        cols = (self.width + TILE - 1) // TILE
        tiles = np.zeros((rows, cols), np.bool_)
        for x, y, width, height in self._rects:
            tiles[y // TILE : (y + height - 1) // TILE + 1, x // TILE : (x + width - 1) // TILE + 1] = True
        self._tiles = tiles
        self._rects = []

    def add_side(self, event: SideEvent) -> None:
        """Queue a side event in order (bounded: the oldest cursor shape, else the oldest event, is dropped)."""
        if len(self._side) >= MAX_SIDE_EVENTS:
            cursors = [event for event in self._side if isinstance(event, CursorShape)]
            if cursors:
                self._side.remove(cursors[0])
            else:
                self._side.popleft()
        self._side.append(event)
        self._changed.set()

    def end(self, error: BaseException | None = None) -> None:
        """The connection ended (``error``: why, raised to the consumer after what is pending)."""
        if self._ended:
            return
        self._ended = True
        self._closed = error
        self._changed.set()

    def _damage_rects(self) -> list[Damage]:
        if self._tiles is None:
            rects = self._rects
            self._rects = []
            return [Damage(*rect) for rect in rects]
        tiles = self._tiles
        self._tiles = None
        out: list[Damage] = []
        for row in range(tiles.shape[0]):
            cols = np.flatnonzero(tiles[row])
            if not len(cols):
                continue
            # Runs of consecutive dirty tiles on this row become one rectangle each.
            breaks = np.flatnonzero(np.diff(cols) != 1)
            starts = np.concatenate(([cols[0]], cols[breaks + 1]))
            ends = np.concatenate((cols[breaks], [cols[-1]]))
            y = row * TILE
            height = min(TILE, self.height - y)
            for start, end in zip(starts, ends, strict=True):
                x = int(start) * TILE
                width = min((int(end) + 1) * TILE, self.width) - x
                out.append(Damage(x, y, width, height))
        return out

    async def take(self) -> list[DesktopOutput | Notice] | None:
        """Wait until something changed; the side events in order, then the damage. None once the connection
        ended and everything was taken; raises the connection's error then, if it ended with one."""
        while True:
            if self._side or self._rects or self._tiles is not None:
                self._changed.clear()
                events: list[DesktopOutput | Notice] = list(self._side)
                self._side.clear()
                events.extend(self._damage_rects())
                return events
            if self._ended:
                if self._closed is not None:
                    raise self._closed
                return None
            self._changed.clear()
            await self._changed.wait()
