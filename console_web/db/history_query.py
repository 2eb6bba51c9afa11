"""Reading session history: who may see which sessions, the filtered list, one report, its timeline in batches.

A user sees the sessions they owned or took a seat in; an administrator sees every session. A session the viewer
may not see is reported exactly like one that does not exist. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from console_web.auth.principal import Principal
from console_web.db.database import Database
from console_web.db.models import SessionParticipant, SessionRecord, TimelineEntry, User
from console_web.db.types import text_lower

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def visible_sessions(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause on ``SessionRecord`` selecting the sessions ``principal`` may see."""
    if principal.is_admin:
        return true()
    seated = select(SessionParticipant.session_id).where(SessionParticipant.user_id == principal.user_id)
    return or_(SessionRecord.user_id == principal.user_id, SessionRecord.id.in_(seated))


def involving_user(user_id: int) -> ColumnElement[bool]:
    """A WHERE clause on ``SessionRecord``: sessions ``user_id`` owned or took a seat in."""
    seated = select(SessionParticipant.session_id).where(SessionParticipant.user_id == user_id)
    return or_(SessionRecord.user_id == user_id, SessionRecord.id.in_(seated))


def _owner_name() -> ColumnElement[str]:
    """The owner's display name, else username, else the name of their seat (a deleted user), else ''."""
    seat_name = (
        select(SessionParticipant.display_name)
        .where(
            SessionParticipant.session_id == SessionRecord.id,
            SessionParticipant.user_id == SessionRecord.user_id,
        )
        .order_by(SessionParticipant.id)
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(func.nullif(User.display_name, ""), User.username, seat_name, "")


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a newest-first page ends: sessions strictly older than (``started_at``, ``session_id``)."""

    started_at: datetime
    session_id: str

    def encode(self) -> str:
        """Opaque text for ``before``: microseconds since the epoch, '.', the session id."""
        return f"{(self.started_at - EPOCH) // MICROSECOND}.{self.session_id}"

    @classmethod
    def decode(cls, text: str) -> Cursor | None:
        """The cursor ``encode`` made, or None if ``text`` is not one."""
        micros, dot, session_id = text.partition(".")
        if not dot or not (micros.isascii() and micros.isdigit()) or len(micros) > 18 or not 1 <= len(session_id) <= 64:
            return None
        try:
            return cls(EPOCH + int(micros) * MICROSECOND, session_id)
        except OverflowError:  # past the year 9999
            return None


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    """Filters of the session list (AND): ``q`` is a case-insensitive substring of the item name or target;
    ``user_id`` keeps sessions that user owned or sat in; ``since`` inclusive, ``until`` exclusive on the start."""

    q: str | None = None
    user_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: Cursor | None = None


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """A session as listed, with its owner's name."""

    record: SessionRecord
    owner_name: str


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """Sessions newest first and the cursor of the next page (None: no more)."""

    rows: list[HistoryRow]
    next_before: Cursor | None


def _history_select(principal: Principal) -> Select[SessionRecord, str]:
    return (
        select(SessionRecord, _owner_name())
        .outerjoin(User, User.id == SessionRecord.user_id)
        .where(visible_sessions(principal))
    )


async def list_sessions(db: Database, principal: Principal, flt: HistoryFilter, limit: int) -> HistoryPage:
    """At most ``limit`` visible sessions matching ``flt``, newest first."""
    stmt = _history_select(principal).order_by(SessionRecord.started_at.desc(), SessionRecord.id.desc())
    if flt.q and flt.q.strip():
        needle = flt.q.strip().lower()
        stmt = stmt.where(
            or_(
                text_lower(SessionRecord.item_name).contains(needle, autoescape=True),
                text_lower(SessionRecord.target).contains(needle, autoescape=True),
            )
        )
    if flt.user_id is not None:
        stmt = stmt.where(involving_user(flt.user_id))
    if flt.since is not None:
        stmt = stmt.where(SessionRecord.started_at >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(SessionRecord.started_at < flt.until)
    if flt.before is not None:
        at, sid = flt.before.started_at, flt.before.session_id
        stmt = stmt.where(
            or_(SessionRecord.started_at < at, and_(SessionRecord.started_at == at, SessionRecord.id < sid))
        )
    async with db.session() as session:
        rows = [HistoryRow(record, name) for record, name in await session.execute(stmt.limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1].record if more and rows else None
    return HistoryPage(rows, Cursor(last.started_at, last.id) if last is not None else None)


async def get_session(session: AsyncSession, principal: Principal, session_id: str) -> HistoryRow | None:
    """The session ``session_id`` if ``principal`` may see it, else None (whether it exists or not)."""
    row = (await session.execute(_history_select(principal).where(SessionRecord.id == session_id))).first()
    return None if row is None else HistoryRow(row[0], row[1])


async def participants(session: AsyncSession, session_id: str) -> list[SessionParticipant]:
    """The session's seats in the order they were taken."""
    stmt = (
        select(SessionParticipant)
        .where(SessionParticipant.session_id == session_id)
        .order_by(SessionParticipant.joined_at, SessionParticipant.id)
    )
    return list((await session.scalars(stmt)).all())


async def timeline(session: AsyncSession, session_id: str, *, after_seq: int = 0, limit: int) -> list[TimelineEntry]:
    """At most ``limit`` timeline entries with ``seq`` above ``after_seq``, in order."""
    stmt = (
        select(TimelineEntry)
        .where(TimelineEntry.session_id == session_id, TimelineEntry.seq > after_seq)
        .order_by(TimelineEntry.seq, TimelineEntry.id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def iter_timeline(db: Database, session_id: str, *, batch: int = 1000) -> AsyncIterator[TimelineEntry]:
    """Every timeline entry of the session in order, read ``batch`` entries per transaction."""
    after = 0
    while True:
        async with db.session() as session:
            entries = await timeline(session, session_id, after_seq=after, limit=batch)
        for entry in entries:
            yield entry
        if len(entries) < batch:
            return
        after = entries[-1].seq


async def recorded_sessions(db: Database, principal: Principal, *, limit: int) -> list[SessionRecord]:
    """The newest ``limit`` visible sessions that have a recording (not deleted), newest first."""
    stmt = (
        select(SessionRecord)
        .where(
            visible_sessions(principal),
            SessionRecord.recorded.is_(True),
            SessionRecord.recording_deleted_at.is_(None),
        )
        .order_by(SessionRecord.started_at.desc(), SessionRecord.id.desc())
        .limit(limit)
    )
    async with db.session() as session:
        return list((await session.scalars(stmt)).all())
