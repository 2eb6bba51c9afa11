"""What a session leaves behind in the database: audit events, seats, timeline entries, its end."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from console_web.db import repo
from console_web.db.clock import utcnow
from console_web.db.models import NAME_MAX, SessionParticipant, TimelineEntry
from console_web.hub.participants import Identity, Participant
from console_web.hub.records import RecordWriter
from console_web.hub.timeline import TimelineItem


class SessionHistory:
    """Turns session happenings into ordered background writes (see :class:`RecordWriter`)."""

    def __init__(self, writer: RecordWriter) -> None:
        self.writer = writer

    def audit(
        self,
        *,
        action: str,
        detail: dict[str, Any],
        session_id: str | None = None,
        actor: Identity | None = None,
        jumpoint_id: int | None = None,
        source_address: str | None = None,
    ) -> None:
        """An audit event; a guest actor is named in the detail (guests have no user id). The source address is
        where the actor acted from unless ``source_address`` is given."""
        if actor is not None and actor.external:
            detail = {**detail, "guest": actor.name}
        if source_address is None and actor is not None:
            source_address = actor.address

        async def write(session: AsyncSession) -> None:
            repo.add_audit(
                session,
                action=action,
                actor_user_id=actor.user_id if actor else None,
                actor_jumpoint_id=jumpoint_id,
                session_id=session_id,
                source_address=source_address,
                detail=detail,
            )

        self.writer.submit(write, f"audit session={session_id} action={action} detail={detail!r}")

    def joined(self, session_id: str, participant: Participant) -> None:
        """A seat was created."""
        row = SessionParticipant(
            session_id=session_id,
            participant_id=participant.id,
            user_id=participant.identity.user_id,
            display_name=participant.name[:NAME_MAX],
            external=participant.identity.external,
            mode=participant.mode,
            joined_at=participant.joined_at,
        )

        async def write(session: AsyncSession) -> None:
            session.add(row)

        self.writer.submit(write, f"participant {participant.name} joined session {session_id}")

    def left(self, session_id: str, participant: Participant, reason: str) -> None:
        """A seat was released."""
        at = utcnow()

        async def write(session: AsyncSession) -> None:
            await session.execute(
                update(SessionParticipant)
                .where(
                    SessionParticipant.session_id == session_id,
                    SessionParticipant.participant_id == participant.id,
                    SessionParticipant.left_at.is_(None),
                )
                .values(left_at=at, left_reason=reason[:256], mode=participant.mode)
            )

        self.writer.submit(write, f"participant {participant.name} left session {session_id} ({reason})")

    def timeline(self, session_id: str, item: TimelineItem) -> None:
        """A chat message or system event."""
        row = TimelineEntry(
            session_id=session_id,
            seq=item.seq,
            at=item.at,
            kind=item.kind,
            author_user_id=item.author_user_id,
            author_name=item.author[:NAME_MAX],
            text=item.text,
        )

        async def write(session: AsyncSession) -> None:
            session.add(row)

        self.writer.submit(write, f"timeline of session {session_id}: {item.kind} #{item.seq}")

    def ended(self, session_id: str, *, reason: str, error_code: str | None, at: datetime) -> None:
        """The session ended (the first end wins)."""

        async def write(session: AsyncSession) -> None:
            await repo.end_session_in(session, session_id, reason=reason, error_code=error_code, at=at)

        self.writer.submit(write, f"end of session {session_id} ({reason})")
