"""Known secrets go through full sessions; then everything the system wrote or sent is scanned for them.

Secrets: an SSH password from Vault (KV v2), a private key and its passphrase from the local store, a Telnet
password from the local store, a wrong password from Vault (so error messages are produced), and the Jumpoint's
Vault token. Sessions record keystrokes. Scanned afterwards: every frame the browser sockets received, the API's
answers (credential lists, session reports, recordings, transcripts, timelines, the audit trail), every log record
at DEBUG from every logger (console, Jumpoint, asyncssh, hvac, urllib3), every file the console and the Jumpoint
wrote (database, recordings, host-key cache), and the error messages. None may contain a secret, in clear or in
base64.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from credential_store.local import KEY_FILE, STORE_FILE, LocalCredentialStore
from jumpoint.core.secret import Secret
from tests.fixtures.gateway import Gateway, SessionSocket
from tests.fixtures.sshd import SshServer
from tests.fixtures.telnetd import TelnetServer
from tests.fixtures.vault_emulator import VaultEmulator, vault_emulator

__all__ = ["vault_emulator"]  # the fixture, imported for pytest

StartEmulator = Callable[..., Awaitable[VaultEmulator]]
PASSPHRASE = "key-Passphrase-9f3c1e"
WRONG_PASSWORD = "Wr0ng-but-Secret-77ab"


@pytest.fixture
async def emulator(vault_emulator: StartEmulator) -> VaultEmulator:
    return await vault_emulator()


@pytest.fixture
def vault_token(emulator: VaultEmulator) -> str:
    return emulator.create_token()


@pytest.fixture
def jumpoint_credential_stores(emulator: VaultEmulator, vault_token: str, tmp_path: Path) -> dict[str, Any]:
    token_file = tmp_path / "vault-token"
    token_file.write_text(vault_token + "\n")
    return {
        "local": {"type": "local"},
        "vault": {"type": "vault", "url": emulator.url, "auth": {"method": "token", "token_file": str(token_file)}},
    }


def _forms(secret: str) -> Iterator[bytes]:
    raw = secret.encode()
    yield raw
    yield base64.b64encode(raw)
    yield base64.b64encode(raw).rstrip(b"=")


def _assert_absent(secrets: dict[str, str], where: str, data: bytes | str) -> None:
    blob = data.encode() if isinstance(data, str) else data
    for name, secret in secrets.items():
        for form in _forms(secret):
            assert form not in blob, f"the {name} leaked into {where}"


async def _session(gateway: Gateway, sock: SessionSocket, commands: list[str]) -> None:
    """Save the host key, let the credential log in (the rep is never asked), type, end the session."""
    while True:
        msg = await sock.next_of("prompt_host_key", "prompt_text", "state")
        assert msg["t"] != "prompt_text", f"the rep was asked: {msg}"
        if msg["t"] == "prompt_host_key":
            await sock.send_json({"t": "answer_host_key", "id": msg["id"], "decision": "save"})
        elif msg["state"] == "connected":
            break
        elif msg["state"] == "ended":
            raise AssertionError(f"session ended: {msg}")
    for command in commands:
        await sock.send_keys(command + "\n")
        await sock.read_until(b"DONE-" + command.split("DONE-")[-1].encode())
    await gateway.api("POST", f"/api/v1/sessions/{sock.session_id}/end", expect=204)
    await sock.next_of("state", timeout=10)


async def test_no_secret_reaches_the_browser_the_logs_the_recordings_the_audit_or_an_error(
    gateway: Gateway,
    emulator: VaultEmulator,
    vault_token: str,
    sshd_server: SshServer,
    busybox_telnetd: TelnetServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    key = asyncssh.read_private_key(sshd_server.client_key_path)
    key_text = key.export_private_key("openssh", passphrase=PASSPHRASE).decode()
    secrets = {
        "ssh password": sshd_server.password,
        "telnet password": busybox_telnetd.password,
        "key passphrase": PASSPHRASE,
        "wrong password": WRONG_PASSWORD,
        "vault token": vault_token,
    }
    key_body = {f"private key line {i}": line for i, line in enumerate(key_text.splitlines()[1:-1]) if len(line) > 20}

    emulator.put("secret/linux/web01", {"username": sshd_server.username, "password": sshd_server.password})
    emulator.put("secret/linux/stale", {"username": sshd_server.username, "password": WRONG_PASSWORD})
    store = LocalCredentialStore(gateway.state_dir / "jumpoint")
    store.add(
        "lab/key", "private_key", sshd_server.username, private_key=Secret(key_text), passphrase=Secret(PASSPHRASE)
    )
    store.add("lab/telnet", "password", busybox_telnetd.username, password=Secret(busybox_telnetd.password))

    recorded = {"record_session": True, "record_input": True}
    ssh_item = await gateway.create_item(
        name="web01",
        hostname=f"{sshd_server.host}:{sshd_server.port}",
        username="",
        credential_scopes=["vault:secret/linux/", "local:lab/"],
        **recorded,
    )
    telnet_item = await gateway.create_item(
        name="switch",
        protocol="telnet",
        hostname=f"{busybox_telnetd.host}:{busybox_telnetd.port}",
        username=busybox_telnetd.username,
        credential_ref="local:lab/telnet",
        **recorded,
    )
    api_answers: list[Any] = [await gateway.api("GET", f"/api/v1/jump-items/{ssh_item['id']}/credentials", expect=200)]
    sockets: list[SessionSocket] = []
    for credential in ("vault:secret/linux/web01", "local:lab/key"):
        sock = await gateway.jump(ssh_item["id"], credential=credential)
        sockets.append(sock)
        await _session(gateway, sock, ["echo typed-$((40+2)) DONE-1", "stty -echo; echo hidden DONE-2; stty echo"])
    sock = await gateway.jump(telnet_item["id"])
    sockets.append(sock)
    await _session(gateway, sock, ["echo over-telnet DONE-3"])

    failing = await gateway.jump(ssh_item["id"], credential="vault:secret/linux/stale")
    sockets.append(failing)
    while True:
        msg = await failing.next_of("prompt_host_key", "prompt_text", "state")
        if msg["t"] == "prompt_host_key":
            await failing.send_json({"t": "answer_host_key", "id": msg["id"], "decision": "save"})
        elif msg["t"] == "prompt_text":  # the stale credential was refused; the rep may type: give up instead
            await failing.send_json({"t": "cancel_prompt", "id": msg["id"]})
            await failing.send_json({"t": "answer_text", "id": msg["id"], "answers": []})
        elif msg["state"] == "ended":
            break
    api_answers.append(msg)

    for sock in sockets:
        await sock.close()
        _assert_absent(
            secrets | key_body,
            f"the browser socket of session {sock.session_id}",
            b"".join(frame if isinstance(frame, bytes) else frame.encode() for frame in sock.frames),
        )
        sid = sock.session_id
        for path in ("", "/recording.cast", "/transcript.txt", "/timeline.txt"):
            async with gateway.http.get(
                f"{gateway.url}/api/v1/session-history/{sid}{path}", headers=gateway.headers
            ) as resp:
                api_answers.append(await resp.read())
    for path in ("/api/v1/audit", "/api/v1/audit.csv", "/api/v1/session-history"):
        async with gateway.http.get(gateway.url + path, headers=gateway.headers) as resp:
            assert resp.status == 200, path
            api_answers.append(await resp.read())
    _assert_absent(secrets | key_body, "the API's answers", repr(api_answers))

    written = [
        p
        for root in (gateway.state_dir / "console", gateway.state_dir / "jumpoint")
        for p in root.rglob("*")
        if p.is_file() and p.name not in (STORE_FILE, KEY_FILE)
    ]
    assert any(p.suffix == ".cast" for p in written), "the sessions were recorded"
    for file in written:
        _assert_absent(secrets | key_body, str(file), file.read_bytes())
    log_text = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    assert "credential 'vault:secret/linux/web01' injected" in log_text
    _assert_absent(secrets | key_body, "the logs", log_text)
    # the keystrokes were recorded: what the rep typed with echo on is there, so the scan above was meaningful
    casts = [p.read_text() for p in written if p.suffix == ".cast"]
    assert any("typed-$((40+2))" in cast for cast in casts), "the keystrokes were recorded"
