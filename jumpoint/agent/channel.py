"""One session on the Jumpoint: an adapter connection bridged to one tunnel channel.

The runner connects through the adapter (relaying host-key and login prompts to the console), then pumps
output events to the tunnel within the channel's send window and input from the tunnel to the target.
Every failure becomes a ``closed`` message carrying a JumpError: the console shows it, other channels go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from jumpoint.agent.desktop_stream import DesktopStream
from jumpoint.agent.metrics import JumpointMetrics
from jumpoint.core import wire
from jumpoint.core.adapter import (
    AdapterContext,
    Connection,
    PromptField,
    ProtocolAdapter,
    Target,
    is_desktop,
)
from jumpoint.core.credentials import CredentialSource
from jumpoint.core.errors import (
    Cancelled,
    InternalError,
    JumpError,
    ProtocolViolation,
    TargetClosed,
    TargetProtocolError,
    TargetTimeout,
)
from jumpoint.core.events import Bell, EchoChanged, Keys, Notice, Output, Resize, Title
from jumpoint.core.flow import ReceiveWindow, SendWindow
from jumpoint.core.hostkeys import HostKey, HostKeyDecision, HostKeyStore
from jumpoint.core.secret import Secret

log = logging.getLogger(__name__)

SendFrame = Callable[[bytes], Awaitable[None]]
MAX_PROMPT_FIELDS = 16
"""The most questions one text prompt relays to the rep (``wire.TextPrompt.fields``)."""
SessionState = Literal["connecting", "connected"]


class ChannelRunner:
    """Runs one session: owns its adapter connection, its windows and its pending prompts.

    ``state`` is ``connecting`` until the target is reached, then ``connected``; ``on_change`` (if given) is called
    when it changes. With ``metrics``, the runner counts its Jump (result and latency, the latter without the time
    spent waiting for the rep's answers), its bytes both ways and the rep's host-key decisions.
    """

    def __init__(
        self,
        channel: int,
        open_msg: wire.Open,
        *,
        adapter: ProtocolAdapter,
        send_frame: SendFrame,
        host_keys: HostKeyStore,
        credentials: CredentialSource | None,
        prompt_timeout: float = 300.0,
        metrics: JumpointMetrics | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.channel = channel
        self.session_id = open_msg.session_id
        self.target: Target = open_msg.target
        self.protocol: str = open_msg.target.protocol
        self.state: SessionState = "connecting"
        self.started_at = time.time()
        self.metrics = metrics
        self._on_change = on_change
        self._opened = time.monotonic()
        self._waited = 0.0  # seconds spent waiting for the rep's answers to prompts
        self._abort_reason: str | None = None
        self._adapter = adapter
        self._send_frame = send_frame
        self._host_keys = host_keys
        self._credentials = credentials
        self._prompt_timeout = prompt_timeout
        self._out_window = SendWindow(wire.INITIAL_WINDOW)
        self._in_window = ReceiveWindow(wire.INITIAL_WINDOW)
        # Input waiting for the target: the keys in arrival order (at most the input window, which the console
        # must respect) and only the latest terminal size (a resize replaces one not yet applied).
        self._pending_keys = bytearray()
        self._pending_size: Resize | None = None
        self._input_ready = asyncio.Event()
        self._prompts: dict[int, asyncio.Future[wire.HostKeyAnswer | wire.TextAnswer]] = {}
        self._prompt_ids = itertools.count(1)
        self._conn: Connection | None = None
        self._closed = False
        self.log = logging.LoggerAdapter(
            log, {"session_id": self.session_id, "target": f"{self.target.hostname}:{self.target.port}"}
        )

    @property
    def connection(self) -> Connection | None:
        """The adapter's connection once logged in (file transfers run on it), else None."""
        return None if self._closed else self._conn

    # --- frames from the console -----------------------------------------------------------------
    def on_data(self, payload: bytes) -> None:
        """Keys from the console; never blocks. They wait for the target in one buffer that the input window
        bounds: a console that sends past the window gets ProtocolViolation."""
        self._in_window.received(len(payload))
        if self.metrics is not None:
            self.metrics.session_bytes.inc(len(payload), protocol=self.protocol, direction="to_target")
        self._pending_keys += payload
        self._input_ready.set()

    def on_credit(self, grant: int) -> None:
        """The console consumed output and granted more."""
        self._out_window.grant(grant)

    def on_control(self, msg: wire.ControlMessage) -> None:
        """Answers, resize and close from the console.

        A resize takes one slot whatever the console sends: only the latest size not yet applied is kept, so a
        flood of resizes (while a prompt is open, or while the target reads slowly) costs no memory and reaches
        the target as one size change.
        """
        if isinstance(msg, wire.HostKeyAnswer | wire.TextAnswer):
            fut = self._prompts.get(msg.id)
            if fut is None or fut.done():
                self.log.info("ignoring an answer to prompt %s, which is not pending", msg.id)
                return
            fut.set_result(msg)
        elif isinstance(msg, wire.ResizeMsg):
            self._pending_size = Resize(msg.cols, msg.rows)
            self._input_ready.set()
        elif isinstance(msg, wire.Close):
            self.log.info("console closed the session: %s", msg.reason or "no reason given")
            self.abort()
        else:
            raise ProtocolViolation(f"unexpected {msg.t!r} message on a session channel")

    def abort(self, reason: str | None = None) -> None:
        """Stop the session now (console request, tunnel loss or shutdown); ``reason`` replaces the one the
        ``closed`` message would give."""
        if reason is not None and self._abort_reason is None:
            self._abort_reason = reason
        if self._closed:
            return
        self._closed = True
        self._input_ready.set()
        self._out_window.close()
        if self._conn is not None:
            # closing the connection ends its events() iterator, so run() finishes and reports "closed" now
            task = asyncio.get_running_loop().create_task(self._conn.close())
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        for fut in self._prompts.values():
            if not fut.done():
                fut.set_exception(Cancelled("the session was closed"))

    # --- the session -----------------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, pump both ways, and always end with a ``closed`` message.

        A session closed on request (:meth:`abort`: the console's ``close``, tunnel loss, shutdown) ends without an
        error even when the close interrupted output waiting for credit; any other failure is the ``closed``
        message's error.
        """
        error: JumpError | None = None
        reason = "the target closed the session"
        try:
            ctx = AdapterContext(
                session_id=self.session_id,
                host_keys=self._host_keys,
                prompter=_TunnelPrompter(self),
                credentials=self._credentials,
                log=self.log,
            )
            connection = await self._adapter.connect(self.target, ctx)
            self._conn = DesktopStream(connection, self.target.quality) if is_desktop(connection) else connection
            if self._closed:
                raise Cancelled("the session was closed while connecting")
            await self._control(wire.Connected())
            self._connected()
            reason = await self._pump(self._conn)
        except TargetClosed as exc:
            if self._closed:
                # abort() closed the windows and the connection: output held back by flow control ends this way
                reason = "the session was ended"
            else:
                error = exc
                reason = exc.message
                self.log.info("session failed: %s (%s)", exc.message, exc.code)
        except JumpError as exc:
            error = exc
            reason = exc.message
            self.log.info("session failed: %s (%s)", exc.message, exc.code)
        except Exception:
            self.log.exception("session failed unexpectedly")
            error = InternalError("the Jumpoint failed while running this session; its log has the details")
            reason = error.message
        finally:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    await self._conn.close()
            self.abort()
        if self.state == "connecting" and self.metrics is not None:
            result = error.code if error is not None else "closed"
            self.metrics.jumps.inc(protocol=self.protocol, result=result)
        if self._abort_reason is not None:
            reason = self._abort_reason
        body = wire.ErrorBody(**error.to_dict()) if error is not None else None
        with contextlib.suppress(Exception):
            await self._control(wire.Closed(reason=reason[:4096], error=body))

    def _connected(self) -> None:
        self.state = "connected"
        latency = time.monotonic() - self._opened - self._waited
        self.log.info("connected in %.3f s (without %.1f s waiting for answers)", latency, self._waited)
        if self.metrics is not None:
            self.metrics.jumps.inc(protocol=self.protocol, result="connected")
            self.metrics.jump_seconds.observe(max(0.0, latency), protocol=self.protocol)
        if self._on_change is not None:
            self._on_change()

    async def notice(self, kind: str, text: str) -> None:
        """Put a system event in the session's timeline (every participant sees it); never raises."""
        try:
            await self._control(wire.NoticeMsg(kind=kind[:64], text=text[:4096]))
        except Exception as exc:
            self.log.info("could not send a notice: %s", exc)

    async def _pump(self, conn: Connection) -> str:
        inbound = asyncio.create_task(self._pump_input(conn))
        try:
            async for event in conn.events():
                if self._closed:
                    return "the session was ended"
                if isinstance(event, Output):
                    await self._send_output(event.data)
                elif isinstance(event, Resize):
                    await self._control(wire.ResizeMsg(cols=event.cols, rows=event.rows))
                elif isinstance(event, Title):
                    await self._control(wire.TitleMsg(text=event.text[:4096]))
                elif isinstance(event, Bell):
                    await self._control(wire.BellMsg())
                elif isinstance(event, EchoChanged):
                    await self._control(wire.EchoMsg(echo=event.echo))
                elif isinstance(event, Notice):
                    await self._control(wire.NoticeMsg(kind=event.kind, text=event.text[:4096], subject=event.subject))
            return "the session was ended" if self._closed else "the target closed the session"
        finally:
            inbound.cancel()
            with contextlib.suppress(asyncio.CancelledError, JumpError):
                await inbound

    async def _send_output(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = await self._out_window.acquire(min(len(view), wire.MAX_PAYLOAD))
            await self._send_frame(wire.encode_data(self.channel, bytes(view[:n])))
            if self.metrics is not None:
                self.metrics.session_bytes.inc(n, protocol=self.protocol, direction="from_target")
            view = view[n:]

    async def _pump_input(self, conn: Connection) -> None:
        """Hand pending input to the target until the session closes: a pending size first, then every key
        received so far in one piece; the console gets credit back for the keys handed on, and a ``resize`` for a
        size a terminal applied (a desktop ignores terminal sizes)."""
        while not self._closed:
            if self._pending_size is None and not self._pending_keys:
                self._input_ready.clear()
                await self._input_ready.wait()
                continue
            size, self._pending_size = self._pending_size, None
            if size is not None:
                await conn.send(size)
                if conn.kind == "terminal":
                    # the console's screen, the recording and the other participants follow the size applied
                    await self._control(wire.ResizeMsg(cols=size.cols, rows=size.rows))
            if self._pending_keys:
                data = bytes(self._pending_keys)
                self._pending_keys.clear()
                await conn.send(Keys(data))
                grant = self._in_window.consumed(len(data))
                if grant:
                    await self._send_frame(wire.encode_credit(self.channel, grant))

    async def _control(self, msg: Any) -> None:
        await self._send_frame(wire.encode_control(self.channel, msg))

    async def ask(self, prompt: wire.HostKeyPrompt | wire.TextPrompt) -> wire.HostKeyAnswer | wire.TextAnswer:
        """Send a prompt to the console and wait for the owner's answer (or time out)."""
        fut: asyncio.Future[wire.HostKeyAnswer | wire.TextAnswer] = asyncio.get_running_loop().create_future()
        self._prompts[prompt.id] = fut
        asked = time.monotonic()
        try:
            await self._control(prompt)
            async with asyncio.timeout(self._prompt_timeout):
                return await fut
        except TimeoutError:
            raise TargetTimeout(
                f"nobody answered the prompt within {self._prompt_timeout:.0f} seconds",
                hint="Jump again and answer the prompt",
            ) from None
        finally:
            del self._prompts[prompt.id]
            self._waited += time.monotonic() - asked

    def next_prompt_id(self) -> int:
        """A fresh prompt id for this channel."""
        return next(self._prompt_ids)


class _TunnelPrompter:
    """The adapter's Prompter: questions travel to the console, answers come back."""

    def __init__(self, runner: ChannelRunner) -> None:
        self._runner = runner

    async def ask_host_key(
        self, host: str, port: int, key: HostKey, *, known: tuple[HostKey, ...] = ()
    ) -> HostKeyDecision:
        prompt = wire.HostKeyPrompt(
            id=self._runner.next_prompt_id(),
            host=host,
            port=port,
            key=wire.HostKeyInfo(algorithm=key.algorithm, fingerprint=key.fingerprint),
        )
        answer = await self._runner.ask(prompt)
        if not isinstance(answer, wire.HostKeyAnswer):
            raise ProtocolViolation("a host-key prompt was answered with text")
        if self._runner.metrics is not None:
            self._runner.metrics.host_key_decisions.inc(decision=answer.decision)
        return answer.decision

    async def ask_text(self, title: str, instruction: str, fields: list[PromptField]) -> list[Secret]:
        """Relay the target's questions to the rep; TargetProtocolError (the target's fault) when there are more
        than :data:`MAX_PROMPT_FIELDS` of them or they do not fit one control message."""
        if len(fields) > MAX_PROMPT_FIELDS:
            raise TargetProtocolError(
                f"the server asked {len(fields)} questions; at most {MAX_PROMPT_FIELDS} are supported",
                hint="configure the server to ask fewer questions at a time (its keyboard-interactive or PAM setup)",
            )
        prompt = wire.TextPrompt(
            id=self._runner.next_prompt_id(),
            title=title[:4096],
            instruction=instruction[:4096],
            fields=[wire.PromptFieldMsg(text=f.text[:1024], echo=f.echo) for f in fields],
        )
        size = len(prompt.model_dump_json(exclude_none=True).encode())
        if size > wire.MAX_PAYLOAD:
            raise TargetProtocolError(
                f"the server's questions take {size} bytes to relay; at most {wire.MAX_PAYLOAD} are supported",
                hint="configure the server to ask shorter questions (its keyboard-interactive or PAM setup)",
            )
        answer = await self._runner.ask(prompt)
        if not isinstance(answer, wire.TextAnswer):
            raise ProtocolViolation("a text prompt was answered with a host-key decision")
        if answer.cancelled:
            raise Cancelled("the rep cancelled the login prompt")
        if len(answer.answers) != len(fields):
            raise ProtocolViolation(f"expected {len(fields)} answers, got {len(answer.answers)}")
        return [Secret(a) for a in answer.answers]
