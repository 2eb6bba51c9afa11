"""The licensing phase (MS-RDPELE as far as a gateway needs it, MS-RDPBCGR 2.2.1.12).

Servers that need no client license (FreeRDP, Windows with per-user licensing) answer the Client Info PDU with a
"valid client" error alert, which ends licensing. xrdp sends a License Request first, answers the client's New
License Request with that same alert, and never checks the request's content beyond its form: the client sends
one (its pre-master secret encrypted with the server's key when the server gave one). A server that goes on to a
Platform Challenge wants a real client access license, which this client does not hold: it is refused with a
message saying so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from protocols.rdp.rdp_security import ServerKey, parse_server_certificate
from protocols.rdp.wire import MalformedPdu, Reader, u8, u16, u32

LICENSE_REQUEST = 0x01
PLATFORM_CHALLENGE = 0x02
NEW_LICENSE = 0x03
UPGRADE_LICENSE = 0x04
NEW_LICENSE_REQUEST = 0x13
ERROR_ALERT = 0xFF
STATUS_VALID_CLIENT = 0x07
ST_NO_TRANSITION = 0x2
PREAMBLE_VERSION_3 = 0x03
EXTENDED_ERROR_MSG_SUPPORTED = 0x80
KEY_EXCHANGE_ALG_RSA = 1
PLATFORM_ID = 0x04000000 | 0x00010000  # Windows NT post-5.2, Microsoft image
BB_RANDOM_BLOB = 0x0002
BB_CERTIFICATE_BLOB = 0x0003
BB_CLIENT_USER_NAME_BLOB = 0x000F
BB_CLIENT_MACHINE_NAME_BLOB = 0x0010

_ERRORS = {
    0x01: "the server's licensing data is invalid (ERR_INVALID_SERVER_CERTIFICATE)",
    0x02: "no license is available for this client (ERR_NO_LICENSE)",
    0x06: "no license server is reachable by the RDP server (ERR_NO_LICENSE_SERVER)",
    0x08: "the client's license is not valid (ERR_INVALID_CLIENT)",
    0x0B: "the licensing exchange failed (ERR_INVALID_PRODUCTID)",
    0x0C: "the licensing message was malformed (ERR_INVALID_MESSAGE_LEN)",
}


class LicensingRefused(Exception):
    """The server's licensing cannot be satisfied by this client."""


def _blob(kind: int, data: bytes) -> bytes:
    return u16(kind) + u16(len(data)) + data


def _read_blob(reader: Reader) -> bytes:
    reader.u16()
    return reader.take(reader.u16())


@dataclass(frozen=True, slots=True)
class LicenseStep:
    """The outcome of one licensing PDU: whether licensing is over, and a reply to send (after a
    ``SEC_LICENSE_PKT`` security header)."""

    done: bool
    reply: bytes | None = None


class LicenseClient:
    """The client side of licensing for one connection."""

    def __init__(self, username: str, machine: str, fallback_key: ServerKey | None) -> None:
        self.username = username
        self.machine = machine
        self.fallback_key = fallback_key

    def receive(self, body: bytes) -> LicenseStep:
        """Process one licensing PDU (after the security header); LicensingRefused when it cannot go on."""
        reader = Reader(body, "licensing PDU")
        msg_type = reader.u8()
        reader.u8()  # flags
        reader.u16()  # size
        if msg_type == ERROR_ALERT:
            code = reader.u32()
            transition = reader.u32()
            if code == STATUS_VALID_CLIENT and transition == ST_NO_TRANSITION:
                return LicenseStep(done=True)
            raise LicensingRefused(_ERRORS.get(code, f"the server's licensing failed (error {code:#x})"))
        if msg_type == LICENSE_REQUEST:
            return LicenseStep(done=False, reply=self._new_license_request(reader))
        if msg_type in (PLATFORM_CHALLENGE, NEW_LICENSE, UPGRADE_LICENSE):
            raise LicensingRefused(
                "the server asks for a Remote Desktop client access license, which this gateway does not hold "
                "(set the RD Session Host to per-user licensing, or use the console/admin session)"
            )
        raise MalformedPdu(f"unknown licensing message type {msg_type:#x}")

    def _new_license_request(self, reader: Reader) -> bytes:
        reader.take(32)  # server random
        reader.u32()  # product version
        reader.skip(reader.u32())  # company name
        reader.skip(reader.u32())  # product id
        _read_blob(reader)  # key exchange list
        certificate = _read_blob(reader)
        key = self.fallback_key
        if certificate:
            try:
                key = parse_server_certificate(certificate)
            except MalformedPdu:
                key = self.fallback_key
        pre_master = os.urandom(48)
        encrypted = key.encrypt(pre_master) if key is not None else bytes(72)
        body = (
            u32(KEY_EXCHANGE_ALG_RSA)
            + u32(PLATFORM_ID)
            + os.urandom(32)
            + _blob(BB_RANDOM_BLOB, encrypted)
            + _blob(BB_CLIENT_USER_NAME_BLOB, self.username.encode("ascii", "replace") + b"\0")
            + _blob(BB_CLIENT_MACHINE_NAME_BLOB, self.machine.encode("ascii", "replace") + b"\0")
        )
        return (
            u8(NEW_LICENSE_REQUEST) + u8(PREAMBLE_VERSION_3 | EXTENDED_ERROR_MSG_SUPPORTED) + u16(len(body) + 4) + body
        )
