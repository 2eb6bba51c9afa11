"""``RfbClient``: one RFB 3.8 connection to a VNC server, as desktop events out and input events in.

::

    client = await RfbClient.connect("10.0.0.5", 5901, password=Secret("..."))
    async for event in client.updates():      # DesktopSize, Damage, Image(jpeg), CopyRect, CursorShape,
        ...                                    # Clipboard, FrameEnd
    await client.send(Key(0xFF0D, True))       # Pointer, Wheel, Key, Clipboard, Refresh, DesktopSize, Quality
    picture = client.snapshot()                # Image(codec="rgba") of the whole desktop
    await client.close()

Contract:

* The first event is the desktop's ``DesktopSize``. Each FramebufferUpdate yields its rectangles in order, then
  ``FrameEnd``. ``Damage`` means "these pixels changed in :attr:`RfbClient.framebuffer`": read them with
  :meth:`RfbClient.pixels` before taking the events after the next ``FrameEnd`` (until then the framebuffer does
  not change). ``Image(codec="jpeg")`` carries a Tight JPEG rectangle unchanged (a complete JPEG file); at the
  levels whose :attr:`~protocols.vnc.quality.EncodingSettings.png` is set, ``Image(codec="png")`` carries a Tight
  fill or palette rectangle, written from what the server sent (nothing to read back, no JPEG under it decoded).
* Flow control: the next (incremental) FramebufferUpdateRequest is sent only once the consumer has taken the
  previous update's ``FrameEnd`` (and every event before it). A slow consumer makes the server merge its changes
  into fewer, later updates; at most one update's events wait (:mod:`protocols.vnc.queue` bounds them), and what
  the server sends meanwhile waits in TCP.
* Resize: a server DesktopSize/ExtendedDesktopSize re-allocates the framebuffer and yields ``DesktopSize``; an input
  ``DesktopSize`` sends SetDesktopSize when the server supports ExtendedDesktopSize (:attr:`RfbClient.can_resize`),
  else it is ignored with a log line. A refusal is logged and kept in :attr:`RfbClient.resize_refused`.
* Clipboard both ways as Latin-1 (RFC 6143): characters outside Latin-1 are sent as ``?``; with
  ``extended_clipboard=True`` and a server that supports the Extended Clipboard extension, as UTF-8 instead
  (:mod:`protocols.vnc.clipboard`; our text is announced and provided when the server asks for it).
  ``Wheel`` is buttons 4/5 (vertical) and 6/7 (horizontal), pressed and released once per step, with the held
  buttons kept. ``Refresh`` asks for a full (non-incremental) update.
  ``Quality`` sends a new SetEncodings (:mod:`protocols.vnc.quality`). Bell messages are only logged.
* :meth:`RfbClient.snapshot` decodes the pending JPEGs and returns the whole desktop, as raw ``rgba`` rows by
  default (the cheapest; the caller encodes it as it needs) or ``png``.
* The server closing the connection ends :meth:`RfbClient.updates` (StopAsyncIteration); a reset, a malformed
  message or a broken cap raises the matching ``TargetError`` from it, after the events already queued. One
  update's events are bounded (:mod:`protocols.vnc.updates`: "an update of more than N MiB" is a protocol error).
* What the reader sends the server on its own (update requests, clipboard answers) is not awaited, but once more than
  :data:`~jumpoint.core.write_backlog.WRITE_BACKLOG_LIMIT` bytes of what we wrote wait unsent, the reader stops
  reading until the server has read them (logged once): a server that sends requests but never reads cannot make
  the answers pile up. Skipped extended clipboard messages are logged at most once a minute, with how many.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image as PILImage

from jumpoint.core.desktop import (
    Clipboard,
    DesktopInput,
    DesktopOutput,
    DesktopSize,
    FrameEnd,
    Image,
    Key,
    Pointer,
    Quality,
    Refresh,
    Wheel,
)
from jumpoint.core.errors import BadRequest, JumpError
from jumpoint.core.secret import Secret
from jumpoint.core.target_errors import closed, timed_out
from protocols.vnc import messages as m
from protocols.vnc.clipboard import ENC_EXTENDED_CLIPBOARD, MAX_PAYLOAD, ExtendedClipboard
from protocols.vnc.errors import certificate_refused, from_os_error, protocol_error
from protocols.vnc.framebuffer import Framebuffer
from protocols.vnc.messages import MalformedMessage, Screen
from protocols.vnc.quality import PreferredEncoding, settings_for
from protocols.vnc.queue import EventQueue
from protocols.vnc.security import Handshake, ProbeResult, SecurityOutcome, SecurityPolicy
from protocols.vnc.stream import READ_LIMIT, RfbStream
from protocols.vnc.updates import UpdateReader, UpdateStats

CLOSE_WAIT = 2.0
DEFAULT_CONNECT_TIMEOUT = 15.0
WHEEL_BUTTONS = {"up": 1 << 3, "down": 1 << 4, "left": 1 << 5, "right": 1 << 6}
SKIPPED_LOG_INTERVAL = 60.0
"""Seconds between two log lines about skipped extended clipboard messages (a server may send any number)."""
module_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClientStats:
    """What the connection has done so far."""

    updates: int
    requests: int
    bytes_read: int
    queued_events: int
    queued_bytes: int
    pending_jpegs: int
    rectangles: UpdateStats
    """A copy of the rectangle counters at the time of the call."""
    unsent_bytes: int = 0
    """What we wrote that the server has not taken yet (our transport's write buffer)."""


class RfbClient:
    """A connected, authenticated RFB session (build it with :meth:`connect`)."""

    def __init__(
        self,
        stream: RfbStream,
        *,
        where: str,
        width: int,
        height: int,
        name: str,
        security: SecurityOutcome,
        quality: Quality,
        preferred_encoding: PreferredEncoding,
        log: logging.Logger,
        extended_clipboard: bool = False,
    ) -> None:
        self._stream = stream
        self._where = where
        self._log = log
        self.security = security
        self.framebuffer = Framebuffer(width, height)
        self._reader = UpdateReader(stream, self.framebuffer, name, log)
        self._reader.tight.png = settings_for(quality).png
        self._events = EventQueue()
        self._events.put_nowait(DesktopSize(width, height))
        self._preferred: PreferredEncoding = preferred_encoding
        self.quality = quality
        self._buttons = 0
        self._requests = 0
        self._closed = False
        self._iterating = False
        self._task: asyncio.Task[None] | None = None
        self._clipboard = ExtendedClipboard() if extended_clipboard else None
        self._skipped = 0
        self._skipped_logged_at = -SKIPPED_LOG_INTERVAL
        self._told_not_reading = False

    # --- connecting --------------------------------------------------------------------------------------------
    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        password: Secret | None,
        tls_ca_file: Path | None = None,
        allow_unencrypted: bool = True,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        quality: Quality = Quality("full_color"),  # noqa: B008 - frozen
        shared: bool = True,
        preferred_encoding: PreferredEncoding = "tight",
        log: logging.Logger | None = None,
        pinned_certificate: bytes | None = None,
        expected_security: str | None = None,
        extended_clipboard: bool = False,
    ) -> RfbClient:
        """Connect, agree on security (see :mod:`protocols.vnc.security`), authenticate and start the updates.

        ``pinned_certificate``: the SHA-256 an X509 server's certificate must have (checked before the password is
        sent; the CAs are then not consulted). ``expected_security``: the security a :meth:`probe` found (another
        choice is refused before authentication). ``extended_clipboard``: offer the Extended Clipboard extension
        (UTF-8 clipboard text, :mod:`protocols.vnc.clipboard`); without it, or when the server lacks it, the
        clipboard is Latin-1.

        Raises TargetUnreachable, TargetTimeout (``connect_timeout`` covers everything up to ServerInit),
        TargetAuthFailed (with the server's reason), TargetProtocolError (not VNC, no acceptable security type, a
        refused TLS certificate), HostKeyMismatch (not the pinned certificate) or TargetClosed.
        """
        where = f"{host}:{port}"
        logger = log or module_log
        policy = SecurityPolicy(
            password=password,
            tls_ca_file=tls_ca_file,
            allow_unencrypted=allow_unencrypted,
            pinned_sha256=pinned_certificate,
            expected=expected_security,
        )
        stage = "TCP connect"
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(connect_timeout):
                reader, writer = await _open(host, port, where)
                stream = RfbStream(reader, writer)
                handshake = Handshake(stream, host=host, where=where, policy=policy, log=logger)
                try:
                    outcome = await handshake.run()
                finally:
                    stage = handshake.stage
                stage = "ServerInit"
                stream.write(m.client_init(shared))
                init = m.ServerInit.unpack(await stream.read(m.ServerInit.SIZE))
                name_bytes = await stream.read(min(init.name_length, m.MAX_NAME_BYTES))
                await stream.discard(init.name_length - len(name_bytes))
                if not (1 <= init.width <= m.MAX_DESKTOP_SIDE and 1 <= init.height <= m.MAX_DESKTOP_SIDE):
                    raise protocol_error(where, f"desktop size {init.width}x{init.height} is not supported")
                client = cls(
                    stream,
                    where=where,
                    width=init.width,
                    height=init.height,
                    name=m.decode_text(name_bytes),
                    security=outcome,
                    quality=quality,
                    preferred_encoding=preferred_encoding,
                    log=logger,
                    extended_clipboard=extended_clipboard,
                )
                stream.write(m.set_pixel_format(m.RGBX))
                stream.write(m.set_encodings(client._encodings(quality)))
                await stream.drain()
        except BaseException as exc:
            if writer is not None:
                writer.close()
            error = _connect_error(exc, where, stage, connect_timeout)
            if error is exc:
                raise
            raise error from exc
        if outcome.warning:
            logger.warning("%s (%s, %s)", outcome.warning, where, outcome.name)
        client._task = asyncio.get_running_loop().create_task(client._run(), name=f"vnc-reader {where}")
        return client

    @classmethod
    async def probe(
        cls,
        host: str,
        port: int,
        *,
        tls_ca_file: Path | None = None,
        allow_unencrypted: bool = True,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        log: logging.Logger | None = None,
    ) -> ProbeResult:
        """Which security a login would use and, for VeNCrypt X509, the server's certificate; nothing secret is
        sent and the connection is closed before authentication (:meth:`Handshake.probe`).

        The certificate is first checked against ``tls_ca_file`` or the system CAs (for ``host``'s name); when that
        fails, a second connection reads it unverified, and :attr:`ServerCertificate.ca_verified` is False with
        the reason in :attr:`ServerCertificate.ca_failure`. Each connection is bounded by ``connect_timeout``.
        Raises like :meth:`connect` (a password is assumed to be available).
        """
        where = f"{host}:{port}"
        logger = log or module_log
        policy = SecurityPolicy(tls_ca_file=tls_ca_file, allow_unencrypted=allow_unencrypted, password_expected=True)
        try:
            return await cls._probe_once(host, port, where, policy, connect_timeout, logger, verify=True)
        except ssl.SSLCertVerificationError as exc:
            reason = exc.verify_message or str(exc)
            logger.info("the TLS certificate of %s is not vouched for by a CA: %s", where, reason)
        result = await cls._probe_once(host, port, where, policy, connect_timeout, logger, verify=False)
        if result.certificate is None:  # the server changed its mind between the two connections
            raise protocol_error(where, "the server stopped offering a certificate while it was being checked")
        return replace(result, certificate=replace(result.certificate, ca_verified=False, ca_failure=reason))

    @staticmethod
    async def _probe_once(
        host: str,
        port: int,
        where: str,
        policy: SecurityPolicy,
        seconds: float,
        log: logging.Logger,
        *,
        verify: bool,
    ) -> ProbeResult:
        """One probe connection; a certificate the CAs refuse (``verify``) leaves as ``SSLCertVerificationError``."""
        stage = "TCP connect"
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(seconds):
                reader, writer = await _open(host, port, where)
                handshake = Handshake(RfbStream(reader, writer), host=host, where=where, policy=policy, log=log)
                try:
                    return await handshake.probe(verify=verify)
                finally:
                    stage = handshake.stage
        except ssl.SSLCertVerificationError:
            if verify:
                raise
            raise protocol_error(where, "the TLS handshake failed") from None
        except BaseException as exc:
            error = _connect_error(exc, where, stage, seconds)
            if error is exc:
                raise
            raise error from exc
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(Exception):
                    writer.transport.abort()

    # --- attributes --------------------------------------------------------------------------------------------
    @property
    def width(self) -> int:
        """The desktop's width in pixels."""
        return self.framebuffer.width

    @property
    def height(self) -> int:
        """The desktop's height in pixels."""
        return self.framebuffer.height

    @property
    def name(self) -> str:
        """The desktop's name (ServerInit, or the DesktopName pseudo-encoding)."""
        return self._reader.name

    @property
    def can_resize(self) -> bool:
        """The server supports ExtendedDesktopSize, so an input ``DesktopSize`` is sent to it."""
        return self._reader.extended_desktop_size

    @property
    def resize_refused(self) -> str | None:
        """Why the server refused the last desktop size asked for (None: not refused)."""
        return self._reader.resize_refused

    @property
    def stats(self) -> ClientStats:
        """Counters: updates, requests, bytes read, what waits for the consumer."""
        return ClientStats(
            updates=self._reader.stats.updates,
            requests=self._requests,
            bytes_read=self._stream.bytes_read,
            queued_events=len(self._events),
            queued_bytes=self._events.queued_bytes,
            pending_jpegs=self.framebuffer.pending,
            rectangles=replace(self._reader.stats, by_encoding=dict(self._reader.stats.by_encoding)),
            unsent_bytes=self._stream.unsent,
        )

    # --- output ------------------------------------------------------------------------------------------------
    def updates(self) -> AsyncIterator[DesktopOutput]:
        """The desktop's events, until the connection ends (one reader only: a second call raises BadRequest)."""
        if self._iterating:
            raise BadRequest("this connection's updates are already being read")
        self._iterating = True
        return _Updates(self._events)

    def pixels(self, x: int, y: int, width: int, height: int) -> bytes:
        """The RGBA rows of a region of the framebuffer (for a ``Damage``), pending JPEGs over it decoded."""
        if not self.framebuffer.contains(x, y, width, height):
            raise BadRequest(f"region {width}x{height}+{x}+{y} lies outside the desktop")
        return self.framebuffer.read(x, y, width, height).tobytes()

    def snapshot(self, codec: Literal["rgba", "png"] = "rgba") -> Image:
        """The whole desktop now (pending JPEGs decoded): raw RGBA rows, or a PNG."""
        pixels = self.framebuffer.snapshot()
        height, width = pixels.shape[:2]
        if codec == "rgba":
            return Image(0, 0, width, height, "rgba", pixels.tobytes())
        out = io.BytesIO()
        PILImage.fromarray(np.ascontiguousarray(pixels[:, :, :3])).save(out, "PNG", compress_level=1)
        return Image(0, 0, width, height, "png", out.getvalue())

    # --- input -------------------------------------------------------------------------------------------------
    async def send(self, event: DesktopInput) -> None:
        """Send an input event (waits while the socket's write buffer is full: input is never dropped)."""
        if self._closed or self._task is None or self._task.done():
            raise closed(self._where, "the session has ended")
        stream = self._stream
        if isinstance(event, Pointer):
            self._buttons = event.buttons
            stream.write(m.pointer_event(*self._clamp(event.x, event.y), event.buttons))
        elif isinstance(event, Wheel):
            x, y = self._clamp(event.x, event.y)
            for steps, minus, plus in ((event.dy, "up", "down"), (event.dx, "left", "right")):
                button = WHEEL_BUTTONS[plus if steps > 0 else minus]
                for _ in range(abs(steps)):
                    stream.write(m.pointer_event(x, y, self._buttons | button) + m.pointer_event(x, y, self._buttons))
        elif isinstance(event, Key):
            stream.write(m.key_event(event.keysym, event.down))
        elif isinstance(event, Clipboard):
            if self._clipboard is not None and self._clipboard.active:
                stream.write(self._clipboard.announce(event.text))
            else:
                stream.write(m.client_cut_text(event.text))
        elif isinstance(event, Refresh):
            self._request(incremental=False)
        elif isinstance(event, DesktopSize):
            self._ask_size(event.width, event.height)
        elif isinstance(event, Quality):
            self.quality = event
            self._reader.tight.png = settings_for(event).png
            stream.write(m.set_encodings(self._encodings(event)))
        else:
            raise BadRequest(f"a VNC desktop cannot take {type(event).__name__} input")
        try:
            await stream.drain()
        except OSError as exc:
            raise from_os_error(self._where, exc) from exc

    def _encodings(self, quality: Quality) -> list[int]:
        encodings = settings_for(quality).encodings(self._preferred)
        return [*encodings, ENC_EXTENDED_CLIPBOARD] if self._clipboard is not None else encodings

    @property
    def extended_clipboard(self) -> bool:
        """The server speaks the Extended Clipboard extension with us: clipboard text travels as UTF-8."""
        return self._clipboard is not None and self._clipboard.active

    def _clamp(self, x: int, y: int) -> tuple[int, int]:
        return min(x, self.width - 1), min(y, self.height - 1)

    def _ask_size(self, width: int, height: int) -> None:
        if not self.can_resize:
            self._log.info(
                "the VNC server %s cannot be resized by the client; ignoring %dx%d", self._where, width, height
            )
            return
        first = self._reader.screens[0] if self._reader.screens else Screen(0, 0, 0, width, height, 0)
        self._stream.write(m.set_desktop_size(width, height, [Screen(first.id, 0, 0, width, height, first.flags)]))

    def _request(self, *, incremental: bool) -> None:
        self._requests += 1
        self._stream.write(m.framebuffer_update_request(incremental, 0, 0, self.width, self.height))

    # --- the reader task ---------------------------------------------------------------------------------------
    async def _run(self) -> None:
        stream, reader, events = self._stream, self._reader, self._events
        error: BaseException | None = None
        try:
            self._request(incremental=False)
            updated = False
            while True:
                await events.drained()  # the consumer took everything, FrameEnd included
                if updated:
                    full, reader.size_changed = reader.size_changed, False
                    self._request(incremental=not full)
                    updated = False
                await stream.drain_backlog(self._not_reading)  # what we answered, if the server does not read it
                try:
                    kind = await stream.u8()
                except asyncio.IncompleteReadError:
                    break  # the server closed the connection between messages: a normal end
                if kind == m.SMSG_FRAMEBUFFER_UPDATE:
                    await reader.read(events.put)
                    await events.put(FrameEnd(), 0)
                    updated = True
                elif kind == m.SMSG_SERVER_CUT_TEXT:
                    await self._cut_text()
                elif kind == m.SMSG_BELL:
                    self._log.debug("bell from %s", self._where)
                elif kind == m.SMSG_SET_COLOUR_MAP_ENTRIES:
                    raise MalformedMessage("the server sent a colour map although true colour was asked for")
                else:
                    raise MalformedMessage(f"unknown server message type {kind}")
        except asyncio.CancelledError:
            raise
        except asyncio.IncompleteReadError:
            error = closed(self._where, "the server closed the connection in the middle of a message")
        except MalformedMessage as exc:
            error = protocol_error(self._where, str(exc))
        except OSError as exc:
            error = from_os_error(self._where, exc)
        except JumpError as exc:
            error = exc
        except Exception as exc:  # a bug: say so, end the session rather than hang it
            self._log.exception("the VNC reader of %s failed", self._where)
            error = protocol_error(self._where, f"internal error while reading ({type(exc).__name__})")
        finally:
            events.end(error)
        if error is not None:
            self._log.warning("VNC connection to %s ended: %s", self._where, error)

    async def _cut_text(self) -> None:
        length = int.from_bytes((await self._stream.read(7))[3:], "big", signed=True)
        if length < 0:
            await self._extended_cut_text(-length)
            return
        if length > m.MAX_CLIPBOARD_BYTES:
            self._log.warning("dropping %d bytes of server clipboard (over %d)", length, m.MAX_CLIPBOARD_BYTES)
            await self._stream.discard(length)
            return
        text = m.decode_text(await self._stream.read(length))
        await self._events.put(Clipboard(text), len(text))

    async def _extended_cut_text(self, length: int) -> None:
        """An Extended Clipboard message of ``length`` bytes (flags and data); over :data:`MAX_PAYLOAD`, or from a
        server we did not offer the extension to, it is skipped."""
        if self._clipboard is None or length < 4 or length > MAX_PAYLOAD:
            self._skipped_one(length)
            await self._stream.discard(length)
            return
        flags = await self._stream.u32()
        reply, text = self._clipboard.handle(flags, await self._stream.read(length - 4))
        if reply:
            self._stream.write(reply)
        if text is not None:
            await self._events.put(Clipboard(text), len(text))

    def _skipped_one(self, length: int) -> None:
        """Log a skipped extended clipboard message: at most one line every :data:`SKIPPED_LOG_INTERVAL` seconds,
        saying how many were skipped since the last one."""
        self._skipped += 1
        now = time.monotonic()
        if now - self._skipped_logged_at < SKIPPED_LOG_INTERVAL:
            return
        self._skipped_logged_at = now
        since = f" ({self._skipped - 1} more since the last such line)" if self._skipped > 1 else ""
        self._skipped = 0
        self._log.warning("skipping an extended clipboard message of %d bytes from %s%s", length, self._where, since)

    def _not_reading(self, unsent: int) -> None:
        """The reader waits for the server to read what we sent (said once per connection)."""
        if self._told_not_reading:
            return
        self._told_not_reading = True
        self._log.warning(
            "the VNC server %s does not read what we send (%d bytes wait); reading from it waits until it does",
            self._where,
            unsent,
        )

    async def close(self) -> None:
        """Stop reading and close the socket; idempotent, never raises."""
        if self._closed:
            return
        self._closed = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        self._events.end()
        writer = self._stream.writer
        if writer is None:
            return
        with contextlib.suppress(Exception):
            writer.close()
            await asyncio.wait_for(writer.wait_closed(), CLOSE_WAIT)
        with contextlib.suppress(Exception):
            writer.transport.abort()


class _Updates:
    """The event iterator of one :class:`RfbClient` (survives a cancelled ``__anext__``)."""

    __slots__ = ("_events",)

    def __init__(self, events: EventQueue) -> None:
        self._events = events

    def __aiter__(self) -> _Updates:
        return self

    async def __anext__(self) -> DesktopOutput:
        return await self._events.get()


async def _open(host: str, port: int, where: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """The TCP connection (an OSError becomes the product's error)."""
    try:
        return await asyncio.open_connection(host, port, limit=READ_LIMIT)
    except OSError as exc:
        raise from_os_error(where, exc, established=False) from exc


def _connect_error(exc: BaseException, where: str, stage: str, timeout: float) -> BaseException:
    """The product error for what went wrong while connecting."""
    if isinstance(exc, JumpError):
        return exc
    if isinstance(exc, TimeoutError):
        return timed_out(where, timeout, stage)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return certificate_refused(where, exc.verify_message or str(exc))
    if isinstance(exc, ssl.SSLError):
        return protocol_error(where, f"the TLS handshake failed ({exc.reason or exc})")
    if isinstance(exc, asyncio.IncompleteReadError):
        return closed(where, f"the server closed the connection during {stage}")
    if isinstance(exc, MalformedMessage):
        return protocol_error(where, str(exc))
    if isinstance(exc, OSError):
        return from_os_error(where, exc)
    return exc
