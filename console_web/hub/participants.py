"""Who is in a session: participants (seats) and the browser sockets attached to them.

A participant is a rep (by user id) or an external guest, with a mode. A seat outlives its sockets for a grace
period, so a browser that loses its connection briefly comes back as the same participant. Each socket has its own
cursor into the session's stream, its own bounded queue of direct messages, and one sender task, so a slow socket
never holds back anyone else.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from aiohttp import WSMessage

from console_web.auth.principal import Principal

Mode = Literal["owner", "peer", "observer"]
DIRECT_QUEUE_LIMIT = 2000  # direct messages (chat, roster ...) waiting for one socket; past it the socket is closed
SOCKETS_PER_SEAT = 8
"""Browser sockets (tabs, windows) one seat may have attached at once; each costs a sender task, a direct queue and
the history, and multiplies every broadcast. A further one is refused with close code 4005
(:data:`~console_web.hub.session_hooks.CLOSE_TOO_MANY_SOCKETS`)."""

log = logging.getLogger(__name__)


class BrowserSocket(Protocol):
    """What a session needs of a browser's socket: aiohttp's WebSocketResponse, or a socket relayed from the
    console node the browser reached (:class:`console_web.cluster.relayed_socket.RelayedSocket`)."""

    @property
    def closed(self) -> bool:
        """Whether the socket is closed (or closing)."""
        ...

    async def send_str(self, data: str, compress: int | None = None) -> None:
        """Send a text message; ConnectionError once the socket is gone."""
        ...

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None:
        """Send a binary message; ConnectionError once the socket is gone."""
        ...

    async def close(self, *, code: int = 1000, message: bytes = b"", drain: bool = True) -> bool:
        """Close with a code and reason."""
        ...

    def __aiter__(self) -> AsyncIterator[WSMessage]:
        """The browser's messages until the socket closes."""
        ...


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a participant is: a rep (``user_id``) or an external guest (``guest_id``)."""

    name: str
    user_id: int | None = None
    guest_id: str | None = None
    is_admin: bool = False
    address: str | None = field(default=None, compare=False)
    """Where the request or socket acting as this identity came from (audit events); not part of who it is."""

    @property
    def external(self) -> bool:
        """External invitees are guests without an account."""
        return self.guest_id is not None

    @property
    def key(self) -> str:
        """Stable key of the seat: one seat per rep or guest per session."""
        return f"u{self.user_id}" if self.user_id is not None else f"g{self.guest_id}"


@dataclass(eq=False, slots=True)
class Direct:
    """A message for one socket, sent once the socket's cursor has reached ``after`` (keeps order with output)."""

    text: str
    after: int


@dataclass(eq=False)
class Connection:
    """One browser socket of a participant."""

    ws: BrowserSocket
    participant: Participant
    cursor: int = 0
    pacing: bool = True  # holds back flow-control credit until it has taken the stream
    needs_sync: bool = False
    sending_since: float | None = None  # monotonic time the send in progress started (None: not sending)
    timed_out: bool = False  # a send took too long: the sender was cancelled for it
    sender: asyncio.Task[None] | None = None  # the task that sends this socket its messages and the stream
    watchdog: asyncio.TimerHandle | None = None  # checks that no send takes too long
    direct: deque[Direct] = field(default_factory=deque)
    closing: tuple[int, str] | None = None  # close code and reason once the queue is sent
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, text: str, after: int = -1) -> bool:
        """Queue a direct message; False when the queue is full (the socket is too far behind)."""
        if len(self.direct) >= DIRECT_QUEUE_LIMIT:
            return False
        self.direct.append(Direct(text, after))
        return True


@dataclass(eq=False)
class Participant:
    """A seat in a session."""

    identity: Identity
    mode: Mode
    id: str = field(default_factory=lambda: secrets.token_hex(6))
    joined_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    connections: list[Connection] = field(default_factory=list)
    released_at_deadline: float | None = None  # loop time when a seat without sockets is released

    @property
    def name(self) -> str:
        """The display name."""
        return self.identity.name

    @property
    def connected(self) -> bool:
        """Whether at least one socket is attached."""
        return bool(self.connections)

    @property
    def may_type(self) -> bool:
        """Owners and peers send input; observers' input is ignored."""
        return self.mode != "observer"

    def describe(self) -> dict[str, Any]:
        """The participant as the roster shows it."""
        return {
            "id": self.id,
            "name": self.name,
            "mode": self.mode,
            "external": self.identity.external,
            "connected": self.connected,
            "joined_at": self.joined_at.isoformat(),
        }

    def logger(self, session_log: logging.LoggerAdapter[logging.Logger]) -> logging.LoggerAdapter[logging.Logger]:
        """A logger carrying the session and this participant."""
        extra = dict(session_log.extra or {})
        extra["participant"] = self.name
        return logging.LoggerAdapter(log, extra)


def identity_of(principal: Principal) -> Identity:
    """A rep's identity in sessions."""
    return Identity(
        name=principal.display_name or principal.username,
        user_id=principal.user_id,
        is_admin=principal.is_admin,
        address=principal.address,
    )
