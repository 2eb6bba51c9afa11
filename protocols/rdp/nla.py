"""Network Level Authentication: CredSSP with NTLM over the connection's TLS (MS-CSSP, versions 2 to 6).

asyncio owns TLS; pyspnego (a raw ``ntlm`` context, because FreeRDP accepts no SPNEGO wrapping) makes the NTLM
tokens and seals. The few DER structures (TSRequest, TSCredentials, TSPasswordCreds) are encoded here, so no
private pyspnego module is relied on.

1. NEGOTIATE → CHALLENGE; 2. AUTHENTICATE with ``pubKeyAuth`` binding the TLS server key (v5+: a SHA-256 with a
client nonce) → the server proves it holds the same key; 3. the sealed TSCredentials (domain, user, password).

A wrong password gets a TSRequest ``errorCode`` from Windows, and from FreeRDP simply the end of the connection:
both are reported as an authentication failure.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass

import spnego
import spnego.exceptions
from spnego.tls import get_certificate_public_key

from protocols.rdp.wire import MalformedPdu

CREDSSP_VERSION = 6
MAX_TSREQUEST = 64 * 1024
_CLIENT_TO_SERVER = b"CredSSP Client-To-Server Binding Hash\0"
_SERVER_TO_CLIENT = b"CredSSP Server-To-Client Binding Hash\0"

STATUS_MESSAGES = {
    0xC000006D: "the user name or password is incorrect",
    0xC000006A: "the password is incorrect",
    0xC0000064: "no such user",
    0xC0000234: "the account is locked out",
    0xC0000072: "the account is disabled",
    0xC0000071: "the password has expired",
    0xC0000224: "the password must be changed before logging on",
    0xC000006E: "an account restriction prevents this logon",
    0xC000006F: "the account may not log on at this time",
    0xC0000070: "the account may not log on from this workstation",
    0xC000015B: "the user has not been granted the requested logon type (Remote Desktop Users)",
    0xC0000193: "the account has expired",
}


class NlaFailed(Exception):
    """The server refused the credentials (``reason`` says why when it said so)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class NlaCredentials:
    """Who logs in: the domain may be empty (a local account)."""

    domain: str
    username: str
    password: str


# --- DER: just what TSRequest needs ------------------------------------------------------------------------------


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes((size,))
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes((tag,)) + _length(len(content)) + content


def _seq(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _ctx(number: int, content: bytes) -> bytes:
    return _tlv(0xA0 | number, content)


def _int(value: int) -> bytes:
    return _tlv(0x02, value.to_bytes((value.bit_length() + 8) // 8, "big", signed=False))


def _octets(value: bytes) -> bytes:
    return _tlv(0x04, value)


def _read_tlv(data: bytes, pos: int) -> tuple[int, bytes, int]:
    if pos + 2 > len(data):
        raise MalformedPdu("a CredSSP message is truncated")
    tag = data[pos]
    first = data[pos + 1]
    pos += 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 3 or pos + count > len(data):
            raise MalformedPdu("a CredSSP message has a bad DER length")
        size = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    else:
        size = first
    if pos + size > len(data):
        raise MalformedPdu("a CredSSP message is truncated")
    return tag, data[pos : pos + size], pos + size


def _fields(content: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    pos = 0
    while pos < len(content):
        tag, value, pos = _read_tlv(content, pos)
        out[tag & 0x1F] = value
    return out


@dataclass(frozen=True, slots=True)
class TsRequest:
    """A parsed TSRequest."""

    version: int
    token: bytes | None
    pub_key_auth: bytes | None
    error_code: int | None


def encode_ts_request(
    version: int,
    *,
    token: bytes | None = None,
    auth_info: bytes | None = None,
    pub_key_auth: bytes | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """A TSRequest."""
    items = [_ctx(0, _int(version))]
    if token is not None:
        items.append(_ctx(1, _seq(_seq(_ctx(0, _octets(token))))))
    if auth_info is not None:
        items.append(_ctx(2, _octets(auth_info)))
    if pub_key_auth is not None:
        items.append(_ctx(3, _octets(pub_key_auth)))
    if nonce is not None:
        items.append(_ctx(5, _octets(nonce)))
    return _seq(*items)


def decode_ts_request(data: bytes) -> TsRequest:
    """Parse a TSRequest; MalformedPdu if it is not one."""
    tag, content, _ = _read_tlv(data, 0)
    if tag != 0x30:
        raise MalformedPdu("a CredSSP message is not a TSRequest")
    fields = _fields(content)
    if 0 not in fields:
        raise MalformedPdu("a TSRequest has no version")
    version = int.from_bytes(_read_tlv(fields[0], 0)[1], "big")
    token = None
    if 1 in fields:
        _, nego_data, _ = _read_tlv(fields[1], 0)  # SEQUENCE OF
        _, first, _ = _read_tlv(nego_data, 0)  # SEQUENCE
        inner = _fields(first)
        if 0 in inner:
            token = _read_tlv(inner[0], 0)[1]
    pub_key_auth = _read_tlv(fields[3], 0)[1] if 3 in fields else None
    error_code = int.from_bytes(_read_tlv(fields[4], 0)[1], "big", signed=False) if 4 in fields else None
    return TsRequest(version, token, pub_key_auth, error_code)


def encode_credentials(credentials: NlaCredentials) -> bytes:
    """TSCredentials holding TSPasswordCreds (UTF-16LE)."""
    password_creds = _seq(
        _ctx(0, _octets(credentials.domain.encode("utf-16-le"))),
        _ctx(1, _octets(credentials.username.encode("utf-16-le"))),
        _ctx(2, _octets(credentials.password.encode("utf-16-le"))),
    )
    return _seq(_ctx(0, _int(1)), _ctx(1, _octets(password_creds)))


async def read_ts_request(reader: asyncio.StreamReader) -> bytes:
    """Read one DER-framed TSRequest; NlaFailed if the server closes instead (FreeRDP's wrong-password answer)."""
    try:
        head = await reader.readexactly(2)
        if head[0] != 0x30:
            raise MalformedPdu("the server did not answer with a CredSSP TSRequest")
        extra = b""
        size = head[1]
        if size & 0x80:
            count = size & 0x7F
            if not 1 <= count <= 3:
                raise MalformedPdu("a TSRequest has a bad DER length")
            extra = await reader.readexactly(count)
            size = int.from_bytes(extra, "big")
        if size > MAX_TSREQUEST:
            raise MalformedPdu(f"a TSRequest of {size} bytes is larger than {MAX_TSREQUEST}")
        return head + extra + await reader.readexactly(size)
    except (asyncio.IncompleteReadError, ConnectionResetError):
        raise NlaFailed("the server closed the connection during authentication") from None


def _check_error(request: TsRequest) -> None:
    if request.error_code:
        code = request.error_code
        raise NlaFailed(STATUS_MESSAGES.get(code, f"the server refused the logon (NTSTATUS {code:#010x})"))


async def authenticate(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    credentials: NlaCredentials,
    server_certificate: bytes,
    hostname: str,
) -> None:
    """Run CredSSP on a TLS connection whose server presented ``server_certificate`` (DER).

    Raises NlaFailed (refused, or the server's key binding did not match: someone in the middle) or MalformedPdu.
    """
    user = f"{credentials.domain}\\{credentials.username}" if credentials.domain else credentials.username
    try:
        context = spnego.client(user, credentials.password, hostname=hostname, service="TERMSRV", protocol="ntlm")
        public_key = get_certificate_public_key(server_certificate)
        writer.write(encode_ts_request(CREDSSP_VERSION, token=context.step()))
        challenge = decode_ts_request(await read_ts_request(reader))
        _check_error(challenge)
        if challenge.token is None:
            raise MalformedPdu("the server's CredSSP answer has no NTLM challenge")
        version = min(CREDSSP_VERSION, challenge.version)
        authenticate_token = context.step(challenge.token)
        nonce = os.urandom(32) if version >= 5 else None
        if nonce is not None:
            binding = context.wrap(hashlib.sha256(_CLIENT_TO_SERVER + nonce + public_key).digest()).data
        else:
            binding = context.wrap(public_key).data
        writer.write(encode_ts_request(version, token=authenticate_token, pub_key_auth=binding, nonce=nonce))
        answer = decode_ts_request(await read_ts_request(reader))
        _check_error(answer)
        if answer.pub_key_auth is None:
            raise MalformedPdu("the server's CredSSP answer has no public key proof")
        proof = context.unwrap(answer.pub_key_auth).data
        if nonce is not None:
            expected = hashlib.sha256(_SERVER_TO_CLIENT + nonce + public_key).digest()
        else:
            expected = bytes(((public_key[0] + 1) & 0xFF,)) + public_key[1:]
        if proof != expected:
            raise NlaFailed("the server could not prove it holds the TLS key: the connection may be intercepted")
        writer.write(encode_ts_request(version, auth_info=context.wrap(encode_credentials(credentials)).data))
        await writer.drain()
    except spnego.exceptions.SpnegoError as exc:
        raise NlaFailed(f"NTLM failed: {exc.message or exc}") from None
