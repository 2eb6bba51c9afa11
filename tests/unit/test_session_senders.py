"""A socket's sender: output that piled up goes out as one frame with the positions right, direct messages keep
their place in the stream, and a socket that cannot take a send in time is closed as too slow."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from types import SimpleNamespace
from typing import Any

import pytest

from console_web.hub import senders as senders_module
from console_web.hub.participants import Connection, Identity, Participant
from console_web.hub.screen import TerminalScreen
from console_web.hub.senders import Senders
from console_web.hub.session_hooks import CLOSE_INTERNAL_ERROR, CLOSE_TOO_SLOW
from console_web.hub.stream import StreamLog
from jumpoint.core.errors import InternalError


class FakeSocket:
    def __init__(self, hang: bool = False) -> None:
        self.frames: list[bytes | str] = []
        self.hang = hang
        self.closed = False
        self.close_code: int | None = None

    async def send_bytes(self, data: bytes) -> None:
        await self._send(data)

    async def send_str(self, text: str) -> None:
        await self._send(text)

    async def _send(self, frame: bytes | str) -> None:
        if self.hang:
            await asyncio.Event().wait()
        self.frames.append(frame)

    async def close(self, code: int, message: bytes) -> None:
        self.closed = True
        self.close_code = code


class FakeSession:
    """What Senders uses of a LiveSession."""

    def __init__(self) -> None:
        self.log = logging.LoggerAdapter(logging.getLogger("test"), {})
        self.pump = SimpleNamespace(stream=StreamLog(1 << 20), screen=None, credit_wake=asyncio.Event())
        self.disconnected: list[Connection] = []

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(coro, name=name)

    def disconnect(self, conn: Connection) -> None:
        conn.participant.connections.remove(conn)
        self.disconnected.append(conn)


def attach(session: FakeSession, socket: FakeSocket) -> tuple[Senders, Connection]:
    participant = Participant(Identity(name="rep", user_id=1), "owner")
    conn = Connection(ws=socket, participant=participant)  # type: ignore[arg-type]
    participant.connections.append(conn)
    senders = Senders(session)  # type: ignore[arg-type]
    senders.start(conn)
    return senders, conn


async def test_output_that_piled_up_goes_out_as_one_frame_and_messages_keep_their_place() -> None:
    session = FakeSession()
    socket = FakeSocket()
    stream = session.pump.stream
    senders, conn = attach(session, socket)
    for chunk in (b"one ", b"two ", b"three"):
        stream.append_output(chunk)
    senders.push(conn, '{"t":"state"}', stream.head)  # after the output already in the stream
    stream.append_output(b" four")
    conn.wake.set()
    for _ in range(20):
        await asyncio.sleep(0)
    assert socket.frames == [b"one two three", '{"t":"state"}', b" four"]
    assert conn.cursor == stream.head == len(b"one two three four")  # n bytes of output, n positions
    assert conn.sender is not None
    conn.sender.cancel()


async def test_a_socket_that_cannot_take_a_send_in_time_is_closed_as_too_slow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(senders_module, "SEND_TIMEOUT", 0.2)
    session = FakeSession()
    socket = FakeSocket(hang=True)
    _senders, conn = attach(session, socket)
    session.pump.stream.append_output(b"output nobody takes")
    conn.wake.set()
    assert conn.sender is not None
    await asyncio.wait_for(conn.sender, 2)
    assert socket.close_code == CLOSE_TOO_SLOW
    assert session.disconnected == [conn]


class BrokenScreen:
    size = (80, 24)

    def snapshot(self) -> bytes:
        raise InternalError("the terminal emulator failed: snapshot_encode returned -2")


async def test_a_socket_the_console_cannot_send_the_screen_is_closed_and_the_session_goes_on() -> None:
    session = FakeSession()
    session.pump.screen = BrokenScreen()
    session.pump.desktop = None
    socket, other = FakeSocket(), FakeSocket()
    _senders, conn = attach(session, socket)
    _senders2, other_conn = attach(session, other)
    conn.needs_sync = True
    conn.wake.set()
    assert conn.sender is not None
    await asyncio.wait_for(conn.sender, 2)
    assert socket.close_code == CLOSE_INTERNAL_ERROR
    assert session.disconnected == [conn]
    session.pump.stream.append_output(b"still live")
    other_conn.wake.set()
    for _ in range(20):
        await asyncio.sleep(0)
    assert other.frames == [b"still live"]
    assert other_conn.sender is not None
    other_conn.sender.cancel()


async def test_a_joiner_resynchronised_from_the_screen_gets_its_hello_before_the_screen() -> None:
    session = FakeSession()
    session.pump.screen = TerminalScreen(80, 24)
    session.pump.desktop = None
    session.pump.screen.feed(b"what the owner sees")
    socket = FakeSocket()
    participant = Participant(Identity(name="rep", user_id=1), "peer")
    conn = Connection(ws=socket, participant=participant)  # type: ignore[arg-type]
    participant.connections.append(conn)
    conn.needs_sync = True  # the stream no longer holds its start: the page is sent the screen
    conn.push('{"t":"hello"}')
    conn.push('{"t":"state"}')
    Senders(session).start(conn)  # type: ignore[arg-type]
    for _ in range(50):
        if len(socket.frames) >= 4:
            break
        await asyncio.sleep(0)
    assert socket.frames[:2] == ['{"t":"hello"}', '{"t":"state"}']
    assert isinstance(socket.frames[2], str) and socket.frames[2].startswith('{"t":"screen"')
    assert isinstance(socket.frames[3], bytes) and b"what the owner sees" in socket.frames[3]
    assert conn.sender is not None
    conn.sender.cancel()
