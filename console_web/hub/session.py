"""A live session on the console: one Jumpoint channel fanned out to the browser sockets watching it.

One pump task per session delivers output and events to every viewer in order, merging output that is
already queued into larger frames (never waiting to merge). The console grants the Jumpoint credit only
for output it has delivered, so a stuck browser holds back only its own session, through the tunnel's
flow control, and never the tunnel or other sessions. Keys from a viewer wait for input credit instead
of being dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web

from console_web.auth.principal import Principal
from console_web.hub.jump import JumpRequest, SessionInfo
from console_web.hub.link import JumpointLink
from jumpoint.core import wire
from jumpoint.core.errors import Forbidden, JumpError, ProtocolViolation
from jumpoint.core.flow import ReceiveWindow, SendWindow

log = logging.getLogger(__name__)

State = Literal["connecting", "connected", "ended"]
VIEWER_SEND_TIMEOUT = 20.0
MERGE_LIMIT = wire.MAX_PAYLOAD
AuditSink = Callable[["LiveSession", str, dict[str, Any]], None]


@dataclass(eq=False, slots=True)
class Viewer:
    """One browser socket attached to a session."""

    ws: web.WebSocketResponse
    principal: Principal
    mode: Literal["owner", "peer", "observer"] = "owner"
    log: logging.LoggerAdapter[logging.Logger] = field(init=False)

    def __post_init__(self) -> None:
        self.log = logging.LoggerAdapter(log, {"participant": self.principal.username})

    @property
    def may_type(self) -> bool:
        """Owners and peers send input; observers' input is ignored."""
        return self.mode != "observer"


class LiveSession:
    """The hub's view of one session: state, viewers, pending prompt, windows and the pump."""

    def __init__(
        self,
        *,
        session_id: str,
        link: JumpointLink,
        jump: JumpRequest,
        owner: Principal,
        audit: AuditSink,
        on_ended: Callable[[LiveSession], None],
    ) -> None:
        self.session_id = session_id
        self.link = link
        self.channel = link.allocate_channel()
        self.jump = jump
        self.owner = owner
        self.state: State = "connecting"
        self.started_at = datetime.now(UTC)
        self.end_reason = ""
        self.error: JumpError | None = None
        self.viewers: list[Viewer] = []
        self._audit = audit
        self._on_ended = on_ended
        self._queue: deque[bytes | str] = deque()
        self._queued_bytes = 0
        self._wakeup = asyncio.Event()
        self._out_window = ReceiveWindow(wire.INITIAL_WINDOW)
        self._in_window = SendWindow(wire.INITIAL_WINDOW)
        self._input_lock = asyncio.Lock()
        self._pending_prompt: dict[str, Any] | None = None
        self._ever_attached = False
        self._pump_task: asyncio.Task[None] | None = None
        self._ended = asyncio.Event()
        self.log = logging.LoggerAdapter(log, {"session_id": session_id, "user": owner.username})

    # --- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Ask the Jumpoint to open the session and start delivering to viewers."""
        self.link.sessions[self.channel] = self
        self._pump_task = asyncio.create_task(self._pump(), name=f"pump-{self.session_id}")
        try:
            opening = wire.Open(session_id=self.session_id, target=self.jump.target)
            await self.link.send(wire.encode_control(self.channel, opening))
        except JumpError as exc:
            self.fail(exc)
            raise

    def info(self) -> SessionInfo:
        """The session as the API reports it."""
        return SessionInfo(
            session_id=self.session_id,
            item_id=self.jump.item_id,
            item_name=self.jump.item_name,
            owner_user_id=self.owner.user_id,
            jumpoint_id=self.jump.jumpoint_id,
            protocol=self.jump.target.protocol,
            state=self.state,
            started_at=self.started_at.isoformat(),
        )

    def describe(self) -> dict[str, Any]:
        """What the browser shows in its status bar."""
        t = self.jump.target
        return {
            "id": self.session_id,
            "item_name": self.jump.item_name,
            "protocol": t.protocol,
            "hostname": t.hostname,
            "port": t.port,
            "username": t.username,
        }

    def may_view(self, principal: Principal) -> bool:
        """Only the owner attaches in this version; admins may see and end any session through the API."""
        return principal.user_id == self.owner.user_id

    async def end(self, by: Principal | None, reason: str) -> None:
        """End the session for everyone: tell the Jumpoint, then finish once it confirms (or after 5 s)."""
        if self.state == "ended":
            return
        self._audit(self, "session.end_requested", {"by": by.username if by else None, "reason": reason})
        with contextlib.suppress(JumpError):
            await self.link.send(wire.encode_control(self.channel, wire.Close(reason=reason)))
        try:
            async with asyncio.timeout(5):
                await self._ended.wait()
        except TimeoutError:
            self._finish(reason, None)

    def fail(self, error: JumpError) -> None:
        """End the session because of ``error`` (shown to every viewer)."""
        if self.state == "ended":
            return
        if not self.link.closed:
            frame = wire.encode_control(self.channel, wire.Close(reason=error.message[:4096]))
            task = asyncio.get_running_loop().create_task(self.link.send(frame))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._finish(error.message, error)

    def _finish(self, reason: str, error: JumpError | None) -> None:
        if self.state == "ended":
            return
        self.state = "ended"
        self.end_reason = reason
        self.error = error
        self.link.sessions.pop(self.channel, None)
        self._in_window.close()
        if error is not None:
            self._enqueue_json({"t": "error", "error": error.to_dict()})
        self._pending_prompt = None
        self._enqueue_state()
        self._ended.set()
        self._audit(
            self,
            "session.ended",
            {"reason": reason, "error_code": error.code if error else None},
        )
        self._on_ended(self)

    # --- from the Jumpoint -----------------------------------------------------------------------
    def on_output(self, data: bytes) -> None:
        """Terminal output: queued for the pump (never blocks the tunnel reader)."""
        self._out_window.received(len(data))
        self._queue.append(data)
        self._queued_bytes += len(data)
        self._wakeup.set()

    def on_credit(self, grant: int) -> None:
        """The Jumpoint consumed keys and granted more input credit."""
        self._in_window.grant(grant)

    def on_control(self, msg: wire.ControlMessage) -> None:
        """Session events from the Jumpoint."""
        if isinstance(msg, wire.HostKeyPrompt | wire.TextPrompt):
            self._pending_prompt = msg.model_dump(mode="json")
            self._enqueue_json(self._pending_prompt)
        elif isinstance(msg, wire.Connected):
            self.state = "connected"
            self._audit(self, "session.connected", {})
            self._enqueue_state()
        elif isinstance(msg, wire.ResizeMsg | wire.TitleMsg | wire.BellMsg | wire.NoticeMsg):
            if isinstance(msg, wire.NoticeMsg):
                self._audit(self, f"session.notice.{msg.kind}", {"text": msg.text})
            self._enqueue_json(msg.model_dump(mode="json"))
        elif isinstance(msg, wire.EchoMsg):
            pass  # consumed by the recorder (issue 3); browsers do not need it
        elif isinstance(msg, wire.Closed):
            error = JumpError.from_dict(msg.error.model_dump()) if msg.error else None
            self._finish(msg.reason or "the session ended", error)
        else:
            raise ProtocolViolation(f"unexpected {msg.t!r} message from the Jumpoint on a session channel")

    # --- from viewers ----------------------------------------------------------------------------
    def attach(self, viewer: Viewer) -> None:
        """Add a browser socket: it gets the current state and any pending prompt, then the live stream."""
        self.viewers.append(viewer)
        viewer.log.info("attached to session %s", self.session_id)
        self._wakeup.set()
        if not self._ever_attached:
            # the first browser gets everything queued since the Jump started, in order
            self._ever_attached = True
            return
        initial = [self._state_message()]
        if self._pending_prompt is not None:
            initial.append(self._pending_prompt)
        if self.error is not None:
            initial.insert(0, {"t": "error", "error": self.error.to_dict()})
        for item in initial:
            self._send_later(viewer, wire.dumps_json(item))

    def detach(self, viewer: Viewer) -> None:
        """Remove a browser socket; the session goes on."""
        with contextlib.suppress(ValueError):
            self.viewers.remove(viewer)

    async def send_keys(self, viewer: Viewer, data: bytes) -> None:
        """Forward keys within the input window; waits (never drops) when the target is slow."""
        if not viewer.may_type or self.state == "ended":
            return
        async with self._input_lock:
            view = memoryview(data)
            while view:
                n = await self._in_window.acquire(len(view))
                await self.link.send(wire.encode_data(self.channel, bytes(view[:n])))
                view = view[n:]

    async def resize(self, viewer: Viewer, cols: int, rows: int) -> None:
        """The owner's terminal size drives the remote PTY."""
        if viewer.mode != "owner" or self.state == "ended":
            return
        await self.link.send(wire.encode_control(self.channel, wire.ResizeMsg(cols=cols, rows=rows)))

    async def answer(self, viewer: Viewer, answer: wire.HostKeyAnswer | wire.TextAnswer) -> None:
        """Forward the owner's answer to the pending prompt."""
        if viewer.mode != "owner":
            raise Forbidden("only the session owner answers prompts")
        pending = self._pending_prompt
        if pending is None or pending["id"] != answer.id:
            raise ProtocolViolation(f"prompt {answer.id} is not pending")
        expected = "prompt_host_key" if isinstance(answer, wire.HostKeyAnswer) else "prompt_text"
        if pending["t"] != expected:
            raise ProtocolViolation(f"prompt {answer.id} needs a {pending['t'].replace('prompt_', '')} answer")
        self._pending_prompt = None
        if isinstance(answer, wire.HostKeyAnswer):
            self._audit(
                self,
                "session.host_key_decision",
                {"decision": answer.decision, "host": pending["host"], "port": pending["port"], **pending["key"]},
            )
        await self.link.send(wire.encode_control(self.channel, answer))
        self._enqueue_json({"t": "prompt_done", "id": answer.id})

    # --- delivery --------------------------------------------------------------------------------
    def _state_message(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"t": "state", "state": self.state, "session": self.describe()}
        if self.state == "ended":
            msg["reason"] = self.end_reason
        return msg

    def _enqueue_state(self) -> None:
        self._enqueue_json(self._state_message())

    def _enqueue_json(self, msg: dict[str, Any]) -> None:
        self._queue.append(wire.dumps_json(msg))
        self._wakeup.set()

    def _send_later(self, viewer: Viewer, text: str) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(viewer, text))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _pump(self) -> None:
        queue = self._queue
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            if not self.viewers:
                # Hold output until someone watches: nothing is lost between the Jump and the browser attaching
                # (or across a page reload), and the queue stays bounded because no credit is granted meanwhile.
                continue
            while queue and self.viewers:
                item = queue.popleft()
                if isinstance(item, bytes):
                    if queue and isinstance(queue[0], bytes) and len(item) < MERGE_LIMIT:
                        parts = [item]
                        size = len(item)
                        while queue and isinstance(queue[0], bytes) and size + len(queue[0]) <= MERGE_LIMIT:
                            nxt = queue.popleft()
                            assert isinstance(nxt, bytes)
                            parts.append(nxt)
                            size += len(nxt)
                        item = b"".join(parts)
                    self._queued_bytes -= len(item)
                for viewer in tuple(self.viewers):
                    await self._deliver(viewer, item)
                if isinstance(item, bytes):
                    grant = self._out_window.consumed(len(item))
                    if grant and self.state != "ended":
                        with contextlib.suppress(JumpError):
                            await self.link.send(wire.encode_credit(self.channel, grant))
            if self.state == "ended" and not queue and self.viewers:
                for viewer in tuple(self.viewers):
                    with contextlib.suppress(Exception):
                        await viewer.ws.close(code=1000, message=b"session ended")
                return

    async def _deliver(self, viewer: Viewer, item: bytes | str) -> None:
        if viewer.ws.closed:
            self.detach(viewer)
            return
        try:
            async with asyncio.timeout(VIEWER_SEND_TIMEOUT):
                if isinstance(item, bytes):
                    await viewer.ws.send_bytes(item)
                else:
                    await viewer.ws.send_str(item)
        except (TimeoutError, ConnectionError, RuntimeError) as exc:
            viewer.log.warning("dropping a viewer that could not keep up: %s", exc.__class__.__name__)
            self.detach(viewer)
            with contextlib.suppress(Exception):
                await viewer.ws.close(code=1013, message=b"too slow")

    def stop_pump(self) -> None:
        """Cancel the pump (console shutdown)."""
        if self._pump_task is not None:
            self._pump_task.cancel()

