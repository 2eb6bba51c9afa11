"""VNC authentication's DES answer, the choice of security type, and the handshake against a scripted server."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from jumpoint.core.errors import TargetAuthFailed, TargetProtocolError
from jumpoint.core.secret import Secret
from protocols.vnc import RfbClient
from protocols.vnc import messages as m
from protocols.vnc.security import SecurityPolicy, choose_type, choose_vencrypt_subtype, vnc_auth_response

# vncpasswd -f obfuscates a password by DES-encrypting it with VNC's fixed key {23,82,107,6,35,78,88,7} in the
# same bit-reversed convention: `printf 'secret\n' | vncpasswd -f | xxd -p` gives 2e2dbf576eb06c9e.
VNC_FIXED_KEY = bytes([23, 82, 107, 6, 35, 78, 88, 7])


def test_the_des_answer_matches_vncpasswd_for_a_known_password() -> None:
    answer = vnc_auth_response(VNC_FIXED_KEY, b"secret\0\0" * 2)
    assert answer.hex() == "2e2dbf576eb06c9e" * 2


def test_only_the_first_eight_password_bytes_count() -> None:
    challenge = bytes(range(16))
    assert vnc_auth_response(b"abcdefgh-ignored", challenge) == vnc_auth_response(b"abcdefgh", challenge)
    assert vnc_auth_response(b"abc", challenge) == vnc_auth_response(b"abc\0\0\0\0\0", challenge)


def test_vencrypt_is_preferred_and_x509_first_within_it() -> None:
    policy = SecurityPolicy(password=Secret("pw"))
    assert choose_type([m.SEC_VNC_AUTH, m.SEC_VENCRYPT], policy, "h:1") == m.SEC_VENCRYPT
    offered = [m.VENCRYPT_TLS_VNC, m.VENCRYPT_X509_VNC, m.SEC_VNC_AUTH]
    assert choose_vencrypt_subtype(offered, policy, "h:1") == m.VENCRYPT_X509_VNC
    assert choose_vencrypt_subtype([m.SEC_VNC_AUTH, m.VENCRYPT_TLS_VNC], policy, "h:1") == m.VENCRYPT_TLS_VNC


def test_plain_types_are_refused_when_the_policy_forbids_them() -> None:
    policy = SecurityPolicy(password=Secret("pw"), allow_unencrypted=False)
    with pytest.raises(TargetProtocolError, match="only unencrypted"):
        choose_type([m.SEC_VNC_AUTH], policy, "h:1")
    with pytest.raises(TargetProtocolError, match="no acceptable VeNCrypt subtype"):
        choose_vencrypt_subtype([m.SEC_VNC_AUTH, m.VENCRYPT_PLAIN], policy, "h:1")


def test_a_server_asking_a_password_that_we_lack_is_an_authentication_failure() -> None:
    with pytest.raises(TargetAuthFailed, match="has none"):
        choose_type([m.SEC_VNC_AUTH], SecurityPolicy(), "h:1")
    assert choose_type([m.SEC_VNC_AUTH, m.SEC_NONE], SecurityPolicy(), "h:1") == m.SEC_NONE


Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(script: Script) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await script(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_the_server_reason_for_a_refused_password_is_reported() -> None:
    seen: dict[str, bytes] = {}

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"RFB 003.008\n")
        seen["version"] = await reader.readexactly(12)
        writer.write(bytes([1, m.SEC_VNC_AUTH]))
        seen["type"] = await reader.readexactly(1)
        writer.write(bytes(range(16)))
        seen["answer"] = await reader.readexactly(16)
        reason = b"Authentication failure, try again"
        writer.write(struct.pack(">II", 1, len(reason)) + reason)
        await writer.drain()

    server, port = await _serve(script)
    async with server:
        with pytest.raises(TargetAuthFailed, match="Authentication failure, try again"):
            await RfbClient.connect("127.0.0.1", port, password=Secret("secret-and-more"), connect_timeout=5)
    assert seen["version"] == b"RFB 003.008\n"
    assert seen["type"] == bytes([m.SEC_VNC_AUTH])
    assert seen["answer"] == vnc_auth_response(b"secret-a", bytes(range(16)))


async def test_a_server_that_is_not_vnc_is_a_protocol_error() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    server, port = await _serve(script)
    async with server:
        with pytest.raises(TargetProtocolError, match="RFB protocol version"):
            await RfbClient.connect("127.0.0.1", port, password=None, connect_timeout=5)


async def test_a_server_name_over_the_cap_is_cut_without_reading_it_whole(tmp_path: Path) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"RFB 003.008\n")
        await reader.readexactly(12)
        writer.write(bytes([1, m.SEC_NONE]))
        await reader.readexactly(1)
        writer.write(struct.pack(">I", 0))
        await reader.readexactly(1)
        name = b"n" * 100_000
        writer.write(struct.pack(">HH", 64, 32) + m.RGBX.pack() + struct.pack(">I", len(name)) + name)
        await writer.drain()
        await asyncio.sleep(1)

    server, port = await _serve(script)
    async with server:
        client = await RfbClient.connect("127.0.0.1", port, password=None, connect_timeout=5)
        try:
            assert (client.width, client.height) == (64, 32)
            assert client.name == "n" * m.MAX_NAME_BYTES
            assert client.security.name == "None"
            assert client.security.warning
        finally:
            await client.close()
