"""``/sessions``: live sessions, served by the session hub."""

from __future__ import annotations

from aiohttp import web

from console_web.api.bodies import json_model, no_content
from console_web.api.context import principal_of
from console_web.api.hubapi import hub_of
from console_web.api.routing import endpoint, external_websocket
from console_web.api.schemas import Items, SessionOut
from jumpoint.core.errors import NotFound


def _session_id(request: web.Request) -> str:
    session_id = request.match_info.get("id", "")
    if not 1 <= len(session_id) <= 64:
        raise NotFound("session does not exist")
    return session_id


@endpoint(
    "GET",
    "/sessions",
    access="user",
    summary="List live sessions (admins: all)",
    tag="sessions",
    response=Items[SessionOut],
)
async def list_sessions(request: web.Request) -> web.StreamResponse:
    """The caller's live sessions (admins see everyone's)."""
    infos = await hub_of(request).list_sessions(principal_of(request))
    return json_model(Items[SessionOut](items=[SessionOut.model_validate(i) for i in infos]))


@endpoint("GET", "/sessions/{id}", access="user", summary="Get a live session", tag="sessions", response=SessionOut)
async def get_session(request: web.Request) -> web.StreamResponse:
    """One live session the caller owns (admins: any)."""
    info = await hub_of(request).get_session(_session_id(request), principal_of(request))
    return json_model(SessionOut.model_validate(info))


@endpoint("POST", "/sessions/{id}/end", access="user", summary="End a live session", tag="sessions", status=204)
async def end_session(request: web.Request) -> web.StreamResponse:
    """End the session for everyone in it."""
    await hub_of(request).end_session(_session_id(request), principal_of(request))
    return no_content()


external_websocket(
    "/sessions/{session_id}/ws",
    access="user",
    summary="The session WebSocket (terminal I/O and prompts)",
    tag="sessions",
    description="Served by the session hub. Cookie-authenticated; the Origin must be the console's. "
    "Frames are described in docs/protocol.md.",
)
external_websocket(
    "/jumpoint/tunnel",
    access="public",
    summary="The Jumpoint tunnel WebSocket",
    tag="jumpoints",
    description="Served by the session hub. 'Authorization: Bearer <Jumpoint token>'; frames are defined in "
    "jumpoint/core/wire.py.",
)
