"""The RFB byte stream: exact reads with a byte counter, writes, and the in-place TLS upgrade.

A thin layer over an :class:`asyncio.StreamReader`/:class:`asyncio.StreamWriter` pair. Reads are exact (a short read
means the server closed: :class:`asyncio.IncompleteReadError`); the reader's own limit pauses the socket when we do
not read, so TCP's window closes and the server stops sending. :meth:`RfbStream.discard` skips an over-cap payload in
bounded chunks, without allocating it. :meth:`RfbStream.start_tls` upgrades the connection in place (VeNCrypt) with
``loop.start_tls`` through :meth:`asyncio.StreamWriter.start_tls`. Writes are not awaited; the reader task, which
answers the server, awaits :meth:`RfbStream.drain_backlog` so a server that does not read cannot make them pile up
(:mod:`jumpoint.core.write_backlog`).
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import struct
from collections.abc import Callable

from jumpoint.core.write_backlog import drain_backlog, write_backlog

READ_LIMIT = 256 * 1024
DISCARD_CHUNK = 64 * 1024


class RfbStream:
    """One RFB connection's bytes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None) -> None:
        self.reader = reader
        self.writer = writer
        self.bytes_read = 0

    async def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes (``n`` has been checked against its cap by the caller)."""
        if n == 0:
            return b""
        data = await self.reader.readexactly(n)
        self.bytes_read += n
        return data

    async def u8(self) -> int:
        """One unsigned byte."""
        return (await self.read(1))[0]

    async def u16(self) -> int:
        """A big-endian U16."""
        return int.from_bytes(await self.read(2), "big")

    async def u32(self) -> int:
        """A big-endian U32."""
        return int.from_bytes(await self.read(4), "big")

    async def s32(self) -> int:
        """A big-endian S32."""
        return int(struct.unpack(">i", await self.read(4))[0])

    async def discard(self, n: int) -> None:
        """Skip ``n`` bytes in bounded chunks."""
        while n > 0:
            step = min(n, DISCARD_CHUNK)
            await self.read(step)
            n -= step

    def write(self, data: bytes) -> None:
        """Queue bytes for the server (whole messages: concurrent writers never interleave)."""
        assert self.writer is not None
        self.writer.write(data)

    async def drain(self) -> None:
        """Wait while the socket's write buffer is above its high-water mark."""
        assert self.writer is not None
        await self.writer.drain()

    @property
    def unsent(self) -> int:
        """Bytes written that the server has not taken yet (still in our transport; 0 without a writer)."""
        return write_backlog(self.writer) if self.writer is not None else 0

    async def drain_backlog(self, on_wait: Callable[[int], None] | None = None) -> None:
        """Return at once unless more than :data:`~jumpoint.core.write_backlog.WRITE_BACKLOG_LIMIT` bytes wait
        unsent; then call ``on_wait`` with that backlog and wait until the server has read them
        (:func:`~jumpoint.core.write_backlog.drain_backlog`)."""
        assert self.writer is not None
        await drain_backlog(self.writer, on_wait)

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str | None) -> None:
        """Upgrade the connection to TLS in place (the handshake runs here)."""
        assert self.writer is not None
        await self.writer.start_tls(context, server_hostname=server_hostname)

    def peer_certificate_der(self) -> bytes | None:
        """The server's TLS certificate (DER), if the connection is TLS and the server sent one."""
        if self.writer is None:
            return None
        ssl_object = self.writer.get_extra_info("ssl_object")
        if not isinstance(ssl_object, ssl.SSLObject):
            return None
        return ssl_object.getpeercert(binary_form=True) or None

    def peer_certificate_sha256(self) -> str | None:
        """The SHA-256 fingerprint of the server's TLS certificate (``SHA256:`` + colon-separated hex), if any."""
        der = self.peer_certificate_der()
        if der is None:
            return None
        return "SHA256:" + hashlib.sha256(der).digest().hex(":").upper()

    def tls_version(self) -> str | None:
        """The negotiated TLS version and cipher, e.g. ``TLSv1.3 TLS_AES_256_GCM_SHA384``."""
        if self.writer is None:
            return None
        ssl_object = self.writer.get_extra_info("ssl_object")
        if not isinstance(ssl_object, ssl.SSLObject):
            return None
        cipher = ssl_object.cipher()
        return f"{ssl_object.version()} {cipher[0] if cipher else ''}".strip()
