"""A bounded buffer of a connection's terminal output, between the protocol's callbacks and the reader.

Adapters append each received chunk (no copy) and may queue events (an echo change, a notice) among the output,
where they keep their place. The reader :meth:`OutputBuffer.take` s the next event or up to a limit of output
bytes, joining whole chunks (one copy, only when more than one chunk waits) and splitting only a chunk larger
than the limit. When ``limit`` output bytes or more wait unread, the buffer asks its :class:`ReadingSource` to
stop reading (so the TCP or SSH window closes and the server stops sending); once the reader has drained it to
half the limit, reading resumes. Queued events count too, :data:`EVENT_COST` bytes each, and an echo change queued
right after another replaces it (only the latest state matters to a reader that saw neither), so a server that
flips an option without sending output cannot grow the queue either. Memory per connection is therefore bounded.
While a terminal floods output, a small take is followed by a short hold (:mod:`jumpoint.core.output_pacing`): the
source is paused and the reader waits, so what arrives meanwhile is read and taken in one piece.

Protocol-neutral: the source is anything with ``pause_reading()`` and ``resume_reading()`` (an asyncio transport,
an asyncssh channel), so this module depends on neither.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import Protocol

from jumpoint.core.events import EchoChanged, TerminalOutput
from jumpoint.core.output_pacing import FloodPacer

DEFAULT_BUFFER_LIMIT = 256 * 1024
# What a queued event counts against the limit: about its size in memory (a small object and a deque slot).
EVENT_COST = 64

Item = bytes | TerminalOutput


class ReadingSource(Protocol):
    """Where the output comes from: told to stop and resume reading."""

    def pause_reading(self) -> None:
        """Stop receiving until :meth:`resume_reading`."""
        ...

    def resume_reading(self) -> None:
        """Receive again."""
        ...


class OutputBuffer:
    """Output chunks and events in arrival order; bounded by pausing the source past ``limit`` unread bytes (each
    queued event counted as :data:`EVENT_COST` bytes).

    Set :attr:`source` once the connection is made; until then the buffer never pauses. Call :meth:`close` when
    the connection has ended, so a waiting reader wakes and finds it ended.
    """

    __slots__ = (
        "_buffered",
        "_closed",
        "_events",
        "_held",
        "_items",
        "_limit",
        "_pacer",
        "_paused",
        "_resume_below",
        "_waiter",
        "source",
    )

    def __init__(self, limit: int = DEFAULT_BUFFER_LIMIT, initial: Iterable[TerminalOutput] = ()) -> None:
        self._limit = limit
        self._resume_below = limit // 2
        self._items: deque[Item] = deque(initial)
        self._buffered = 0
        self._events = len(self._items)  # events queued (each costs EVENT_COST against the limit)
        self._paused = False  # past the limit
        self._held: asyncio.TimerHandle | None = None  # holding during a flood, until this timer fires
        self._pacer = FloodPacer()
        self._closed = False
        self._waiter: asyncio.Future[None] | None = None
        self.source: ReadingSource | None = None

    # --- the protocol's side ------------------------------------------------------------------------
    def append(self, data: bytes) -> None:
        """Queue received output; stop the source when the reader falls too far behind."""
        self._items.append(data)
        self._buffered += len(data)
        self._grew()

    def push(self, event: TerminalOutput) -> None:
        """Queue an event after the output received so far; an echo change right after an echo change the reader
        has not taken replaces it. Counts :data:`EVENT_COST` against the limit."""
        items = self._items
        if isinstance(event, EchoChanged) and items and isinstance(items[-1], EchoChanged):
            items[-1] = event
            return
        items.append(event)
        self._events += 1
        self._grew()

    def _grew(self) -> None:
        if not self._paused and self._buffered + self._events * EVENT_COST >= self._limit:
            self._paused = True
            if self._held is None and self.source is not None:
                self.source.pause_reading()
        if self._held is None:
            self._wake()

    def close(self) -> None:
        """The connection ended: wake the reader (what is queued can still be taken)."""
        self._closed = True
        if self._held is not None:
            self._held.cancel()
            self._held = None
        self._wake()

    # --- the reader's side --------------------------------------------------------------------------
    @property
    def buffered(self) -> int:
        """Output bytes received and not yet taken by the reader."""
        return self._buffered

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        """Wait until something can be taken or the buffer is closed."""
        if (self._items and self._held is None) or self._closed:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def take(self, limit: int) -> bytes | TerminalOutput | None:
        """The next event, or up to ``limit`` queued output bytes (whole chunks where possible); None if empty or
        holding during a flood (then :meth:`wait` returns when the hold ends)."""
        items = self._items
        if not items or self._held is not None:
            return None
        first = items.popleft()
        if not isinstance(first, bytes):
            self._events -= 1
            self._shrank()
            return first
        if len(first) >= limit:
            if len(first) > limit:
                items.appendleft(first[limit:])
                first = first[:limit]
            out = first
        else:
            size = len(first)
            nxt = items[0] if items else None
            if isinstance(nxt, bytes) and size + len(nxt) <= limit:
                parts = [first]
                while items:
                    nxt = items[0]
                    if not isinstance(nxt, bytes) or size + len(nxt) > limit:
                        break
                    items.popleft()
                    parts.append(nxt)
                    size += len(nxt)
                out = b"".join(parts)
            else:
                out = first
        self._buffered -= len(out)
        self._shrank()
        self._pace(len(out))
        return out

    def _shrank(self) -> None:
        if self._paused and self._buffered + self._events * EVENT_COST <= self._resume_below:
            self._paused = False
            if self._held is None and self.source is not None:
                self.source.resume_reading()

    def _pace(self, size: int) -> None:
        """Start a hold if the pacer asks for one (only with a running event loop and an open buffer)."""
        if self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        hold = self._pacer.took(size, loop.time())
        if not hold:
            return
        self._held = loop.call_later(hold, self._release)
        if not self._paused and self.source is not None:
            self.source.pause_reading()

    def _release(self) -> None:
        self._held = None
        if not self._paused and self.source is not None:
            self.source.resume_reading()
        if self._items:
            self._wake()
