"""Reading the audit log: filters, newest-first keyset paging and bounded batch iteration for exports.

Events are ordered by ``id`` descending (ids grow with time). A page of ``limit`` events also says the id to pass as
``before_id`` for the next (older) page, or None when there is nothing older. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, cast, func, or_, select

from console_web.db.database import Database
from console_web.db.models import AuditEvent, User

PREFIX_MARKS = (".", "*")


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which events to read; every field is optional and they combine with AND.

    ``action``: an exact action, or a prefix when it ends with ``.`` or ``*`` (``session.`` / ``session.*``).
    ``since`` is inclusive and ``until`` exclusive (aware datetimes). ``q``: a case-insensitive substring of the
    action, the detail (as JSON text) or the actor's username or display name.
    """

    action: str | None = None
    user_id: int | None = None
    session_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None
    before_id: int | None = None


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One audit event with the actor's username (None for events without a user, or a deleted user)."""

    id: int
    at: datetime
    action: str
    actor_user_id: int | None
    actor_name: str | None
    actor_jumpoint_id: int | None
    source_address: str | None
    session_id: str | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuditPage:
    """A page of events, newest first, and the ``before_id`` of the next page (None: this is the last)."""

    rows: list[AuditRow]
    next_before_id: int | None


def _action_clause(action: str) -> ColumnElement[bool]:
    if action.endswith("*"):
        return AuditEvent.action.startswith(action.rstrip("*"), autoescape=True)
    if action.endswith("."):
        return AuditEvent.action.startswith(action, autoescape=True)
    return AuditEvent.action == action


def _text_clause(q: str) -> ColumnElement[bool]:
    needle = q.strip().lower()
    return or_(
        func.lower(AuditEvent.action).contains(needle, autoescape=True),
        func.lower(cast(AuditEvent.detail, Text)).contains(needle, autoescape=True),
        func.lower(func.coalesce(User.username, "")).contains(needle, autoescape=True),
        func.lower(func.coalesce(User.display_name, "")).contains(needle, autoescape=True),
    )


def audit_select(flt: AuditFilter) -> Select[AuditEvent, str]:
    """The SELECT of ``(event, actor username)`` matching ``flt``, newest first (no LIMIT)."""
    stmt = (
        select(AuditEvent, User.username)
        .outerjoin(User, User.id == AuditEvent.actor_user_id)
        .order_by(AuditEvent.id.desc())
    )
    if flt.action:
        stmt = stmt.where(_action_clause(flt.action))
    if flt.user_id is not None:
        stmt = stmt.where(AuditEvent.actor_user_id == flt.user_id)
    if flt.session_id:
        stmt = stmt.where(AuditEvent.session_id == flt.session_id)
    if flt.since is not None:
        stmt = stmt.where(AuditEvent.at >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(AuditEvent.at < flt.until)
    if flt.q and flt.q.strip():
        stmt = stmt.where(_text_clause(flt.q))
    if flt.before_id is not None:
        stmt = stmt.where(AuditEvent.id < flt.before_id)
    return stmt


def _row(event: AuditEvent, username: str | None) -> AuditRow:
    return AuditRow(
        id=event.id,
        at=event.at,
        action=event.action,
        actor_user_id=event.actor_user_id,
        actor_name=username,
        actor_jumpoint_id=event.actor_jumpoint_id,
        source_address=event.source_address,
        session_id=event.session_id,
        detail=dict(event.detail or {}),
    )


async def read_page(db: Database, flt: AuditFilter, limit: int) -> AuditPage:
    """At most ``limit`` events matching ``flt``, newest first, and where the next page starts."""
    async with db.session() as session:
        result = await session.execute(audit_select(flt).limit(limit + 1))
        rows = [_row(event, username) for event, username in result]
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(rows, rows[-1].id if more and rows else None)


async def iter_rows(db: Database, flt: AuditFilter, *, cap: int, batch: int = 1000) -> AsyncIterator[AuditRow]:
    """Every event matching ``flt``, newest first, at most ``cap``; read ``batch`` rows per transaction."""
    sent = 0
    before = flt.before_id
    while sent < cap:
        page = await read_page(db, replace(flt, before_id=before), min(batch, cap - sent))
        for row in page.rows:
            yield row
        sent += len(page.rows)
        if page.next_before_id is None:
            return
        before = page.next_before_id
