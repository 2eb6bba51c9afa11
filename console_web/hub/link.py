"""The console's end of one Jumpoint member's tunnel: frame dispatch, channels, and administrative requests.

A Jumpoint may be served by several registered hosts (a cluster, ``console_web/hub/clusters.py``); each connected
member has its own :class:`JumpointLink`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from jumpoint.core import wire
from jumpoint.core.errors import InternalError, JumpError, JumpointUnavailable, ProtocolViolation, TargetTimeout

if TYPE_CHECKING:
    from console_web.hub.file_channel import FileChannel
    from console_web.hub.session import LiveSession

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 15.0
MAX_REPLY_ENTRIES = 10_000
PEER_LOG_INTERVAL = 60.0
"""A member's frames that are dropped (not binary, malformed, breaking the protocol on the tunnel channel) are logged
at most once per kind within this many seconds, with how many were dropped meanwhile: a flood cannot flood the log."""
CLOSE_POLICY_VIOLATION = 1008
"""The tunnel's close code when the console refuses a member that broke a limit (:meth:`JumpointLink.abort`)."""


HostKeySavedHandler = Callable[["JumpointLink", wire.HostKeySaved], None]


class JumpointLink:
    """One connected Jumpoint member: sends frames to it and routes its frames to the sessions on each channel.

    ``ready`` is set once the member was given the cluster's host keys and welcomed: only then does it get Jumps.
    ``load`` (its sessions plus Jumps being started on it) is what routing compares. A ``hostkey_saved`` message
    goes to ``on_host_key_saved``.
    """

    def __init__(
        self,
        jumpoint_id: int,
        name: str,
        hostname: str,
        ws: web.WebSocketResponse,
        *,
        member_id: int = 0,
        on_host_key_saved: HostKeySavedHandler | None = None,
    ) -> None:
        self.jumpoint_id = jumpoint_id
        self.name = name
        self.hostname = hostname
        self.member_id = member_id
        self.ws = ws
        self.sessions: dict[int, LiveSession] = {}
        self.file_channels: dict[int, FileChannel] = {}
        self.ready = asyncio.Event()
        self.reserved = 0
        self.draining = False  # the member said it is shutting down: it finishes its sessions, takes no new ones
        self.connected_at = datetime.now(UTC)
        self.on_host_key_saved = on_host_key_saved
        self._channels = itertools.count(1)
        self._request_ids = itertools.count(1)
        self._requests: dict[int, asyncio.Future[wire.Reply]] = {}
        self._parts: dict[int, list[Any]] = {}
        self.closed = False
        self.aborted: str | None = None
        """Why the console closed this tunnel for breaking the protocol (:meth:`abort`); None otherwise."""
        self._aborting: asyncio.Task[bool] | None = None
        self._dropped: dict[str, tuple[float, int]] = {}  # per kind: when last logged, how many dropped since
        self.log = logging.LoggerAdapter(log, {"jumpoint": name, "member": hostname})

    @property
    def label(self) -> str:
        """How messages name this member: ``the Jumpoint member <host> of <name>``."""
        return f"the Jumpoint member {self.hostname} of {self.name}"

    @property
    def load(self) -> int:
        """Sessions running on this member plus Jumps being started on it (what routing compares)."""
        return len(self.sessions) + self.reserved

    @property
    def routable(self) -> bool:
        """Whether new Jumps may go to this member (admitted, still connected, not shutting down)."""
        return self.ready.is_set() and not self.closed and not self.draining and not self.ws.closed

    def allocate_channel(self) -> int:
        """A channel number never used before on this tunnel."""
        return next(self._channels)

    async def send(self, frame: bytes) -> None:
        """Send one frame; raise JumpointUnavailable if the tunnel is gone."""
        if self.closed or self.ws.closed:
            raise JumpointUnavailable(f"{self.label} disconnected", hint="check the Jumpoint host")
        try:
            await self.ws.send_bytes(frame)
        except (ConnectionError, RuntimeError) as exc:
            raise JumpointUnavailable(f"{self.label} disconnected: {exc}") from None

    async def request(self, op: str, args: Mapping[str, Any]) -> Any:
        """Ask the Jumpoint something on channel 0 and wait for its reply."""
        req_id = next(self._request_ids)
        fut: asyncio.Future[wire.Reply] = asyncio.get_running_loop().create_future()
        self._requests[req_id] = fut
        try:
            await self.send(wire.encode_control(0, wire.Request(id=req_id, op=op, args=dict(args))))
            async with asyncio.timeout(REQUEST_TIMEOUT):
                reply = await fut
        except TimeoutError:
            raise TargetTimeout(f"{self.label} did not answer {op} in time") from None
        finally:
            self._requests.pop(req_id, None)
            parts = self._parts.pop(req_id, None)
        if reply.error is not None:
            raise JumpError.from_dict(reply.error.model_dump())
        if parts is not None:
            if not isinstance(reply.result, list):
                raise ProtocolViolation(f"{self.label} ended a reply in parts with a non-list")
            return parts + reply.result
        return reply.result

    async def serve(self) -> None:
        """Read frames until the tunnel closes (then pending requests fail). Bad frames are logged and dropped,
        never fatal to others."""
        try:
            await self._read_frames()
        finally:
            self._fail_requests()

    async def _read_frames(self) -> None:
        async for msg in self.ws:
            if msg.type != web.WSMsgType.BINARY:
                size = len(msg.data) if isinstance(msg.data, str | bytes) else 0
                self._log_dropped("non-binary", "ignoring a non-binary tunnel message (%s, %d bytes)", msg.type, size)
                continue
            data: bytes = msg.data
            try:
                kind, channel = wire.decode_header(data)
            except ProtocolViolation as exc:
                self._log_dropped("malformed", "dropping a malformed frame: %s", exc.message)
                continue
            session: LiveSession | FileChannel | None = self.sessions.get(channel) or self.file_channels.get(channel)
            try:
                if kind == wire.FRAME_DATA:
                    if session is not None:
                        session.on_output(data[wire.HEADER.size :])
                elif kind == wire.FRAME_CREDIT:
                    if session is not None:
                        session.on_credit(wire.decode_credit(memoryview(data)[wire.HEADER.size :]))
                else:
                    control = wire.decode_control(memoryview(data)[wire.HEADER.size :])
                    if channel == 0:
                        self._on_tunnel_control(control)
                    elif session is not None:
                        session.on_control(control)
            except ProtocolViolation as exc:
                if session is not None:
                    self.log.warning("protocol violation on channel %d: %s", channel, exc.message)
                    session.fail(exc)
                else:  # nothing ends with it (channel 0, or a channel already gone): a flood must not flood the log
                    self._log_dropped("violation", "protocol violation on channel %d: %s", channel, exc.message)
            except Exception as exc:  # a bug in one session's handling must not take the tunnel down
                self.log.exception("failed to handle a frame on channel %d", channel)
                if session is not None:
                    session.fail(InternalError(f"the console failed to handle the session's output: {exc!r}"))

    def _log_dropped(self, kind: str, text: str, *args: object) -> None:
        """Log a dropped frame of ``kind``, at most once per :data:`PEER_LOG_INTERVAL` (saying how many more were
        dropped since the previous line of that kind)."""
        now = time.monotonic()
        logged_at, since = self._dropped.get(kind, (-PEER_LOG_INTERVAL, 0))
        if now - logged_at < PEER_LOG_INTERVAL:
            self._dropped[kind] = (logged_at, since + 1)
            return
        self._dropped[kind] = (now, 0)
        if since:
            self.log.warning(text + " (and %d more dropped since the last such line)", *args, since)
        else:
            self.log.warning(text, *args)

    def _on_tunnel_control(self, msg: wire.ControlMessage) -> None:
        if isinstance(msg, wire.Reply):
            fut = self._requests.get(msg.id)
            if fut is None or fut.done():
                return
            if msg.more and msg.error is None:
                parts = self._parts.setdefault(msg.id, [])
                if not isinstance(msg.result, list) or len(parts) + len(msg.result) > MAX_REPLY_ENTRIES:
                    fut.set_exception(ProtocolViolation(f"{self.label} sent a reply in parts over {MAX_REPLY_ENTRIES}"))
                    return
                parts.extend(msg.result)
                return
            fut.set_result(msg)
            return
        if isinstance(msg, wire.Draining):
            if not self.draining:
                self.draining = True
                self.log.info("%s is shutting down: no new Jumps go to it", self.label)
            return
        if isinstance(msg, wire.HostKeySaved) and self.on_host_key_saved is not None:
            self.on_host_key_saved(self, msg)
            return
        raise ProtocolViolation(f"unexpected {msg.t!r} on the tunnel channel")

    def _fail_requests(self) -> None:
        for fut in self._requests.values():
            if not fut.done():
                fut.set_exception(JumpointUnavailable(f"{self.label} disconnected"))

    def close(
        self, reason: str, hint: str = "the session cannot continue; Jump again when the Jumpoint is back"
    ) -> None:
        """Mark the tunnel gone: fail pending requests, and end every session and file transfer on it with
        ``reason`` (and ``hint``), so no participant waits on a member that is gone."""
        self.closed = True
        self._fail_requests()
        for session in list(self.sessions.values()):
            session.fail(JumpointUnavailable(reason, hint=hint))
        for transfer in list(self.file_channels.values()):
            transfer.fail(JumpointUnavailable(reason, hint=hint))

    def abort(self, violation: ProtocolViolation) -> None:
        """Refuse the member for breaking a limit of the protocol: log it, end its sessions and transfers naming the
        reason, and close its tunnel with :data:`CLOSE_POLICY_VIOLATION` (the member logs the reason and connects
        again; its admission then replaces its host-key cache with the cluster's). Only the first call acts;
        ``aborted`` holds the reason from then on, and frames still buffered on the tunnel are ignored by whoever
        checks it."""
        if self.aborted is not None:
            return
        self.aborted = violation.message
        self.log.error("closing the tunnel: %s", violation.message)
        self.close(f"{self.label} broke the protocol ({violation.message}); the console closed its tunnel")
        reason = violation.message.encode()[:120]  # a WebSocket close reason is at most 123 bytes
        self._aborting = asyncio.get_running_loop().create_task(
            self.ws.close(code=CLOSE_POLICY_VIOLATION, message=reason), name=f"abort-{self.hostname}"
        )
