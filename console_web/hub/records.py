"""Ordered, batched background writes of session history (audit events, participants, timeline, session ends).

The session hot path never waits for the database: it submits a write, and one writer task applies the queued
writes in order, many per transaction. A failed batch is retried one write at a time, and a write that still fails
is logged loudly with what was lost (``RECORD WRITE FAILED``): never silently dropped. ``close()`` drains the queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from console_web.db.database import Database

log = logging.getLogger(__name__)

Write = Callable[[AsyncSession], Awaitable[None]]
BATCH = 200
QUEUE_WARN = 100_000


@dataclass(frozen=True, slots=True)
class _Pending:
    write: Write
    what: str


class RecordWriter:
    """One writer task per console; see the module docstring."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._queue: deque[_Pending] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._warned = False

    def submit(self, write: Write, what: str) -> None:
        """Queue a write; ``what`` describes it for the log if it fails (never put secrets in it)."""
        self._queue.append(_Pending(write, what))
        if len(self._queue) > QUEUE_WARN and not self._warned:
            self._warned = True
            log.warning("%d history writes are waiting for the database", len(self._queue))
        self._idle.clear()
        self._wake.set()
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="record-writer")

    async def flush(self, within: float = 10.0) -> None:
        """Wait until everything submitted so far is written (or ``within`` seconds have passed)."""
        try:
            async with asyncio.timeout(within):
                await self._idle.wait()
        except TimeoutError:
            log.error("RECORD WRITE FAILED: %d history writes still queued at shutdown", len(self._queue))

    async def close(self) -> None:
        """Drain the queue, then stop the writer."""
        await self.flush()
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
                await self._apply(batch)
            self._warned = False
            self._idle.set()

    async def _apply(self, batch: list[_Pending]) -> None:
        try:
            async with self._db.session() as session:
                for pending in batch:
                    await pending.write(session)
            return
        except Exception:
            if len(batch) == 1:
                log.exception("RECORD WRITE FAILED: %s", batch[0].what)
                return
        for pending in batch:
            await self._apply([pending])
