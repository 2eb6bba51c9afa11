"""Pipes: ordered, windowed message streams between two console nodes over the bus.

A pipe carries one browser socket (or one file transfer) between the node the browser reached and the node where
the session lives. Each direction has a credit window (:data:`WINDOW`, counting every frame as at least
:data:`FRAME_COST_MIN` bytes): the sender waits once that much is unacknowledged, and the receiver acknowledges what
its consumer has taken, so whatever the speed of either end, at most a window per direction sits in Redis or in the
receiver's queue. Frames are numbered; a gap (pub/sub lost a message) ends the pipe, and the browser then reconnects
and resumes from its stream position like after any dropped socket.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import struct
from collections import deque
from collections.abc import Awaitable, Callable

from console_web.cluster import envelope
from console_web.cluster.envelope import ACK, CLOSE, Frame

log = logging.getLogger(__name__)

WINDOW = 1024 * 1024
FRAME_COST_MIN = 64
ACK_EVERY = WINDOW // 4
CLOSE_UNREACHABLE = 1012  # "service restart": the browser reconnects

SendRaw = Callable[[str, bytes], Awaitable[None]]


class PipeClosed(Exception):
    """The pipe ended (either end closed it, or the other node went away)."""


def new_pipe_id() -> str:
    """A fresh pipe id (16 hex characters)."""
    return secrets.token_hex(8)


def _cost(payload: bytes) -> int:
    return max(len(payload), FRAME_COST_MIN)


class Pipe:
    """This node's end of one pipe to ``peer``. ``send`` and ``receive`` are for one writer and one reader."""

    def __init__(self, pipe_id: str, peer: str, send_raw: SendRaw, on_done: Callable[[Pipe], None]) -> None:
        self.id = pipe_id
        self.peer = peer
        self._send_raw = send_raw
        self._on_done = on_done
        self._lock = asyncio.Lock()
        self._out_seq = 0
        self._in_seq = 0
        self._sent = 0
        self._acked = 0
        self._queued = 0
        self._consumed = 0
        self._consumed_acked = 0
        self._queue: deque[tuple[int, bytes]] = deque()
        self._wake = asyncio.Event()
        self.closed = False
        self.close_code = 1000
        self.close_reason = ""

    # --- sending -----------------------------------------------------------------------------------
    async def send(self, kind: int, payload: bytes) -> None:
        """Send a TEXT or BINARY frame within the window; PipeClosed once the pipe ended."""
        cost = _cost(payload)
        while not self.closed and self._sent - self._acked > 0 and self._sent - self._acked + cost > WINDOW:
            self._wake.clear()
            await self._wake.wait()
        if self.closed:
            raise PipeClosed(self.close_reason)
        await self._publish(kind, payload)
        self._sent += cost

    async def _publish(self, kind: int, payload: bytes) -> None:
        async with self._lock:  # numbers are given in the order frames reach Redis
            seq = self._out_seq
            self._out_seq += 1
            await self._send_raw(self.peer, envelope.encode_frame(Frame(self.id, seq, kind, payload)))

    # --- receiving ---------------------------------------------------------------------------------
    async def receive(self) -> tuple[int, bytes] | None:
        """The next TEXT or BINARY frame, or None once the pipe ended and everything before was taken."""
        while not self._queue:
            if self.closed:
                return None
            self._wake.clear()
            await self._wake.wait()
        kind, payload = self._queue.popleft()
        self._consumed += _cost(payload)
        unacked = self._consumed - self._consumed_acked
        if unacked >= ACK_EVERY or (not self._queue and unacked):
            self._consumed_acked = self._consumed
            try:
                await self._publish(ACK, struct.pack(">Q", self._consumed))
            except Exception as exc:  # the other node is gone: the pipe ends
                self.fail(f"the other console node cannot be reached: {exc}")
        return kind, payload

    def on_frame(self, frame: Frame) -> None:
        """A frame from the bus for this pipe (called by the node's reader; never blocks)."""
        if self.closed:
            return
        if frame.seq != self._in_seq:
            self.fail(f"messages between console nodes were lost (expected {self._in_seq}, got {frame.seq})")
            return
        self._in_seq += 1
        if frame.kind == ACK:
            if len(frame.payload) == 8:
                self._acked = max(self._acked, struct.unpack(">Q", frame.payload)[0])
            self._wake.set()
        elif frame.kind == CLOSE:
            self.close_code, self.close_reason = envelope.parse_close(frame.payload)
            self._end()
        else:
            cost = _cost(frame.payload)
            backlog = self._queued - self._consumed
            # one frame larger than the window passes when nothing is waiting (a long terminal snapshot), as the
            # sender sends it only when nothing is unacknowledged
            if backlog and backlog + cost > WINDOW + FRAME_COST_MIN:
                self.fail("the other console node sent beyond its window")
                return
            self._queued += cost
            self._queue.append((frame.kind, frame.payload))
            self._wake.set()

    # --- ending ------------------------------------------------------------------------------------
    async def close(self, code: int = 1000, reason: str = "") -> None:
        """End the pipe and tell the other end (best effort)."""
        if self.closed:
            return
        self.close_code, self.close_reason = code, reason
        self._end()
        try:
            await self._publish(CLOSE, envelope.close_payload(code, reason))
        except Exception as exc:
            log.debug("pipe %s: the close did not reach node %s: %s", self.id, self.peer, exc)

    def fail(self, reason: str) -> None:
        """End the pipe without telling the other end (it is gone or the stream broke)."""
        if self.closed:
            return
        log.warning("pipe %s to console node %s ended: %s", self.id, self.peer, reason)
        self.close_code, self.close_reason = CLOSE_UNREACHABLE, "console node unreachable"
        self._end()

    def _end(self) -> None:
        self.closed = True
        self._wake.set()
        self._on_done(self)
