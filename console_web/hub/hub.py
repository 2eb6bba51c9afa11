"""The session hub: which Jumpoints are connected, which sessions are live, and the two WebSocket routes.

``GET /api/v1/jumpoint/tunnel`` accepts a Jumpoint's tunnel; ``GET /api/v1/sessions/{id}/ws`` attaches a
browser to a session. The REST API calls the public methods of :class:`Hub`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Coroutine, Mapping
from typing import Any

from aiohttp import web

from console_web.auth.principal import Principal
from console_web.auth.request_auth import authenticate, check_origin
from console_web.config import ConsoleConfig
from console_web.db import repo
from console_web.db.database import Database
from console_web.hub.browser_messages import MAX_TEXT_FRAME, EndIn, ResizeIn, parse_browser_message
from console_web.hub.jump import JumpRequest, SessionInfo
from console_web.hub.link import JumpointLink
from console_web.hub.session import LiveSession, Viewer
from jumpoint.core import wire
from jumpoint.core.errors import (
    Busy,
    Forbidden,
    JumpError,
    JumpointUnavailable,
    NotFound,
    ProtocolViolation,
    Unauthorized,
)

log = logging.getLogger(__name__)

HELLO_TIMEOUT = 10.0
HEARTBEAT = 15.0
ENDED_RETENTION = 120.0


class Hub:
    """Live state of the console: connected Jumpoints and running sessions."""

    def __init__(self, config: ConsoleConfig, db: Database) -> None:
        self._config = config
        self._db = db
        self.links: dict[int, JumpointLink] = {}
        self.sessions: dict[str, LiveSession] = {}
        self._background: set[asyncio.Task[None]] = set()

    # --- the interface the REST API uses ---------------------------------------------------------
    def is_connected(self, jumpoint_id: int) -> bool:
        """Whether the Jumpoint has a live tunnel now."""
        link = self.links.get(jumpoint_id)
        return link is not None and not link.closed

    async def start_session(self, principal: Principal, jump: JumpRequest) -> SessionInfo:
        """Start a Jump on its Jumpoint; the session is live (connecting) when this returns."""
        link = self.links.get(jump.jumpoint_id)
        if link is None or link.closed:
            raise JumpointUnavailable(
                "the Jumpoint for this item is not connected",
                hint="start the Jumpoint service on its host, or pick an item on a connected Jumpoint",
            )
        if len(link.sessions) >= self._config.sessions.max_sessions_per_jumpoint:
            raise Busy(f"Jumpoint {link.name!r} already runs its limit of sessions")
        session = LiveSession(
            session_id=secrets.token_urlsafe(16),
            link=link,
            jump=jump,
            owner=principal,
            audit=self._audit,
            on_ended=self._ended,
        )
        t = jump.target
        await repo.create_session_record(
            self._db,
            session_id=session.session_id,
            item_id=jump.item_id,
            item_name=jump.item_name,
            user_id=principal.user_id,
            jumpoint_id=jump.jumpoint_id,
            protocol=t.protocol,
            target=f"{t.username + '@' if t.username else ''}{t.hostname}:{t.port}",
        )
        self.sessions[session.session_id] = session
        await session.start()
        session.log.info("session started to %s:%d through Jumpoint %r", t.hostname, t.port, link.name)
        return session.info()

    def list_sessions(self, principal: Principal) -> list[SessionInfo]:
        """The caller's live sessions (an admin sees all)."""
        return [
            s.info()
            for s in self.sessions.values()
            if s.state != "ended" and (principal.is_admin or s.may_view(principal))
        ]

    def get_session(self, session_id: str, principal: Principal) -> SessionInfo:
        """One live session; NotFound when it does not exist or is not the caller's."""
        return self._visible(session_id, principal).info()

    async def end_session(self, session_id: str, principal: Principal) -> None:
        """End a session for everyone (its owner, or an admin)."""
        session = self._visible(session_id, principal)
        await session.end(principal, f"ended by {principal.username}")

    async def jumpoint_request(self, jumpoint_id: int, op: str, args: Mapping[str, Any]) -> Any:
        """Ask a connected Jumpoint an administrative question (its host-key cache)."""
        link = self.links.get(jumpoint_id)
        if link is None or link.closed:
            raise JumpointUnavailable("the Jumpoint is not connected", hint="its host keys can be managed once it is")
        return await link.request(op, args)

    async def shutdown(self) -> None:
        """End every session and close every tunnel (console stopping)."""
        for session in list(self.sessions.values()):
            session.fail(JumpointUnavailable("the console is shutting down"))
        for link in list(self.links.values()):
            with contextlib.suppress(Exception):
                await link.ws.close(code=1001, message=b"console shutting down")
        if self._background:
            await asyncio.wait(self._background, timeout=5)

    def _visible(self, session_id: str, principal: Principal) -> LiveSession:
        session = self.sessions.get(session_id)
        if session is None or not (principal.is_admin or session.may_view(principal)):
            raise NotFound(f"session {session_id} does not exist or has ended")
        return session

    # --- bookkeeping -----------------------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _record(self, write: Coroutine[Any, Any, None], what: str) -> None:
        """Write to the database in the background; a failure is logged loudly with what was lost, never dropped."""

        async def guarded() -> None:
            try:
                await write
            except Exception:
                log.exception("RECORD WRITE FAILED: %s", what)

        self._spawn(guarded())

    def _audit(self, session: LiveSession, action: str, detail: dict[str, Any]) -> None:
        self._record(
            repo.audit(
                self._db,
                action=action,
                actor_user_id=session.owner.user_id,
                actor_jumpoint_id=session.jump.jumpoint_id,
                session_id=session.session_id,
                detail=detail,
            ),
            f"audit session={session.session_id} action={action} detail={detail!r}",
        )

    def _audit_jumpoint(self, jumpoint_id: int, action: str, detail: dict[str, Any]) -> None:
        self._record(
            repo.audit(self._db, action=action, actor_jumpoint_id=jumpoint_id, detail=detail),
            f"audit jumpoint={jumpoint_id} action={action} detail={detail!r}",
        )

    def _forget(self, session: LiveSession) -> None:
        self.sessions.pop(session.session_id, None)
        session.stop_pump()

    def _ended(self, session: LiveSession) -> None:
        # An ended session stays visible for a while, so a browser that attaches after a fast failure (a
        # refused port) still sees why it ended instead of "not found".
        asyncio.get_running_loop().call_later(ENDED_RETENTION, self._forget, session)
        session.log.info("session ended: %s", session.end_reason)
        self._record(
            repo.end_session_record(
                self._db,
                session.session_id,
                reason=session.end_reason[:1000],
                error_code=session.error.code if session.error else None,
            ),
            f"end of session {session.session_id} ({session.end_reason})",
        )

    # --- GET /api/v1/jumpoint/tunnel -------------------------------------------------------------
    async def handle_tunnel(self, request: web.Request) -> web.StreamResponse:
        """Accept a Jumpoint's tunnel: authenticate, hello/welcome, then serve frames until it closes."""
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        ident = await repo.authenticate_jumpoint(self._db, token) if token else None
        if ident is None:
            raise Unauthorized("unknown or revoked Jumpoint token", hint="register the Jumpoint again")
        jumpoint_id, name = ident
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=wire.MAX_FRAME)
        await ws.prepare(request)
        try:
            hello = await self._read_hello(ws)
        except (ProtocolViolation, TimeoutError) as exc:
            log.warning("Jumpoint %r failed its hello: %s", name, exc)
            await ws.close(code=1002, message=b"bad hello")
            return ws
        previous = self.links.get(jumpoint_id)
        if previous is not None:
            previous.close("the Jumpoint reconnected; sessions on its previous connection ended")
            await previous.ws.close(code=1000, message=b"replaced by a new connection")
        link = JumpointLink(jumpoint_id, name, hello.hostname, ws)
        self.links[jumpoint_id] = link
        await repo.mark_jumpoint_seen(self._db, jumpoint_id, hello.hostname)
        await ws.send_bytes(
            wire.encode_control(0, wire.Welcome(version=wire.PROTOCOL_VERSION, jumpoint_id=jumpoint_id, name=name))
        )
        link.log.info("Jumpoint connected from %s (%s)", hello.hostname, hello.agent)
        self._audit_jumpoint(jumpoint_id, "jumpoint.connected", {"hostname": hello.hostname, "agent": hello.agent})
        try:
            await link.serve()
        finally:
            link.close(f"Jumpoint {name!r} disconnected")
            if self.links.get(jumpoint_id) is link:
                del self.links[jumpoint_id]
            link.log.info("Jumpoint disconnected")
            self._audit_jumpoint(jumpoint_id, "jumpoint.disconnected", {})
        return ws

    async def _read_hello(self, ws: web.WebSocketResponse) -> wire.Hello:
        async with asyncio.timeout(HELLO_TIMEOUT):
            msg = await ws.receive()
        if msg.type != web.WSMsgType.BINARY:
            raise ProtocolViolation("the first tunnel message must be a binary hello frame")
        kind, channel = wire.decode_header(msg.data)
        hello = wire.decode_control(msg.data[wire.HEADER.size :]) if kind == wire.FRAME_CONTROL else None
        if channel != 0 or not isinstance(hello, wire.Hello):
            raise ProtocolViolation("the first tunnel message must be hello on channel 0")
        if hello.version != wire.PROTOCOL_VERSION:
            raise ProtocolViolation(f"tunnel protocol version {hello.version} is not supported")
        return hello

    # --- GET /api/v1/sessions/{session_id}/ws ----------------------------------------------------
    async def handle_browser(self, request: web.Request) -> web.StreamResponse:
        """Attach a browser to a session it may view, then relay its keys, resizes and answers."""
        principal = await authenticate(request)
        check_origin(request)
        session = self.sessions.get(request.match_info["session_id"])
        if session is None:
            raise NotFound("this session does not exist or has ended", hint="Jump again from the console")
        if not session.may_view(principal):
            raise Forbidden("this session belongs to someone else")
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=MAX_TEXT_FRAME)
        await ws.prepare(request)
        viewer = Viewer(ws=ws, principal=principal, mode="owner")
        session.attach(viewer)
        try:
            async for msg in ws:
                if msg.type == web.WSMsgType.BINARY:
                    await session.send_keys(viewer, msg.data)
                elif msg.type == web.WSMsgType.TEXT:
                    await self._on_browser_text(session, viewer, msg.data)
        except JumpError as exc:
            viewer.log.info("session socket closed: %s", exc.message)
        finally:
            session.detach(viewer)
        return ws

    async def _on_browser_text(self, session: LiveSession, viewer: Viewer, text: str) -> None:
        try:
            msg = parse_browser_message(text)
            if isinstance(msg, ResizeIn):
                await session.resize(viewer, msg.cols, msg.rows)
            elif isinstance(msg, EndIn):
                await session.end(viewer.principal, f"ended by {viewer.principal.username}")
            else:
                await session.answer(viewer, msg)
        except (ProtocolViolation, Forbidden) as exc:
            viewer.log.info("refused a browser message: %s", exc.message)
            await viewer.ws.send_str(wire.dumps_json({"t": "error", "error": exc.to_dict()}))


def setup_hub(app: web.Application, hub: Hub) -> None:
    """Add the two WebSocket routes."""
    app.router.add_get("/api/v1/jumpoint/tunnel", hub.handle_tunnel)
    app.router.add_get("/api/v1/sessions/{session_id}/ws", hub.handle_browser)
