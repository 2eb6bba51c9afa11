"""Ordered, batched background writes of session history (audit events, participants, timeline, session ends).

The session hot path never waits for the database: it submits a write, and one writer task applies the queued
writes in order, many per transaction. A failed batch is retried one write at a time, and a write that still fails
is logged loudly with what was lost (``RECORD WRITE FAILED``): never silently dropped. ``close()`` drains the queue.

**The bound.** Past :data:`QUEUE_LIMIT` waiting writes the writer is *behind* (logged once, as an error, until it
catches up), and :meth:`RecordWriter.check_room` refuses with ``Busy`` (naming us): what a peer can repeat at will
asks it first and is refused *before* anything happens, so nothing it would have recorded is lost (the owner's mode
changes, transfers and removals get an error; a Jumpoint's notices are dropped and counted in a
``session.notices_dropped`` event, ``console_web/hub/notices.py``). :meth:`RecordWriter.submit` itself never refuses
and never drops: it records what already happened (a seat, a session's end, a REST action), which cannot be undone
and must not go unrecorded, and which comes one per such event, so it cannot grow the queue the way a flood could.
Waiting for room instead (backpressure) would make ``submit`` a coroutine for callers that run synchronously in the
middle of a state change (the tunnel reader, the seats), and would stall every session on a tunnel behind one
database; dropping would lose audit records. The limiters (chat, roster actions, notices) keep a single session or
member from getting there; the bound is for a database that stalls while many sessions run.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from console_web.db.database import Database
from jumpoint.core.errors import Busy

log = logging.getLogger(__name__)

Write = Callable[[AsyncSession], Awaitable[None]]
BATCH = 200
QUEUE_LIMIT = 100_000
"""Writes waiting for the database past which the writer is behind (see the module docstring)."""


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
        self._writing = 0  # the writes of the batch being written
        self._warned = False

    @property
    def backlog(self) -> int:
        """Writes not written yet (queued, or in the batch being written)."""
        return len(self._queue) + self._writing

    @property
    def behind(self) -> bool:
        """Whether :data:`QUEUE_LIMIT` writes or more are not written yet: :meth:`check_room` refuses until they are
        fewer."""
        return self.backlog >= QUEUE_LIMIT

    def check_room(self, what: str) -> None:
        """Raise Busy (``the console cannot <what> now: ...``) when the writer is :attr:`behind`. Called before an
        action a peer may repeat at will, so that a refused action has changed nothing that needed recording."""
        if self.behind:
            raise Busy(
                f"the console cannot {what} now: {self.backlog} history writes are waiting for its database",
                hint="try again in a minute; if this goes on, an administrator should check the console's database",
            )

    def submit(self, write: Write, what: str) -> None:
        """Queue a write; ``what`` describes it for the log if it fails (never put secrets in it).

        Never refuses and never drops, even when :attr:`behind` (see the module docstring): callers that a peer can
        repeat ask :meth:`check_room` first."""
        self._queue.append(_Pending(write, what))
        if self.behind and not self._warned:
            self._warned = True
            log.error(
                "%d history writes are waiting for the database: owners' roster actions are refused and Jumpoint "
                "notices dropped (and counted) until it catches up",
                self.backlog,
            )
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
                self._writing = len(batch)
                try:
                    await self._apply(batch)
                finally:
                    self._writing = 0
            if self._warned:
                self._warned = False
                log.warning("the history writes that were behind caught up with the database")
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
