"""``/session-history``: past and live sessions, one session's report, and deleting a recording.

A user sees the sessions they owned or took a seat in, an administrator every session; any other session is a 404
with the same message as one that does not exist.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from aiohttp import web
from sqlalchemy import update

from console_web.api.bodies import json_model, no_content, read_query
from console_web.api.context import client_ip, config_of, db_of, principal_of
from console_web.api.history_access import file_size, not_found, session_file, session_id_of, visible_session
from console_web.api.history_schemas import (
    HistoryPageOut,
    HistoryQuery,
    HistorySessionOut,
    ParticipantOut,
    PersonOut,
    RecordingOut,
    ReportOut,
    TimelineOut,
)
from console_web.api.routing import endpoint
from console_web.db import history_query
from console_web.db.clock import utcnow
from console_web.db.history_query import Cursor, HistoryFilter, HistoryRow
from console_web.db.models import SessionRecord
from console_web.db.repo import add_audit
from console_web.recording import files
from console_web.recording.mp4_export import EXPORTS
from console_web.recording.retention import delete_recording
from jumpoint.core.adapter import DESKTOP_PROTOCOLS
from jumpoint.core.errors import BadRequest, Conflict, NotFound

log = logging.getLogger(__name__)

REPORT_TIMELINE_MAX = 5000


def session_out(row: HistoryRow, now: datetime) -> HistorySessionOut:
    """A history row as the API shows it (``now`` measures a live session's duration)."""
    record = row.record
    end = record.ended_at or now
    return HistorySessionOut(
        id=record.id,
        item_id=record.item_id,
        item_name=record.item_name,
        protocol=record.protocol,
        target=record.target,
        jumpoint_id=record.jumpoint_id,
        owner=PersonOut(id=record.user_id, name=row.owner_name or f"user {record.user_id}"),
        started_at=record.started_at,
        ended_at=record.ended_at,
        duration_seconds=max(0, int((end - record.started_at).total_seconds())),
        end_reason=record.end_reason,
        error_code=record.error_code,
        live=record.ended_at is None,
        recorded=record.recorded and record.recording_deleted_at is None,
    )


@endpoint(
    "GET",
    "/session-history",
    access="user",
    summary="List past and live sessions",
    tag="history",
    query=HistoryQuery,
    response=HistoryPageOut,
    description="Newest first: the caller's sessions (owned or joined); administrators see all. "
    "Page with before = the previous page's next_before.",
)
async def list_history(request: web.Request) -> web.StreamResponse:
    """One page of visible sessions matching the filters."""
    query = read_query(request, HistoryQuery)
    before = None
    if query.before is not None:
        before = Cursor.decode(query.before)
        if before is None:
            raise BadRequest("before: give the next_before value of the previous page", details={"field": "before"})
    flt = HistoryFilter(q=query.q, user_id=query.user_id, since=query.since, until=query.until, before=before)
    page = await history_query.list_sessions(db_of(request), principal_of(request), flt, query.limit)
    now = utcnow()
    return json_model(
        HistoryPageOut(
            items=[session_out(r, now) for r in page.rows],
            next_before=page.next_before.encode() if page.next_before is not None else None,
        )
    )


def _recording_state(request: web.Request, record: SessionRecord) -> RecordingOut:
    desktop_file = session_file(request, record.id, files.DESKTOP)
    desktop = record.protocol in DESKTOP_PROTOCOLS or desktop_file.is_file()
    if record.recording_deleted_at is not None:
        return RecordingOut(
            available=False, deleted_at=record.recording_deleted_at, kind="desktop" if desktop else None
        )
    if desktop:  # played from recording.ojd (a terminal's answer keeps its four fields only)
        desktop_bytes = file_size(desktop_file)
        return RecordingOut(available=desktop_bytes is not None, kind="desktop", desktop_bytes=desktop_bytes)
    cast_bytes = file_size(session_file(request, record.id, files.CAST))
    transcript_bytes = file_size(session_file(request, record.id, files.TRANSCRIPT))
    return RecordingOut(available=cast_bytes is not None, cast_bytes=cast_bytes, transcript_bytes=transcript_bytes)


@endpoint(
    "GET",
    "/session-history/{id}",
    access="user",
    summary="A session's report",
    tag="history",
    response=ReportOut,
    description="Who, what and when; the participants with their joins and leaves; the timeline (chat and system "
    f"events, the first {REPORT_TIMELINE_MAX}); the recording's state.",
)
async def get_report(request: web.Request) -> web.StreamResponse:
    """The report of a session the caller may see."""
    row = await visible_session(request)
    record = row.record
    async with db_of(request).session() as session:
        seats = await history_query.participants(session, record.id)
        entries = await history_query.timeline(session, record.id, limit=REPORT_TIMELINE_MAX + 1)
    return json_model(
        ReportOut(
            session=session_out(row, utcnow()),
            participants=[
                ParticipantOut(
                    participant_id=p.participant_id,
                    user_id=p.user_id,
                    name=p.display_name,
                    external=p.external,
                    mode=p.mode,
                    joined_at=p.joined_at,
                    left_at=p.left_at,
                    left_reason=p.left_reason,
                )
                for p in seats
            ],
            timeline=[
                TimelineOut(seq=e.seq, at=e.at, kind=e.kind, author=e.author_name, text=e.text)
                for e in entries[:REPORT_TIMELINE_MAX]
            ],
            timeline_truncated=len(entries) > REPORT_TIMELINE_MAX,
            recording=_recording_state(request, record),
        )
    )


@endpoint(
    "DELETE",
    "/session-history/{id}/recording",
    access="admin",
    summary="Delete a session's recording",
    tag="history",
    status=204,
    description="Deletes the cast and transcript files (a desktop's stream, index and MP4 export) and marks the "
    "recording deleted (the report and timeline stay). 409 while the session is live; 404 when there is no "
    "recording. Audited as recording.deleted.",
)
async def delete_recording_route(request: web.Request) -> web.StreamResponse:
    """Delete the files and record when."""
    principal = principal_of(request)
    session_id = session_id_of(request)
    db = db_of(request)
    async with db.session() as session:
        record = await session.get(SessionRecord, session_id)
        if record is None:
            raise not_found(session_id)
        if record.ended_at is None:
            raise Conflict(
                "this session is still running; its recording can be deleted once it has ended",
                hint="end the session first",
            )
        if record.recording_deleted_at is not None:
            raise NotFound(f"the recording of session {session_id} was already deleted")
    EXPORTS.cancel(config_of(request).recordings_dir, session_id)  # an MP4 export of it stops
    removed = await asyncio.to_thread(delete_recording, config_of(request).recordings_dir, session_id)
    if not removed and not record.recorded:
        raise NotFound(f"session {session_id} has no recording")
    async with db.session() as session:
        await session.execute(
            update(SessionRecord)
            .where(SessionRecord.id == session_id, SessionRecord.recording_deleted_at.is_(None))
            .values(recording_deleted_at=utcnow())
        )
        add_audit(
            session,
            action="recording.deleted",
            actor_user_id=principal.user_id,
            session_id=session_id,
            source_address=client_ip(request),
            detail={"item_name": record.item_name, "files_removed": removed},
        )
    log.info("recording of session %s deleted by %s", session_id, principal.username)
    return no_content()
