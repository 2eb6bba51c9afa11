"""A Telnet terminal as a core :class:`~jumpoint.core.adapter.Connection`.

Events are read from the :class:`~protocols.telnet.protocol.TelnetProtocol`'s queue in order: the notices of the
start (plain-text warning, credential injected), the output of the login (the people in the session see it
happen), echo changes where they occurred, then the shell's output until the server closes the connection.
Output is joined into chunks of at most ``max_output_chunk`` bytes and yielded at once: a lone keystroke echo is
never held back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Literal

from jumpoint.core.errors import BadRequest
from jumpoint.core.events import Keys, Output, Resize, TerminalInput, TerminalOutput
from jumpoint.core.target_errors import closed
from protocols.telnet.codec import CommandFlood, encode_data
from protocols.telnet.errors import command_flood, from_os_error
from protocols.telnet.protocol import TelnetProtocol

CLOSE_WAIT = 2.0


class TelnetConnection:
    """An interactive Telnet session: output as ``Output`` (and ``EchoChanged``, ``Notice``) events, input as
    ``Keys`` and ``Resize``."""

    kind: Literal["terminal"] = "terminal"

    def __init__(self, proto: TelnetProtocol, *, where: str, max_output_chunk: int) -> None:
        self._proto = proto
        self._where = where
        self._max_chunk = max(1, max_output_chunk)
        self._closed = False
        self._iterating = False

    @property
    def buffered_bytes(self) -> int:
        """Output held for the reader right now (bounded: the socket stops reading past the buffer limit)."""
        return self._proto.buffered

    def events(self) -> AsyncIterator[TerminalOutput]:
        """Events until the server closes the connection (normal end: the remote shell exited).

        Raises TargetClosed when the connection is lost (reset), TargetProtocolError when it was closed because the
        server flooded it with commands. Only one reader: a second call raises BadRequest.
        Unlike an async generator, the iterator survives a cancelled ``__anext__`` (``asyncio.wait_for`` on it
        timing out): nothing is lost and the next call goes on where it stopped.
        """
        if self._iterating:
            raise BadRequest("this connection's events are already being read")
        self._iterating = True
        return _Events(self)

    async def send(self, event: TerminalInput) -> None:
        """Type bytes on the remote terminal (shown at once when the server does not echo and no password prompt
        shows: local echo), or report the new window size (NAWS, once the server enabled it)."""
        proto = self._proto
        if self._closed or proto.done:
            raise closed(self._where, "the session has ended")
        if isinstance(event, Keys):
            await proto.writable()
            if proto.done:
                raise closed(self._where, "the session has ended")
            proto.write(encode_data(event.data, binary=proto.negotiator.binary_out))
            proto.echo_typed(event.data)
        elif isinstance(event, Resize):
            proto.negotiator.resize(event.cols, event.rows)
            proto.write_control(proto.negotiator.take())
        else:
            raise BadRequest(f"a Telnet terminal cannot take {type(event).__name__} input")

    async def snapshot(self) -> dict[str, Any]:
        """The terminal's kind and current size only: no screen contents (the adapter runs no emulator)."""
        negotiator = self._proto.negotiator
        return {"kind": "terminal", "cols": negotiator.cols, "rows": negotiator.rows}

    async def close(self) -> None:
        """Close the socket (pending input is flushed first, briefly) and wait for it; idempotent, never raises."""
        if self._closed:
            return
        self._closed = True
        proto = self._proto
        transport = proto.transport
        if transport is None or proto.done:
            return
        with contextlib.suppress(Exception):
            transport.close()  # stops reading at once; writes what is pending, then ends
            await asyncio.wait_for(proto.wait_closed(), CLOSE_WAIT)
        if not proto.done:
            transport.abort()


class _Events:
    """The event iterator of one :class:`TelnetConnection`."""

    __slots__ = ("_conn", "_done")

    def __init__(self, conn: TelnetConnection) -> None:
        self._conn = conn
        self._done = False

    def __aiter__(self) -> _Events:
        return self

    async def __anext__(self) -> TerminalOutput:
        conn = self._conn
        proto = conn._proto
        output = proto.output
        while not self._done:
            item = output.take(conn._max_chunk)
            if item is not None:
                return Output(item) if isinstance(item, bytes) else item
            if proto.done:
                self._done = True
                conn._iterating = False
                error = proto.error
                if error is not None and not conn._closed:
                    if isinstance(error, CommandFlood):
                        raise command_flood(conn._where, error.budget) from None
                    if isinstance(error, OSError):
                        raise from_os_error(conn._where, error) from error
                    raise closed(conn._where, type(error).__name__) from error
                break
            await output.wait()
        raise StopAsyncIteration
