"""``GET /api/v1/sessions/{session_id}/ws``: a browser socket of a session participant.

Who: a logged-in rep with a seat (or admitted to one: a join-existing Jump, an accepted invitation; admins as
observers) or the external guest the session's key was spent on. The socket's first messages and the stream protocol
are described in docs/protocol.md; this module authenticates, takes the seat, and dispatches what the browser sends.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from console_web.auth.request_auth import authenticate, check_origin
from console_web.hub.browser_messages import (
    MAX_TEXT_FRAME,
    ChatIn,
    EndIn,
    LeaveIn,
    RemoveIn,
    ResizeIn,
    SetModeIn,
    TransferIn,
    parse_browser_message,
)
from console_web.hub.participants import Connection, Identity, Mode, Participant, identity_of
from console_web.hub.session import CLOSE_FULL, LiveSession
from jumpoint.core import wire
from jumpoint.core.errors import BadRequest, Conflict, Forbidden, JumpError, NotFound, ProtocolViolation, Unauthorized

if TYPE_CHECKING:
    from console_web.hub.hub import Hub

log = logging.getLogger(__name__)

MAX_POSITION = 2**62


async def _identify(hub: Hub, request: web.Request, session_id: str) -> tuple[Identity, Mode | None]:
    """The rep (login cookie) or the guest (guest cookie for this session) behind the request."""
    try:
        principal = await authenticate(request)
    except Unauthorized:
        guest = hub.guests.lookup(request)
        if guest is None or guest.session_id != session_id:
            raise
        mode: Mode = "peer" if guest.mode == "peer" else "observer"
        return Identity(name=guest.display_name, guest_id=guest.guest_id), mode
    return identity_of(principal), None


def _resume_position(request: web.Request) -> int | None:
    raw = request.query.get("pos")
    if raw is None or not raw.isdigit() or len(raw) > 19:
        return None
    pos = int(raw)
    return pos if pos <= MAX_POSITION else None


async def serve_browser(hub: Hub, request: web.Request) -> web.StreamResponse:
    """Authenticate, take the seat, attach the socket, then relay keys and actions until it closes."""
    session_id = request.match_info["session_id"]
    identity, guest_mode = await _identify(hub, request, session_id)
    check_origin(request)
    session = hub.sessions.get(session_id)
    if session is None or not (session.may_view(identity) or guest_mode is not None):
        raise NotFound("this session does not exist or has ended", hint="Jump again from the console")
    had_seat = session.seat_of(identity) is not None
    ws = web.WebSocketResponse(
        heartbeat=30.0,
        max_msg_size=MAX_TEXT_FRAME + 1,  # aiohttp refuses a size equal to the limit
        compress=hub.settings.websocket_compression,
    )
    try:
        participant = session.take_seat(identity, guest_mode)
    except Conflict as exc:
        await ws.prepare(request)
        await ws.send_str(wire.dumps_json({"t": "error", "error": exc.to_dict()}))
        await ws.close(code=CLOSE_FULL, message=b"session full")
        return ws
    await ws.prepare(request)
    conn = Connection(ws=ws, participant=participant)
    session.connect(participant, conn, _resume_position(request) if had_seat else None)
    plog = participant.logger(session.log)
    try:
        async for msg in ws:
            if conn.closing is not None:
                break
            if msg.type == web.WSMsgType.BINARY:
                try:
                    await session.send_keys(participant, msg.data)
                except ProtocolViolation as exc:
                    plog.info("refused a desktop input frame: %s", exc.message)
                    session.reply(conn, {"t": "error", "error": exc.to_dict()})
            elif msg.type == web.WSMsgType.TEXT:
                await _on_text(session, participant, conn, msg.data)
    except JumpError as exc:
        plog.info("session socket closed: %s", exc.message)
    finally:
        session.disconnect(conn)
    return ws


async def _on_text(session: LiveSession, participant: Participant, conn: Connection, text: str) -> None:
    try:
        msg = parse_browser_message(text)
        if isinstance(msg, ResizeIn):
            await session.resize(participant, msg.cols, msg.rows)
        elif isinstance(msg, ChatIn):
            session.chat(participant, msg.text)
        elif isinstance(msg, SetModeIn):
            session.set_mode(participant, msg.participant, msg.mode)
        elif isinstance(msg, TransferIn):
            session.transfer(participant, msg.participant)
        elif isinstance(msg, RemoveIn):
            session.remove(participant, msg.participant)
        elif isinstance(msg, LeaveIn):
            session.leave(participant)
        elif isinstance(msg, EndIn):
            if participant is not session.owner and not participant.identity.is_admin:
                raise Forbidden("only the session owner can end the session", hint="use Leave to leave it")
            await session.end(participant.identity, f"ended by {participant.name}")
        else:
            await session.answer(participant, msg)
    except (ProtocolViolation, Forbidden, Conflict, NotFound, BadRequest) as exc:
        participant.logger(session.log).info("refused a browser message: %s", exc.message)
        session.reply(conn, {"t": "error", "error": exc.to_dict()})
