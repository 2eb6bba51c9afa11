"""The Jumpoint's one outbound, authenticated, multiplexed WebSocket to the console.

:class:`TunnelClient` connects, says hello, and then serves the console's requests: each ``open`` starts a
:class:`~jumpoint.agent.channel.ChannelRunner` on its own channel. It reconnects with exponential back-off
and full jitter; sessions cannot outlive their tunnel, so a lost tunnel ends them with a clear message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import aiohttp

from credential_store.stores import CredentialStores
from jumpoint.agent.channel import ChannelRunner
from jumpoint.agent.file_channel import FileRunner
from jumpoint.agent.requests import TunnelRequests
from jumpoint.core import wire
from jumpoint.core.adapter import ProtocolAdapter
from jumpoint.core.errors import BadRequest, Busy, JumpError, ProtocolViolation, Unauthorized
from jumpoint.core.hostkeys import HostKeyStore

log = logging.getLogger(__name__)

AGENT = "openjump-jumpoint/0.1.0"


@dataclass(slots=True)
class TunnelSettings:
    """How to reach the console and how to behave on the tunnel."""

    console_url: str
    token: str
    ssl: ssl.SSLContext | aiohttp.Fingerprint | bool = True
    heartbeat_seconds: float = 15.0
    reconnect_min_seconds: float = 1.0
    reconnect_max_seconds: float = 60.0
    max_sessions: int = 1000
    prompt_timeout_seconds: float = 300.0
    hostname: str = field(default_factory=socket.gethostname)


@dataclass(slots=True)
class TunnelStatus:
    """What ``jumpoint status`` and health checks report."""

    connected: bool = False
    since: float | None = None
    jumpoint_name: str | None = None
    reconnects: int = 0
    last_error: str | None = None


class TunnelClient:
    """Keeps the tunnel up and runs sessions over it until :meth:`stop`."""

    def __init__(
        self,
        settings: TunnelSettings,
        *,
        adapters: Mapping[str, ProtocolAdapter],
        host_keys: HostKeyStore,
        credentials: CredentialStores | None,
    ) -> None:
        self.settings = settings
        self.status = TunnelStatus()
        self._adapters = adapters
        self._host_keys = host_keys
        self._credentials = credentials
        self._requests = TunnelRequests(host_keys, credentials, self._send)
        self._runners: dict[int, ChannelRunner | FileRunner] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._connected = asyncio.Event()

    async def wait_connected(self) -> None:
        """Return once the console has welcomed us (for the all-in-one start-up and tests)."""
        await self._connected.wait()

    async def run(self) -> None:
        """Connect, serve, reconnect with back-off; return after :meth:`stop`."""
        attempt = 0
        async with aiohttp.ClientSession() as http:
            while not self._stopping.is_set():
                try:
                    await self._serve_once(http)
                    attempt = 0
                except Unauthorized as exc:
                    self.status.last_error = exc.message
                    log.error("the console refused this Jumpoint's token: %s", exc.message)
                except (aiohttp.ClientError, OSError, TimeoutError, JumpError) as exc:
                    self.status.last_error = str(exc) or exc.__class__.__name__
                    log.warning("tunnel to %s failed: %s", self.settings.console_url, self.status.last_error)
                finally:
                    self._connected.clear()
                    self.status.connected = False
                    self._requests.close()
                    self._end_all_sessions()
                if self._stopping.is_set():
                    break
                attempt += 1
                self.status.reconnects += 1
                delay = random.uniform(  # full jitter
                    0, min(self.settings.reconnect_max_seconds, self.settings.reconnect_min_seconds * 2**attempt)
                )
                log.info("reconnecting in %.1f s", delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)

    async def stop(self) -> None:
        """Close the tunnel and end every session."""
        self._stopping.set()
        self._requests.close()
        self._end_all_sessions()
        if self._ws is not None:
            await self._ws.close()
        if self._credentials is not None:
            await self._credentials.aclose()

    @property
    def active_sessions(self) -> int:
        """How many sessions run now (file transfers not counted)."""
        return sum(isinstance(r, ChannelRunner) for r in self._runners.values())

    # --- one connection --------------------------------------------------------------------------
    async def _serve_once(self, http: aiohttp.ClientSession) -> None:
        url = self.settings.console_url.rstrip("/") + "/api/v1/jumpoint/tunnel"
        url = url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        try:
            ws = await http.ws_connect(
                url,
                headers={"Authorization": f"Bearer {self.settings.token}"},
                heartbeat=self.settings.heartbeat_seconds,
                max_msg_size=wire.WS_MAX_MSG_SIZE,
                ssl=self.settings.ssl,
                timeout=aiohttp.ClientWSTimeout(ws_close=10),
            )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 401:
                raise Unauthorized("the Jumpoint token was refused; register again") from None
            raise
        self._ws = ws
        try:
            hello = wire.Hello(
                version=wire.PROTOCOL_VERSION,
                agent=AGENT,
                hostname=self.settings.hostname[:4096],
                protocols=sorted(self._adapters),
            )
            await ws.send_bytes(wire.encode_control(0, hello))
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.BINARY:
                    log.warning("ignoring a non-binary tunnel message of type %s", msg.type)
                    continue
                await self._dispatch(msg.data)
        finally:
            self._ws = None
            await ws.close()

    async def _send(self, frame: bytes) -> None:
        ws = self._ws
        if ws is None or ws.closed:
            raise ProtocolViolation("the tunnel is closed")
        await ws.send_bytes(frame)

    async def _dispatch(self, frame: bytes) -> None:
        try:
            kind, channel = wire.decode_header(frame)
        except ProtocolViolation as exc:
            log.warning("dropping a malformed tunnel frame: %s", exc.message)
            return
        payload = memoryview(frame)[wire.HEADER.size :]
        runner = self._runners.get(channel)
        try:
            if kind == wire.FRAME_DATA:
                if runner is not None:
                    runner.on_data(bytes(payload))
            elif kind == wire.FRAME_CREDIT:
                if runner is not None:
                    runner.on_credit(wire.decode_credit(payload))
            else:
                msg = wire.decode_control(payload)
                if channel == 0:
                    await self._on_tunnel_control(msg)
                elif isinstance(msg, wire.Open):
                    await self._open(channel, msg)
                elif isinstance(msg, wire.FileOpen):
                    await self._open_files(channel, msg)
                elif runner is not None:
                    runner.on_control(msg)
        except ProtocolViolation as exc:
            log.warning("protocol violation on channel %d: %s", channel, exc.message)
            if runner is not None:
                runner.abort()

    async def _on_tunnel_control(self, msg: wire.ControlMessage) -> None:
        if isinstance(msg, wire.Welcome):
            self.status.connected = True
            self.status.since = asyncio.get_running_loop().time()
            self.status.jumpoint_name = msg.name
            self.status.last_error = None
            self._connected.set()
            log.info("connected to the console as Jumpoint %r", msg.name)
        elif isinstance(msg, wire.Request):
            self._requests.submit(msg)
        else:
            raise ProtocolViolation(f"unexpected {msg.t!r} message on the tunnel channel")

    async def _open(self, channel: int, msg: wire.Open) -> None:
        error: JumpError | None = None
        adapter = self._adapters.get(msg.target.protocol)
        if channel in self._runners:
            error = ProtocolViolation(f"channel {channel} is already in use")
        elif adapter is None:
            error = BadRequest(f"this Jumpoint has no {msg.target.protocol!r} adapter installed")
        elif self.active_sessions >= self.settings.max_sessions:
            error = Busy(f"this Jumpoint already runs {len(self._runners)} sessions, its limit")
        if error is not None:
            closed = wire.Closed(reason=error.message, error=wire.ErrorBody(**error.to_dict()))
            await self._send(wire.encode_control(channel, closed))
            return
        assert adapter is not None
        runner = ChannelRunner(
            channel,
            msg,
            adapter=adapter,
            send_frame=self._send,
            host_keys=self._host_keys,
            credentials=self._credentials,
            prompt_timeout=self.settings.prompt_timeout_seconds,
        )
        self._runners[channel] = runner
        task = asyncio.create_task(runner.run(), name=f"session-{msg.session_id}")
        self._tasks.add(task)
        task.add_done_callback(self._forget(channel, task))

    async def _open_files(self, channel: int, msg: wire.FileOpen) -> None:
        """Start a file operation on the live session of ``msg.session_channel``."""
        session = self._runners.get(msg.session_channel)
        connection = session.connection if isinstance(session, ChannelRunner) else None
        error: JumpError | None = None
        if channel in self._runners:
            error = ProtocolViolation(f"channel {channel} is already in use")
        elif connection is None:
            error = BadRequest("the session is not connected, so its files cannot be reached")
        if error is not None:
            closed = wire.Closed(reason=error.message, error=wire.ErrorBody(**error.to_dict()))
            await self._send(wire.encode_control(channel, closed))
            return
        runner = FileRunner(channel, msg, connection=connection, send_frame=self._send)
        self._runners[channel] = runner
        task = asyncio.create_task(runner.run(), name=f"files-{channel}")
        self._tasks.add(task)
        task.add_done_callback(self._forget(channel, task))

    def _forget(self, channel: int, task: asyncio.Task[None]) -> Callable[[asyncio.Task[None]], None]:
        def done(_: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            self._runners.pop(channel, None)

        return done

    def _end_all_sessions(self) -> None:
        for runner in list(self._runners.values()):
            runner.abort()
