"""TPKT framing, X.224 connection negotiation and fast-path framing (MS-RDPBCGR 2.2.1.1-2.2.1.2, 2.2.9.1.2).

A frame from the server is either a TPKT (first byte 3) carrying an X.224 Data TPDU, or a fast-path output PDU
(low two bits 0). :func:`read_frame` tells them apart and bounds the length before reading the body.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass

from protocols.rdp.wire import MalformedPdu, Reader, u8, u16, u16be, u32

MAX_FRAME = 0x7FFF + 0x8000  # both framings carry a 15/16-bit length; nothing larger exists on the wire
TPKT_VERSION = 3
X224_DATA_HEADER = b"\x02\xf0\x80"

PROTOCOL_RDP = 0
PROTOCOL_SSL = 1
PROTOCOL_HYBRID = 2
PROTOCOL_HYBRID_EX = 8

_FAILURES = {
    1: "the server requires TLS (SSL_REQUIRED_BY_SERVER)",
    2: "the server offers only classic RDP security (SSL_NOT_ALLOWED_BY_SERVER)",
    3: "the server has no TLS certificate configured (SSL_CERT_NOT_ON_SERVER)",
    4: "the server found the requested security inconsistent (INCONSISTENT_FLAGS)",
    5: "the server requires Network Level Authentication (HYBRID_REQUIRED_BY_SERVER)",
    6: "the server requires TLS with user authentication (SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER)",
}


class FrameKind(enum.Enum):
    """How a frame from the server was framed."""

    X224 = "x224"
    FASTPATH = "fastpath"


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame from the server: for X.224 the TPDU after the TPKT header; for fast-path the whole PDU."""

    kind: FrameKind
    data: bytes


class NegotiationFailed(Exception):
    """The server refused every security protocol the client asked for (``code``: RDP_NEG_FAILURE's code)."""

    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(_FAILURES.get(code, f"the server refused the security negotiation (code {code})"))


def tpkt(payload: bytes) -> bytes:
    """Wrap ``payload`` in a TPKT header."""
    return bytes((TPKT_VERSION, 0)) + u16be(len(payload) + 4) + payload


def data_tpdu(payload: bytes) -> bytes:
    """An X.224 Data TPDU in a TPKT: how every slow-path PDU travels."""
    return tpkt(X224_DATA_HEADER + payload)


def connection_request(requested_protocols: int, cookie_user: str = "") -> bytes:
    """The X.224 Connection Request with an RDP Negotiation Request (and a ``mstshash`` cookie if a user is set)."""
    cookie = f"Cookie: mstshash={cookie_user[:9]}\r\n".encode("ascii", "replace") if cookie_user else b""
    negotiation = u8(1) + u8(0) + u16(8) + u32(requested_protocols)
    body = b"\xe0" + b"\0\0" + b"\0\0" + b"\0" + cookie + negotiation
    return tpkt(u8(len(body)) + body)


def parse_connection_confirm(tpdu: bytes) -> int:
    """The protocol the server selected from its Connection Confirm; NegotiationFailed if it refused.

    A confirm without a negotiation response comes from a server older than RDP 5.2: classic RDP security.
    """
    reader = Reader(tpdu, "X.224 Connection Confirm")
    length = reader.u8()
    code = reader.u8()
    if code & 0xF0 != 0xD0:
        raise MalformedPdu(f"expected an X.224 Connection Confirm, got TPDU code {code:#x}")
    reader.skip(5)
    if length < 14:  # no negotiation response: a server older than RDP 5.2
        return PROTOCOL_RDP
    kind = reader.u8()
    reader.u8()  # flags
    if reader.u16() != 8:
        raise MalformedPdu("the RDP negotiation response has a wrong length")
    value = reader.u32()
    if kind == 3:
        raise NegotiationFailed(value)
    if kind != 2:
        raise MalformedPdu(f"unknown RDP negotiation message type {kind}")
    return value


def strip_data_header(tpdu: bytes) -> bytes:
    """The payload of an X.224 Data TPDU."""
    if tpdu[:3] != X224_DATA_HEADER:
        if tpdu[1:2] == b"\x80":
            raise MalformedPdu("the server sent an X.224 Disconnect Request")
        raise MalformedPdu("expected an X.224 Data TPDU")
    return tpdu[3:]


async def read_frame(reader: asyncio.StreamReader) -> Frame:
    """Read one frame; IncompleteReadError at end of stream, MalformedPdu for a bad header."""
    first = await reader.readexactly(2)
    if first[0] == TPKT_VERSION:
        rest = await reader.readexactly(2)
        length = (rest[0] << 8) | rest[1]
        if length < 7:
            raise MalformedPdu(f"a TPKT of {length} bytes is too short")
        body = await reader.readexactly(length - 4)
        return Frame(FrameKind.X224, body)
    if first[0] & 0x3 != 0:
        raise MalformedPdu(f"a frame starts with {first[0]:#04x}: neither TPKT nor fast-path")
    length = first[1]
    header = first
    if length & 0x80:
        extra = await reader.readexactly(1)
        header += extra
        length = ((length & 0x7F) << 8) | extra[0]
    if length < len(header):
        raise MalformedPdu(f"a fast-path PDU of {length} bytes is too short")
    body = await reader.readexactly(length - len(header))
    return Frame(FrameKind.FASTPATH, header + body)


def fastpath_length(length: int) -> bytes:
    """A fast-path length field (one byte below 0x80, else two with the high bit set); includes itself."""
    if length + 1 < 0x80:
        return u8(length + 1)
    return u16be((length + 2) | 0x8000)
