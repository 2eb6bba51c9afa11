"""What a live session needs from the hub (hooks, settings) and the close codes its browser sockets see.

Split out of :mod:`console_web.hub.session` so that the session's parts (seats, output pump, senders, idle timer)
share these without importing the session itself; :mod:`console_web.hub.session` re-exports every name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol

from jumpoint.core import wire

if TYPE_CHECKING:
    from console_web.hub.participants import Identity, Participant
    from console_web.hub.session import LiveSession
    from console_web.hub.timeline import TimelineItem

State = Literal["connecting", "connected", "ended"]

# WebSocket close codes of a session socket (docs/protocol.md)
CLOSE_ENDED = 1000
CLOSE_INTERNAL_ERROR = 1011
CLOSE_TOO_SLOW = 1013
CLOSE_REMOVED = 4001
CLOSE_LEFT = 4002
CLOSE_FULL = 4003
CLOSE_NO_OWNER = 4004
CLOSE_TOO_MANY_SOCKETS = 4005  # the seat has SOCKETS_PER_SEAT sockets already (console_web/hub/participants.py)


class SessionHooks(Protocol):
    """What a session tells the hub (persistence and audit happen there)."""

    def audit(self, session: LiveSession, action: str, detail: dict[str, Any], actor: Identity | None) -> None:
        """Record an audit event about this session."""

    def participant_joined(self, session: LiveSession, participant: Participant) -> None:
        """A seat was created."""

    def participant_left(self, session: LiveSession, participant: Participant, reason: str) -> None:
        """A seat was released (left, removed, disconnected too long, or the session ended)."""

    def timeline_added(self, session: LiveSession, item: TimelineItem) -> None:
        """A chat message or system event was added."""

    def owner_changed(self, session: LiveSession) -> None:
        """Ownership moved to another participant (invitations of the old owner are void)."""

    def ended(self, session: LiveSession) -> None:
        """The session ended."""

    def check_history_room(self, what: str) -> None:
        """Raise Busy (naming ``what``) when the history writes are too far behind to take an action a participant
        or the Jumpoint may repeat at will (see :meth:`~console_web.hub.records.RecordWriter.check_room`)."""


class SessionSettings(Protocol):
    """The limits a session needs (``console_web.config.SessionSettings`` fits)."""

    @property
    def max_participants(self) -> int:
        """Seats per session."""

    @property
    def idle_timeout_seconds(self) -> int:
        """No input this long ends the session (0: never)."""

    @property
    def reconnect_grace_seconds(self) -> int:
        """How long a seat without sockets is kept."""

    @property
    def stream_buffer_kib(self) -> int:
        """Output kept for late joiners and reconnects."""


def dumps(msg: dict[str, Any]) -> str:
    """A message to a browser as JSON text."""
    return wire.dumps_json(msg)
