"""VeNCrypt certificate trust: the probe reads the certificate and sends nothing secret, the login is pinned to it
(a different certificate or a different security is refused before the password), and the decision (CA, cache,
the rep's Save / Connect Only / Abort) follows the SSH host-key rules. A scripted VeNCrypt X509Vnc server with
throw-away self-signed certificates stands in for a real one."""

from __future__ import annotations

import asyncio
import logging
import ssl
import struct
from dataclasses import astuple
from pathlib import Path
from typing import Any

import pytest

from jumpoint.agent.hostkey_store import FileHostKeyStore
from jumpoint.core.adapter import AdapterContext, PromptField
from jumpoint.core.errors import HostKeyMismatch, HostKeyRejected, TargetProtocolError
from jumpoint.core.hostkeys import HostKey, HostKeyDecision, certificate_digest
from jumpoint.core.secret import Secret
from protocols.vnc import RfbClient
from protocols.vnc import messages as m
from protocols.vnc.security import ServerCertificate, vnc_auth_response
from protocols.vnc.trust import ALGORITHM, certificate_key, shown_fingerprint, verify_certificate
from tests.fixtures.certificates import self_signed

PASSWORD = "pw-12345"


class VencryptServer:
    """VeNCrypt 0.2 offering ``subtypes``; X509Vnc with the given certificate, then VNC authentication and a 16x8
    desktop. Records what each connection got as far as (``stages``) and the answers it received."""

    def __init__(self, cert: Path, key: Path, subtypes: tuple[int, ...] = (m.VENCRYPT_X509_VNC,)) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.subtypes = subtypes
        self.stages: list[str] = []
        self.answers: list[bytes] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._script(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def _script(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"RFB 003.008\n")
        await reader.readexactly(12)
        writer.write(bytes([1, m.SEC_VENCRYPT]))
        await reader.readexactly(1)
        writer.write(bytes([0, 2]))
        await reader.readexactly(2)
        writer.write(bytes([0, len(self.subtypes)]) + b"".join(t.to_bytes(4, "big") for t in self.subtypes))
        subtype = int.from_bytes(await reader.readexactly(4), "big")
        self.stages.append(f"chose {subtype}")
        if subtype == m.SEC_VNC_AUTH:  # a plain subtype: no acknowledgement, no TLS
            pass
        else:
            writer.write(b"\x01")
            await writer.drain()
            await writer.start_tls(self.context)
            self.stages.append("tls")
        challenge = bytes(range(16))
        writer.write(challenge)
        await writer.drain()
        answer = await reader.readexactly(16)
        self.answers.append(answer)
        if answer != vnc_auth_response(PASSWORD.encode(), challenge):
            reason = b"bad password"
            writer.write(struct.pack(">II", 1, len(reason)) + reason)
            await writer.drain()
            return
        writer.write(struct.pack(">I", 0))
        await reader.readexactly(1)
        writer.write(struct.pack(">HH", 16, 8) + m.RGBX.pack() + struct.pack(">I", 4) + b"test")
        await writer.drain()
        self.stages.append("logged in")
        await reader.read()  # until the client closes


@pytest.fixture
async def certs(tmp_path: Path) -> dict[str, Any]:
    cert, key, der = astuple(self_signed(tmp_path, "a"))
    other_cert, other_key, other_der = astuple(self_signed(tmp_path, "b"))
    return {"cert": cert, "key": key, "der": der, "other_cert": other_cert, "other_key": other_key, "other": other_der}


async def test_the_probe_reads_an_unvouched_certificate_and_sends_no_password(certs: dict[str, Any]) -> None:
    server = VencryptServer(certs["cert"], certs["key"])
    port = await server.start()
    async with server.server:
        probe = await RfbClient.probe("127.0.0.1", port, connect_timeout=5)
    assert probe.security == "VeNCrypt/X509Vnc" and probe.needs_password and probe.encrypted
    assert probe.certificate is not None and probe.certificate.der == certs["der"]
    assert not probe.certificate.ca_verified and probe.certificate.ca_failure
    assert server.answers == [], "nothing answered a challenge"


async def test_a_certificate_signed_by_the_ca_file_is_vouched_for(certs: dict[str, Any]) -> None:
    server = VencryptServer(certs["cert"], certs["key"])
    port = await server.start()
    async with server.server:
        probe = await RfbClient.probe("127.0.0.1", port, tls_ca_file=certs["cert"], connect_timeout=5)
    assert probe.certificate is not None and probe.certificate.ca_verified and probe.certificate.ca_failure is None


async def test_the_login_pinned_to_the_probed_certificate_logs_in(certs: dict[str, Any]) -> None:
    server = VencryptServer(certs["cert"], certs["key"])
    port = await server.start()
    async with server.server:
        probe = await RfbClient.probe("127.0.0.1", port, connect_timeout=5)
        assert probe.certificate is not None
        client = await RfbClient.connect(
            "127.0.0.1",
            port,
            password=Secret(PASSWORD),
            connect_timeout=5,
            pinned_certificate=probe.certificate.sha256,
            expected_security=probe.security,
        )
        try:
            assert client.security.name == "VeNCrypt/X509Vnc" and client.security.server_verified
            assert client.security.warning is None
        finally:
            await client.close()


async def test_a_certificate_swapped_after_the_probe_is_refused_before_the_password(certs: dict[str, Any]) -> None:
    first = VencryptServer(certs["cert"], certs["key"])
    port = await first.start()
    async with first.server:
        probe = await RfbClient.probe("127.0.0.1", port, connect_timeout=5)
    assert probe.certificate is not None
    swapped = VencryptServer(certs["other_cert"], certs["other_key"])
    swapped.server = await asyncio.start_server(swapped._handle, "127.0.0.1", port)
    async with swapped.server:
        with pytest.raises(HostKeyMismatch, match="changed while connecting") as caught:
            await RfbClient.connect(
                "127.0.0.1",
                port,
                password=Secret(PASSWORD),
                connect_timeout=5,
                pinned_certificate=probe.certificate.sha256,
                expected_security=probe.security,
            )
        await asyncio.sleep(0.1)
    assert probe.certificate.fingerprint in caught.value.message
    assert ServerCertificate(certs["other"], False).fingerprint in caught.value.message
    assert swapped.stages[-1] == "tls" and swapped.answers == [], "no answer to the challenge was sent"


async def test_a_server_offering_other_security_at_login_is_refused_before_the_password(
    certs: dict[str, Any],
) -> None:
    server = VencryptServer(certs["cert"], certs["key"], subtypes=(m.SEC_VNC_AUTH,))
    port = await server.start()
    async with server.server:
        with pytest.raises(TargetProtocolError, match="VeNCrypt/VncAuth where VeNCrypt/X509Vnc was checked"):
            await RfbClient.connect(
                "127.0.0.1",
                port,
                password=Secret(PASSWORD),
                connect_timeout=5,
                pinned_certificate=b"\0" * 32,
                expected_security="VeNCrypt/X509Vnc",
            )
        await asyncio.sleep(0.1)
    assert server.answers == []


# --- the decision ----------------------------------------------------------------------------------------------
class Prompter:
    def __init__(self, decision: HostKeyDecision) -> None:
        self.decision = decision
        self.asked: list[tuple[str, str]] = []

    async def ask_host_key(
        self, host: str, port: int, key: HostKey, *, known: tuple[HostKey, ...] = ()
    ) -> HostKeyDecision:
        self.asked.append((key.algorithm, key.fingerprint))
        return self.decision

    async def ask_text(self, title: str, instruction: str, fields: list[PromptField]) -> list[Secret]:
        raise AssertionError("no text prompt expected")


def context(tmp_path: Path, decision: HostKeyDecision) -> tuple[AdapterContext, Prompter, FileHostKeyStore]:
    store = FileHostKeyStore(tmp_path / "known_hosts")
    prompter = Prompter(decision)
    log = logging.LoggerAdapter(logging.getLogger("test"), {})
    return AdapterContext("s1", store, prompter, None, log), prompter, store


def test_a_certificate_entry_follows_the_known_hosts_conventions(tmp_path: Path) -> None:
    digest = bytes(range(32))
    key = certificate_key(digest)
    assert key.algorithm == ALGORITHM and certificate_digest(key) == digest
    assert shown_fingerprint(key) == "SHA256:" + digest.hex(":").upper()
    store = FileHostKeyStore(tmp_path / "known_hosts")
    store.trust("127.0.0.1", 5901, key)
    assert FileHostKeyStore(tmp_path / "known_hosts").check("127.0.0.1", 5901, key).status == "valid"
    assert "[127.0.0.1]:5901 x509-sha256 " in (tmp_path / "known_hosts").read_text()
    assert certificate_digest(HostKey("ssh-ed25519", key.blob_b64)) is None
    # `jumpoint hostkeys list` and the admin's host-key page show the same fingerprint as the prompt did
    [listed] = FileHostKeyStore(tmp_path / "known_hosts").list()
    assert listed.key.fingerprint == "SHA256:" + digest.hex(":").upper()


async def test_an_unknown_certificate_asks_showing_its_own_fingerprint_and_save_caches_it(tmp_path: Path) -> None:
    ctx, prompter, store = context(tmp_path, "save")
    certificate = ServerCertificate(b"certificate-a", ca_verified=False, ca_failure="self-signed certificate")
    notices = await verify_certificate("h", 5901, certificate, ctx)
    assert prompter.asked == [(ALGORITHM, certificate.fingerprint)]
    assert notices[0].kind == "host_key_saved" and certificate.fingerprint in notices[0].text
    assert store.check("h", 5901, certificate_key(certificate.sha256)).status == "valid"
    assert await verify_certificate("h", 5901, certificate, ctx) == []
    assert len(prompter.asked) == 1, "a cached certificate is not asked about"


async def test_connect_only_does_not_cache_and_abort_refuses(tmp_path: Path) -> None:
    ctx, prompter, store = context(tmp_path, "once")
    certificate = ServerCertificate(b"certificate-a", ca_verified=False)
    notices = await verify_certificate("h", 5901, certificate, ctx)
    assert "this session only" in notices[0].text and store.list() == []
    prompter.decision = "abort"
    with pytest.raises(HostKeyRejected, match="was not accepted"):
        await verify_certificate("h", 5901, certificate, ctx)
    assert store.list() == []


async def test_a_changed_certificate_is_refused_with_both_fingerprints_without_asking(tmp_path: Path) -> None:
    ctx, prompter, store = context(tmp_path, "save")
    old = ServerCertificate(b"certificate-a", ca_verified=False)
    new = ServerCertificate(b"certificate-b", ca_verified=False)
    store.trust("h", 5901, certificate_key(old.sha256))
    with pytest.raises(HostKeyMismatch) as caught:
        await verify_certificate("h", 5901, new, ctx)
    assert old.fingerprint in caught.value.message and new.fingerprint in caught.value.message
    assert caught.value.details["cached"] == [old.fingerprint]
    assert prompter.asked == []


async def test_a_certificate_a_ca_vouches_for_needs_no_question_and_leaves_the_cache_alone(tmp_path: Path) -> None:
    ctx, prompter, store = context(tmp_path, "abort")
    store.trust("h", 5901, certificate_key(ServerCertificate(b"older", ca_verified=False).sha256))
    notices = await verify_certificate("h", 5901, ServerCertificate(b"renewed", ca_verified=True), ctx)
    assert prompter.asked == [] and "verified by a trusted CA" in notices[0].text
    assert len(store.list()) == 1
