"""A live session on the console: one Jumpoint channel shared by its participants.

:class:`LiveSession` is what the hub and the browser sockets use; its parts live in their own modules:

- :mod:`~console_web.hub.seats`: who is in the session, in which mode, who owns it, the owner's roster actions;
- :mod:`~console_web.hub.output_pump`: terminal output into the bounded stream, the screen and the recording, and
  flow-control credit back to the Jumpoint once every *pacing* socket has taken the output;
- :mod:`~console_web.hub.senders`: one sender task per browser socket, reading the stream at the socket's own pace
  (fan-out is one append plus N cursors), resynchronising a socket that fell behind from a screen snapshot;
- :mod:`~console_web.hub.idle`: the idle timer;
- :mod:`~console_web.hub.notices`: the Jumpoint's notices, audited and put in the timeline within limits;
- :mod:`~console_web.hub.session_hooks`: what the session needs from the hub, and the sockets' close codes.

This module keeps the session's lifecycle, the events from the Jumpoint, what participants send (keys, resize,
prompt answers, chat) and the messages to them. Keys are never dropped: they wait for input credit. Everything a
participant does (join, leave, chat, mode change, transfer, removal) lands in the session's timeline and the audit
trail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime
from typing import Any

from console_web.auth.ratelimit import SlidingWindowLimiter
from console_web.hub.idle import IdleTimer
from console_web.hub.jump import JumpRequest, SessionInfo
from console_web.hub.link import JumpointLink
from console_web.hub.notices import SessionNotices
from console_web.hub.output_pump import LAG_SECONDS, RECORDER_BACKLOG_LIMIT, OutputPump
from console_web.hub.participants import (
    SOCKETS_PER_SEAT,
    Connection,
    Identity,
    Mode,
    Participant,
)
from console_web.hub.screen import TerminalScreen
from console_web.hub.seats import Seats
from console_web.hub.senders import READ_CHUNK, SEND_TIMEOUT, Senders
from console_web.hub.session_hooks import (
    CLOSE_ENDED,
    CLOSE_FULL,
    CLOSE_LEFT,
    CLOSE_NO_OWNER,
    CLOSE_REMOVED,
    CLOSE_TOO_MANY_SOCKETS,
    CLOSE_TOO_SLOW,
    SessionHooks,
    SessionSettings,
    State,
    dumps,
)
from console_web.hub.stream import StreamLog
from console_web.hub.timeline import CHAT_MAX, Timeline, clean_chat_text
from console_web.recording.recorder import SessionRecorder
from jumpoint.core import desktop_wire, wire
from jumpoint.core.desktop import Refresh
from jumpoint.core.errors import Conflict, JumpError, ProtocolViolation, TooManyRequests
from jumpoint.core.flow import SendWindow

__all__ = [
    "CLOSE_ENDED",
    "CLOSE_FULL",
    "CLOSE_LEFT",
    "CLOSE_NO_OWNER",
    "CLOSE_REMOVED",
    "CLOSE_TOO_MANY_SOCKETS",
    "CLOSE_TOO_SLOW",
    "LAG_SECONDS",
    "READ_CHUNK",
    "RECORDER_BACKLOG_LIMIT",
    "SEND_TIMEOUT",
    "LiveSession",
    "SessionHooks",
    "SessionSettings",
    "State",
]

log = logging.getLogger(__name__)

CHAT_BURST = 20
CHAT_WINDOW_SECONDS = 10.0
RESIZE_INTERVAL = 0.05
"""Seconds between two terminal sizes sent to the Jumpoint: a window being dragged settles on its last size, and a
flood of resize messages costs the tunnel one small frame per interval."""
"""A participant may send at most CHAT_BURST chat messages within this many seconds (a flood would push the rest of
the timeline out of what joiners are sent)."""
RECORDING_CLOSE_WAIT = 10.0
"""Ending a session waits at most this long for its recording to be written whole (a stuck disk does not hold it)."""


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
        self.timeline = Timeline()
        self._chat_limiter = SlidingWindowLimiter(window=CHAT_WINDOW_SECONDS, max_keys=1000)
        self.log = logging.LoggerAdapter(log, {"session_id": session_id, "user": owner.name})
        self._hooks = hooks
        self._in_window = SendWindow(wire.INITIAL_WINDOW)
        self._input_lock = asyncio.Lock()
        self._pending_prompt: dict[str, Any] | None = None
        self._wanted_size: tuple[int, int] | None = None
        self._sent_size: tuple[int, int] | None = None
        self._resizing = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._ended = asyncio.Event()
        self.pump = OutputPump(self, recorder, settings.stream_buffer_kib * 1024)
        self.seats = Seats(self, owner)
        self.senders = Senders(self)
        self.idle = IdleTimer(self)
        self.notices = SessionNotices(self)
        if jump.target.kind == "terminal":
            # The stream starts with the terminal size, so a joiner replaying it from 0 sizes its terminal first.
            self.pump.stream_event({"t": "resize", "cols": jump.target.cols, "rows": jump.target.rows})
        self.seats.add(self.owner, announce=False)

    # --- the parts' state, as attributes of the session ------------------------------------------------
    @property
    def stream(self) -> StreamLog:
        """The terminal stream every socket reads (see :mod:`console_web.hub.stream`)."""
        return self.pump.stream

    @property
    def screen(self) -> TerminalScreen:
        """The terminal's current state (snapshots for late joiners)."""
        return self.pump.screen

    @property
    def recorder(self) -> SessionRecorder | None:
        """The recording, while it works (None when not recorded, or after it failed)."""
        return self.pump.recorder

    @property
    def _credited_out(self) -> int:
        return self.pump.credited_out

    @property
    def participants(self) -> dict[str, Participant]:
        """The seats, by identity key."""
        return self.seats.participants

    @property
    def admitted(self) -> dict[int, Mode]:
        """Reps allowed to take a seat, with the mode they get."""
        return self.seats.admitted

    @property
    def owner(self) -> Participant:
        """The owner's seat (the original owner's until ownership moves)."""
        return self.seats.owner

    @property
    def hooks(self) -> SessionHooks:
        """What the session tells the hub."""
        return self._hooks

    @property
    def pending_prompt(self) -> dict[str, Any] | None:
        """The host-key or text prompt waiting for the owner's answer, as sent to the owner."""
        return self._pending_prompt

    def connections(self) -> Iterator[Connection]:
        """Every attached socket of every seat."""
        return self.seats.connections()

    # --- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Ask the Jumpoint to open the session; start the credit and housekeeping tasks."""
        self.link.sessions[self.channel] = self
        self.spawn(self.pump.credit_loop(), "credit")
        self.spawn(self._tick_loop(), "tick")
        try:
            opening = wire.Open(session_id=self.session_id, target=self.jump.target)
            await self.link.send(wire.encode_control(self.channel, opening))
        except JumpError as exc:
            self.fail(exc)
            raise

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run ``coro`` as a task of the session (cancelled by :meth:`stop`)."""
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
        """What the browser shows in its status bar, and what its terminal must match: ``terminal_type`` is the
        terminal the target was told it talks to (TERM), so keys the page sends itself use that terminal's codes."""
        t = self.jump.target
        return {
            "id": self.session_id,
            "item_id": self.jump.item_id,
            "item_name": self.jump.item_name,
            "protocol": t.protocol,
            "kind": t.kind,
            "hostname": t.hostname,
            "port": t.port,
            "username": t.username,
            "terminal_type": t.terminal_type,
        }

    def seat_of(self, identity: Identity) -> Participant | None:
        """The identity's seat, if it has one."""
        return self.seats.seat_of(identity)

    def may_view(self, identity: Identity) -> bool:
        """Participants and admitted reps (admins may always attach, as observers)."""
        return self.seats.may_view(identity)

    def notify(self, text: str) -> None:
        """A system event in the timeline (e.g. an invitation was declined)."""
        self.system(text)

    def admit(self, user_id: int, mode: Mode = "peer") -> None:
        """Let a rep take a seat (a join-existing Jump or an accepted invitation)."""
        self.seats.admit(user_id, mode)

    async def end(self, by: Identity | None, reason: str) -> None:
        """End the session for everyone: tell the Jumpoint, then finish once it confirms (or after 5 s)."""
        if self.state == "ended":
            return
        self.audit("session.end_requested", {"reason": reason}, by)
        with contextlib.suppress(JumpError):
            await self.link.send(wire.encode_control(self.channel, wire.Close(reason=reason)))
        try:
            async with asyncio.timeout(5):
                await self._ended.wait()
        except TimeoutError:
            self._finish(reason, None)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(RECORDING_CLOSE_WAIT):
                await self.pump.recording_closed()  # who ended it may read the whole recording next

    def fail(self, error: JumpError) -> None:
        """End the session because of ``error`` (shown to every participant)."""
        if self.state == "ended":
            return
        self._tell_jumpoint_close(error.message[:4096])
        self._finish(error.message, error)

    def fail_soft(self, reason: str, close_code: int) -> None:
        """End the session (not an error) and tell the Jumpoint."""
        if self.state == "ended":
            return
        self._tell_jumpoint_close(reason)
        self._finish(reason, None, close_code)

    def _tell_jumpoint_close(self, reason: str) -> None:
        if not self.link.closed:
            frame = wire.encode_control(self.channel, wire.Close(reason=reason))
            task = asyncio.get_running_loop().create_task(self.link.send(frame))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def _finish(self, reason: str, error: JumpError | None, close_code: int = CLOSE_ENDED) -> None:
        if self.state == "ended":
            return
        self.state = "ended"
        self.end_reason = reason
        self.error = error
        self.link.sessions.pop(self.channel, None)
        self._in_window.close()
        if error is not None:
            self.broadcast({"t": "error", "error": error.to_dict()}, ordered=True)
        self._pending_prompt = None
        self.broadcast(self._state_message(), ordered=True)
        self.system(f"The session ended: {reason}")
        self.pump.close_recording(reason)
        for participant in self.participants.values():
            for conn in participant.connections:
                conn.closing = (close_code, "session ended")
                conn.wake.set()
            self._hooks.participant_left(self, participant, "the session ended")
        self._ended.set()
        self.audit("session.ended", {"reason": reason, "error_code": error.code if error else None})
        self._hooks.ended(self)

    def stop(self) -> None:
        """Cancel every task of the session (after it ended and was forgotten, or at console shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        self.screen.close()

    # --- from the Jumpoint -----------------------------------------------------------------------
    def on_output(self, data: bytes) -> None:
        """Terminal output: into the log, the screen and the recording (never blocks the tunnel reader)."""
        self.pump.on_output(data)

    def on_credit(self, grant: int) -> None:
        """The Jumpoint consumed keys and granted more input credit."""
        self._in_window.grant(grant)

    def on_control(self, msg: wire.ControlMessage) -> None:
        """Session events from the Jumpoint."""
        pump = self.pump
        if isinstance(msg, wire.HostKeyPrompt | wire.TextPrompt):
            self._pending_prompt = msg.model_dump(mode="json")
            self._to_owner(self._pending_prompt)
        elif isinstance(msg, wire.Connected):
            self.state = "connected"
            self.idle.restart()  # the idle clock starts when the target is reached
            self.audit("session.connected", {})
            self.broadcast(self._state_message(), ordered=True)
        elif isinstance(msg, wire.ResizeMsg):
            pump.screen.resize(msg.cols, msg.rows)
            if pump.recorder is not None:
                pump.record(pump.recorder.resize, msg.cols, msg.rows)
            pump.stream_event({"t": "resize", "cols": msg.cols, "rows": msg.rows})
        elif isinstance(msg, wire.TitleMsg):
            pump.stream_event({"t": "title", "text": msg.text})
        elif isinstance(msg, wire.BellMsg):
            pump.stream_event({"t": "bell"})
        elif isinstance(msg, wire.NoticeMsg):
            self.notices.on_notice(msg)  # audited and in the timeline, within limits (console_web/hub/notices.py)
        elif isinstance(msg, wire.EchoMsg):
            pump.echo_guess = None  # the adapter knows the real state
            if pump.recorder is not None:
                pump.record(pump.recorder.echo, msg.echo)
        elif isinstance(msg, wire.Closed):
            error = JumpError.from_dict(msg.error.model_dump()) if msg.error else None
            self._finish(msg.reason or "the session ended", error)
        else:
            raise ProtocolViolation(f"unexpected {msg.t!r} message from the Jumpoint on a session channel")

    # --- seats and sockets -----------------------------------------------------------------------------
    def take_seat(self, identity: Identity, mode: Mode | None = None) -> Participant:
        """The identity's seat, created if it may have one; Forbidden/Conflict otherwise."""
        return self.seats.take(identity, mode)

    def connect(self, participant: Participant, conn: Connection, resume_from: int | None) -> None:
        """Attach a socket to a seat: hello, where its stream starts, state, roster, timeline, pending prompt. A seat
        released meanwhile (removed, left, or its grace period over while the socket was being opened) gets its
        socket closed instead; a seat that has :data:`SOCKETS_PER_SEAT` sockets already gets a ``conflict`` error on
        the new one, which is then closed with :data:`CLOSE_TOO_MANY_SOCKETS` (the others go on)."""
        if not self.seated(participant):
            conn.closing = (CLOSE_LEFT, "no longer in the session")
            participant.logger(self.log).info("refused a socket: the seat was released while it opened")
            self.senders.start(conn)
            return
        if len(participant.connections) >= SOCKETS_PER_SEAT:
            refused = Conflict(
                f"at most {SOCKETS_PER_SEAT} windows can show this session to one participant",
                hint="close another window or tab of this session, then reload this one",
            )
            conn.push(dumps({"t": "error", "error": refused.to_dict()}))
            conn.closing = (CLOSE_TOO_MANY_SOCKETS, "too many sockets for this seat")
            participant.logger(self.log).info("refused a socket: the seat has %d already", SOCKETS_PER_SEAT)
            self.senders.start(conn)
            return
        participant.connections.append(conn)
        participant.released_at_deadline = None
        stream = self.stream
        if resume_from is not None and stream.start <= resume_from <= stream.head:
            conn.cursor = resume_from
            start: dict[str, Any] | None = {"t": "stream", "pos": resume_from}
        elif resume_from is None and stream.start == 0 and self.pump.desktop is None:
            conn.cursor = 0
            start = {"t": "stream", "pos": 0}
        else:  # a terminal gets a screen snapshot, a desktop starts at its newest keyframe
            conn.needs_sync = True
            start = None
        hello = {"t": "hello", "you": self.you(participant), "session": self.describe(), "limits": self._limits()}
        conn.push(dumps(hello))
        if start is not None:
            conn.push(dumps(start))
        if self.error is not None:
            conn.push(dumps({"t": "error", "error": self.error.to_dict()}))
        conn.push(dumps(self._state_message()))
        for history in self.timeline.history_messages():  # in frames under the size limit, the newest that fit
            conn.push(history)
        if participant is self.owner and self._pending_prompt is not None:
            conn.push(dumps(self._pending_prompt))
        self.broadcast_roster()
        self.senders.start(conn)
        self.pump.credit_wake.set()
        participant.logger(self.log).info("attached (%s)", "resumed" if start and resume_from is not None else "new")

    def seated(self, participant: Participant) -> bool:
        """Whether ``participant`` still holds its seat (a released seat's sockets may still be closing)."""
        return self.participants.get(participant.identity.key) is participant

    def disconnect(self, conn: Connection) -> None:
        """A socket went away; the seat is kept for the reconnect grace period."""
        participant = conn.participant
        with contextlib.suppress(ValueError):
            participant.connections.remove(conn)
        conn.closing = conn.closing or (CLOSE_ENDED, "")
        conn.wake.set()
        self.pump.credit_wake.set()
        if participant.connections or not self.seated(participant) or self.state == "ended":
            return
        grace = self.settings.reconnect_grace_seconds
        participant.released_at_deadline = time.monotonic() + grace
        self.broadcast_roster()
        if grace == 0:
            self.seats.release(participant)

    # --- participant actions (from sockets) --------------------------------------------------------
    def chat(self, actor: Participant, text: str) -> None:
        """A chat message to everyone (observers and external invitees may chat too). TooManyRequests past
        :data:`CHAT_BURST` messages from one participant within :data:`CHAT_WINDOW_SECONDS`."""
        text = clean_chat_text(text)
        key = actor.identity.key
        wait = self._chat_limiter.retry_after(key, CHAT_BURST)
        if wait is not None:
            raise TooManyRequests(
                f"at most {CHAT_BURST} chat messages in {CHAT_WINDOW_SECONDS:.0f} seconds", hint=f"wait {wait} s"
            )
        self._chat_limiter.record(key)
        item = self.timeline.add("chat", actor.name, text, actor.identity.user_id)
        self._hooks.timeline_added(self, item)
        self.broadcast({"t": "timeline", "entries": [item.to_dict()]})

    def set_mode(self, actor: Participant, participant_id: str, mode: Mode) -> None:
        """The owner makes a participant a peer or an observer."""
        self.seats.set_mode(actor, participant_id, mode)

    def transfer(self, actor: Participant, participant_id: str) -> None:
        """The owner hands ownership to another rep and becomes a peer."""
        self.seats.transfer(actor, participant_id)

    def remove(self, actor: Participant, participant_id: str) -> None:
        """The owner removes a participant from the session."""
        self.seats.remove(actor, participant_id)

    def leave(self, actor: Participant) -> None:
        """A participant leaves; the session goes on. The owner must transfer first (or end the session)."""
        self.seats.leave(actor)

    async def send_keys(self, actor: Participant, data: bytes) -> None:
        """Forward keys (a desktop: input messages, checked whole) within the input window; waits (never drops)
        when the target is slow. Raises ProtocolViolation for a malformed desktop input frame."""
        if not actor.may_type or self.state != "connected" or not self.seated(actor):
            return
        desktop = self.pump.desktop is not None
        if desktop:
            desktop_wire.check_input_frame(data)
        self.idle.touch()
        recorder = self.pump.recorder
        if recorder is not None and not desktop:
            self.pump.record(recorder.input, data)
        await self._send_input(data)

    def takes_input_now(self, nbytes: int) -> bool:
        """Whether :meth:`send_keys` of ``nbytes`` would go out without waiting for the target (credit in hand,
        nobody else's keys in flight)."""
        return self._in_window.credit >= nbytes and not self._input_lock.locked()

    def request_keyframe(self) -> None:
        """Ask the Jumpoint for a complete desktop picture (a REFRESH input message, in order with the input)."""
        if self.state == "connected":
            self.spawn(self._send_input(desktop_wire.encode_input(Refresh())), "keyframe-request")

    async def _send_input(self, data: bytes) -> None:
        async with self._input_lock:
            view = memoryview(data)
            while view:
                n = await self._in_window.acquire(len(view))
                await self.link.send(wire.encode_data(self.channel, bytes(view[:n])))
                view = view[n:]

    def resize(self, actor: Participant, cols: int, rows: int) -> None:
        """The owner's terminal size drives the remote PTY; others follow it (desktops ask in-band instead)."""
        if actor is not self.owner or self.state == "ended" or self.pump.desktop is not None:
            return
        self._wanted_size = (cols, rows)
        if not self._resizing:
            self._resizing = True
            self.spawn(self._send_sizes(), "resize")

    async def _send_sizes(self) -> None:
        """Send the owner's latest size, then at most one more per :data:`RESIZE_INTERVAL` while it changes."""
        try:
            while (size := self._wanted_size) is not None and size != self._sent_size and self.state != "ended":
                await self.link.send(wire.encode_control(self.channel, wire.ResizeMsg(cols=size[0], rows=size[1])))
                self._sent_size = size
                await asyncio.sleep(RESIZE_INTERVAL)
        except JumpError as exc:
            self.log.info("terminal size not sent: %s", exc.message)
        finally:
            self._resizing = False

    async def answer(self, actor: Participant, answer: wire.HostKeyAnswer | wire.TextAnswer) -> None:
        """Forward the owner's answer to the pending prompt."""
        self.seats.require_owner(actor, "answer prompts")
        pending = self._pending_prompt
        if pending is None or pending["id"] != answer.id:
            raise ProtocolViolation(f"prompt {answer.id} is not pending")
        expected = "prompt_host_key" if isinstance(answer, wire.HostKeyAnswer) else "prompt_text"
        if pending["t"] != expected:
            raise ProtocolViolation(f"prompt {answer.id} needs a {pending['t'].replace('prompt_', '')} answer")
        self._pending_prompt = None
        if isinstance(answer, wire.HostKeyAnswer):
            self.audit(
                "session.host_key_decision",
                {"decision": answer.decision, "host": pending["host"], "port": pending["port"], **pending["key"]},
                actor.identity,
            )
            if answer.decision == "save":
                self.system(f"{actor.name} saved the host key {pending['key']['fingerprint']}")
        # prompt_done goes out before the answer, so it cannot overtake the next prompt the answer leads to
        self._to_owner({"t": "prompt_done", "id": answer.id})
        await self.link.send(wire.encode_control(self.channel, answer))

    def idle_thresholds(self) -> list[float]:
        """Seconds without input at which participants are warned (see :meth:`IdleTimer.thresholds`)."""
        return self.idle.thresholds()

    # --- messages to participants ------------------------------------------------------------------
    def audit(self, action: str, detail: dict[str, Any], actor: Identity | None = None) -> None:
        """An audit event about this session (through the hub)."""
        self._hooks.audit(self, action, detail, actor)

    def you(self, participant: Participant) -> dict[str, Any]:
        """The ``you`` fields of a participant (in ``hello`` and ``you`` messages)."""
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

    def broadcast_roster(self) -> None:
        """The ``roster`` message to every socket."""
        self.broadcast(self._roster())

    def system(self, text: str) -> None:
        """A system event: into the timeline (kept by the hub) and to every socket."""
        item = self.timeline.add("system", "", text)
        self._hooks.timeline_added(self, item)
        self.broadcast({"t": "timeline", "entries": [item.to_dict()]})

    def broadcast(self, msg: dict[str, Any], ordered: bool = False) -> None:
        """To every socket; ``ordered``: after the output that is already in the stream."""
        text = dumps(msg)
        after = self.stream.head if ordered else -1
        for conn in self.connections():
            self.senders.push(conn, text, after)

    def tell(self, participant: Participant, msg: dict[str, Any]) -> None:
        """To every socket of one participant."""
        text = dumps(msg)
        for conn in participant.connections:
            self.senders.push(conn, text, -1)

    def _to_owner(self, msg: dict[str, Any]) -> None:
        if self.owner.identity.key in self.participants:
            self.tell(self.owner, msg)

    def reply(self, conn: Connection, msg: dict[str, Any]) -> None:
        """A direct answer to one socket (e.g. a refused action)."""
        self.senders.push(conn, dumps(msg), -1)

    # --- housekeeping ------------------------------------------------------------------------------
    async def _tick_loop(self) -> None:
        while self.state != "ended":
            await asyncio.sleep(1.0)
            now = time.monotonic()
            self.pump.check_lag(now)
            self.seats.check_grace(now)
            self.idle.check(now)
            if self.pump.keyframe_due(now):
                self.request_keyframe()
