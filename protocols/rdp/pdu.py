"""Slow-path share PDUs: the share control and share data headers and the small PDUs of the connection sequence
(MS-RDPBCGR 2.2.1.14-2.2.1.22, 2.2.8.1.1.1) and of the session (refresh rect, error info, save session info).
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.rdp.wire import MalformedPdu, Reader, u8, u16, u32

PDUTYPE_DEMANDACTIVE = 0x1
PDUTYPE_CONFIRMACTIVE = 0x3
PDUTYPE_DEACTIVATEALL = 0x6
PDUTYPE_DATA = 0x7
PDUTYPE_SERVER_REDIR = 0xA
PROTOCOL_VERSION = 0x10

PDUTYPE2_UPDATE = 2
PDUTYPE2_CONTROL = 20
PDUTYPE2_POINTER = 27
PDUTYPE2_INPUT = 28
PDUTYPE2_SYNCHRONIZE = 31
PDUTYPE2_REFRESH_RECT = 33
PDUTYPE2_SUPPRESS_OUTPUT = 35
PDUTYPE2_SHUTDOWN_DENIED = 37
PDUTYPE2_SAVE_SESSION_INFO = 38
PDUTYPE2_FONTLIST = 39
PDUTYPE2_FONTMAP = 40
PDUTYPE2_SET_ERROR_INFO = 47
PDUTYPE2_FRAME_ACKNOWLEDGE = 56

CTRLACTION_REQUEST_CONTROL = 1
CTRLACTION_GRANTED_CONTROL = 2
CTRLACTION_COOPERATE = 4

STREAM_LOW = 1
SERVER_CHANNEL_ID = 0x03EA


@dataclass(frozen=True, slots=True)
class SharePdu:
    """A share control PDU: its type, its source and the body after the header."""

    pdu_type: int
    source: int
    body: bytes


@dataclass(frozen=True, slots=True)
class DataPdu:
    """A share data PDU: its type (``pdu_type2``), the compression flags and the body after the header."""

    share_id: int
    pdu_type2: int
    compression: int
    body: bytes


def parse_share_pdus(data: bytes) -> list[SharePdu]:
    """Every share control PDU in one channel payload (a server may send several in one)."""
    reader = Reader(data, "share control PDU")
    pdus = []
    while reader.remaining >= 2:
        total = reader.u16()
        if total == 0x8000:  # a flow-control PDU: nothing for us
            reader.skip(min(6, reader.remaining))
            continue
        if total < 6:
            raise MalformedPdu(f"a share control PDU of {total} bytes")
        pdu_type = reader.u16() & 0xF
        source = reader.u16()
        pdus.append(SharePdu(pdu_type, source, reader.take(total - 6)))
    return pdus


def parse_data_pdu(body: bytes) -> DataPdu:
    """The share data header and body of a PDUTYPE_DATA PDU."""
    reader = Reader(body, "share data PDU")
    share_id = reader.u32()
    reader.u8()  # pad
    reader.u8()  # stream id
    reader.u16()  # uncompressed length
    pdu_type2 = reader.u8()
    compression = reader.u8()
    reader.u16()  # compressed length
    return DataPdu(share_id, pdu_type2, compression, reader.rest())


def share_control(pdu_type: int, source: int, body: bytes) -> bytes:
    """A share control header around ``body``."""
    return u16(len(body) + 6) + u16(pdu_type | PROTOCOL_VERSION) + u16(source) + body


def share_data(share_id: int, source: int, pdu_type2: int, body: bytes) -> bytes:
    """A share data PDU (uncompressed) around ``body``."""
    header = u32(share_id) + u8(0) + u8(STREAM_LOW) + u16(len(body) + 4) + u8(pdu_type2) + u8(0) + u16(0)
    return share_control(PDUTYPE_DATA, source, header + body)


def synchronize() -> bytes:
    """The Synchronize PDU's body."""
    return u16(1) + u16(SERVER_CHANNEL_ID)


def control(action: int) -> bytes:
    """A Control PDU's body (cooperate, request control)."""
    return u16(action) + u16(0) + u32(0)


def font_list() -> bytes:
    """The Font List PDU's body (no fonts: the client draws no glyph orders)."""
    return u16(0) + u16(0) + u16(0x3) + u16(0x32)


def refresh_rect(left: int, top: int, right: int, bottom: int) -> bytes:
    """A Refresh Rect PDU's body for one area (right and bottom inclusive)."""
    return u8(1) + bytes(3) + u16(left) + u16(top) + u16(right) + u16(bottom)


def suppress_output(allow: bool, width: int, height: int) -> bytes:
    """A Suppress Output PDU's body: stop updates (nobody watches) or resume them for the whole desktop."""
    if not allow:
        return u8(0) + bytes(3)
    return u8(1) + bytes(3) + u16(0) + u16(0) + u16(width - 1) + u16(height - 1)


ERROR_INFO = {
    0x00000001: "an administrator disconnected the session",
    0x00000002: "an administrator logged the session off",
    0x00000003: "the session was idle for too long and was disconnected",
    0x00000004: "the session reached its time limit",
    0x00000005: "another user connected to the session",
    0x00000006: "the server is out of memory",
    0x00000007: "the server denied the connection",
    0x00000009: "the user has no right to log on remotely",
    0x0000000A: "the server does not accept fresh credentials (it asks for them interactively)",
    0x0000000B: "the session was disconnected by another user",
    0x0000000C: "the session was logged off by another user",
    0x00000100: "an internal licensing error on the server",
    0x00000101: "no license server is available",
    0x00000102: "no license is available for this client",
    0x00000103: "the server's license store refused this client's license",
    0x00000104: "the client's license was modified",
    0x00000105: "the client's license is not valid",
    0x00000106: "the license exchange was cut short",
    0x00000109: "the licensing protocol failed",
    0x0000010A: "the server's license has expired",
    0x00001000: "a channel's data could not be read",
    0x000010C9: "the server refused the client's capabilities",
}
ERROR_INFO_SILENT = {0x0, 0x0000000C, 0x00000002, 0x00000001, 0x00000004, 0x00000003}


def parse_error_info(body: bytes) -> int:
    """The error code of a Set Error Info PDU (0: none)."""
    return Reader(body, "Set Error Info PDU").u32()


def error_info_text(code: int) -> str:
    """What a Set Error Info code means, for a person."""
    return ERROR_INFO.get(code, f"the server reported error {code:#010x}")
