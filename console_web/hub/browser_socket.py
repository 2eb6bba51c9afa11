"""``GET /api/v1/sessions/{session_id}/ws``: a browser socket of a session participant.

Who: a logged-in rep with a seat (or admitted to one: a join-existing Jump, an accepted invitation; admins as
observers) or the external guest the session's key was spent on. The socket's first messages and the stream protocol
are described in docs/protocol.md; this module authenticates, takes the seat, and dispatches what the browser sends.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from aiohttp import web

from console_web.auth.guests import Guest
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
from console_web.hub.key_forwarder import KeyForwarder
from console_web.hub.participants import BrowserSocket, Connection, Identity, Mode, Participant, identity_of
from console_web.hub.session import CLOSE_FULL, LiveSession
from jumpoint.core import wire
from jumpoint.core.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    JumpError,
    NotFound,
    ProtocolViolation,
    TooManyRequests,
    Unauthorized,
)

if TYPE_CHECKING:
    from console_web.hub.hub import Hub

log = logging.getLogger(__name__)

MAX_POSITION = 2**62


def guest_identity(guest: Guest, address: str | None) -> tuple[Identity, Mode]:
    """A guest's identity (acting from ``address``) and the mode its key gave it."""
    mode: Mode = "peer" if guest.mode == "peer" else "observer"
    return Identity(name=guest.display_name, guest_id=guest.guest_id, address=address), mode


async def _identify(hub: Hub, request: web.Request, session_id: str) -> tuple[Identity, Mode | None]:
    """The rep (login cookie) or the guest (guest cookie for this session) behind the request."""
    try:
        principal = await authenticate(request)
    except Unauthorized:
        guest = await hub.guest_of(request)
        if guest is None or guest.session_id != session_id:
            raise
        return guest_identity(guest, request.remote)
    return identity_of(principal), None


def resume_position(request: web.Request) -> int | None:
    """The stream position a reconnecting browser asks to resume from (``?pos=``), if plausible."""
    raw = request.query.get("pos")
    if raw is None or not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        return None
    pos = int(raw)
    return pos if pos <= MAX_POSITION else None


def take_seat(
    hub: Hub, session_id: str, identity: Identity, guest_mode: Mode | None, resume_from: int | None
) -> tuple[LiveSession, Participant, int | None]:
    """The session, the identity's seat in it, and where its socket resumes (only a seat it already had resumes).
    NotFound when the session is not there for it; Conflict when the session is full."""
    session = hub.sessions.get(session_id)
    if session is None or not (session.may_view(identity) or guest_mode is not None):
        raise NotFound("this session does not exist or has ended", hint="Jump again from the console")
    had_seat = session.seat_of(identity) is not None
    participant = session.take_seat(identity, guest_mode)
    return session, participant, resume_from if had_seat else None


def browser_socket(hub: Hub) -> web.WebSocketResponse:
    """A browser's WebSocket with the session limits (heartbeat, message size, compression)."""
    return web.WebSocketResponse(
        heartbeat=30.0,
        max_msg_size=MAX_TEXT_FRAME + 1,  # aiohttp refuses a size equal to the limit
        compress=hub.settings.websocket_compression,
    )


async def refuse_full(ws: web.WebSocketResponse, request: web.Request, exc: Conflict) -> web.WebSocketResponse:
    """Open the socket only to say the session is full, and close it."""
    await ws.prepare(request)
    await ws.send_str(wire.dumps_json({"t": "error", "error": exc.to_dict()}))
    await ws.close(code=CLOSE_FULL, message=b"session full")
    return ws


async def serve_browser(hub: Hub, request: web.Request) -> web.StreamResponse:
    """Authenticate, take the seat, attach the socket, then relay keys and actions until it closes."""
    session_id = request.match_info["session_id"]
    identity, guest_mode = await _identify(hub, request, session_id)
    check_origin(request)
    ws = browser_socket(hub)
    try:
        session, participant, resume_from = take_seat(hub, session_id, identity, guest_mode, resume_position(request))
    except Conflict as exc:
        return await refuse_full(ws, request, exc)
    await ws.prepare(request)
    await run_socket(session, participant, ws, resume_from)
    return ws


async def run_socket(
    session: LiveSession, participant: Participant, ws: BrowserSocket, resume_from: int | None
) -> None:
    """Attach an open socket to its seat and act on what the browser sends until the socket closes.

    Keys go through a :class:`KeyForwarder`, so a target that stops reading input does not stop this loop from
    reading the browser's other messages (End, Leave, chat, resize, answers)."""
    conn = Connection(ws=ws, participant=participant)
    session.connect(participant, conn, resume_from)
    plog = participant.logger(session.log)

    def refuse_input(exc: ProtocolViolation) -> None:
        plog.info("refused a desktop input frame: %s", exc.message)
        session.reply(conn, {"t": "error", "error": exc.to_dict()})

    keys = KeyForwarder(session, participant, refuse_input)
    try:
        async for msg in ws:
            if conn.closing is not None:
                break
            if msg.type == web.WSMsgType.BINARY:
                await keys.put(msg.data)
            elif msg.type == web.WSMsgType.TEXT:
                await _on_text(session, participant, conn, msg.data)
    except JumpError as exc:
        plog.info("session socket closed: %s", exc.message)
    finally:
        session.disconnect(conn)


async def _on_text(session: LiveSession, participant: Participant, conn: Connection, text: str) -> None:
    try:
        msg = parse_browser_message(text)
        if isinstance(msg, ResizeIn):
            session.resize(participant, msg.cols, msg.rows)
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
    except (ProtocolViolation, Forbidden, Conflict, NotFound, BadRequest, TooManyRequests) as exc:
        participant.logger(session.log).info("refused a browser message: %s", exc.message)
        session.reply(conn, {"t": "error", "error": exc.to_dict()})
