"""Browser sockets that reached another console node than the session's.

The node the browser reached authenticates it, opens a pipe to the session's node and relays messages both ways
(:func:`relay_browser`); on the session's node the pipe is a :class:`RelayedSocket`, which the session serves exactly
like a browser's own WebSocket. Close codes travel with the close, so the browser sees the session's own
(ended, removed, too slow ...). When either node goes away the browser's socket closes with 1012 and it reconnects,
resuming from its stream position.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import WSMessage, WSMsgType, web

from console_web.cluster.envelope import BINARY, TEXT
from console_web.cluster.pipe import Pipe, PipeClosed


class RelayedSocket:
    """The session node's end of a relayed browser socket (see :class:`~console_web.hub.participants.BrowserSocket`)."""

    def __init__(self, pipe: Pipe) -> None:
        self._pipe = pipe

    @property
    def closed(self) -> bool:
        """Whether the pipe ended."""
        return self._pipe.closed

    async def send_str(self, data: str, compress: int | None = None) -> None:
        """Relay a text message; ConnectionResetError once the pipe ended."""
        await self._send(TEXT, data.encode())

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None:
        """Relay a binary message; ConnectionResetError once the pipe ended."""
        await self._send(BINARY, bytes(data))

    async def _send(self, kind: int, payload: bytes) -> None:
        try:
            await self._pipe.send(kind, payload)
        except PipeClosed as exc:
            raise ConnectionResetError(f"the relayed browser socket ended: {exc}") from None

    async def close(self, *, code: int = 1000, message: bytes = b"", drain: bool = True) -> bool:
        """Close the browser's socket with this code and reason."""
        if self._pipe.closed:
            return False
        await self._pipe.close(code, message.decode(errors="replace"))
        return True

    def __aiter__(self) -> AsyncIterator[WSMessage]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[WSMessage]:
        while (frame := await self._pipe.receive()) is not None:
            kind, payload = frame
            if kind == TEXT:
                yield WSMessage(WSMsgType.TEXT, payload.decode(errors="replace"), None)
            else:
                yield WSMessage(WSMsgType.BINARY, payload, None)


async def relay_browser(ws: web.WebSocketResponse, pipe: Pipe) -> None:
    """Relay an open browser socket to its pipe until either ends (the pipe's close code reaches the browser)."""

    async def down() -> None:
        try:
            while (frame := await pipe.receive()) is not None:
                kind, payload = frame
                if kind == TEXT:
                    await ws.send_str(payload.decode(errors="replace"))
                else:
                    await ws.send_bytes(payload)
        except ConnectionError:
            pass
        await ws.close(code=pipe.close_code, message=pipe.close_reason.encode()[:120])

    downstream = asyncio.create_task(down(), name=f"relay down {pipe.id}")
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await pipe.send(TEXT, msg.data.encode())
            elif msg.type == WSMsgType.BINARY:
                await pipe.send(BINARY, msg.data)
    except PipeClosed:
        pass
    finally:
        await pipe.close(1000, "the browser left")
        with contextlib.suppress(asyncio.CancelledError, Exception):
            async with asyncio.timeout(5):
                await downstream
        downstream.cancel()
