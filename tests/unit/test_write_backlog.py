"""jumpoint.core.write_backlog: a reader's answers wait for a peer that does not read only past the limit."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from jumpoint.core.write_backlog import drain_backlog, write_backlog

LIMIT = 128 * 1024
SMALL_BUFFER = 4096


@asynccontextmanager
async def pair() -> AsyncIterator[tuple[asyncio.StreamWriter, asyncio.StreamReader, asyncio.StreamWriter]]:
    """Our writer, and the peer's reader and writer; kernel buffers kept small so that what the peer does not read
    stays in our transport."""
    accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
        asyncio.get_running_loop().create_future()
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set_result((reader, writer))

    listening = socket.socket()
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    server = await asyncio.start_server(handle, sock=listening)
    ours = socket.socket()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
    ours.connect(listening.getsockname())
    _, writer = await asyncio.open_connection(sock=ours)
    peer_reader, peer_writer = await accepted
    try:
        yield writer, peer_reader, peer_writer
    finally:
        writer.transport.abort()
        peer_writer.transport.abort()
        server.close()


async def test_under_the_limit_it_returns_without_suspending_and_without_calling_on_wait() -> None:
    waits: list[int] = []
    async with pair() as (writer, _, _):
        writer.write(bytes(LIMIT // 2))
        coroutine = drain_backlog(writer, waits.append, limit=LIMIT)
        with pytest.raises(StopIteration):  # done at its first step: it never suspended
            coroutine.send(None)
    assert waits == []


async def test_past_the_limit_it_says_how_much_waits_and_returns_once_the_peer_has_read_it() -> None:
    waits: list[int] = []
    size = 8 * LIMIT
    async with pair() as (writer, peer_reader, _):
        writer.write(bytes(size))
        backlog = write_backlog(writer)
        assert backlog > LIMIT
        waiting = asyncio.ensure_future(drain_backlog(writer, waits.append, limit=LIMIT))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        assert waits == [backlog]
        await peer_reader.readexactly(size)
        await asyncio.wait_for(waiting, 2)
        assert write_backlog(writer) <= LIMIT


async def test_a_connection_lost_while_waiting_ends_the_wait_with_connection_reset_error() -> None:
    async with pair() as (writer, _, peer_writer):
        writer.write(bytes(8 * LIMIT))
        waiting = asyncio.ensure_future(drain_backlog(writer, limit=LIMIT))
        await asyncio.sleep(0.1)
        peer_writer.transport.abort()
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(waiting, 2)
