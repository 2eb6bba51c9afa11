"""The SSH connection is fed big socket reads in pieces, unchanged and in order."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from protocols.ssh.read_pieces import PIECE_BYTES, SocketInPieces, _PieceFeeder


class _Recorder(asyncio.Protocol):
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.calls.append(("made", transport))

    def data_received(self, data: bytes) -> None:
        self.calls.append(("data", data))

    def eof_received(self) -> bool | None:
        self.calls.append(("eof", None))
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.calls.append(("lost", exc))

    def pause_writing(self) -> None:
        self.calls.append(("pause", None))

    def resume_writing(self) -> None:
        self.calls.append(("resume", None))

    def data(self) -> list[bytes]:
        return [value for name, value in self.calls if name == "data"]  # type: ignore[misc]


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.closing = False

    def is_closing(self) -> bool:
        return self.closing


def test_a_big_read_reaches_the_connection_in_pieces_with_every_byte_in_order() -> None:
    inner = _Recorder()
    feeder = _PieceFeeder(inner)
    feeder.connection_made(_Transport())
    read = os.urandom(5 * PIECE_BYTES + 123)

    feeder.data_received(read)

    pieces = inner.data()
    assert b"".join(pieces) == read
    assert len(pieces) == 6
    assert max(len(piece) for piece in pieces) == PIECE_BYTES


def test_a_small_read_is_passed_on_as_it_is() -> None:
    inner = _Recorder()
    feeder = _PieceFeeder(inner)
    feeder.connection_made(_Transport())
    read = os.urandom(PIECE_BYTES)

    feeder.data_received(read)

    assert inner.data() == [read]
    assert inner.data()[0] is read


def test_feeding_stops_once_the_connection_closed_its_transport() -> None:
    transport = _Transport()

    class ClosesOnFirstPiece(_Recorder):
        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            transport.closing = True  # as asyncssh does on a protocol error

    inner = ClosesOnFirstPiece()
    feeder = _PieceFeeder(inner)
    feeder.connection_made(transport)

    feeder.data_received(bytes(3 * PIECE_BYTES))

    assert len(inner.data()) == 1


def test_every_other_callback_reaches_the_connection() -> None:
    inner = _Recorder()
    feeder = _PieceFeeder(inner)
    transport = _Transport()
    failure = ConnectionResetError()

    feeder.connection_made(transport)
    feeder.pause_writing()
    feeder.resume_writing()
    keep_open = feeder.eof_received()
    feeder.connection_lost(failure)

    assert inner.calls == [("made", transport), ("pause", None), ("resume", None), ("eof", None), ("lost", failure)]
    assert keep_open is True


async def test_the_tunnel_opens_the_given_socket_once_and_returns_the_connection_it_made() -> None:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    made: list[_Recorder] = []

    def factory() -> _Recorder:
        made.append(_Recorder())
        return made[-1]

    tunnel = SocketInPieces(ours)
    transport, connection = await tunnel.create_connection(factory, "", 22)
    try:
        assert connection is made[0]
        theirs.sendall(b"SSH-2.0-test\r\n")
        for _ in range(100):
            if connection.data():
                break
            await asyncio.sleep(0.01)
        assert b"".join(connection.data()) == b"SSH-2.0-test\r\n"
        with pytest.raises(RuntimeError, match="usable once"):
            await tunnel.create_connection(factory, "", 22)
    finally:
        transport.close()
        theirs.close()
        await asyncio.sleep(0)
