"""Delivery to one browser socket: its sender task, its send timer, and resynchronisation from a screen snapshot.

Each socket (:class:`~console_web.hub.participants.Connection`) has one sender task that sends, in order, its
direct messages (each waits until the socket's cursor has reached the stream position it was queued after) and the
stream from its cursor, at the socket's own pace: output that piled up while a send was in progress goes out as one
binary frame (up to ``READ_CHUNK``), and an output chunk of *n* bytes always advances the cursor by *n* positions
(docs/protocol.md). A socket whose cursor was evicted from the log gets a ``screen`` snapshot instead. A send that
does not complete within ``SEND_TIMEOUT`` closes the socket as too slow; one timer per socket checks that, instead
of a timeout around every send (a flood of output makes many sends).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from console_web.hub.participants import Connection
from console_web.hub.session_hooks import CLOSE_ENDED, CLOSE_INTERNAL_ERROR, CLOSE_TOO_SLOW, dumps
from jumpoint.core.errors import InternalError

if TYPE_CHECKING:
    from console_web.hub.session import LiveSession

SEND_TIMEOUT = 20.0
READ_CHUNK = 256 * 1024  # the most output one binary frame to a browser carries (a socket that lags catches up)


class Senders:
    """Starts and runs the sender task of each socket of a session."""

    def __init__(self, session: LiveSession) -> None:
        self._session = session

    def start(self, conn: Connection) -> None:
        """Start the socket's sender and its send timer (the socket was attached and its first messages queued)."""
        conn.sender = self._session.spawn(self._run(conn), "sender")
        conn.watchdog = asyncio.get_running_loop().call_later(SEND_TIMEOUT, self._watch, conn)

    def push(self, conn: Connection, text: str, after: int) -> None:
        """Queue a direct message for the socket (sent once its cursor reaches ``after``; -1: at once). A socket
        whose queue is full is closed as too slow once what is queued is sent."""
        if not conn.push(text, after):
            conn.participant.logger(self._session.log).warning("closing a socket whose message queue is full")
            conn.closing = (CLOSE_TOO_SLOW, "too slow")
        conn.wake.set()

    async def _run(self, conn: Connection) -> None:
        """Send one socket its direct messages and the stream from its cursor, in order, at its own pace."""
        session = self._session
        pump = session.pump
        ws = conn.ws
        stream = pump.stream
        try:
            while not ws.closed:
                if (
                    conn.closing is not None
                    and not conn.direct
                    and (conn.closing[0] != CLOSE_ENDED or conn.cursor >= stream.head or not conn.pacing)
                ):
                    await ws.close(code=conn.closing[0], message=conn.closing[1].encode()[:120])
                    return
                # the hello and the other messages queued at attach go before a resynchronisation: the page sets up
                # its terminal or desktop view on them, and would drop a screen or keyframe that came first
                if conn.needs_sync and not (conn.direct and conn.direct[0].after < 0):
                    if pump.desktop is None:
                        await self._send_screen(conn)
                        continue
                    if await self._restart_at_keyframe(conn):
                        continue
                direct = conn.direct
                if direct and direct[0].after <= conn.cursor:
                    conn.sending_since = time.monotonic()
                    await ws.send_str(direct.popleft().text)
                    conn.sending_since = None
                    continue
                limit = direct[0].after if direct else stream.head
                if conn.cursor < limit and not conn.needs_sync:
                    batch = stream.read(conn.cursor, limit, READ_CHUNK)
                    if batch is None:
                        conn.needs_sync = True
                        continue
                    conn.sending_since = time.monotonic()
                    for entry in batch.entries:
                        if isinstance(entry, bytes):
                            await ws.send_bytes(entry)
                        else:
                            await ws.send_str(entry)
                    conn.sending_since = None
                    conn.cursor = batch.end
                    if not conn.pacing and conn.cursor >= stream.head:
                        conn.pacing = True
                    pump.credit_wake.set()
                    continue
                if conn.closing is not None:
                    continue
                conn.wake.clear()
                await conn.wake.wait()
        except asyncio.CancelledError:
            if not conn.timed_out:
                raise
            if conn.sender is not None:
                conn.sender.uncancel()
            await self._close_too_slow(conn, f"no send completed in {SEND_TIMEOUT:.0f} s")
        except (TimeoutError, ConnectionError, RuntimeError) as exc:
            await self._close_too_slow(conn, repr(exc))
        except InternalError as exc:  # e.g. no snapshot of the screen: this socket goes, the session goes on
            conn.participant.logger(session.log).error("closing a socket the console could not serve: %s", exc)
            with contextlib.suppress(Exception):
                await ws.close(code=CLOSE_INTERNAL_ERROR, message=b"the console could not send the session's screen")
        finally:
            if conn.watchdog is not None:
                conn.watchdog.cancel()
            if conn in conn.participant.connections:
                session.disconnect(conn)

    async def _close_too_slow(self, conn: Connection, why: str) -> None:
        conn.participant.logger(self._session.log).warning("closing a socket that could not keep up: %s", why)
        with contextlib.suppress(Exception):
            await conn.ws.close(code=CLOSE_TOO_SLOW, message=b"too slow")

    def _watch(self, conn: Connection) -> None:
        """The socket's send timer: cancels its sender when a send has taken ``SEND_TIMEOUT``; else looks again
        when the send in progress (or the next one) could first be that late."""
        if conn.sender is None or conn.sender.done():
            return
        since = conn.sending_since
        left = SEND_TIMEOUT if since is None else since + SEND_TIMEOUT - time.monotonic()
        if left <= 0:
            conn.timed_out = True
            conn.sender.cancel()
            return
        conn.watchdog = asyncio.get_running_loop().call_later(max(left, 0.1), self._watch, conn)

    async def _restart_at_keyframe(self, conn: Connection) -> bool:
        """Start a desktop socket at the newest keyframe in the log; without one, ask the Jumpoint for one and
        return False (the socket waits; its sender is woken when the keyframe arrives)."""
        session = self._session
        pump = session.pump
        assert pump.desktop is not None
        position = pump.desktop.keyframe_at_or_after(pump.stream.start)
        if position is None:
            if pump.desktop.should_request():
                session.request_keyframe()
            return False
        conn.cursor = position
        conn.needs_sync = False
        conn.pacing = True
        conn.sending_since = time.monotonic()
        await conn.ws.send_str(dumps({"t": "stream", "pos": position}))
        conn.sending_since = None
        pump.credit_wake.set()
        return True

    async def _send_screen(self, conn: Connection) -> None:
        """Resynchronise a socket from the terminal's current state (no await between snapshot and cursor)."""
        pump = self._session.pump
        cols, rows = pump.screen.size
        snapshot = pump.screen.snapshot()
        conn.cursor = pump.stream.head
        conn.needs_sync = False
        conn.pacing = True
        conn.sending_since = time.monotonic()
        await conn.ws.send_str(dumps({"t": "screen", "pos": conn.cursor, "cols": cols, "rows": rows}))
        await conn.ws.send_bytes(snapshot)
        conn.sending_since = None
        pump.credit_wake.set()
