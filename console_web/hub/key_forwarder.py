"""One browser socket's keys, forwarded to the session in order and off the socket's read loop.

A target that stops reading input (a stuck program, a paste into ``sleep``) makes
:meth:`~console_web.hub.session.LiveSession.send_keys` wait for input credit. If the socket's read loop waited with
it, nothing else the browser sent behind the keys would be read: not End, Leave, a chat line, a resize or a prompt
answer. The forwarder takes keys from the read loop into a small backlog and sends them from its own task, so the
loop goes on reading; only when the backlog is full does the loop wait, which pushes back on the browser through
TCP. Keys are never dropped while the session runs; they are discarded once the session refuses them for good (it
ended, or the seat is gone).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable

from console_web.hub.participants import Participant
from console_web.hub.session import LiveSession
from jumpoint.core.errors import JumpError, ProtocolViolation

KEY_BACKLOG = 256 * 1024
"""Bytes of one socket's typing that may wait for the target before the socket's reading pauses (4 full frames)."""


class KeyForwarder:
    """Forwards one participant socket's binary frames to its session, in order, from a task of the session."""

    def __init__(
        self, session: LiveSession, participant: Participant, refuse: Callable[[ProtocolViolation], None]
    ) -> None:
        self._session = session
        self._participant = participant
        self._refuse = refuse
        self._backlog: collections.deque[bytes] = collections.deque()
        self._queued = 0
        self._room = asyncio.Event()
        self._room.set()
        self._task: asyncio.Task[None] | None = None

    @property
    def queued(self) -> int:
        """Bytes taken from the socket and not yet handed to the session."""
        return self._queued

    async def put(self, data: bytes) -> None:
        """Send one frame of keys, or queue it when it would wait for the target; waits only while the backlog is
        full. An empty frame carries no keys and is ignored: it would take a backlog slot and count nothing against
        :data:`KEY_BACKLOG`."""
        if not data:
            return
        if self._task is None and self._session.takes_input_now(len(data)):
            # The common case, a person typing: sent at once, without a task hop on the echo's path.
            await self._send(data)
            return
        while self._queued >= KEY_BACKLOG:
            self._room.clear()
            await self._room.wait()
        self._backlog.append(data)
        self._queued += len(data)
        if self._task is None:
            self._task = self._session.spawn(self._drain(), "keys")

    async def _drain(self) -> None:
        try:
            while self._backlog:
                data = self._backlog[0]
                try:
                    if not await self._send(data):
                        self._discard()
                        return
                finally:
                    if self._backlog and self._backlog[0] is data:
                        self._backlog.popleft()
                        self._queued -= len(data)
                    self._room.set()
        finally:
            self._task = None
            if self._backlog:  # cancelled with the session: nobody will send these any more
                self._discard()

    async def _send(self, data: bytes) -> bool:
        """Hand ``data`` to the session; False once the session refuses input for good."""
        try:
            await self._session.send_keys(self._participant, data)
        except ProtocolViolation as exc:
            self._refuse(exc)
        except JumpError:
            return False
        return True

    def _discard(self) -> None:
        self._backlog.clear()
        self._queued = 0
        self._room.set()
