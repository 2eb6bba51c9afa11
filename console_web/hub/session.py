"""A live session on the console: one Jumpoint channel shared by its participants.

The terminal stream goes into a bounded :class:`StreamLog`; each browser socket reads it at its own pace with its
own sender task, so fan-out is one append plus N cursors. Flow-control credit goes back to the Jumpoint once every
*pacing* socket has taken the output; a socket that falls more than ``LAG_SECONDS`` behind stops pacing (the target
and the others go on), and when the log has moved past it, it is resynchronised from a snapshot of the terminal
(:class:`TerminalScreen`). Keys are never dropped: they wait for input credit. Everything a participant does
(join, leave, chat, mode change, transfer, removal) lands in the session's timeline and the audit trail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from console_web.hub.echo_guess import EchoGuess
from console_web.hub.jump import JumpRequest, SessionInfo
from console_web.hub.link import JumpointLink
from console_web.hub.participants import Connection, Identity, Mode, Participant
from console_web.hub.screen import TerminalScreen
from console_web.hub.stream import StreamLog
from console_web.hub.timeline import CHAT_MAX, Timeline, TimelineItem, clean_chat_text
from console_web.recording.recorder import SessionRecorder
from jumpoint.core import wire
from jumpoint.core.errors import Conflict, Forbidden, JumpError, NotFound, ProtocolViolation
from jumpoint.core.flow import ReceiveWindow, SendWindow

log = logging.getLogger(__name__)

State = Literal["connecting", "connected", "ended"]
SEND_TIMEOUT = 20.0
LAG_SECONDS = 2.0
READ_CHUNK = wire.MAX_PAYLOAD
RECORDER_BACKLOG_LIMIT = 16 * 1024 * 1024
CLOSE_ENDED = 1000
CLOSE_TOO_SLOW = 1013
CLOSE_REMOVED = 4001
CLOSE_LEFT = 4002
CLOSE_FULL = 4003
CLOSE_NO_OWNER = 4004


class SessionHooks(Protocol):
    """What a session tells the hub (persistence and audit happen there)."""

    def audit(self, session: LiveSession, action: str, detail: dict[str, Any], actor: Identity | None) -> None:
        """Record an audit event about this session."""

    def participant_joined(self, session: LiveSession, participant: Participant) -> None:
        """A seat was created."""

    def participant_left(self, session: LiveSession, participant: Participant, reason: str) -> None:
        """A seat was released (left, removed, disconnected too long, or the session ended)."""

    def timeline_added(self, session: LiveSession, item: TimelineItem) -> None:
        """A chat message or system event was added."""

    def owner_changed(self, session: LiveSession) -> None:
        """Ownership moved to another participant (invitations of the old owner are void)."""

    def ended(self, session: LiveSession) -> None:
        """The session ended."""


class SessionSettings(Protocol):
    """The limits a session needs (``console_web.config.SessionSettings`` fits)."""

    @property
    def max_participants(self) -> int:
        """Seats per session."""

    @property
    def idle_timeout_seconds(self) -> int:
        """No input this long ends the session (0: never)."""

    @property
    def reconnect_grace_seconds(self) -> int:
        """How long a seat without sockets is kept."""

    @property
    def stream_buffer_kib(self) -> int:
        """Output kept for late joiners and reconnects."""


def _dumps(msg: dict[str, Any]) -> str:
    return wire.dumps_json(msg)


class LiveSession:
    """The hub's view of one session: state, participants, stream, recording, timeline and flow control."""

    def __init__(
        self,
        *,
        session_id: str,
        link: JumpointLink,
        jump: JumpRequest,
        owner: Identity,
        settings: SessionSettings,
        hooks: SessionHooks,
        recorder: SessionRecorder | None = None,
    ) -> None:
        self.session_id = session_id
        self.link = link
        self.channel = link.allocate_channel()
        self.jump = jump
        self.settings = settings
        self.state: State = "connecting"
        self.started_at = datetime.now(UTC)
        self.end_reason = ""
        self.error: JumpError | None = None
        # Pacing sockets are at most one flow-control window behind the head, so a log of twice the window never
        # evicts what they have not read yet.
        self.stream = StreamLog(max(settings.stream_buffer_kib * 1024, 2 * wire.INITIAL_WINDOW))
        self.screen = TerminalScreen(jump.target.cols, jump.target.rows)
        self.recorder = recorder
        self.timeline = Timeline()
        self.participants: dict[str, Participant] = {}
        self.admitted: dict[int, Mode] = {}  # reps allowed to take a seat (join-existing Jumps, accepted invitations)
        self.owner = Participant(owner, "owner")
        self._hooks = hooks
        self._out_window = ReceiveWindow(wire.INITIAL_WINDOW)
        self._in_window = SendWindow(wire.INITIAL_WINDOW)
        self._input_lock = asyncio.Lock()
        self._pending_prompt: dict[str, Any] | None = None
        self._credited_out = 0
        self._credit_wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._ended = asyncio.Event()
        self._head_history: deque[tuple[float, int]] = deque()
        self._last_input = time.monotonic()
        self._idle_warnings_sent = 0
        self._echo_guess = EchoGuess() if recorder is not None and jump.record_input else None
        if recorder is not None:
            recorder.on_written = self._credit_wake.set  # a disk that caught up releases held-back credit
        self.log = logging.LoggerAdapter(log, {"session_id": session_id, "user": owner.name})
        # The stream starts with the terminal size, so a joiner replaying it from 0 sizes its terminal first.
        self._stream_event({"t": "resize", "cols": jump.target.cols, "rows": jump.target.rows})
        self._add_seat(self.owner, announce=False)

    # --- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Ask the Jumpoint to open the session; start the credit and housekeeping tasks."""
        self.link.sessions[self.channel] = self
        self._spawn(self._credit_loop(), "credit")
        self._spawn(self._tick_loop(), "tick")
        try:
            opening = wire.Open(session_id=self.session_id, target=self.jump.target)
            await self.link.send(wire.encode_control(self.channel, opening))
        except JumpError as exc:
            self.fail(exc)
            raise

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro, name=f"{name}-{self.session_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def info(self) -> SessionInfo:
        """The session as the API reports it."""
        return SessionInfo(
            session_id=self.session_id,
            item_id=self.jump.item_id,
            item_name=self.jump.item_name,
            owner_user_id=self.owner.identity.user_id or 0,
            jumpoint_id=self.jump.jumpoint_id,
            protocol=self.jump.target.protocol,
            state=self.state,
            started_at=self.started_at.isoformat(),
            participants=[p.describe() for p in self.participants.values()],
        )

    def describe(self) -> dict[str, Any]:
        """What the browser shows in its status bar."""
        t = self.jump.target
        return {
            "id": self.session_id,
            "item_id": self.jump.item_id,
            "item_name": self.jump.item_name,
            "protocol": t.protocol,
            "hostname": t.hostname,
            "port": t.port,
            "username": t.username,
        }

    def seat_of(self, identity: Identity) -> Participant | None:
        """The identity's seat, if it has one."""
        return self.participants.get(identity.key)

    def may_view(self, identity: Identity) -> bool:
        """Participants and admitted reps (admins may always attach, as observers)."""
        if identity.key in self.participants:
            return True
        return identity.user_id is not None and (identity.user_id in self.admitted or identity.is_admin)

    def notify(self, text: str) -> None:
        """A system event in the timeline (e.g. an invitation was declined)."""
        self._system(text)

    def admit(self, user_id: int, mode: Mode = "peer") -> None:
        """Let a rep take a seat (a join-existing Jump or an accepted invitation)."""
        self.admitted.setdefault(user_id, mode)

    async def end(self, by: Identity | None, reason: str) -> None:
        """End the session for everyone: tell the Jumpoint, then finish once it confirms (or after 5 s)."""
        if self.state == "ended":
            return
        self._hooks.audit(self, "session.end_requested", {"reason": reason}, by)
        with contextlib.suppress(JumpError):
            await self.link.send(wire.encode_control(self.channel, wire.Close(reason=reason)))
        try:
            async with asyncio.timeout(5):
                await self._ended.wait()
        except TimeoutError:
            self._finish(reason, None)

    def fail(self, error: JumpError) -> None:
        """End the session because of ``error`` (shown to every participant)."""
        if self.state == "ended":
            return
        if not self.link.closed:
            frame = wire.encode_control(self.channel, wire.Close(reason=error.message[:4096]))
            task = asyncio.get_running_loop().create_task(self.link.send(frame))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._finish(error.message, error)

    def _finish(self, reason: str, error: JumpError | None, close_code: int = CLOSE_ENDED) -> None:
        if self.state == "ended":
            return
        self.state = "ended"
        self.end_reason = reason
        self.error = error
        self.link.sessions.pop(self.channel, None)
        self._in_window.close()
        if error is not None:
            self._broadcast({"t": "error", "error": error.to_dict()}, ordered=True)
        self._pending_prompt = None
        self._broadcast(self._state_message(), ordered=True)
        self._system(f"The session ended: {reason}")
        if self.recorder is not None:
            try:
                self.recorder.marker(f"ended: {reason}"[:200])
                self.recorder.close()
            except JumpError as exc:
                self.log.error("RECORDING CLOSE FAILED: %s", exc.message)
        for participant in self.participants.values():
            for conn in participant.connections:
                conn.closing = (close_code, "session ended")
                conn.wake.set()
            self._hooks.participant_left(self, participant, "the session ended")
        self._ended.set()
        self._hooks.audit(self, "session.ended", {"reason": reason, "error_code": error.code if error else None}, None)
        self._hooks.ended(self)

    def stop(self) -> None:
        """Cancel every task of the session (after it ended and was forgotten, or at console shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        self.screen.close()

    # --- from the Jumpoint -----------------------------------------------------------------------
    def on_output(self, data: bytes) -> None:
        """Terminal output: into the log, the screen and the recording (never blocks the tunnel reader)."""
        self._out_window.received(len(data))
        self.stream.append_output(data)
        self.screen.feed(data)
        if self.recorder is not None:
            self._record(self.recorder.output, data)
            if self._echo_guess is not None:
                echo = self._echo_guess.feed(data)
                if echo is not None and self.recorder is not None:
                    self._record(self.recorder.echo, echo)
        for participant in self.participants.values():
            for conn in participant.connections:
                conn.wake.set()
        self._credit_wake.set()

    def _record(self, write: Any, *args: Any) -> None:
        try:
            write(*args)
        except JumpError as exc:
            self.log.error("RECORDING WRITE FAILED, recording stops: %s", exc.message)
            self._hooks.audit(self, "recording.failed", {"error": exc.message}, None)
            self.recorder = None

    def on_credit(self, grant: int) -> None:
        """The Jumpoint consumed keys and granted more input credit."""
        self._in_window.grant(grant)

    def on_control(self, msg: wire.ControlMessage) -> None:
        """Session events from the Jumpoint."""
        if isinstance(msg, wire.HostKeyPrompt | wire.TextPrompt):
            self._pending_prompt = msg.model_dump(mode="json")
            self._to_owner(self._pending_prompt)
        elif isinstance(msg, wire.Connected):
            self.state = "connected"
            self._last_input = time.monotonic()  # the idle clock starts when the target is reached
            self._hooks.audit(self, "session.connected", {}, None)
            self._broadcast(self._state_message(), ordered=True)
        elif isinstance(msg, wire.ResizeMsg):
            self.screen.resize(msg.cols, msg.rows)
            if self.recorder is not None:
                self._record(self.recorder.resize, msg.cols, msg.rows)
            self._stream_event({"t": "resize", "cols": msg.cols, "rows": msg.rows})
        elif isinstance(msg, wire.TitleMsg):
            self._stream_event({"t": "title", "text": msg.text})
        elif isinstance(msg, wire.BellMsg):
            self._stream_event({"t": "bell"})
        elif isinstance(msg, wire.NoticeMsg):
            self._hooks.audit(self, f"session.notice.{msg.kind}", {"text": msg.text}, None)
            self._system(msg.text)
        elif isinstance(msg, wire.EchoMsg):
            self._echo_guess = None  # the adapter knows the real state
            if self.recorder is not None:
                self._record(self.recorder.echo, msg.echo)
        elif isinstance(msg, wire.Closed):
            error = JumpError.from_dict(msg.error.model_dump()) if msg.error else None
            self._finish(msg.reason or "the session ended", error)
        else:
            raise ProtocolViolation(f"unexpected {msg.t!r} message from the Jumpoint on a session channel")

    def _stream_event(self, msg: dict[str, Any]) -> None:
        msg["pos"] = self.stream.head
        self.stream.append_event(_dumps(msg))
        for participant in self.participants.values():
            for conn in participant.connections:
                conn.wake.set()

    # --- seats -----------------------------------------------------------------------------------
    def _add_seat(self, participant: Participant, announce: bool = True) -> None:
        self.participants[participant.identity.key] = participant
        self._hooks.participant_joined(self, participant)
        self._hooks.audit(
            self,
            "session.joined",
            {"participant": participant.name, "mode": participant.mode, "external": participant.identity.external},
            participant.identity,
        )
        if announce:
            how = "an external invitee" if participant.identity.external else participant.mode
            self._system(f"{participant.name} joined the session ({how})")
            self._broadcast_roster()

    def take_seat(self, identity: Identity, mode: Mode | None = None) -> Participant:
        """The identity's seat, created if it may have one; Forbidden/Conflict otherwise."""
        seat = self.participants.get(identity.key)
        if seat is not None:
            return seat
        if self.state == "ended":
            raise NotFound("this session has ended", hint="Jump again from the console")
        if identity.user_id is not None and identity.user_id in self.admitted:
            mode = mode or self.admitted[identity.user_id]
        elif identity.is_admin:
            mode = mode or "observer"
        elif mode is None:
            raise Forbidden("you are not a participant of this session", hint="ask its owner for an invitation")
        if len(self.participants) >= self.settings.max_participants:
            raise Conflict(
                f"the session already has its limit of {self.settings.max_participants} participants",
                hint="ask a participant to leave, or the administrator to raise sessions.max_participants",
            )
        seat = Participant(identity, "peer" if mode == "owner" else mode)
        self._add_seat(seat)
        return seat

    def connect(self, participant: Participant, conn: Connection, resume_from: int | None) -> None:
        """Attach a socket to a seat: hello, where its stream starts, state, roster, timeline, pending prompt."""
        participant.connections.append(conn)
        participant.released_at_deadline = None
        stream = self.stream
        if resume_from is not None and stream.start <= resume_from <= stream.head:
            conn.cursor = resume_from
            start: dict[str, Any] | None = {"t": "stream", "pos": resume_from}
        elif resume_from is None and stream.start == 0:
            conn.cursor = 0
            start = {"t": "stream", "pos": 0}
        else:
            conn.needs_sync = True
            start = None
        conn.push(
            _dumps({"t": "hello", "you": self._you(participant), "session": self.describe(), "limits": self._limits()})
        )
        if start is not None:
            conn.push(_dumps(start))
        if self.error is not None:
            conn.push(_dumps({"t": "error", "error": self.error.to_dict()}))
        conn.push(_dumps(self._state_message()))
        conn.push(_dumps({"t": "timeline", "history": True, "entries": self.timeline.history()}))
        if participant is self.owner and self._pending_prompt is not None:
            conn.push(_dumps(self._pending_prompt))
        self._broadcast_roster()
        self._spawn(self._run_sender(conn), "sender")
        self._credit_wake.set()
        participant.logger(self.log).info("attached (%s)", "resumed" if start and resume_from is not None else "new")

    def disconnect(self, conn: Connection) -> None:
        """A socket went away; the seat is kept for the reconnect grace period."""
        participant = conn.participant
        with contextlib.suppress(ValueError):
            participant.connections.remove(conn)
        conn.closing = conn.closing or (CLOSE_ENDED, "")
        conn.wake.set()
        self._credit_wake.set()
        if participant.connections or participant.identity.key not in self.participants or self.state == "ended":
            return
        grace = self.settings.reconnect_grace_seconds
        participant.released_at_deadline = time.monotonic() + grace
        self._broadcast_roster()
        if grace == 0:
            self._release(participant)

    def _release(self, participant: Participant) -> None:
        """The seat's grace period is over."""
        self._drop_seat(participant, f"{participant.name} lost the connection and left", "disconnected", None)
        if participant is self.owner:
            self._owner_gone()

    def _drop_seat(self, participant: Participant, text: str, reason: str, close: tuple[int, str] | None) -> None:
        self.participants.pop(participant.identity.key, None)
        if participant.identity.user_id is not None:
            self.admitted.pop(participant.identity.user_id, None)
        for conn in participant.connections:
            conn.closing = close or (CLOSE_LEFT, reason)
            conn.wake.set()
        self._hooks.participant_left(self, participant, reason)
        self._hooks.audit(
            self, "session.left", {"participant": participant.name, "reason": reason}, participant.identity
        )
        self._system(text)
        self._broadcast_roster()
        self._credit_wake.set()

    def _owner_gone(self) -> None:
        """Ownership passes to the longest-present rep; with none left, the session ends."""
        reps = [p for p in self.participants.values() if not p.identity.external]
        if reps:
            heir = min(reps, key=lambda p: p.joined_at)
            self._make_owner(heir, f"{heir.name} is now the owner (the owner left)")
            return
        for guest in list(self.participants.values()):
            for conn in guest.connections:
                conn.closing = (CLOSE_NO_OWNER, "no owner remains")
        self.fail_soft("no owner remains in the session", CLOSE_NO_OWNER)

    def fail_soft(self, reason: str, close_code: int) -> None:
        """End the session (not an error) and tell the Jumpoint."""
        if self.state == "ended":
            return
        if not self.link.closed:
            frame = wire.encode_control(self.channel, wire.Close(reason=reason))
            task = asyncio.get_running_loop().create_task(self.link.send(frame))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._finish(reason, None, close_code)

    def _make_owner(self, heir: Participant, text: str) -> None:
        old = self.owner
        if old.identity.key in self.participants and old is not heir:
            old.mode = "peer"
            self._tell(old, {"t": "you", **self._you(old)})
        heir.mode = "owner"
        self.owner = heir
        self._tell(heir, {"t": "you", **self._you(heir)})
        if self._pending_prompt is not None:
            self._tell(heir, self._pending_prompt)
        self._system(text)
        self._broadcast_roster()
        self._hooks.owner_changed(self)

    # --- participant actions (from sockets) --------------------------------------------------------
    def _target(self, participant_id: str) -> Participant:
        for p in self.participants.values():
            if p.id == participant_id:
                return p
        raise NotFound(f"participant {participant_id} is not in this session")

    def _require_owner(self, actor: Participant, what: str) -> None:
        if actor is not self.owner:
            raise Forbidden(f"only the session owner can {what}")

    def chat(self, actor: Participant, text: str) -> None:
        """A chat message to everyone (observers and external invitees may chat too)."""
        item = self.timeline.add("chat", actor.name, clean_chat_text(text), actor.identity.user_id)
        self._hooks.timeline_added(self, item)
        self._broadcast({"t": "timeline", "entries": [item.to_dict()]})

    def set_mode(self, actor: Participant, participant_id: str, mode: Mode) -> None:
        """The owner makes a participant a peer or an observer."""
        self._require_owner(actor, "change a participant's mode")
        target = self._target(participant_id)
        if target is self.owner:
            raise Conflict("the owner's mode changes only by transferring ownership")
        if mode == "owner":
            raise Conflict("use transfer to make someone the owner")
        if target.mode == mode:
            return
        target.mode = mode
        self._tell(target, {"t": "you", **self._you(target)})
        self._hooks.audit(self, "session.mode_changed", {"participant": target.name, "mode": mode}, actor.identity)
        self._system(f"{actor.name} made {target.name} {'an observer' if mode == 'observer' else 'a peer'}")
        self._broadcast_roster()

    def transfer(self, actor: Participant, participant_id: str) -> None:
        """The owner hands ownership to another rep and becomes a peer."""
        self._require_owner(actor, "transfer ownership")
        target = self._target(participant_id)
        if target is actor:
            raise Conflict("you already own this session")
        if target.identity.external:
            raise Conflict("an external invitee cannot own a session")
        self._hooks.audit(self, "session.transferred", {"from": actor.name, "to": target.name}, actor.identity)
        self._make_owner(target, f"{actor.name} transferred ownership to {target.name}")

    def remove(self, actor: Participant, participant_id: str) -> None:
        """The owner removes a participant from the session."""
        self._require_owner(actor, "remove participants")
        target = self._target(participant_id)
        if target is actor:
            raise Conflict("you cannot remove yourself: end the session, or transfer ownership and leave")
        self._hooks.audit(self, "session.removed", {"participant": target.name}, actor.identity)
        self._drop_seat(
            target, f"{actor.name} removed {target.name}", f"removed by {actor.name}", (CLOSE_REMOVED, "removed")
        )

    def leave(self, actor: Participant) -> None:
        """A participant leaves; the session goes on. The owner must transfer first (or end the session)."""
        if actor is self.owner:
            raise Conflict("as the owner, transfer ownership first, or end the session for everyone")
        self._drop_seat(actor, f"{actor.name} left the session", "left", (CLOSE_LEFT, "left"))

    async def send_keys(self, actor: Participant, data: bytes) -> None:
        """Forward keys within the input window; waits (never drops) when the target is slow."""
        if not actor.may_type or self.state != "connected":
            return
        self._last_input = time.monotonic()
        if self._idle_warnings_sent:
            self._idle_warnings_sent = 0
            self._broadcast({"t": "idle", "seconds_left": None})
        if self.recorder is not None:
            self._record(self.recorder.input, data)
        async with self._input_lock:
            view = memoryview(data)
            while view:
                n = await self._in_window.acquire(len(view))
                await self.link.send(wire.encode_data(self.channel, bytes(view[:n])))
                view = view[n:]

    async def resize(self, actor: Participant, cols: int, rows: int) -> None:
        """The owner's terminal size drives the remote PTY; others follow it."""
        if actor is not self.owner or self.state == "ended":
            return
        await self.link.send(wire.encode_control(self.channel, wire.ResizeMsg(cols=cols, rows=rows)))

    async def answer(self, actor: Participant, answer: wire.HostKeyAnswer | wire.TextAnswer) -> None:
        """Forward the owner's answer to the pending prompt."""
        self._require_owner(actor, "answer prompts")
        pending = self._pending_prompt
        if pending is None or pending["id"] != answer.id:
            raise ProtocolViolation(f"prompt {answer.id} is not pending")
        expected = "prompt_host_key" if isinstance(answer, wire.HostKeyAnswer) else "prompt_text"
        if pending["t"] != expected:
            raise ProtocolViolation(f"prompt {answer.id} needs a {pending['t'].replace('prompt_', '')} answer")
        self._pending_prompt = None
        if isinstance(answer, wire.HostKeyAnswer):
            self._hooks.audit(
                self,
                "session.host_key_decision",
                {"decision": answer.decision, "host": pending["host"], "port": pending["port"], **pending["key"]},
                actor.identity,
            )
            if answer.decision == "save":
                self._system(f"{actor.name} saved the host key {pending['key']['fingerprint']}")
        # prompt_done goes out before the answer, so it cannot overtake the next prompt the answer leads to
        self._to_owner({"t": "prompt_done", "id": answer.id})
        await self.link.send(wire.encode_control(self.channel, answer))

    # --- messages to participants ------------------------------------------------------------------
    def _you(self, participant: Participant) -> dict[str, Any]:
        return {
            "id": participant.id,
            "name": participant.name,
            "mode": participant.mode,
            "external": participant.identity.external,
        }

    def _limits(self) -> dict[str, Any]:
        return {"max_participants": self.settings.max_participants, "chat_max": CHAT_MAX}

    def _state_message(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"t": "state", "state": self.state, "session": self.describe()}
        if self.state == "ended":
            msg["reason"] = self.end_reason
        return msg

    def _roster(self) -> dict[str, Any]:
        return {
            "t": "roster",
            "owner": self.owner.id if self.owner.identity.key in self.participants else None,
            "participants": [p.describe() for p in self.participants.values()],
        }

    def _broadcast_roster(self) -> None:
        self._broadcast(self._roster())

    def _system(self, text: str) -> None:
        item = self.timeline.add("system", "", text)
        self._hooks.timeline_added(self, item)
        self._broadcast({"t": "timeline", "entries": [item.to_dict()]})

    def _broadcast(self, msg: dict[str, Any], ordered: bool = False) -> None:
        """To every socket; ``ordered``: after the output that is already in the stream."""
        text = _dumps(msg)
        after = self.stream.head if ordered else -1
        for participant in self.participants.values():
            for conn in participant.connections:
                self._push(conn, text, after)

    def _tell(self, participant: Participant, msg: dict[str, Any]) -> None:
        text = _dumps(msg)
        for conn in participant.connections:
            self._push(conn, text, -1)

    def _to_owner(self, msg: dict[str, Any]) -> None:
        if self.owner.identity.key in self.participants:
            self._tell(self.owner, msg)

    def reply(self, conn: Connection, msg: dict[str, Any]) -> None:
        """A direct answer to one socket (e.g. a refused action)."""
        self._push(conn, _dumps(msg), -1)

    def _push(self, conn: Connection, text: str, after: int) -> None:
        if not conn.push(text, after):
            conn.participant.logger(self.log).warning("closing a socket whose message queue is full")
            conn.closing = (CLOSE_TOO_SLOW, "too slow")
        conn.wake.set()

    # --- delivery --------------------------------------------------------------------------------
    async def _run_sender(self, conn: Connection) -> None:
        """Send one socket its direct messages and the stream from its cursor, in order, at its own pace."""
        ws = conn.ws
        stream = self.stream
        try:
            while not ws.closed:
                if (
                    conn.closing is not None
                    and not conn.direct
                    and (conn.closing[0] != CLOSE_ENDED or conn.cursor >= stream.head or not conn.pacing)
                ):
                    await ws.close(code=conn.closing[0], message=conn.closing[1].encode()[:120])
                    return
                if conn.needs_sync:
                    await self._send_screen(conn)
                    continue
                direct = conn.direct
                if direct and direct[0].after <= conn.cursor:
                    async with asyncio.timeout(SEND_TIMEOUT):
                        await ws.send_str(direct.popleft().text)
                    continue
                limit = direct[0].after if direct else stream.head
                if conn.cursor < limit:
                    batch = stream.read(conn.cursor, limit, READ_CHUNK)
                    if batch is None:
                        conn.needs_sync = True
                        continue
                    async with asyncio.timeout(SEND_TIMEOUT):
                        for entry in batch.entries:
                            if isinstance(entry, bytes):
                                await ws.send_bytes(entry)
                            else:
                                await ws.send_str(entry)
                    conn.cursor = batch.end
                    if not conn.pacing and conn.cursor >= stream.head:
                        conn.pacing = True
                    self._credit_wake.set()
                    continue
                if conn.closing is not None:
                    continue
                conn.wake.clear()
                await conn.wake.wait()
        except (TimeoutError, ConnectionError, RuntimeError) as exc:
            conn.participant.logger(self.log).warning("closing a socket that could not keep up: %r", exc)
            with contextlib.suppress(Exception):
                await ws.close(code=CLOSE_TOO_SLOW, message=b"too slow")
        finally:
            if conn in conn.participant.connections:
                self.disconnect(conn)

    async def _send_screen(self, conn: Connection) -> None:
        """Resynchronise a socket from the terminal's current state (no await between snapshot and cursor)."""
        cols, rows = self.screen.size
        snapshot = self.screen.snapshot()
        conn.cursor = self.stream.head
        conn.needs_sync = False
        conn.pacing = True
        async with asyncio.timeout(SEND_TIMEOUT):
            await conn.ws.send_str(_dumps({"t": "screen", "pos": conn.cursor, "cols": cols, "rows": rows}))
            await conn.ws.send_bytes(snapshot)
        self._credit_wake.set()

    async def _credit_loop(self) -> None:
        """Grant the Jumpoint credit for output every pacing socket has taken (all of it, when none paces)."""
        while True:
            await self._credit_wake.wait()
            self._credit_wake.clear()
            if self.state == "ended":
                return
            consumed = self._consumed_position()
            if consumed is None:
                continue
            if self.recorder is not None and self.recorder.backlog_bytes > RECORDER_BACKLOG_LIMIT:
                continue  # the disk is behind: hold the target back rather than lose recording
            out = self.stream.output_at(consumed)
            delta = out - self._credited_out
            if delta <= 0:
                continue
            self._credited_out = out
            grant = self._out_window.consumed(delta)
            if grant:
                with contextlib.suppress(JumpError):
                    await self.link.send(wire.encode_credit(self.channel, grant))

    def _consumed_position(self) -> int | None:
        """How far the Jumpoint may be let ahead: where the slowest pacing socket is.

        With no pacing socket, the fastest connected one sets the pace (a session whose viewers all lag runs at
        their best speed, not flat out); with nobody connected, output is held (nothing is lost between the Jump
        and the page opening, or while a browser reconnects).
        """
        slowest: int | None = None
        fastest: int | None = None
        for participant in self.participants.values():
            for conn in participant.connections:
                if conn.needs_sync:
                    continue
                if conn.pacing and (slowest is None or conn.cursor < slowest):
                    slowest = conn.cursor
                if fastest is None or conn.cursor > fastest:
                    fastest = conn.cursor
        chosen = slowest if slowest is not None else fastest
        return None if chosen is None else max(chosen, self.stream.start)

    # --- housekeeping ------------------------------------------------------------------------------
    async def _tick_loop(self) -> None:
        while self.state != "ended":
            await asyncio.sleep(1.0)
            now = time.monotonic()
            self._check_lag(now)
            self._check_seats(now)
            self._check_idle(now)

    def _check_lag(self, now: float) -> None:
        history = self._head_history
        history.append((now, self.stream.head))
        while len(history) > 1 and history[1][0] <= now - LAG_SECONDS:
            history.popleft()
        then, head_then = history[0]
        if now - then < LAG_SECONDS:
            return
        for participant in self.participants.values():
            for conn in participant.connections:
                if conn.pacing and conn.cursor < head_then:
                    conn.pacing = False
                    participant.logger(self.log).info("socket fell behind the stream; it no longer paces the session")
                    self._credit_wake.set()

    def _check_seats(self, now: float) -> None:
        for participant in list(self.participants.values()):
            deadline = participant.released_at_deadline
            if deadline is not None and not participant.connections and now >= deadline:
                participant.released_at_deadline = None
                self._release(participant)
                if self.state == "ended":
                    return

    def idle_thresholds(self) -> list[float]:
        """Seconds without input at which participants are warned: a third, two thirds, and a minute before
        (for short timeouts, a tenth of it before, but at least 1.5 s so the 1 s housekeeping tick sees it)."""
        total = float(self.settings.idle_timeout_seconds)
        last = total - max(1.5, min(60.0, total / 10))
        return [total / 3, total * 2 / 3, last]

    def _check_idle(self, now: float) -> None:
        total = float(self.settings.idle_timeout_seconds)
        if total <= 0 or self.state != "connected":
            return
        idle = now - self._last_input
        if idle >= total:
            self._hooks.audit(self, "session.idle_timeout", {"seconds": int(total)}, None)
            self.fail_soft(f"no input for {_duration(int(total))}", CLOSE_ENDED)
            return
        thresholds = self.idle_thresholds()
        if self._idle_warnings_sent < len(thresholds) and idle >= thresholds[self._idle_warnings_sent]:
            self._idle_warnings_sent += 1
            left = round(total - idle)
            self._broadcast({"t": "idle", "seconds_left": left})
            self._system(f"No input for {_duration(round(idle))}: the session ends in {_duration(left)} without input")


def _duration(seconds: int) -> str:
    if seconds >= 120:
        return f"{round(seconds / 60)} minutes"
    return f"{seconds} second{'s' if seconds != 1 else ''}"
