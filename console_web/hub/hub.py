"""The session hub: which Jumpoint members are connected, which sessions are live, and the two WebSocket routes.

``GET /api/v1/jumpoint/tunnel`` accepts a Jumpoint member's tunnel; ``GET /api/v1/sessions/{id}/ws`` attaches a
browser to a session. The REST API calls the public methods of :class:`Hub`. A Jumpoint may have several members
(a cluster): routing, admission and the cluster's host keys are in :mod:`console_web.hub.clusters`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from console_web.auth.guests import Guest, GuestRegistry, guest_token
from console_web.auth.principal import Principal
from console_web.config import ConsoleConfig, SessionSettings
from console_web.db import repo
from console_web.db.clock import utcnow
from console_web.db.cluster import authenticate_member, mark_member_seen
from console_web.db.database import Database
from console_web.hub.browser_socket import serve_browser
from console_web.hub.clusters import Clusters, JumpointLive
from console_web.hub.file_channel import FileChannel, FileOp
from console_web.hub.history import SessionHistory
from console_web.hub.jump import JumpRequest, SessionInfo
from console_web.hub.link import JumpointLink
from console_web.hub.participants import Identity, Participant, identity_of
from console_web.hub.records import RecordWriter
from console_web.hub.session import LiveSession
from console_web.hub.sharing import Invitations
from console_web.hub.timeline import TimelineItem
from console_web.recording.desktop_recorder import DesktopRecorder
from console_web.recording.recorder import SessionRecorder
from console_web.recording.retention import delete_recording
from jumpoint.core import wire
from jumpoint.core.errors import (
    Conflict,
    Forbidden,
    InternalError,
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
SHUTDOWN_FLUSH_SECONDS = 2.0
ADMITTING_LOAD = 1_000_000  # how busy a Jumpoint member still being admitted looks to the cluster's routing


@dataclass(slots=True)
class _ItemGate:
    """One find-or-start at a time for a ``join_existing`` item; ``users``: the Jumps holding or awaiting it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class Hub:
    """Live state of the console: connected Jumpoints, running sessions, their invitations and guests."""

    def __init__(self, config: ConsoleConfig, db: Database, id_prefix: str = "") -> None:
        self._config = config
        self._db = db
        self.id_prefix = id_prefix  # in a cluster, "<node>_": session, invitation and guest ids say their node
        self.clusters = Clusters(db)
        self.sessions: dict[str, LiveSession] = {}
        self.invitations = Invitations(id_prefix)
        self.guests = GuestRegistry(id_prefix)
        self.writer = RecordWriter(db)
        self.history = SessionHistory(self.writer)
        self._item_gates: dict[int, _ItemGate] = {}  # join_existing items with a Jump finding or starting a session

    # --- the interface the REST API uses ---------------------------------------------------------
    async def jumpoints_live(self, jumpoint_ids: Sequence[int]) -> dict[int, JumpointLive]:
        """Whether each Jumpoint may take Jumps now, and its connected members (for the API)."""
        return self.clusters.live(jumpoint_ids)

    def member_links(self, jumpoint_id: int) -> list[JumpointLink]:
        """The tunnels of the Jumpoint's connected members."""
        return self.clusters.links(jumpoint_id)

    async def start_session(self, principal: Principal, jump: JumpRequest) -> SessionInfo:
        """Jump: join the item's running session (``join_existing``) or start a new one on the Jumpoint member with
        the fewest active sessions (live when this returns). Jumps to the same ``join_existing`` item find or start
        their session one at a time, so reps who jump together share one session."""
        if jump.session_policy != "join_existing":
            return await self.start_new(principal, jump)
        gate = self._item_gates.setdefault(jump.item_id, _ItemGate())
        gate.users += 1
        try:
            async with gate.lock:
                return self.join_running(principal, jump) or await self.start_new(principal, jump)
        finally:
            gate.users -= 1
            if gate.users == 0:
                del self._item_gates[jump.item_id]

    def join_running(self, principal: Principal, jump: JumpRequest) -> SessionInfo | None:
        """Admit the rep to the item's oldest running session here, if there is one."""
        running = self.running_for_item(jump.item_id)
        if running is None:
            return None
        running.admit(principal.user_id, "peer")
        self.history.audit(
            action="session.join_requested",
            detail={"item_id": jump.item_id, "via": "join_existing"},
            session_id=running.session_id,
            actor=identity_of(principal),
        )
        running.log.info("%s joins the running session through the Jump Item", principal.username)
        return replace(running.info(), joined=True)

    async def start_new(self, principal: Principal, jump: JumpRequest) -> SessionInfo:
        """Start a session on the least busy member of the Jumpoint connected here."""
        link = await self.clusters.pick(jump.jumpoint_id, self._config.sessions.max_sessions_per_jumpoint)
        try:
            return await self._start_on(link, principal, jump)
        finally:
            link.reserved -= 1

    def least_load(self, jumpoint_id: int) -> int | None:
        """The load of the least busy member of the Jumpoint that may take a Jump here (None: none here). A member
        still being admitted counts as the busiest possible choice (``start_new`` waits for its admission)."""
        members = [m for m in self.clusters.links(jumpoint_id) if not m.closed and not m.draining]
        loads = [m.load for m in members if m.routable]
        if loads:
            return min(loads)
        return ADMITTING_LOAD + min(m.load for m in members) if members else None

    async def _start_on(self, link: JumpointLink, principal: Principal, jump: JumpRequest) -> SessionInfo:
        session_id = self.id_prefix + secrets.token_urlsafe(16)
        t = jump.target
        recorder = self._start_recorder(session_id, jump)
        try:
            await repo.create_session_record(
                self._db,
                session_id=session_id,
                item_id=jump.item_id,
                item_name=jump.item_name,
                user_id=principal.user_id,
                jumpoint_id=jump.jumpoint_id,
                protocol=t.protocol,
                target=f"{t.username + '@' if t.username else ''}{t.hostname}:{t.port}",
                recorded=recorder is not None,
            )
        except BaseException:
            if recorder is not None:
                self._discard_recording(recorder, session_id)
            raise
        # The owner's seat (and its audit event) comes with the session: only once the session is on record.
        session = LiveSession(
            session_id=session_id,
            link=link,
            jump=jump,
            owner=identity_of(principal),
            settings=self._config.sessions,
            hooks=self,
            recorder=recorder,
        )
        self.sessions[session_id] = session
        await session.start()
        session.log.info(
            "session started to %s:%d through Jumpoint %r (member %d, %s)",
            t.hostname,
            t.port,
            link.name,
            link.member_id,
            link.hostname,
        )
        return session.info()

    def _discard_recording(self, recorder: SessionRecorder, session_id: str) -> None:
        """Close and delete the files of a recording whose session never started."""
        try:
            with contextlib.suppress(JumpError):
                recorder.close()  # closes the files even when it cannot finish writing them
            delete_recording(self._config.recordings_dir, session_id)
        except JumpError as exc:
            log.error("cannot remove the recording of session %s, which did not start: %s", session_id, exc.message)

    def _start_recorder(self, session_id: str, jump: JumpRequest) -> SessionRecorder | None:
        if not (self._config.recordings.enabled and jump.record_session):
            return None
        # A desktop records its stream (keyframes included, so playback can seek); a terminal an asciicast.
        recorder_class = DesktopRecorder if jump.target.kind == "desktop" else SessionRecorder
        try:
            return recorder_class.start(
                self._config.recordings_dir,
                session_id,
                cols=jump.target.cols,
                rows=jump.target.rows,
                title=jump.item_name,
                record_input=jump.record_input,
            )
        except JumpError as exc:
            # Policy says record: a session that cannot be recorded does not start.
            raise InternalError(
                f"the session cannot be recorded: {exc.message}",
                hint="check recordings.directory on the console (free space, permissions)",
            ) from None

    def running_for_item(self, item_id: int) -> LiveSession | None:
        """The item's oldest session running here."""
        running = [s for s in self.sessions.values() if s.jump.item_id == item_id and s.state != "ended"]
        return min(running, key=lambda s: s.started_at) if running else None

    async def list_sessions(self, principal: Principal) -> list[SessionInfo]:
        """The live sessions the caller is in or may join (an admin sees all)."""
        identity = identity_of(principal)
        return [s.info() for s in self.sessions.values() if s.state != "ended" and s.may_view(identity)]

    async def get_session(self, session_id: str, principal: Principal) -> SessionInfo:
        """One live session; NotFound when it does not exist or is not the caller's."""
        return self.visible(session_id, principal).info()

    async def end_session(self, session_id: str, principal: Principal) -> None:
        """End a session for everyone (its owner, or an admin)."""
        session = self.visible(session_id, principal)
        identity = identity_of(principal)
        if session.owner.identity.key != identity.key and not principal.is_admin:
            raise Forbidden("only the session owner (or an administrator) can end the session")
        await session.end(identity, f"ended by {principal.username}")

    def owned(self, session_id: str, principal: Principal) -> LiveSession:
        """A live session the caller owns (admins: any); NotFound/Forbidden otherwise."""
        session = self.visible(session_id, principal)
        if session.state == "ended":
            raise NotFound(f"session {session_id} has ended")
        if session.owner.identity.user_id != principal.user_id and not principal.is_admin:
            raise Forbidden("only the session owner can do this")
        return session

    def visible(self, session_id: str, principal: Principal) -> LiveSession:
        """A session the caller may see; NotFound otherwise (existence is not revealed)."""
        session = self.sessions.get(session_id)
        if session is None or not session.may_view(identity_of(principal)):
            raise NotFound(f"session {session_id} does not exist or has ended")
        return session

    # --- file transfer ---------------------------------------------------------------------------
    @property
    def settings(self) -> SessionSettings:
        """The console's session settings."""
        return self._config.sessions

    async def open_file_channel(self, session_id: str, principal: Principal, op: FileOp) -> FileChannel:
        """Start a file operation on a live session's target for a rep seated as owner or peer.

        Returns the channel after the Jumpoint's first ``file_result``; raises NotFound, Forbidden or the
        operation's error.
        """
        session = self.visible(session_id, principal)
        if session.state == "ended":
            raise NotFound(f"session {session_id} has ended")
        seat = session.seat_of(identity_of(principal))
        if seat is None or not seat.may_type:
            raise Forbidden(
                "only the session's owner and peers (not observers) can transfer files",
                hint="ask the owner to make you a peer",
            )
        if session.state != "connected":
            raise Conflict("the session is not connected yet, so its files cannot be reached")
        channel = FileChannel(session.link, op.to_wire(session.channel))
        await channel.open()
        return channel

    async def note_file_event(self, session_id: str, text: str) -> None:
        """A file transfer event in the session's timeline (if the session still runs)."""
        session = self.sessions.get(session_id)
        if session is not None and session.state != "ended":
            session.notify(text)

    async def jumpoint_request(self, jumpoint_id: int, op: str, args: Mapping[str, Any]) -> Any:
        """Ask a connected member of the Jumpoint (the least busy) a question (the credentials it can inject)."""
        members = await self.clusters.wait_admitted(jumpoint_id)
        if not members:
            raise JumpointUnavailable("the Jumpoint is not connected", hint="start the Jumpoint service on its host")
        link = min(members, key=lambda m: m.load)
        return await link.request(op, args)

    async def host_keys_removed(self, jumpoint_id: int, host: str, port: int, fingerprint: str | None) -> int:
        """Keys were removed from the Jumpoint's trusted keys on the console: every connected member forgets them
        too; returns how many members were told."""
        return await self.clusters.keys_removed(jumpoint_id, host, port, fingerprint)

    async def member_revoked(self, jumpoint_id: int, member_id: int, hostname: str) -> None:
        """A member's token was revoked: close its tunnel now (its sessions end saying so)."""
        link = self.clusters.link_of(member_id)
        if link is None or link.jumpoint_id != jumpoint_id:
            log.info("revoked member %d (%s) of Jumpoint %d was not connected", member_id, hostname, jumpoint_id)
            return
        self.clusters.detach(link)
        link.close(f"{link.label} was revoked by an administrator", hint=self.clusters.disconnect_hint(link))
        with contextlib.suppress(Exception):
            await link.ws.close(code=1008, message=b"member revoked")

    # --- invitations -------------------------------------------------------------------------------
    async def invite_users(self, session_id: str, principal: Principal, user_ids: list[int]) -> list[dict[str, Any]]:
        """Invite reps (already checked to exist) into a session the caller owns, all of them or none (Conflict).

        Reps already in the session are skipped. Several reps (a group's members): those who already have an active
        invitation to the session are skipped too; one rep who has one is a Conflict.
        """
        session = self.owned(session_id, principal)
        in_session = {p.identity.user_id for p in session.participants.values()} | {principal.user_id}
        made = self.invitations.invite(
            session_id=session.session_id,
            user_ids=[u for u in user_ids if u not in in_session],
            item_name=session.jump.item_name,
            from_user_id=principal.user_id,
            from_name=principal.display_name or principal.username,
            skip_invited=len(user_ids) > 1,
        )
        for invitation in made:
            self.history.audit(
                action="session.invited",
                detail={"invitee_user_id": invitation.user_id},
                session_id=session.session_id,
                actor=identity_of(principal),
            )
        return [i.to_dict() for i in made]

    async def session_invitations(self, session_id: str, principal: Principal) -> list[dict[str, Any]]:
        """Pending invitations of a session the caller owns."""
        session = self.owned(session_id, principal)
        return [i.to_dict() for i in self.invitations.for_session(session.session_id)]

    async def cancel_invitation(self, session_id: str, invitation_id: str, principal: Principal) -> None:
        """The owner cancels an invitation."""
        session = self.owned(session_id, principal)
        invitation = self.invitations.cancel(session.session_id, invitation_id)
        self.history.audit(
            action="session.invitation_cancelled",
            detail={"invitee_user_id": invitation.user_id},
            session_id=session.session_id,
            actor=identity_of(principal),
        )

    async def my_invitations(self, principal: Principal) -> list[dict[str, Any]]:
        """The caller's pending invitations."""
        return [i.to_dict() for i in self.invitations.for_user(principal.user_id)]

    async def accept_invitation(self, invitation_id: str, principal: Principal) -> str:
        """The invitee accepts and may take a seat as a peer; returns the session id."""
        invitation = self.invitations.take(invitation_id, principal.user_id)
        session = self.sessions.get(invitation.session_id)
        if session is None or session.state == "ended":
            raise NotFound("the session of this invitation has ended")
        session.admit(principal.user_id, "peer")
        self.history.audit(
            action="session.invitation_accepted", detail={}, session_id=session.session_id, actor=identity_of(principal)
        )
        return session.session_id

    async def decline_invitation(self, invitation_id: str, principal: Principal) -> None:
        """The invitee declines; the owner sees it in the timeline."""
        invitation = self.invitations.take(invitation_id, principal.user_id)
        session = self.sessions.get(invitation.session_id)
        self.history.audit(
            action="session.invitation_declined",
            detail={},
            session_id=invitation.session_id,
            actor=identity_of(principal),
        )
        if session is not None and session.state != "ended":
            session.notify(f"{principal.display_name or principal.username} declined the invitation")

    async def create_external_key(
        self, session_id: str, principal: Principal, *, description: str, minutes: int, mode: str
    ) -> tuple[str, dict[str, Any]]:
        """A one-time key for an external invitee (the key is returned once)."""
        session = self.owned(session_id, principal)
        key, record = self.invitations.create_key(
            session_id=session.session_id,
            description=description,
            mode=mode,
            minutes=minutes,
            created_by=principal.username,
        )
        self.history.audit(
            action="session.external_key_created",
            detail={"key_id": record.id, "description": description, "mode": mode, "minutes": minutes},
            session_id=session.session_id,
            actor=identity_of(principal),
        )
        return key, record.to_dict()

    async def external_keys(self, session_id: str, principal: Principal) -> list[dict[str, Any]]:
        """Unused keys of a session the caller owns."""
        session = self.owned(session_id, principal)
        return [k.to_dict() for k in self.invitations.keys_for_session(session.session_id)]

    async def cancel_external_key(self, session_id: str, key_id: str, principal: Principal) -> None:
        """The owner cancels an unused key."""
        session = self.owned(session_id, principal)
        self.invitations.cancel_key(session.session_id, key_id)
        self.history.audit(
            action="session.external_key_cancelled",
            detail={"key_id": key_id},
            session_id=session.session_id,
            actor=identity_of(principal),
        )

    async def redeem_external_key(self, key: str, display_name: str, source: str | None) -> tuple[str, Guest]:
        """Spend a one-time external key: a guest token for its session."""
        record = self.invitations.redeem(key)
        session = self.sessions.get(record.session_id)
        if session is None or session.state == "ended":
            raise NotFound("the session this invitation was for has ended")
        token, guest = self.guests.create(display_name=display_name, session_id=session.session_id, mode=record.mode)
        self.history.audit(
            action="session.external_key_redeemed",
            detail={"key_id": record.id, "guest": display_name, "description": record.description},
            session_id=session.session_id,
            source_address=source,
        )
        return token, guest

    async def guest_of(self, request: web.BaseRequest) -> Guest | None:
        """The external guest whose cookie the request carries, if it is live."""
        token = guest_token(request)
        return self.guests.by_token(token) if token else None

    # --- SessionHooks ------------------------------------------------------------------------------
    def audit(self, session: LiveSession, action: str, detail: dict[str, Any], actor: Identity | None) -> None:
        """Audit event of a session."""
        self.history.audit(
            action=action,
            detail=detail,
            session_id=session.session_id,
            actor=actor,
            jumpoint_id=session.jump.jumpoint_id,
        )

    def participant_joined(self, session: LiveSession, participant: Participant) -> None:
        """Persist the seat."""
        self.history.joined(session.session_id, participant)

    def participant_left(self, session: LiveSession, participant: Participant, reason: str) -> None:
        """Persist the end of the seat; a guest's cookie stops working."""
        self.history.left(session.session_id, participant, reason)
        if participant.identity.guest_id is not None:
            self.guests.revoke(participant.identity.guest_id)

    def timeline_added(self, session: LiveSession, item: TimelineItem) -> None:
        """Persist chat and system events."""
        self.history.timeline(session.session_id, item)

    def check_history_room(self, what: str) -> None:
        """Busy while the history writer is behind its database."""
        self.writer.check_room(what)

    def owner_changed(self, session: LiveSession) -> None:
        """Invitations and external keys of the previous owner are void."""
        self.invitations.drop_session(session.session_id)

    def ended(self, session: LiveSession) -> None:
        """Forget invitations and guests; keep the ended session visible for a while."""
        self.invitations.drop_session(session.session_id)
        self.guests.revoke_session(session.session_id)
        # An ended session stays visible for a while, so a browser that attaches after a fast failure (a
        # refused port) still sees why it ended instead of "not found".
        asyncio.get_running_loop().call_later(ENDED_RETENTION, self._forget, session)
        session.log.info("session ended: %s", session.end_reason)
        self.history.ended(
            session.session_id,
            reason=session.end_reason[:1000],
            error_code=session.error.code if session.error else None,
            at=utcnow(),
        )

    def _forget(self, session: LiveSession) -> None:
        if self.sessions.get(session.session_id) is session:
            del self.sessions[session.session_id]
        session.stop()

    async def shutdown(self) -> None:
        """End every session and close every tunnel (console stopping), then write what is queued."""
        for session in list(self.sessions.values()):
            session.fail(JumpointUnavailable("the console is shutting down"))
        senders = [c.sender for s in self.sessions.values() for c in s.connections() if c.sender is not None]
        recordings = [asyncio.ensure_future(s.pump.recording_closed()) for s in self.sessions.values()]
        if senders or recordings:  # every browser gets its end and close, every recording is written whole
            await asyncio.wait([*senders, *recordings], timeout=SHUTDOWN_FLUSH_SECONDS)
        for task in self.clusters.key_tasks():
            task.cancel()
        for link in self.clusters.links():
            with contextlib.suppress(Exception):
                await link.ws.close(code=1001, message=b"console shutting down")
        for session in list(self.sessions.values()):
            session.stop()
        await self.writer.close()

    def _audit_jumpoint(self, jumpoint_id: int, action: str, detail: dict[str, Any]) -> None:
        self.history.audit(action=action, detail=detail, jumpoint_id=jumpoint_id)

    # --- GET /api/v1/jumpoint/tunnel -------------------------------------------------------------
    async def handle_tunnel(self, request: web.Request) -> web.StreamResponse:
        """Accept a Jumpoint member's tunnel: authenticate its token, hello, admission (the cluster's host keys,
        then welcome; :meth:`Clusters.admit`), then serve frames until it closes; its sessions then end naming it."""
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        member = await authenticate_member(self._db, token) if token else None
        if member is None:
            raise Unauthorized("unknown or revoked Jumpoint token", hint="register the Jumpoint again")
        jumpoint_id, name = member.jumpoint_id, member.name
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=wire.WS_MAX_MSG_SIZE)
        await ws.prepare(request)
        try:
            hello = await self._read_hello(ws)
        except (ProtocolViolation, TimeoutError) as exc:
            log.warning("Jumpoint %r (member %d) failed its hello: %s", name, member.member_id, exc)
            await ws.close(code=1002, message=b"bad hello")
            return ws
        link = JumpointLink(
            jumpoint_id,
            name,
            hello.hostname[:253] or member.hostname,
            ws,
            member_id=member.member_id,
            on_host_key_saved=self.clusters.on_host_key_saved,
        )
        previous = self.clusters.attach(link)
        if previous is not None:
            previous.close(f"{previous.label} reconnected; sessions on its previous connection ended")
            await previous.ws.close(code=1000, message=b"replaced by a new connection")
        await mark_member_seen(self._db, member.member_id, jumpoint_id, link.hostname)
        link.log.info("Jumpoint member %d connected from %s (%s)", member.member_id, hello.hostname, hello.agent)
        detail = {"hostname": hello.hostname, "agent": hello.agent, "member_id": member.member_id}
        self._audit_jumpoint(jumpoint_id, "jumpoint.connected", detail)
        serving = asyncio.ensure_future(link.serve())
        admitting = asyncio.ensure_future(self.clusters.admit(link, member))
        try:
            await serving
        finally:
            admitting.cancel()
            self.clusters.detach(link)
            link.close(f"{link.label} disconnected", hint=self.clusters.disconnect_hint(link))
            link.log.info("Jumpoint member %d disconnected", member.member_id)
            self._audit_jumpoint(
                jumpoint_id, "jumpoint.disconnected", {"hostname": link.hostname, "member_id": member.member_id}
            )
            serving.cancel()
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
        """Attach a browser to a session (see console_web.hub.browser_socket)."""
        return await serve_browser(self, request)


def setup_hub(app: web.Application, hub: Hub, browser: Handler) -> None:
    """Add the two WebSocket routes (``browser``: the hub's own, or the cluster's, which relays to other nodes)."""
    app.router.add_get("/api/v1/jumpoint/tunnel", hub.handle_tunnel)
    app.router.add_get("/api/v1/sessions/{session_id}/ws", browser)
