"""GCC Conference Create Request/Response and the client/server data blocks (MS-RDPBCGR 2.2.1.3, 2.2.1.4).

The client says who it is (desktop size, colour depth, keyboard), which encryption it supports and which static
virtual channels it wants; the server answers with its version, the encryption chosen (with its random and
certificate for classic RDP security) and the channel ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocols.rdp.wire import MalformedPdu, Reader, fixed_utf16, u8, u16, u16be, u32

CS_CORE = 0xC001
CS_SECURITY = 0xC002
CS_NET = 0xC003
CS_CLUSTER = 0xC004
SC_CORE = 0x0C01
SC_SECURITY = 0x0C02
SC_NET = 0x0C03

RNS_UD_COLOR_8BPP = 0xCA01
RNS_UD_SAS_DEL = 0xAA03
SUPPORT_24BPP = 0x1
SUPPORT_16BPP = 0x2
SUPPORT_15BPP = 0x4
SUPPORT_32BPP = 0x8
EARLY_SUPPORT_ERRINFO_PDU = 0x1
EARLY_WANT_32BPP_SESSION = 0x2
EARLY_VALID_CONNECTION_TYPE = 0x20
CONNECTION_TYPE_LAN = 6

ENCRYPTION_40BIT = 0x1
ENCRYPTION_128BIT = 0x2
ENCRYPTION_56BIT = 0x8

CHANNEL_OPTION_INITIALIZED = 0x80000000
CHANNEL_OPTION_ENCRYPT_RDP = 0x40000000
CHANNEL_OPTION_COMPRESS_RDP = 0x00800000
CHANNEL_OPTION_SHOW_PROTOCOL = 0x00200000

REDIRECTION_SUPPORTED = 0x1
REDIRECTED_SESSIONID_FIELD_VALID = 0x2
REDIRECTION_VERSION4 = 0x3 << 2

_T124_OID = b"\x00\x05\x00\x14\x7c\x00\x01"
_CLIENT_KEY = b"Duca"
_SERVER_KEY = b"McDn"
RDP_VERSION_10_7 = 0x00080010
MAX_CHANNELS = 31


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """What the client announces in its data blocks."""

    width: int
    height: int
    bpp: int
    selected_protocol: int
    channels: tuple[str, ...]
    keyboard_layout: int = 0x409
    client_name: str = "openjump"
    console_session: bool = False


def _block(kind: int, body: bytes) -> bytes:
    return u16(kind) + u16(len(body) + 4) + body


def client_core(settings: ClientSettings) -> bytes:
    """TS_UD_CS_CORE."""
    high = 24 if settings.bpp == 32 else settings.bpp
    early = EARLY_SUPPORT_ERRINFO_PDU | EARLY_VALID_CONNECTION_TYPE
    if settings.bpp == 32:
        early |= EARLY_WANT_32BPP_SESSION
    body = (
        u32(RDP_VERSION_10_7)
        + u16(settings.width)
        + u16(settings.height)
        + u16(RNS_UD_COLOR_8BPP)
        + u16(RNS_UD_SAS_DEL)
        + u32(settings.keyboard_layout)
        + u32(2600)  # client build
        + fixed_utf16(settings.client_name, 32)
        + u32(4)  # keyboard type: IBM enhanced (101/102 keys)
        + u32(0)
        + u32(12)  # function keys
        + bytes(64)  # IME file name
        + u16(RNS_UD_COLOR_8BPP)
        + u16(1)  # client product id
        + u32(0)  # serial number
        + u16(high)
        + u16(SUPPORT_15BPP | SUPPORT_16BPP | SUPPORT_24BPP | SUPPORT_32BPP)
        + u16(early)
        + bytes(64)  # client dig product id
        + u8(CONNECTION_TYPE_LAN)
        + u8(0)
        + u32(settings.selected_protocol)
    )
    return _block(CS_CORE, body)


def client_security(classic: bool) -> bytes:
    """TS_UD_CS_SEC: the encryption methods supported (none asked when TLS protects the connection)."""
    methods = ENCRYPTION_40BIT | ENCRYPTION_56BIT | ENCRYPTION_128BIT if classic else 0
    return _block(CS_SECURITY, u32(methods) + u32(0))


def client_network(channels: tuple[str, ...]) -> bytes:
    """TS_UD_CS_NET: the static virtual channels wanted."""
    if len(channels) > MAX_CHANNELS:
        raise ValueError(f"at most {MAX_CHANNELS} static channels")
    options = (
        CHANNEL_OPTION_INITIALIZED
        | CHANNEL_OPTION_ENCRYPT_RDP
        | CHANNEL_OPTION_COMPRESS_RDP
        | CHANNEL_OPTION_SHOW_PROTOCOL
    )
    body = u32(len(channels)) + b"".join(name.encode("ascii")[:7].ljust(8, b"\0") + u32(options) for name in channels)
    return _block(CS_NET, body)


def client_cluster(console_session: bool) -> bytes:
    """TS_UD_CS_CLUSTER: redirection supported; session 0 (the console) when asked for."""
    flags = REDIRECTION_SUPPORTED | REDIRECTION_VERSION4
    if console_session:
        flags |= REDIRECTED_SESSIONID_FIELD_VALID
    return _block(CS_CLUSTER, u32(flags) + u32(0))


def conference_create_request(settings: ClientSettings) -> bytes:
    """The GCC Conference Create Request with every client data block (the MCS Connect-Initial's user data)."""
    blocks = (
        client_core(settings)
        + client_cluster(settings.console_session)
        + client_security(classic=settings.selected_protocol == 0)
        + client_network(settings.channels)
    )
    # PER: ConnectData (t124 OID), the ConnectGCCPDU's length, a ConferenceCreateRequest with the conference name
    # "1", one user data set keyed h221NonStandard "Duca", then the blocks' length (always two bytes here).
    gcc = b"\x00\x08\x00\x10\x00\x01\xc0\x00" + _CLIENT_KEY + u16be(len(blocks) | 0x8000) + blocks
    return _T124_OID + u16be(len(gcc) | 0x8000) + gcc


@dataclass(slots=True)
class ServerData:
    """What the server's data blocks said."""

    version: int = 0
    requested_protocols: int = 0
    encryption_method: int = 0
    encryption_level: int = 0
    server_random: bytes = b""
    server_certificate: bytes = b""
    io_channel: int = 1003
    channel_ids: list[int] = field(default_factory=list)


def parse_conference_create_response(user_data: bytes) -> ServerData:
    """The server data blocks of a GCC Conference Create Response."""
    key = user_data.find(_SERVER_KEY, 0, 64)
    if key < 0:
        raise MalformedPdu("the GCC Conference Create Response has no server data (h221 key McDn missing)")
    reader = Reader(user_data[key + 4 :], "GCC Conference Create Response")
    length = reader.u8()
    if length & 0x80:
        length = ((length & 0x7F) << 8) | reader.u8()
    blocks = reader.sub(length, "server data blocks")
    data = ServerData()
    while blocks.remaining >= 4:
        kind = blocks.u16()
        size = blocks.u16()
        if size < 4:
            raise MalformedPdu(f"server data block {kind:#x} has length {size}")
        block = blocks.sub(size - 4, f"server data block {kind:#x}")
        if kind == SC_CORE:
            data.version = block.u32()
            if block.remaining >= 4:
                data.requested_protocols = block.u32()
        elif kind == SC_SECURITY:
            _parse_security(block, data)
        elif kind == SC_NET:
            data.io_channel = block.u16()
            count = block.u16()
            if count > MAX_CHANNELS:
                raise MalformedPdu(f"the server lists {count} channels")
            data.channel_ids = [block.u16() for _ in range(count)]
    return data


def _parse_security(block: Reader, data: ServerData) -> None:
    data.encryption_method = block.u32()
    data.encryption_level = block.u32()
    if data.encryption_method == 0 and block.remaining < 8:
        return
    random_length = block.u32()
    certificate_length = block.u32()
    if random_length != 32 or certificate_length > 16384:
        raise MalformedPdu(f"server random of {random_length} bytes or certificate of {certificate_length}")
    data.server_random = block.take(random_length)
    data.server_certificate = block.take(certificate_length)
