"""A desktop session's recording: the file (``recording.ojd``), its keyframe index, and exporting it to MP4.

The format of ``recording.ojd`` is in :mod:`console_web.recording.desktop_file` (and docs/protocol.md). A player
fetches the index, then byte ranges of the file starting at a keyframe's offset. Reads of the file and of an MP4
are audited as ``recording.accessed`` (file ``desktop`` / ``mp4``, once a minute per user, like the cast); starting
an export is audited as ``recording.exported``. Every route answers 404 for a session the caller may not see.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from console_web.api.bodies import json_model
from console_web.api.context import client_ip, config_of, db_of, principal_of
from console_web.api.history_access import audit_access, file_size, session_file, visible_session
from console_web.api.history_files import NO_STORE
from console_web.api.history_schemas import DesktopIndexOut, ExportStatusOut, KeyframeOut
from console_web.api.routing import endpoint
from console_web.db.models import SessionRecord
from console_web.db.repo import add_audit
from console_web.recording import files
from console_web.recording.desktop_file import DesktopFileError, RecordingIndex, read_index
from console_web.recording.mp4_export import EXPORTS, ExportJob
from jumpoint.core.errors import Conflict, NotFound

KEYFRAMES_MAX = 10_000
"""The index lists at most this many keyframes (evenly thinned: any keyframe before a time is a place to start)."""


def _desktop_file(request: web.Request, record: SessionRecord, suffix: str = files.DESKTOP) -> Path:
    """The session's desktop recording file (or its MP4 export); 404 with the reason when it was deleted or never
    made."""
    if record.recording_deleted_at is not None:
        raise NotFound(
            f"the recording of session {record.id} was deleted on {record.recording_deleted_at:%Y-%m-%d %H:%M} UTC"
        )
    path = session_file(request, record.id, suffix)
    if not path.is_file() and suffix == files.EXPORT_MP4:
        raise NotFound(f"session {record.id} has no MP4 export", hint="start one with POST .../export.mp4")
    if not path.is_file():
        raise NotFound(
            f"session {record.id} has no desktop recording",
            hint="the Jump Item may not record sessions, or recording is turned off on this console",
        )
    return path


def _thin(index: RecordingIndex) -> list[KeyframeOut]:
    keyframes = index.keyframes
    if len(keyframes) > KEYFRAMES_MAX:
        step = len(keyframes) / KEYFRAMES_MAX
        keyframes = [keyframes[int(i * step)] for i in range(KEYFRAMES_MAX - 1)] + [keyframes[-1]]
    return [KeyframeOut(ms=k.ms, offset=k.offset) for k in keyframes]


@endpoint(
    "GET",
    "/session-history/{id}/recording.ojd",
    access="user",
    summary="A desktop session's recording (OpenJump desktop recording)",
    tag="history",
    description="The timed desktop stream (format: docs/protocol.md, desktop recordings); supports Range requests "
    "(a player reads from a keyframe's offset). A live session's file grows; read up to the index's end. Audited as "
    "recording.accessed.",
)
async def get_desktop_recording(request: web.Request) -> web.StreamResponse:
    """The ``.ojd`` file of a session the caller may see, streamed (Range supported)."""
    record = (await visible_session(request)).record
    path = _desktop_file(request, record)
    await audit_access(request, record.id, "desktop")
    return web.FileResponse(
        path,
        headers={
            **NO_STORE,
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f'attachment; filename="{record.id}.ojd"',
        },
    )


@endpoint(
    "GET",
    "/session-history/{id}/recording-index",
    access="user",
    summary="Where a desktop recording can be played from",
    tag="history",
    response=DesktopIndexOut,
    description="The keyframes (time in ms and byte offset into recording.ojd), the duration, and where the last "
    "whole record ends. Seek to T: read from the last keyframe at or before T.",
)
async def get_desktop_index(request: web.Request) -> web.StreamResponse:
    """The index of a session's desktop recording (checked against the file; a torn end is left out)."""
    record = (await visible_session(request)).record
    path = _desktop_file(request, record)
    index_path = session_file(request, record.id, files.DESKTOP_INDEX)
    try:
        index = await asyncio.to_thread(read_index, path, index_path)
    except FileNotFoundError:
        raise NotFound(f"session {record.id} has no desktop recording") from None
    except DesktopFileError as exc:
        raise NotFound(f"the desktop recording of session {record.id} cannot be read: {exc.message}") from None
    return json_model(
        DesktopIndexOut(
            started_at=index.started_at,
            duration_ms=index.duration_ms,
            data_start=index.data_start,
            end=index.end,
            keyframes=_thin(index),
            keyframes_max=KEYFRAMES_MAX,
            live=record.ended_at is None,
        )
    )


def _status(job: ExportJob | None, mp4: Path) -> ExportStatusOut:
    if job is None or job.state == "done":
        size = file_size(mp4)
        if size is None:
            return ExportStatusOut(state="none", progress=0.0)
        result = job.result if job is not None else None
        return ExportStatusOut(
            state="done",
            progress=1.0,
            bytes=size,
            width=result.width if result else None,
            height=result.height if result else None,
            frames=result.frames if result else None,
            duration_ms=result.duration_ms if result else None,
        )
    return ExportStatusOut(state=job.state, progress=round(job.progress, 4), error=job.error)


@endpoint(
    "POST",
    "/session-history/{id}/export.mp4",
    access="user",
    summary="Start exporting a desktop recording to MP4",
    tag="history",
    response=ExportStatusOut,
    status=202,
    description="Encodes the recording as H.264 video (10 frames a second) in the background; follow it with "
    "GET .../export.mp4/status, then download GET .../export.mp4. 409 while an export of it runs; 503 when too many "
    "run. Audited as recording.exported.",
)
async def start_export(request: web.Request) -> web.StreamResponse:
    """Queue an export of a session the caller may see (a finished export of it is replaced when this one ends)."""
    record = (await visible_session(request)).record
    _desktop_file(request, record)
    directory = config_of(request).recordings_dir
    job = EXPORTS.start(directory, record.id)
    principal = principal_of(request)
    async with db_of(request).session() as session:
        add_audit(
            session,
            action="recording.exported",
            actor_user_id=principal.user_id,
            session_id=record.id,
            source_address=client_ip(request),
            detail={"format": "mp4", "item_name": record.item_name},
        )
    return json_model(_status(job, job.path), status=202)


@endpoint(
    "GET",
    "/session-history/{id}/export.mp4/status",
    access="user",
    summary="How an MP4 export is going",
    tag="history",
    response=ExportStatusOut,
    description="state none, queued, running, done or failed; progress 0..1; error when it failed.",
)
async def export_status(request: web.Request) -> web.StreamResponse:
    """The session's current or last export (``done`` also for an MP4 made before the console restarted)."""
    record = (await visible_session(request)).record
    directory = config_of(request).recordings_dir
    mp4 = files.recording_path(directory, record.id, files.EXPORT_MP4)
    if record.recording_deleted_at is not None:
        return json_model(ExportStatusOut(state="none", progress=0.0))
    return json_model(_status(EXPORTS.get(directory, record.id), mp4))


@endpoint(
    "GET",
    "/session-history/{id}/export.mp4",
    access="user",
    summary="Download the MP4 export of a desktop recording",
    tag="history",
    description="The finished export (video/mp4, Range supported). 404 when none was made; 409 while one runs. "
    "Audited as recording.accessed.",
)
async def get_export(request: web.Request) -> web.StreamResponse:
    """The finished MP4 of a session the caller may see."""
    record = (await visible_session(request)).record
    directory = config_of(request).recordings_dir
    job = EXPORTS.get(directory, record.id)
    if job is not None and job.active:
        raise Conflict("the recording is being exported", hint="download it when the export has finished")
    path = _desktop_file(request, record, files.EXPORT_MP4)
    await audit_access(request, record.id, "mp4")
    return web.FileResponse(
        path,
        headers={
            **NO_STORE,
            "Content-Type": "video/mp4",
            "Content-Disposition": f'attachment; filename="{record.id}.mp4"',
        },
    )
