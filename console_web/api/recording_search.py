"""``/recordings/search``: find text in the transcripts of the sessions the caller may see.

The work is bounded: only the newest :data:`SEARCH_SESSIONS_MAX` visible sessions with a recording are searched,
newest first, and the search stops at ``limit`` matches. Each search is audited as ``recording.searched``.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from console_web.api.bodies import json_model, read_query
from console_web.api.context import client_ip, config_of, db_of, principal_of
from console_web.api.history_schemas import SearchHitOut, SearchOut, SearchQuery
from console_web.api.routing import endpoint
from console_web.db.history_query import recorded_sessions
from console_web.db.repo import audit
from console_web.recording.transcript import search_recordings

SEARCH_SESSIONS_MAX = 500


@endpoint(
    "GET",
    "/recordings/search",
    access="user",
    summary="Search the transcripts of my sessions (administrators: all)",
    tag="history",
    query=SearchQuery,
    response=SearchOut,
    description=f"q: 2 to 256 characters, case-insensitive. Searches the newest {SEARCH_SESSIONS_MAX} sessions "
    "with a recording that the caller may see, newest first; time is seconds into the recording.",
)
async def search_recordings_route(request: web.Request) -> web.StreamResponse:
    """Matching transcript lines with their session, line number and time."""
    principal = principal_of(request)
    query = read_query(request, SearchQuery)
    directory = config_of(request).recordings_dir
    records = await recorded_sessions(db_of(request), principal, limit=SEARCH_SESSIONS_MAX)
    by_id = {r.id: r for r in records}
    found = await asyncio.to_thread(search_recordings, directory, list(by_id), query.q, query.limit + 1)
    hits = [
        SearchHitOut(
            session_id=session_id,
            item_name=by_id[session_id].item_name,
            started_at=by_id[session_id].started_at,
            line=match.line,
            text=match.text,
            time=match.time,
        )
        for session_id, match in found
    ]
    await audit(
        db_of(request),
        action="recording.searched",
        actor_user_id=principal.user_id,
        source_address=client_ip(request),
        detail={"q": query.q, "matches": min(len(hits), query.limit)},
    )
    return json_model(SearchOut(items=hits[: query.limit], truncated=len(hits) > query.limit))
