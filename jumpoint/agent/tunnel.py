"""The Jumpoint's one outbound, authenticated, multiplexed WebSocket to the console.

:class:`TunnelClient` connects, says hello, and then serves the console's requests: each ``open`` starts a
:class:`~jumpoint.agent.channel.ChannelRunner` on its own channel. It reconnects with exponential back-off
and full jitter; sessions cannot outlive their tunnel, so a lost tunnel ends them with a clear message.

A graceful stop is :meth:`TunnelClient.drain`: new Jumps are refused ("the Jumpoint is shutting down"), every
running session gets a notice in its timeline, sessions have a drain time to end on their own, the rest are
closed (each with its ``closed`` message, so the console ends its recording cleanly), and the tunnel closes.
Whoever publishes the Jumpoint's state (the status file, systemd, the health port) registers with
:meth:`TunnelClient.add_listener` and reads :attr:`TunnelClient.status` and :meth:`TunnelClient.sessions`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import aiohttp

from credential_store.stores import CredentialStores
from jumpoint.agent.channel import ChannelRunner
from jumpoint.agent.file_channel import FileRunner
from jumpoint.agent.hostkey_store import FileHostKeyStore
from jumpoint.agent.hostkey_sync import ClusterHostKeys
from jumpoint.agent.metrics import JumpointMetrics, LabelValues, MeteredHostKeyStore
from jumpoint.agent.requests import TunnelRequests
from jumpoint.core import wire
from jumpoint.core.adapter import ProtocolAdapter
from jumpoint.core.errors import BadRequest, Busy, JumpError, JumpointUnavailable, ProtocolViolation, Unauthorized
from jumpoint.core.hostkeys import HostKeyStore

log = logging.getLogger(__name__)

AGENT = "openjump-jumpoint/0.1.0"
SHUTTING_DOWN = "the Jumpoint is shutting down"
CLOSE_GRACE_SECONDS = 5.0  # how long closed sessions get to send their last messages before the tunnel closes


RESTART_RETRY_SECONDS = 60.0
_ENDED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)


def _why_ended(ws: aiohttp.ClientWebSocketResponse, last: aiohttp.WSMessage) -> str:
    """Why a tunnel ended, for the log and ``status.last_error``: the console's close code and reason, or the
    error that cut it."""
    if last.type == aiohttp.WSMsgType.CLOSE:
        reason = str(last.extra or "").strip()[:200]
        return f"the console closed the tunnel (code {last.data}" + (f": {reason})" if reason else ")")
    error = ws.exception() or (last.data if isinstance(last.data, BaseException) else None)
    detail = f": {str(error) or error.__class__.__name__}" if error is not None else ""
    return f"the tunnel to the console was lost (code {ws.close_code}){detail}"


def reconnect_delay(attempt: int, min_seconds: float, max_seconds: float, console_restarting: bool) -> float:
    """How long to wait before reconnect ``attempt`` (1, 2, ...): exponential back-off with full jitter, from
    ``min_seconds`` up to ``max_seconds``. While the console said it is going away (a restart, or one node of several
    stopping) the wait stays at most twice ``min_seconds``, so the tunnel is back within seconds of the console (or
    another node) listening again; the jitter still spreads many Jumpoints' attempts."""
    cap = min_seconds * 2 if console_restarting else min(max_seconds, min_seconds * 2**attempt)
    return random.uniform(0, min(cap, max_seconds))


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
    stable_seconds: float = 30.0
    """How long a tunnel must stay up after ``welcome`` for the back-off to start again from the minimum."""


@dataclass(slots=True)
class TunnelStatus:
    """What ``jumpoint status`` and health checks report.

    ``since`` is the event loop's clock at the last welcome; ``changed_at`` is the wall-clock time (``time.time()``)
    the tunnel last came up or went down (or the client started); ``draining`` is set by :meth:`TunnelClient.drain`.
    """

    connected: bool = False
    since: float | None = None
    changed_at: float = field(default_factory=time.time)
    jumpoint_name: str | None = None
    jumpoint_id: int | None = None
    reconnects: int = 0
    last_error: str | None = None
    draining: bool = False
    ever_connected: bool = False


@dataclass(frozen=True, slots=True)
class SessionView:
    """One running session as the status file shows it."""

    session_id: str
    protocol: str
    state: str
    started_at: float
    target: str


class TunnelClient:
    """Keeps the tunnel up and runs sessions over it until :meth:`stop`."""

    def __init__(
        self,
        settings: TunnelSettings,
        *,
        adapters: Mapping[str, ProtocolAdapter],
        host_keys: HostKeyStore,
        credentials: CredentialStores | None,
        metrics: JumpointMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.status = TunnelStatus()
        self.metrics = metrics if metrics is not None else JumpointMetrics()
        self.metrics.sessions.set_function(self._session_counts)
        self._adapters = adapters
        # A file cache is kept equal to the Jumpoint cluster's trusted keys (the console's); any other store (tests)
        # is used as it is.
        self._cluster_keys = (
            ClusterHostKeys(host_keys, report=self._report_saved) if isinstance(host_keys, FileHostKeyStore) else None
        )
        store: HostKeyStore = self._cluster_keys if self._cluster_keys is not None else host_keys
        self._host_keys = MeteredHostKeyStore(store, self.metrics)
        self._credentials = credentials
        self._retired: list[tuple[CredentialStores, set[ChannelRunner]]] = []
        self._requests = TunnelRequests(store, credentials, self._send)
        self._loop: asyncio.AbstractEventLoop | None = None
        # The current tunnel's channels; runners of a lost tunnel move to _retiring until their tasks end, so the
        # next tunnel's channel numbers (the console numbers them from 1 again) are free.
        self._runners: dict[int, ChannelRunner | FileRunner] = {}
        self._retiring: set[ChannelRunner | FileRunner] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._console_restarting_until = 0.0  # loop time until which reconnects are retried without growing back-off
        self._connected = asyncio.Event()
        self._session_ended = asyncio.Event()
        self._hurry = asyncio.Event()
        self._listeners: list[Callable[[], None]] = []
        self._tasks_other: set[asyncio.Task[None]] = set()
        self._welcomed_at: float | None = None  # loop time of the current tunnel's welcome

    async def wait_connected(self) -> None:
        """Return once the console has welcomed us (for the all-in-one start-up and tests)."""
        await self._connected.wait()

    async def run(self) -> None:
        """Connect, serve, reconnect with back-off; return after :meth:`stop`.

        The back-off starts again from the minimum only after a tunnel was welcomed and stayed up for
        ``stable_seconds``: a console that accepts the WebSocket and then closes it (a refused hello, another host
        using the same token) is retried ever more slowly, like one that cannot be reached. Why the tunnel ended
        (the console's close code and reason, or the error) is logged and kept in ``status.last_error``.
        """
        attempt = 0
        self._loop = asyncio.get_running_loop()
        async with aiohttp.ClientSession() as http:
            while not self._stopping.is_set():
                self._welcomed_at = None
                try:
                    await self._serve_once(http)
                except Unauthorized as exc:
                    self.status.last_error = exc.message
                    log.error("the console refused this Jumpoint's token: %s", exc.message)
                except (aiohttp.ClientError, OSError, TimeoutError, JumpError) as exc:
                    self.status.last_error = str(exc) or exc.__class__.__name__
                    log.warning("tunnel to %s failed: %s", self.settings.console_url, self.status.last_error)
                finally:
                    self._connected.clear()
                    if self.status.connected:
                        self.status.changed_at = time.time()
                    self.status.connected = False
                    self.metrics.tunnel_connected.set(0)
                    self._requests.close()
                    if self._cluster_keys is not None:
                        self._cluster_keys.reset()
                    self._end_all_sessions()
                    self._changed()
                welcomed_at = self._welcomed_at
                if welcomed_at is not None and self._loop.time() - welcomed_at >= self.settings.stable_seconds:
                    attempt = 0
                if self._stopping.is_set() or self.status.draining:
                    break
                attempt += 1
                self.status.reconnects += 1
                self.metrics.tunnel_reconnects.inc()
                restarting = asyncio.get_running_loop().time() < self._console_restarting_until
                delay = reconnect_delay(
                    attempt, self.settings.reconnect_min_seconds, self.settings.reconnect_max_seconds, restarting
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
        for stores, _ in self._retired:
            await stores.aclose()
        self._retired.clear()

    async def drain(self, seconds: float) -> None:
        """Stop gracefully: refuse new Jumps, tell every session's participants, wait up to ``seconds`` for the
        sessions to end (less if :meth:`hurry` is called), close the others, then :meth:`stop`.

        File transfers on running sessions still work while draining; console requests are still answered.
        """
        if not self.status.draining:
            self.status.draining = True
            self.metrics.draining.set(1)
            self._changed()
            await self._announce_draining()
            sessions = self._sessions()
            log.info("shutting down: refusing new Jumps; %d session(s) get up to %.0f s to end", len(sessions), seconds)
            if sessions and seconds > 0:
                text = (
                    f"The Jumpoint serving this session is shutting down: the session will be closed in "
                    f"{seconds:.0f} seconds unless it ends first."
                )
                await asyncio.gather(*(runner.notice("shutdown", text) for runner in sessions))
        deadline = asyncio.get_running_loop().time() + seconds
        while self._sessions() and not self._hurry.is_set():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            self._session_ended.clear()
            hurry = asyncio.ensure_future(self._hurry.wait())
            ended = asyncio.ensure_future(self._session_ended.wait())
            try:
                await asyncio.wait((hurry, ended), timeout=left, return_when=asyncio.FIRST_COMPLETED)
            finally:
                hurry.cancel()
                ended.cancel()
        remaining = self._sessions()
        if remaining:
            why = "at once" if self._hurry.is_set() or seconds == 0 else f"after its {seconds:.0f} s drain time"
            log.info("closing %d session(s) still running %s", len(remaining), why)
            for runner in remaining:
                runner.abort(f"{SHUTTING_DOWN}: the session was closed {why}")
            tasks = [t for t in self._tasks if not t.done()]
            if tasks:
                await asyncio.wait(tasks, timeout=CLOSE_GRACE_SECONDS)
        log.info("drained; closing the tunnel")
        await self.stop()

    def hurry(self) -> None:
        """Cut a running :meth:`drain` short: its sessions are closed now."""
        self._hurry.set()

    @property
    def active_sessions(self) -> int:
        """How many sessions run now, those of a lost tunnel still closing included (file transfers not counted)."""
        return len(self._sessions())

    def sessions(self) -> list[SessionView]:
        """The sessions running now, oldest first."""
        return [
            SessionView(
                session_id=r.session_id,
                protocol=r.protocol,
                state=r.state,
                started_at=r.started_at,
                target=f"{r.target.hostname}:{r.target.port}",
            )
            for r in sorted(self._sessions(), key=lambda r: r.started_at)
        ]

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` (on the event loop) whenever the status or the set of sessions changes."""
        self._listeners.append(listener)

    @property
    def credentials(self) -> CredentialStores | None:
        """The credential stores new sessions and requests use."""
        return self._credentials

    def replace_credentials(self, stores: CredentialStores | None) -> None:
        """Use ``stores`` for new sessions and requests; the old stores are closed once every session started
        with them has ended (a login in progress keeps the store it began with)."""
        old, self._credentials = self._credentials, stores
        self._requests.credentials = stores
        if old is not None:
            self._retired.append((old, set(self._sessions())))
            self._close_retired()

    # --- state for listeners and metrics ---------------------------------------------------------------
    def _sessions(self) -> list[ChannelRunner]:
        """Every session still running: the current tunnel's and those of a lost tunnel still closing."""
        runners = [*self._runners.values(), *self._retiring]
        return [r for r in runners if isinstance(r, ChannelRunner)]

    def _session_counts(self) -> dict[LabelValues, float]:
        counts: dict[LabelValues, float] = {(p, s): 0 for p in self._adapters for s in ("connecting", "connected")}
        for runner in self._sessions():
            key = (runner.protocol, runner.state)
            counts[key] = counts.get(key, 0) + 1
        return counts

    def _changed(self) -> None:
        for listener in self._listeners:
            try:
                listener()
            except Exception:
                log.exception("a Jumpoint state listener failed")

    def _close_retired(self) -> None:
        live = set(self._sessions())
        keep: list[tuple[CredentialStores, set[ChannelRunner]]] = []
        for stores, users in self._retired:
            users &= live
            if users:
                keep.append((stores, users))
                continue
            task = asyncio.get_running_loop().create_task(stores.aclose(), name="close-retired-credential-stores")
            self._tasks_other.add(task)
            task.add_done_callback(self._tasks_other.discard)
        self._retired = keep

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
            while True:
                msg = await ws.receive()
                if msg.type == aiohttp.WSMsgType.BINARY:
                    await self._dispatch(ws, msg.data)
                elif msg.type in _ENDED:
                    break
                else:
                    log.warning("ignoring a non-binary tunnel message of type %s", msg.type)
            if not self._stopping.is_set():
                self.status.last_error = _why_ended(ws, msg)
                log.warning("tunnel to %s ended: %s", self.settings.console_url, self.status.last_error)
            if ws.close_code == aiohttp.WSCloseCode.GOING_AWAY:
                # the console (node) is stopping, most likely to restart or behind a load balancer with others
                self._console_restarting_until = asyncio.get_running_loop().time() + RESTART_RETRY_SECONDS
        finally:
            self._ws = None
            await ws.close()

    async def _announce_draining(self) -> None:
        """Tell the console that this member takes no new Jumps (best effort: a Jump it still sends is refused)."""
        try:
            await self._send(wire.encode_control(0, wire.Draining()))
        except (ProtocolViolation, ConnectionError, RuntimeError) as exc:
            log.info("could not tell the console that this Jumpoint is shutting down: %s", exc)

    async def _send(self, frame: bytes) -> None:
        ws = self._ws
        if ws is None or ws.closed:
            raise ProtocolViolation("the tunnel is closed")
        await ws.send_bytes(frame)
        self.metrics.tunnel_bytes.inc(len(frame), direction="sent")

    def _sender(self, ws: aiohttp.ClientWebSocketResponse) -> Callable[[bytes], Awaitable[None]]:
        """A channel's ``send_frame``, bound to the tunnel ``ws`` it was opened on: once that tunnel is gone (even
        when another took its place) its frames are dropped with ProtocolViolation, never sent on the new one."""

        async def send(frame: bytes) -> None:
            if ws is not self._ws or ws.closed:
                raise ProtocolViolation("the tunnel this channel was opened on is closed")
            await ws.send_bytes(frame)
            self.metrics.tunnel_bytes.inc(len(frame), direction="sent")

        return send

    async def _dispatch(self, ws: aiohttp.ClientWebSocketResponse, frame: bytes) -> None:
        self.metrics.tunnel_bytes.inc(len(frame), direction="received")
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
                    await self._open(ws, channel, msg)
                elif isinstance(msg, wire.FileOpen):
                    await self._open_files(ws, channel, msg)
                elif runner is not None:
                    runner.on_control(msg)
        except ProtocolViolation as exc:
            log.warning("protocol violation on channel %d: %s", channel, exc.message)
            if runner is not None:
                runner.abort()

    async def _on_tunnel_control(self, msg: wire.ControlMessage) -> None:
        if isinstance(msg, wire.Welcome):
            self._welcomed_at = asyncio.get_running_loop().time()
            self.status.connected = True
            self.status.ever_connected = True
            self.status.since = asyncio.get_running_loop().time()
            self.status.changed_at = time.time()
            self.status.jumpoint_name = msg.name
            self.status.jumpoint_id = msg.jumpoint_id
            self.status.last_error = None
            self.metrics.tunnel_connected.set(1)
            self._connected.set()
            log.info("connected to the console %s as Jumpoint %r", self.settings.console_url, msg.name)
            self._changed()
            if self.status.draining:  # reconnected while shutting down: the console must not route Jumps here
                await self._announce_draining()
        elif isinstance(msg, wire.Request):
            self._requests.submit(msg)
        elif isinstance(msg, wire.HostKeysSync | wire.HostKeyAdded | wire.HostKeysRemoved):
            await self._apply_host_keys(msg)
        else:
            raise ProtocolViolation(f"unexpected {msg.t!r} message on the tunnel channel")

    # --- the Jumpoint cluster's host keys ---------------------------------------------------------------
    async def _apply_host_keys(self, msg: wire.HostKeysSync | wire.HostKeyAdded | wire.HostKeysRemoved) -> None:
        """Apply the console's host-key message; a local failure (a malformed cache file) is logged, never fatal.

        The file work (the last part of a sync replaces the whole cache: about a second for 100,000 keys) runs in a
        worker thread, so sessions and heartbeats go on meanwhile; the tunnel reader waits for it, so the console's
        messages still apply in order and before the Jumps that follow them.
        """
        if self._cluster_keys is None:
            log.debug("ignoring %s: this Jumpoint's host-key store is not synced", msg.t)
            return
        try:
            if isinstance(msg, wire.HostKeysSync) and msg.more:
                self._cluster_keys.apply(msg)  # a part is only collected
                await asyncio.sleep(0)  # parts that came in a burst leave the loop to the others between them
            else:
                await asyncio.to_thread(self._cluster_keys.apply, msg)
        except JumpError as exc:
            log.error("could not apply the console's %s to the host-key cache: %s", msg.t, exc.message)
        except (OSError, ValueError) as exc:
            log.error("could not apply the console's %s to the host-key cache: %s", msg.t, exc)

    def _report_saved(self, saved: wire.HostKeySaved) -> None:
        """Send the console a key a rep saved here (called by the store, possibly off the event loop)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            log.warning(
                "the key of %s:%d was saved before the tunnel ran; the console was not told", saved.host, saved.port
            )
            return
        loop.call_soon_threadsafe(self._spawn_report, saved)

    def _spawn_report(self, saved: wire.HostKeySaved) -> None:
        async def send() -> None:
            try:
                await self._send(wire.encode_control(0, saved))
            except (ProtocolViolation, ConnectionError, RuntimeError) as exc:
                log.warning(
                    "the console was not told of the key saved for %s:%d (%s); the other members will ask again",
                    saved.host,
                    saved.port,
                    getattr(exc, "message", exc),
                )
            else:
                log.info("told the console of the %s key saved for %s:%d", saved.algorithm, saved.host, saved.port)

        task = asyncio.get_running_loop().create_task(send(), name="report-saved-host-key")
        self._tasks_other.add(task)
        task.add_done_callback(self._tasks_other.discard)

    async def _open(self, ws: aiohttp.ClientWebSocketResponse, channel: int, msg: wire.Open) -> None:
        error: JumpError | None = None
        adapter = self._adapters.get(msg.target.protocol)
        if channel in self._runners:
            error = ProtocolViolation(f"channel {channel} is already in use")
        elif self.status.draining:
            error = JumpointUnavailable(SHUTTING_DOWN, hint="Jump again once it is back, or through another Jumpoint")
        elif adapter is None:
            error = BadRequest(f"this Jumpoint has no {msg.target.protocol!r} adapter installed")
        elif self.active_sessions >= self.settings.max_sessions:
            error = Busy(f"this Jumpoint already runs {self.active_sessions} sessions, its limit")
        if error is not None:
            log.info("refused a Jump (session %s): %s", msg.session_id, error.message)
            self.metrics.jumps.inc(protocol=msg.target.protocol, result=error.code)
            closed = wire.Closed(reason=error.message, error=wire.ErrorBody(**error.to_dict()))
            await self._send(wire.encode_control(channel, closed))
            return
        assert adapter is not None
        runner = ChannelRunner(
            channel,
            msg,
            adapter=adapter,
            send_frame=self._sender(ws),
            host_keys=self._host_keys,
            credentials=self._credentials,
            prompt_timeout=self.settings.prompt_timeout_seconds,
            metrics=self.metrics,
            on_change=self._changed,
        )
        self._runners[channel] = runner
        task = asyncio.create_task(runner.run(), name=f"session-{msg.session_id}")
        self._tasks.add(task)
        task.add_done_callback(self._forget(channel, runner, task))
        self._changed()

    async def _open_files(self, ws: aiohttp.ClientWebSocketResponse, channel: int, msg: wire.FileOpen) -> None:
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
        runner = FileRunner(channel, msg, connection=connection, send_frame=self._sender(ws))
        self._runners[channel] = runner
        task = asyncio.create_task(runner.run(), name=f"files-{channel}")
        self._tasks.add(task)
        task.add_done_callback(self._forget(channel, runner, task))

    def _forget(
        self, channel: int, runner: ChannelRunner | FileRunner, task: asyncio.Task[None]
    ) -> Callable[[asyncio.Task[None]], None]:
        def done(_: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            if self._runners.get(channel) is runner:
                del self._runners[channel]
            self._retiring.discard(runner)
            if isinstance(runner, ChannelRunner):
                self._session_ended.set()
                if self._retired:
                    self._close_retired()
                self._changed()

        return done

    def _end_all_sessions(self) -> None:
        """The tunnel is gone: abort every runner and retire it, so its channel number is free for the next tunnel."""
        runners = list(self._runners.values())
        self._retiring.update(runners)
        self._runners = {}
        for runner in runners:
            runner.abort()
