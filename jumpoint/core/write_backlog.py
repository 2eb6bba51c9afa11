"""Answers a reader writes to its peer, bounded: a peer that sends requests but never reads is waited for.

A protocol client's reader task answers some of what the peer sends (VNC: clipboard replies, update requests; RDP:
clipboard replies, frame acknowledgements, the Confirm Active of each Demand Active) with a plain
``StreamWriter.write``, not awaited: waiting for the peer to read each answer would stall the reader for nothing.
But a peer that keeps sending requests and never reads would then make the transport buffer every answer, without
limit.

So such a reader awaits :func:`drain_backlog` after what it wrote. While at most :data:`WRITE_BACKLOG_LIMIT` bytes
wait unsent it returns at once, without suspending (a peer that reads never slows the reader down); past it, it
waits until the peer has read them (:meth:`asyncio.StreamWriter.drain`: down to the transport's low-water mark).
The reader then stops reading a peer that does not read, so TCP's window closes on that peer in turn. What waits in
the transport is bounded by the limit plus the answers to one message.

The limit must be above the transport's high-water mark (asyncio's default is 64 KiB), or ``drain`` does not wait.
The Telnet client, whose answers are written from the transport's callbacks where nothing can wait, drops them past
its own limit instead (``protocols.telnet.protocol.CONTROL_WRITE_LIMIT``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

WRITE_BACKLOG_LIMIT = 1024 * 1024
"""Unsent bytes past which a reader waits for its peer: far above what a peer that reads lets pile up (the kernel
takes the answers as they come), and above the largest single answer but RDP's clipboard text (up to 2 MiB)."""


def write_backlog(writer: asyncio.StreamWriter) -> int:
    """Bytes written to ``writer`` that its transport has not handed to the kernel yet."""
    return writer.transport.get_write_buffer_size()


async def drain_backlog(
    writer: asyncio.StreamWriter,
    on_wait: Callable[[int], None] | None = None,
    *,
    limit: int | None = None,
) -> None:
    """Return at once while at most ``limit`` bytes (None: :data:`WRITE_BACKLOG_LIMIT`, read at each call) wait
    unsent on ``writer``; past it, call ``on_wait`` with that backlog, then wait until the peer has read them.

    Raises what :meth:`asyncio.StreamWriter.drain` raises: ``ConnectionResetError`` when the connection was lost
    meanwhile (an ``OSError``, which the caller's reader loop already maps to the peer's error).
    """
    waiting = write_backlog(writer)
    if waiting <= (WRITE_BACKLOG_LIMIT if limit is None else limit):
        return
    if on_wait is not None:
        on_wait(waiting)
    await writer.drain()
