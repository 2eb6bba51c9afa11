"""What every ``/session-history/{id}`` route shares: the checked session id, the session the caller may see (404
otherwise, exactly as for a session that does not exist), its recording files and the ``recording.accessed`` audit.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from aiohttp import web
from sqlalchemy import select

from console_web.api.context import client_ip, config_of, db_of, principal_of
from console_web.db.clock import utcnow
from console_web.db.history_query import HistoryRow, get_session
from console_web.db.models import AuditEvent
from console_web.db.repo import add_audit
from console_web.recording import files
from jumpoint.core.errors import NotFound

ACCESS_AUDIT_WINDOW = timedelta(seconds=60)

RecordingFile = Literal["cast", "transcript", "timeline", "desktop", "mp4"]


def session_id_of(request: web.Request) -> str:
    """The ``{id}`` path parameter; 404 unless it is 1..64 characters of ``A-Z a-z 0-9 _ -`` (it names files)."""
    text = request.match_info.get("id", "")
    if not files.is_session_id(text):
        raise NotFound(f"session {text[:64]!r} does not exist")
    return text


def not_found(session_id: str) -> NotFound:
    """The one answer for a session that is missing or not the caller's to see."""
    return NotFound(
        f"session {session_id} does not exist",
        hint="sessions are visible to their participants and to administrators",
    )


async def visible_session(request: web.Request) -> HistoryRow:
    """The session named in the path, if the caller owned it, took a seat in it or is an administrator."""
    session_id = session_id_of(request)
    async with db_of(request).session() as session:
        row = await get_session(session, principal_of(request), session_id)
    if row is None:
        raise not_found(session_id)
    return row


def session_file(request: web.Request, session_id: str, suffix: str) -> Path:
    """Where the session's cast (``files.CAST``) or transcript (``files.TRANSCRIPT``) is kept (it may not exist)."""
    return files.recording_path(config_of(request).recordings_dir, session_id, suffix)


def file_size(path: Path) -> int | None:
    """The size of the regular file ``path``, or None when there is none."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size if path.is_file() else None


async def audit_access(request: web.Request, session_id: str, file: RecordingFile) -> None:
    """Audit ``recording.accessed`` for ``file``, once per user, session and file per minute.

    A player following a live session re-reads the cast every few seconds; those repeats within
    :data:`ACCESS_AUDIT_WINDOW` of an audited access are not written again.
    """
    principal = principal_of(request)
    async with db_of(request).session() as session:
        recent = await session.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.session_id == session_id,
                AuditEvent.action == "recording.accessed",
                AuditEvent.actor_user_id == principal.user_id,
                AuditEvent.at >= utcnow() - ACCESS_AUDIT_WINDOW,
            )
        )
        if any(detail.get("file") == file for detail in recent):
            return
        add_audit(
            session,
            action="recording.accessed",
            actor_user_id=principal.user_id,
            session_id=session_id,
            source_address=client_ip(request),
            detail={"file": file},
        )
