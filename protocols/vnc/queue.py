"""The bounded hand-over of desktop events from the connection's reader task to its one consumer.

At most :data:`MAX_EVENTS` events and :data:`MAX_BYTES` bytes of payload (JPEG data, clipboard text) wait; the
reader's :meth:`EventQueue.put` waits for room, and the reader waits for :meth:`EventQueue.drained` before it asks
the server for the next update, so a consumer that stops reading stops the server (TCP's window closes) instead of
filling memory. :meth:`EventQueue.get` survives cancellation (``asyncio.wait_for`` on it): nothing is lost.
"""

from __future__ import annotations

import asyncio
from collections import deque

from jumpoint.core.desktop import DesktopOutput

MAX_EVENTS = 1024
MAX_BYTES = 8 * 1024 * 1024


class EventQueue:
    """Events waiting for the consumer, bounded in count and bytes."""

    def __init__(self, max_events: int = MAX_EVENTS, max_bytes: int = MAX_BYTES) -> None:
        self._items: deque[tuple[DesktopOutput, int]] = deque()
        self._bytes = 0
        self._max_events = max_events
        self._max_bytes = max_bytes
        self._changed = asyncio.Event()  # set on every put/get/end; waiters clear and re-check
        self._taken = asyncio.Event()
        self._error: BaseException | None = None
        self._ended = False

    def __len__(self) -> int:
        return len(self._items)

    @property
    def queued_bytes(self) -> int:
        """Payload bytes waiting."""
        return self._bytes

    def _full(self) -> bool:
        return len(self._items) >= self._max_events or (self._bytes >= self._max_bytes and bool(self._items))

    def put_nowait(self, event: DesktopOutput, size: int = 0) -> None:
        """Queue without waiting (the first events, before the reader starts)."""
        self._items.append((event, size))
        self._bytes += size
        self._changed.set()

    async def put(self, event: DesktopOutput, size: int = 0) -> None:
        """Queue an event, first waiting while the queue is full."""
        while self._full():
            self._taken.clear()
            await self._taken.wait()
        self.put_nowait(event, size)

    async def drained(self) -> None:
        """Wait until the consumer has taken every event."""
        while self._items:
            self._taken.clear()
            await self._taken.wait()

    async def get(self) -> DesktopOutput:
        """The next event; at the end StopAsyncIteration, or the reader's error once everything was taken."""
        while not self._items:
            if self._error is not None:
                raise self._error
            if self._ended:
                raise StopAsyncIteration
            self._changed.clear()
            await self._changed.wait()
        event, size = self._items.popleft()
        self._bytes -= size
        self._taken.set()
        return event

    def end(self, error: BaseException | None = None) -> None:
        """No more events will come (``error``: why, raised to the consumer after the queued events)."""
        self._ended = True
        if error is not None and self._error is None:
            self._error = error
        self._changed.set()
        self._taken.set()
