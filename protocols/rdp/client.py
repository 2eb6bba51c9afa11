"""The RDP client: the connection sequence (MS-RDPBCGR 1.3.1.1) and the session's receive loop.

:meth:`RdpClient.connect` runs, in order: X.224 negotiation; TLS (its certificate settled by the caller's
``identity`` check *before anything secret is sent*); NLA when chosen; MCS/GCC with the static channels; for
classic RDP security the server key check and the RC4 key exchange; the Client Info PDU with auto-logon;
licensing; capability exchange and finalization. It returns once the server activated the session; from then on a
background task decodes every update into :attr:`RdpClient.screen` (see :mod:`protocols.rdp.screen`), follows
deactivation-reactivation (a new size), runs the clipboard channel, and ends the screen with the reason the
server gave (Set Error Info) when the connection closes.

Every write is synchronous (``StreamWriter.write``), so the RC4 state of classic security stays in step with the
byte order on the wire without a lock. What the receive loop answers on its own (clipboard replies, frame
acknowledgements, the Confirm Active of each Demand Active) is not awaited, but after each PDU the loop waits for a
server that let more than :data:`~jumpoint.core.write_backlog.WRITE_BACKLOG_LIMIT` bytes of what we wrote pile up
unread (logged once): a server that sends requests but never reads stops being read instead of growing our buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from jumpoint.core.desktop import Clipboard, DesktopInput, DesktopSize, Key, Pointer, Quality, Refresh, Wheel
from jumpoint.core.errors import JumpError, TargetClosed
from jumpoint.core.events import Notice
from jumpoint.core.hostkeys import certificate_fingerprint
from jumpoint.core.secret import Secret
from jumpoint.core.write_backlog import drain_backlog, write_backlog
from protocols.rdp import capabilities, cliprdr, errors, fastpath, gcc, mcs, pdu, x224
from protocols.rdp.channels import ChannelReassembler, chunks
from protocols.rdp.client_info import (
    PERF_DISABLE_CURSOR_SHADOW,
    PERF_DISABLE_FULLWINDOWDRAG,
    PERF_DISABLE_MENUANIMATIONS,
    PERF_DISABLE_THEMING,
    PERF_DISABLE_WALLPAPER,
    PERF_ENABLE_DESKTOP_COMPOSITION,
    PERF_ENABLE_FONT_SMOOTHING,
    client_info,
)
from protocols.rdp.codecs.bulk import BulkDecompressor
from protocols.rdp.keyboard import KeyMapper
from protocols.rdp.licensing import LicenseClient, LicensingRefused
from protocols.rdp.nla import NlaCredentials, NlaFailed, authenticate
from protocols.rdp.rdp_security import (
    SEC_ENCRYPT,
    SEC_INFO_PKT,
    SEC_LICENSE_PKT,
    ServerKey,
    SessionKeys,
    client_random,
    derive_keys,
    parse_server_certificate,
    security_exchange,
)
from protocols.rdp.screen import Screen
from protocols.rdp.updates import UpdateHandler
from protocols.rdp.wire import MalformedPdu, Reader, u32

SecurityChoice = Literal["auto", "nla", "tls", "rdp"]
BULK_FLAGS = 0xE0  # PACKET_COMPRESSED, PACKET_AT_FRONT, PACKET_FLUSHED
CHANNELS = ("cliprdr",)
QUALITY_BPP = {"black_and_white": 16, "few_colors": 16, "more_colors": 16, "full_color": 32, "video": 16}
_LEAN = (
    PERF_DISABLE_WALLPAPER
    | PERF_DISABLE_FULLWINDOWDRAG
    | PERF_DISABLE_MENUANIMATIONS
    | PERF_DISABLE_THEMING
    | PERF_DISABLE_CURSOR_SHADOW
)
QUALITY_PERFORMANCE = {
    "black_and_white": _LEAN,
    "few_colors": _LEAN,
    "more_colors": PERF_DISABLE_WALLPAPER | PERF_DISABLE_MENUANIMATIONS | PERF_DISABLE_CURSOR_SHADOW,
    "full_color": PERF_ENABLE_FONT_SMOOTHING | PERF_ENABLE_DESKTOP_COMPOSITION | PERF_DISABLE_MENUANIMATIONS,
    "video": _LEAN,
}
_REQUESTED = {
    "auto": x224.PROTOCOL_SSL | x224.PROTOCOL_HYBRID,
    "nla": x224.PROTOCOL_HYBRID,
    "tls": x224.PROTOCOL_SSL,
    "rdp": x224.PROTOCOL_RDP,
}
_SECURITY_NAMES = {x224.PROTOCOL_RDP: "classic RDP security", x224.PROTOCOL_SSL: "TLS", x224.PROTOCOL_HYBRID: "NLA"}
MAX_CHANNEL_MESSAGE = cliprdr.MAX_MESSAGE
QUIET_REFUSAL_SECONDS = 8.0


@dataclass(frozen=True, slots=True)
class ServerIdentity:
    """What identifies the server: its TLS certificate (DER), or for classic security its RSA key's blob."""

    kind: Literal["tls", "rsa"]
    blob: bytes

    @property
    def sha256(self) -> bytes:
        """The SHA-256 of the certificate or key blob."""
        return hashlib.sha256(self.blob).digest()

    @property
    def fingerprint(self) -> str:
        """``SHA256:AB:CD:...``."""
        return certificate_fingerprint(self.sha256)


IdentityCheck = Callable[[ServerIdentity], Awaitable[None]]
"""Accept an identity (return) or refuse it (raise): called before anything secret is sent."""


@dataclass(slots=True)
class RdpSettings:
    """How to connect: the target, the desktop asked for, the security allowed and who logs on."""

    host: str
    port: int
    width: int = 1280
    height: int = 800
    quality: str = "full_color"
    security: SecurityChoice = "auto"
    domain: str = ""
    username: str = ""
    password: Secret | None = None
    console_session: bool = False
    connect_timeout: float = 15.0
    keyboard_layout: int = 0x409
    logged_on_before: bool = False
    """These credentials already logged on in this session (a new connection for another size): a quick close
    is then not a refused password."""
    notices: list[Notice] = field(default_factory=list)

    @property
    def where(self) -> str:
        """``host:port``."""
        return f"{self.host}:{self.port}"


def _tls_context() -> ssl.SSLContext:
    # The server's certificate is checked by the caller (CA, cache, or the rep), like an SSH host key; RDP
    # servers use self-signed certificates far more often than not, so the handshake itself verifies nothing.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class RdpClient:
    """One RDP connection, from :meth:`connect` until :meth:`close`."""

    def __init__(self, settings: RdpSettings, log: logging.Logger | logging.LoggerAdapter[logging.Logger]) -> None:
        self.settings = settings
        self.where = settings.where
        self.log = log
        self.screen = Screen(settings.width, settings.height)
        self.updates = UpdateHandler(self.screen, on_frame_end=self._acknowledge_frame)
        self.security = "none"
        self.identity: ServerIdentity | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._keys: SessionKeys | None = None
        self._user_id = 0
        self._io_channel = mcs.IO_CHANNEL
        self._channel_names: dict[int, str] = {}
        self._channel_ids: dict[str, int] = {}
        self._reassemblers: dict[int, ChannelReassembler] = {}
        self._clipboard = cliprdr.ClipboardChannel()
        self._bulk = BulkDecompressor()
        self._fragments = fastpath.Reassembler(capabilities.multifragment_size(settings.width, settings.height))
        self._caps: capabilities.ServerCapabilities | None = None
        self._licensed = False
        self._active = asyncio.Event()
        self._error_info = 0
        self._task: asyncio.Task[None] | None = None
        self._keys_map = KeyMapper()
        self._buttons = 0
        self._closed = False
        self._selected = x224.PROTOCOL_RDP
        self._pending_keys: SessionKeys | None = None
        self._exchange = b""
        self._server_key: ServerKey | None = None
        self._activated_at = 0.0
        self._session_info = False
        self._told_not_reading = False

    @property
    def active_seconds(self) -> float:
        """How long the session has been active on this connection (0 before activation)."""
        return time.monotonic() - self._activated_at if self._active.is_set() else 0.0

    @property
    def logged_on(self) -> bool:
        """Whether the server showed that the user's session runs: it said so (Save Session Info), the session's
        clipboard service spoke (xrdp runs it inside the user's session only), or the connection outlived the
        window in which servers refuse a wrong password by closing."""
        return self._session_info or self._clipboard.ready or self.active_seconds >= QUIET_REFUSAL_SECONDS

    @property
    def unsent_bytes(self) -> int:
        """What we wrote that the server has not taken yet (our transport's write buffer; 0 when not connected)."""
        return write_backlog(self._writer) if self._writer is not None else 0

    # ---- connecting ------------------------------------------------------------------------------------------

    @classmethod
    async def probe(
        cls, settings: RdpSettings, log: logging.Logger | logging.LoggerAdapter[logging.Logger]
    ) -> ServerIdentity | None:
        """Learn the server's TLS identity without sending anything secret (None: classic security, no TLS)."""
        client = cls(settings, log)
        try:
            return await asyncio.wait_for(client._negotiate(), settings.connect_timeout)
        except TimeoutError:
            raise errors.protocol_error(client.where, "did not finish the security negotiation in time") from None
        finally:
            await client.close()

    @classmethod
    async def connect(
        cls,
        settings: RdpSettings,
        identity_check: IdentityCheck,
        log: logging.Logger | logging.LoggerAdapter[logging.Logger],
    ) -> RdpClient:
        """Connect and log on; returns once the session is active.

        Raises JumpError, or what ``identity_check`` raised.
        """
        client = cls(settings, log)
        try:
            await asyncio.wait_for(client._connect(identity_check), settings.connect_timeout)
        except TimeoutError:
            await client.close()
            raise errors.protocol_error(
                client.where, f"the connection did not become active within {settings.connect_timeout:g} s"
            ) from None
        except BaseException:
            await client.close()
            raise
        return client

    async def _open(self) -> None:
        try:
            self._reader, self._writer = await asyncio.open_connection(self.settings.host, self.settings.port)
        except OSError as exc:
            raise errors.from_os_error(self.where, exc, established=False) from None

    async def _negotiate(self) -> ServerIdentity | None:
        """TCP, X.224 negotiation and TLS; the TLS identity (None for classic security)."""
        await self._open()
        assert self._reader is not None and self._writer is not None
        requested = _REQUESTED[self.settings.security]
        self._writer.write(x224.connection_request(requested, self.settings.username))
        try:
            frame = await x224.read_frame(self._reader)
            if frame.kind is not x224.FrameKind.X224:
                raise MalformedPdu("the server answered the connection request with fast-path data")
            selected = x224.parse_connection_confirm(frame.data)
        except x224.NegotiationFailed as exc:
            raise errors.security_refused(self.where, str(exc)) from None
        except (asyncio.IncompleteReadError, ConnectionResetError):
            raise errors.protocol_error(self.where, "closed the connection during the security negotiation") from None
        except MalformedPdu as exc:
            raise errors.protocol_error(self.where, str(exc)) from None
        if selected == x224.PROTOCOL_RDP and self.settings.security != "rdp":
            raise errors.security_refused(
                self.where, "the server offers only classic RDP security, which the Jump Item does not allow"
            )
        if selected not in _SECURITY_NAMES or (selected and not selected & requested):
            raise errors.security_refused(
                self.where, f"the server chose a security protocol not asked for ({selected})"
            )
        self._selected = selected
        self.security = _SECURITY_NAMES[selected]
        if selected == x224.PROTOCOL_RDP:
            return None
        try:
            await self._writer.start_tls(_tls_context(), server_hostname=None)
        except (ssl.SSLError, OSError) as exc:
            raise errors.protocol_error(self.where, f"the TLS handshake failed ({exc})") from None
        ssl_object = self._writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der:
            raise errors.protocol_error(self.where, "presented no TLS certificate")
        self.identity = ServerIdentity("tls", der)
        return self.identity

    async def _connect(self, identity_check: IdentityCheck) -> None:
        identity = await self._negotiate()
        if identity is not None:
            await identity_check(identity)
        assert self._reader is not None and self._writer is not None
        settings = self.settings
        password = settings.password.reveal() if settings.password is not None else ""
        if self._selected == x224.PROTOCOL_HYBRID:
            assert identity is not None
            credentials = NlaCredentials(settings.domain, settings.username, password)
            try:
                await authenticate(self._reader, self._writer, credentials, identity.blob, settings.host)
            except NlaFailed as exc:
                raise errors.auth_failed(self.where, settings.username, exc.reason) from None
            except MalformedPdu as exc:
                raise errors.protocol_error(self.where, f"during NLA: {exc}") from None
        bpp = QUALITY_BPP.get(settings.quality, 32)
        client_settings = gcc.ClientSettings(
            width=settings.width,
            height=settings.height,
            bpp=bpp,
            selected_protocol=self._selected,
            channels=CHANNELS,
            keyboard_layout=settings.keyboard_layout,
            console_session=settings.console_session,
        )
        try:
            await self._mcs_connect(client_settings, identity_check)
            self._send_info(password, QUALITY_PERFORMANCE.get(settings.quality, _LEAN))
            while not self._active.is_set():
                await self._receive_one()
                await self._drain_backlog()
        except MalformedPdu as exc:
            raise errors.protocol_error(self.where, str(exc)) from None
        except (asyncio.IncompleteReadError, ConnectionResetError, mcs.ProviderUltimatum):
            raise self._closed_error("while logging on") from None
        except LicensingRefused as exc:
            raise errors.licensing_refused(self.where, str(exc)) from None
        self._task = asyncio.create_task(self._run(), name=f"rdp-receive-{self.where}")

    async def _read_x224(self) -> bytes:
        assert self._reader is not None
        frame = await x224.read_frame(self._reader)
        if frame.kind is not x224.FrameKind.X224:
            raise MalformedPdu("fast-path data before the session was active")
        return x224.strip_data_header(frame.data)

    async def _mcs_connect(self, client_settings: gcc.ClientSettings, identity_check: IdentityCheck) -> None:
        assert self._writer is not None
        self._writer.write(x224.data_tpdu(mcs.connect_initial(gcc.conference_create_request(client_settings))))
        server = gcc.parse_conference_create_response(mcs.parse_connect_response(await self._read_x224()))
        self._io_channel = server.io_channel
        for name, channel_id in zip(CHANNELS, server.channel_ids, strict=False):
            if channel_id:
                self._channel_ids[name] = channel_id
                self._channel_names[channel_id] = name
                self._reassemblers[channel_id] = ChannelReassembler(name, MAX_CHANNEL_MESSAGE)
        if self._selected == x224.PROTOCOL_RDP:
            if not server.server_random or not server.server_certificate:
                raise MalformedPdu("classic RDP security without a server random and certificate")
            key = parse_server_certificate(server.server_certificate)
            self._server_key = key
            self.identity = ServerIdentity("rsa", key.identity)
            await identity_check(self.identity)
            random = client_random()
            self._pending_keys = derive_keys(random, server.server_random, server.encryption_method)
            self._exchange = security_exchange(key, random)
        self._writer.write(x224.data_tpdu(mcs.erect_domain_request()))
        self._writer.write(x224.data_tpdu(mcs.attach_user_request()))
        self._user_id = mcs.parse_attach_user_confirm(await self._read_x224())
        for channel_id in (self._user_id, self._io_channel, *self._channel_names):
            self._writer.write(x224.data_tpdu(mcs.channel_join_request(self._user_id, channel_id)))
            mcs.parse_channel_join_confirm(await self._read_x224())
        if self._selected == x224.PROTOCOL_RDP:
            self._send_raw(self._io_channel, self._exchange)
            self._keys = self._pending_keys

    def _send_info(self, password: str, performance: int) -> None:
        settings = self.settings
        body = client_info(
            domain=settings.domain,
            username=settings.username,
            password=password,
            auto_logon=bool(settings.username),
            performance_flags=performance,
        )
        self._send_secured(self._io_channel, body, SEC_INFO_PKT)

    # ---- writing ---------------------------------------------------------------------------------------------

    def _send_raw(self, channel_id: int, payload: bytes) -> None:
        if self._writer is None or self._closed:
            return
        self._writer.write(x224.data_tpdu(mcs.send_data_request(self._user_id, channel_id, payload)))

    def _send_secured(self, channel_id: int, payload: bytes, flags: int = 0) -> None:
        """Send with a basic security header when one is needed: always under classic security (encrypted),
        and for the Client Info PDU (``flags``) under TLS."""
        if self._keys is not None:
            signature = self._keys.encrypt.signature(payload)
            encrypted = self._keys.encrypt.process(payload)
            self._send_raw(channel_id, u32(flags | SEC_ENCRYPT) + signature + encrypted)
        elif flags:
            self._send_raw(channel_id, u32(flags) + payload)
        else:
            self._send_raw(channel_id, payload)

    def _send_data(self, pdu_type2: int, body: bytes) -> None:
        assert self._caps is not None
        self._send_secured(self._io_channel, pdu.share_data(self._caps.share_id, self._user_id, pdu_type2, body))

    def _send_channel(self, name: str, message: bytes) -> None:
        channel_id = self._channel_ids.get(name)
        if channel_id is None:
            return
        for chunk in chunks(message):
            self._send_secured(channel_id, chunk)

    def _send_input(self, events: list[bytes]) -> None:
        if self._writer is None or self._closed or not events:
            return
        for start in range(0, len(events), fastpath.MAX_EVENTS_PER_PDU):
            batch = events[start : start + fastpath.MAX_EVENTS_PER_PDU]
            body = b"".join(batch)
            if self._keys is not None:
                signature = self._keys.encrypt.signature(body)
                packet = fastpath.input_pdu(self._keys.encrypt.process(body), len(batch), signature)
            else:
                packet = fastpath.input_pdu(body, len(batch))
            self._writer.write(packet)

    # ---- reading ---------------------------------------------------------------------------------------------

    async def _receive_one(self) -> None:
        assert self._reader is not None
        frame = await x224.read_frame(self._reader)
        if frame.kind is x224.FrameKind.FASTPATH:
            self._fastpath(frame.data)
        else:
            self._slowpath(x224.strip_data_header(frame.data))

    async def _drain_backlog(self) -> None:
        """Return at once unless the server let more than the limit of what we wrote (our answers) pile up unread;
        then wait until it reads (:func:`~jumpoint.core.write_backlog.drain_backlog`), reading nothing meanwhile."""
        if self._writer is not None:
            await drain_backlog(self._writer, self._not_reading)

    def _not_reading(self, unsent: int) -> None:
        if self._told_not_reading:
            return
        self._told_not_reading = True
        self.log.warning(
            "rdp %s: the server does not read what we send (%d bytes wait); reading from it waits until it does",
            self.where,
            unsent,
        )

    def _unsecure(self, payload: bytes, *, expect_header: bool) -> tuple[int, bytes]:
        """Strip (and decrypt under) the basic security header, when the phase has one."""
        if not expect_header:
            return 0, payload
        reader = Reader(payload, "security header")
        flags = reader.u16()
        reader.u16()
        if flags & SEC_ENCRYPT:
            if self._keys is None:
                raise MalformedPdu("the server encrypted a PDU although no keys were exchanged")
            reader.skip(8)  # MAC: the TLS-less classic security is weak anyway; RC4 state must still advance
            return flags, self._keys.decrypt.process(reader.rest())
        return flags, reader.rest()

    def _slowpath(self, data: bytes) -> None:
        message = mcs.parse_domain_pdu(data)
        classic = self._keys is not None
        if message.channel_id != self._io_channel:
            _, payload = self._unsecure(message.payload, expect_header=classic)
            self._channel_message(message.channel_id, payload)
            return
        if not self._licensed:
            flags, body = self._unsecure(message.payload, expect_header=True)
            if flags & SEC_LICENSE_PKT:
                licensing = LicenseClient(self.settings.username or "openjump", "openjump", self._server_key)
                step = licensing.receive(body)
                if step.reply is not None:
                    self._send_raw(self._io_channel, u32(SEC_LICENSE_PKT) + step.reply)
                self._licensed = step.done
                return
            self._licensed = True  # a server that skips licensing goes on with the session
            if not classic and not flags & SEC_ENCRYPT:
                body = message.payload
        else:
            _, body = self._unsecure(message.payload, expect_header=classic)
        for share in pdu.parse_share_pdus(body):
            self._share_pdu(share)

    def _share_pdu(self, share: pdu.SharePdu) -> None:
        if share.pdu_type == pdu.PDUTYPE_DEMANDACTIVE:
            self._demand_active(share.body)
        elif share.pdu_type == pdu.PDUTYPE_DEACTIVATEALL:
            self.log.info("rdp %s: deactivated; waiting for reactivation", self.where)
        elif share.pdu_type == pdu.PDUTYPE_DATA:
            self._data_pdu(pdu.parse_data_pdu(share.body))
        elif share.pdu_type == pdu.PDUTYPE_SERVER_REDIR:
            raise MalformedPdu("the server redirects to another server (a connection broker), which is not supported")

    def _demand_active(self, body: bytes) -> None:
        caps = capabilities.parse_demand_active(body)
        if not caps.fastpath_input:
            raise MalformedPdu("the server accepts no fast-path input, which this client needs")
        self._caps = caps
        self.screen.resize(caps.width, caps.height)
        self._fragments.limit = capabilities.multifragment_size(caps.width, caps.height)
        bpp = caps.bpp if caps.bpp in (15, 16, 24, 32) else 32
        assert self._writer is not None
        confirm = capabilities.confirm_active(
            caps.share_id,
            self._user_id,
            caps.width,
            caps.height,
            bpp,
            self.settings.keyboard_layout,
            lossless=self.settings.quality == "full_color",
        )
        self._send_secured(self._io_channel, confirm)
        self._send_data(pdu.PDUTYPE2_SYNCHRONIZE, pdu.synchronize())
        self._send_data(pdu.PDUTYPE2_CONTROL, pdu.control(pdu.CTRLACTION_COOPERATE))
        self._send_data(pdu.PDUTYPE2_CONTROL, pdu.control(pdu.CTRLACTION_REQUEST_CONTROL))
        self._send_data(pdu.PDUTYPE2_FONTLIST, pdu.font_list())
        self._send_input([fastpath.sync_event()])
        if not self._active.is_set():
            self._activated_at = time.monotonic()
        self._active.set()
        self.log.info("rdp %s: active, %dx%d at %d bpp", self.where, caps.width, caps.height, caps.bpp)

    def _data_pdu(self, data: pdu.DataPdu) -> None:
        body = data.body
        if data.compression & BULK_FLAGS:  # a flush or reset without data still resets the history
            body = self._decompress(body, data.compression)
        kind = data.pdu_type2
        if kind == pdu.PDUTYPE2_UPDATE:
            self.updates.slow_path_update(body)
        elif kind == pdu.PDUTYPE2_POINTER:
            self.updates.pointer_pdu(body)
        elif kind == pdu.PDUTYPE2_SET_ERROR_INFO:
            self._error_info = pdu.parse_error_info(body)
            if self._error_info:
                self.log.info(
                    "rdp %s: error info %#x (%s)", self.where, self._error_info, pdu.error_info_text(self._error_info)
                )
        elif kind == pdu.PDUTYPE2_SAVE_SESSION_INFO:
            self._session_info = True
            self.log.info("rdp %s: the user is logged on", self.where)

    def _fastpath(self, data: bytes) -> None:
        if not self._active.is_set():
            raise MalformedPdu("fast-path updates before the session was active")
        flags, offset = fastpath.parse_output_header(data)
        body = data[offset:]
        if flags & fastpath.FASTPATH_OUTPUT_ENCRYPTED:
            if self._keys is None:
                raise MalformedPdu("an encrypted fast-path PDU although no keys were exchanged")
            body = self._keys.decrypt.process(body[8:])
        for update in fastpath.parse_updates(body):
            payload = update.data
            if update.compression_flags is not None:
                payload = self._decompress(payload, update.compression_flags)
            whole = self._fragments.add(update.code, update.fragmentation, payload)
            if whole is not None:
                self.updates.fast_path_update(update.code, whole)

    def _acknowledge_frame(self, frame_id: int) -> None:
        # The frame is decoded into the screen: the server may send the next one (the Jumpoint merges frames for a
        # slow viewer, so acknowledging on decode does not let frames pile up anywhere).
        if self._caps is not None:
            self._send_data(pdu.PDUTYPE2_FRAME_ACKNOWLEDGE, u32(frame_id))

    def _decompress(self, data: bytes, flags: int) -> bytes:
        try:
            return self._bulk.decompress(data, flags)
        except ValueError as exc:
            raise MalformedPdu(f"compressed data that does not decompress ({exc})") from None

    def _channel_message(self, channel_id: int, payload: bytes) -> None:
        reassembler = self._reassemblers.get(channel_id)
        if reassembler is None:
            return
        message = reassembler.add(payload)
        if message is None:
            return
        if reassembler.name == "cliprdr":
            replies, text = self._clipboard.receive(message)
            for reply in replies:
                self._send_channel("cliprdr", reply)
            if text is not None:
                self.screen.add_side(Clipboard(text))

    async def _run(self) -> None:
        error: BaseException | None = None
        try:
            while True:
                await self._receive_one()
                await self._drain_backlog()
                # A busy server keeps the reader's buffer full, so reading never suspends: give the desktop
                # stream its turn after every PDU, or it waits while hundreds of small updates are decoded.
                await asyncio.sleep(0)
        except (asyncio.IncompleteReadError, ConnectionResetError, mcs.ProviderUltimatum, BrokenPipeError):
            error = self._end_error()
        except MalformedPdu as exc:
            error = errors.protocol_error(self.where, str(exc))
        except OSError as exc:
            error = errors.from_os_error(self.where, exc)
        except asyncio.CancelledError:
            error = None
            raise
        except Exception as exc:  # a bug here must end this session with a message, not hang it
            self.log.exception("rdp %s: receive loop failed", self.where)
            error = errors.protocol_error(self.where, f"internal error: {type(exc).__name__}")
        finally:
            self.screen.end(error)

    def _closed_error(self, when: str) -> JumpError:
        if self._error_info:
            return TargetClosed(
                f"RDP server {self.where} closed the connection {when}: {pdu.error_info_text(self._error_info)}",
                hint="see the reason above; connect again when it is resolved",
                details={"target": self.where, "error_info": self._error_info},
            )
        return errors.protocol_error(self.where, f"closed the connection {when}")

    def _end_error(self) -> BaseException | None:
        if self._closed:
            return None
        lived = time.monotonic() - self._activated_at
        if (
            not self._error_info
            and self._selected != x224.PROTOCOL_HYBRID
            and not self.settings.logged_on_before
            and lived < QUIET_REFUSAL_SECONDS
            and not self.logged_on
        ):
            # Without NLA the password travels in the Client Info PDU and servers such as xrdp and FreeRDP's shadow
            # server check it after activation: a refusal is the connection closing soon after, without a reason.
            said = (
                f"the server closed the session {lived:.1f} s after logon without giving a reason (how xrdp and "
                "FreeRDP refuse a wrong user name or password)"
            )
            return errors.auth_failed(self.where, self.settings.username, said)
        if self._error_info in pdu.ERROR_INFO_SILENT:
            return None
        return self._closed_error("")

    # ---- input -----------------------------------------------------------------------------------------------

    async def send(self, event: DesktopInput) -> None:
        """Deliver one input event; waits while the server reads slowly (never dropped)."""
        if isinstance(event, Pointer):
            events = fastpath.button_events(event.x, event.y, self._buttons, event.buttons)
            self._buttons = event.buttons
            if len(events) == 1:
                events = [fastpath.mouse_event(fastpath.PTRFLAGS_MOVE, event.x, event.y)]
            self._send_input(events)
        elif isinstance(event, Wheel):
            hwheel = self._caps.hwheel if self._caps is not None else False
            self._send_input(fastpath.wheel_events(event.x, event.y, event.dx, event.dy, hwheel))
        elif isinstance(event, Key):
            self._send_key(event)
        elif isinstance(event, Clipboard):
            for message in self._clipboard.offer(event.text):
                self._send_channel("cliprdr", message)
        elif isinstance(event, Refresh):
            if self._caps is not None and self._caps.refresh_rect:
                width, height = self.screen.width, self.screen.height
                self._send_data(pdu.PDUTYPE2_REFRESH_RECT, pdu.refresh_rect(0, 0, width - 1, height - 1))
        elif isinstance(event, DesktopSize | Quality):
            return  # handled by the adapter (a new connection at the new size)
        if self._writer is not None and not self._closed:
            try:
                await self._writer.drain()
            except OSError as exc:
                raise errors.from_os_error(self.where, exc) from None

    def _send_key(self, event: Key) -> None:
        events: list[bytes] = []
        for stroke in self._keys_map.strokes(event.keysym, event.down, event.scancode):
            if stroke.scancode is not None:
                events.append(fastpath.scancode_event(stroke.scancode, stroke.down))
            elif stroke.unicode is not None:
                if self._caps is not None and not self._caps.unicode_input:
                    self.log.debug(
                        "rdp %s: the server takes no Unicode input; key %#x dropped", self.where, event.keysym
                    )
                    continue
                events.extend(fastpath.unicode_events(stroke.unicode, stroke.down))
        self._send_input(events)

    # ---- closing ---------------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Close the connection (a polite disconnect when active); idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        writer = self._writer
        if writer is not None:
            with contextlib.suppress(Exception):
                if self._active.is_set():
                    writer.write(x224.data_tpdu(bytes((mcs.DISCONNECT_PROVIDER_ULTIMATUM << 2 | 1, 0x80))))
                writer.close()
                await asyncio.wait_for(writer.wait_closed(), 1.0)
        self.updates.close()
        self._bulk.close()
        self.screen.end(None)
