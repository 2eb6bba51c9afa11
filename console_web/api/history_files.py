"""A session's files: the playable cast, the transcript and the timeline as text.

Each read is audited as ``recording.accessed`` with the file (see :func:`audit_access` for repeats). Files are
streamed, never held whole in memory; nothing is cached by the browser (``Cache-Control: no-store``).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from console_web.api.context import db_of
from console_web.api.file_stream import stream_complete_lines
from console_web.api.history_access import audit_access, session_file, visible_session
from console_web.api.routing import endpoint
from console_web.db.history_query import iter_timeline
from console_web.db.models import SessionRecord, TimelineEntry
from console_web.recording import files
from jumpoint.core.errors import NotFound

NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
TIMELINE_BATCH = 1000
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _attachment(name: str) -> str:
    return f'attachment; filename="{name}"'


def existing_recording(request: web.Request, record: SessionRecord, suffix: str) -> Path:
    """The session's recording file; 404 with the reason when it was deleted or never made."""
    if record.recording_deleted_at is not None:
        raise NotFound(
            f"the recording of session {record.id} was deleted on {record.recording_deleted_at:%Y-%m-%d %H:%M} UTC"
        )
    path = session_file(request, record.id, suffix)
    if not path.is_file():
        what = "recording" if suffix == files.CAST else "transcript"
        raise NotFound(
            f"session {record.id} has no {what}",
            hint="the Jump Item may not record sessions, or recording is turned off on this console",
        )
    return path


@endpoint(
    "GET",
    "/session-history/{id}/recording.cast",
    access="user",
    summary="The session's recording (asciicast v2)",
    tag="history",
    description="What has been written so far, cut to the last complete event, so it also plays while the session "
    "is live or after a crash tore the file. Audited as recording.accessed.",
)
async def get_cast(request: web.Request) -> web.StreamResponse:
    """The playable cast of a session the caller may see: its complete lines, streamed (like
    ``recording.asciicast.playable_cast`` without holding the file in memory)."""
    record = (await visible_session(request)).record
    path = existing_recording(request, record, files.CAST)
    await audit_access(request, record.id, "cast")
    headers = {
        **NO_STORE,
        "Content-Type": "application/x-asciicast",
        "Content-Disposition": _attachment(f"{record.id}.cast"),
    }
    return await stream_complete_lines(request, path, headers)


@endpoint(
    "GET",
    "/session-history/{id}/transcript.txt",
    access="user",
    summary="The session's text transcript",
    tag="history",
    description="Plain UTF-8 text; supports Range requests. Audited as recording.accessed.",
)
async def get_transcript(request: web.Request) -> web.StreamResponse:
    """The transcript of a session the caller may see, streamed from its file."""
    record = (await visible_session(request)).record
    path = existing_recording(request, record, files.TRANSCRIPT)
    await audit_access(request, record.id, "transcript")
    return web.FileResponse(
        path,
        headers={
            **NO_STORE,
            "Content-Type": "text/plain; charset=utf-8",
            "Content-Disposition": _attachment(f"{record.id}-transcript.txt"),
        },
    )


def timeline_line(entry: TimelineEntry) -> str:
    """``[2026-11-21 10:00:01] alice: hello`` for chat, ``[...] * alice joined`` for system events (UTC times);
    further lines of a multi-line message are indented by four spaces."""
    stamp = f"[{entry.at:{TIME_FORMAT}}]"
    text = entry.text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\n    ")
    if entry.kind == "chat":
        return f"{stamp} {entry.author_name}: {text}\n"
    return f"{stamp} * {text}\n"


def timeline_header(record: SessionRecord) -> str:
    """The first line of ``timeline.txt``."""
    return f"# OpenJump session {record.id}: {record.item_name} ({record.target}); times are UTC\n"


@endpoint(
    "GET",
    "/session-history/{id}/timeline.txt",
    access="user",
    summary="The session's chat and system events as text",
    tag="history",
    description="One line per entry: '[2026-11-21 10:00:01] alice: hello' (chat) or '[...] * text' (system "
    "events), times in UTC. Audited as recording.accessed.",
)
async def get_timeline_text(request: web.Request) -> web.StreamResponse:
    """Every timeline entry of a session the caller may see, streamed in batches."""
    record = (await visible_session(request)).record
    await audit_access(request, record.id, "timeline")
    response = web.StreamResponse(
        headers={
            **NO_STORE,
            "Content-Type": "text/plain; charset=utf-8",
            "Content-Disposition": _attachment(f"{record.id}-timeline.txt"),
        }
    )
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(timeline_header(record).encode())
    chunk: list[str] = []
    async for entry in iter_timeline(db_of(request), record.id, batch=TIMELINE_BATCH):
        chunk.append(timeline_line(entry))
        if len(chunk) >= TIMELINE_BATCH:
            await response.write("".join(chunk).encode())
            chunk.clear()
    if chunk:
        await response.write("".join(chunk).encode())
    await response.write_eof()
    return response
