"""Feeding asyncssh what the socket read in pieces, so a big read costs a copy of itself rather than its square.

asyncssh (2.24) keeps its unparsed input as one ``bytes`` object and, for every packet it takes off the front,
re-slices the rest twice (after the header, after the body). A read holding k packets therefore copies about k
times its own size. Reads grow when the Jumpoint falls behind, which is when it can least afford it: in a 20 MB
``base64`` flood a fifth of the bytes came in reads over 64 KiB (up to 250 KB), and that slicing pattern costs
33 ms per 27 MB at 256 KiB reads against 4 ms when fed :data:`PIECE_BYTES` at a time. Nothing else changes: SSH
is a byte stream, and asyncssh sees the same bytes in the same order.

The wrapper reaches asyncssh through its public ``tunnel`` argument of ``connect`` (an object whose
``create_connection`` returns the SSH connection as the session), on a socket the adapter already connected.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any, Final, cast

PIECE_BYTES: Final = 8 * 1024
"""At most this much is handed to asyncssh at once: about two of OpenSSH's output packets, so the rest asyncssh
re-slices stays small, while a read of 256 KiB still takes only 32 calls."""


class _PieceFeeder(asyncio.Protocol):
    """The socket's protocol: passes every callback to ``inner`` and cuts ``data_received`` into pieces."""

    def __init__(self, inner: asyncio.Protocol) -> None:
        self.inner = inner
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        inner = self.inner
        if len(data) <= PIECE_BYTES:
            inner.data_received(data)
            return
        transport = self._transport
        for start in range(0, len(data), PIECE_BYTES):
            # Stop feeding once asyncssh closed the connection (a protocol error, a disconnect): it would only
            # parse bytes nobody reads.
            if transport is not None and transport.is_closing():
                return
            inner.data_received(data[start : start + PIECE_BYTES])

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class SocketInPieces:
    """asyncssh's ``tunnel`` argument for a connected socket: ``create_connection`` wraps the connection asyncssh
    makes in :class:`_PieceFeeder` and returns (transport, that connection). Usable once."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock: socket.socket | None = sock

    async def create_connection(
        self, session_factory: Callable[[], Any], remote_host: str, remote_port: int
    ) -> tuple[Any, Any]:
        """Open the transport on the socket given at construction (``remote_host`` and ``remote_port`` are only
        asyncssh's names for it)."""
        sock, self._sock = self._sock, None
        if sock is None:
            raise RuntimeError("SocketInPieces is usable once")
        loop = asyncio.get_running_loop()
        transport, feeder = await loop.create_connection(
            lambda: _PieceFeeder(cast(asyncio.Protocol, session_factory())), sock=sock
        )
        return transport, feeder.inner

    def close(self) -> None:
        """Nothing to close: the SSH connection owns the transport."""

    async def wait_closed(self) -> None:
        """Nothing to wait for (see :meth:`close`)."""
