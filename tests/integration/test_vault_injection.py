"""Credentials from Vault injected through the console and the Jumpoint into real logins (Vault-API emulator).

The Jumpoint is configured with a ``vault`` store pointing at the emulator; reps pick a credential at Jump time,
the Jumpoint fetches it, logs in, and the rep never sees the secret.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from console_web.db.models import AuditEvent
from tests.fixtures.gateway import Gateway, SessionSocket
from tests.fixtures.sshd import SshServer
from tests.fixtures.vault_emulator import VaultEmulator, vault_emulator

__all__ = ["vault_emulator"]  # the fixture, imported for pytest

StartEmulator = Callable[..., Awaitable[VaultEmulator]]
SSH_MOUNT = "ssh-client-signer"


@pytest.fixture
async def emulator(vault_emulator: StartEmulator) -> VaultEmulator:
    emulator = await vault_emulator()
    emulator.mount_ssh(SSH_MOUNT)
    return emulator


@pytest.fixture
def vault_token_file(emulator: VaultEmulator, tmp_path: Path) -> Path:
    path = tmp_path / "vault-token"
    path.write_text(emulator.create_token() + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def jumpoint_credential_stores(emulator: VaultEmulator, vault_token_file: Path) -> dict[str, Any]:
    return {
        "local": {"type": "local"},
        "vault": {
            "type": "vault",
            "url": emulator.url,
            "timeout_seconds": 3,
            "auth": {"method": "token", "token_file": str(vault_token_file)},
        },
    }


async def _item_with_scopes(gateway: Gateway, server: SshServer, *scopes: str, **fields: Any) -> dict[str, Any]:
    return await gateway.create_item(
        name="web01",
        hostname=f"{server.host}:{server.port}",
        username=fields.pop("username", server.username),
        credential_scopes=list(scopes),
        **fields,
    )


async def _connect_unasked(sock: SessionSocket) -> None:
    """Save the host key and wait for the shell; the rep must never be asked for a password."""
    while True:
        try:
            msg = await sock.next_of("prompt_host_key", "prompt_text", "state")
        except TimeoutError:
            raise AssertionError(f"stuck: {bytes(sock.output)!r} {sock.messages}") from None
        assert msg["t"] != "prompt_text", f"the rep was asked: {msg}"
        if msg["t"] == "prompt_host_key":
            await sock.send_json({"t": "answer_host_key", "id": msg["id"], "decision": "save"})
        elif msg["state"] == "connected":
            try:
                await sock.read_until_prompt()
            except TimeoutError:
                raise AssertionError(f"no prompt: {bytes(sock.output)!r} {sock.messages}") from None
            return
        elif msg["state"] == "ended":
            raise AssertionError(f"session ended: {msg}")


async def test_a_rep_picks_a_vault_password_and_logs_in_without_seeing_it(
    gateway: Gateway, emulator: VaultEmulator, sshd_server: SshServer
) -> None:
    emulator.put("secret/linux/web01", {"username": sshd_server.username, "password": sshd_server.password})
    emulator.put("secret/linux/db01", {"password": "other"})
    emulator.put("secret/windows/dc01", {"password": "never offered"})
    item = await _item_with_scopes(gateway, sshd_server, "vault:secret/linux/", username="")
    rep_id, rep_token = await gateway.create_rep("carol")
    groups = await gateway.api("GET", "/api/v1/jump-groups", expect=200)
    shared = await gateway.api("POST", "/api/v1/jump-groups", {"name": "Linux"}, expect=201)
    await gateway.api("PUT", f"/api/v1/jump-groups/{shared['id']}/members/{rep_id}", expect=204)
    await gateway.api("PATCH", f"/api/v1/jump-items/{item['id']}", {"group_id": shared["id"]}, expect=200)
    assert groups  # the admin's personal group existed; the item now lives in the shared one

    choices = await gateway.api_as(rep_token, "GET", f"/api/v1/jump-items/{item['id']}/credentials", expect=200)
    assert [c["ref"] for c in choices["credentials"]] == ["vault:secret/linux/db01", "vault:secret/linux/web01"]
    assert sshd_server.password not in str(choices)

    sock = await gateway.jump(item["id"], token=rep_token, credential="vault:secret/linux/web01")
    try:
        await _connect_unasked(sock)
        await sock.send_keys("whoami\n")
        await sock.read_until(f"{sshd_server.username}\r\n".encode())
    finally:
        await sock.close()
    async with gateway.db.session() as db:
        events = (await db.execute(select(AuditEvent).where(AuditEvent.action == "credential.injected"))).scalars()
        [event] = list(events)
    assert event.actor_user_id == rep_id
    assert event.detail == {"credential": "vault:secret/linux/web01", "item_id": item["id"], "item_name": "web01"}


async def test_a_vault_signed_certificate_logs_in_to_an_sshd_that_trusts_the_vault_ca(
    gateway: Gateway, emulator: VaultEmulator, fresh_sshd: Callable[..., SshServer], tmp_path: Path
) -> None:
    ca_key = emulator.namespace("").ssh[SSH_MOUNT].ca
    emulator.add_ssh_role(SSH_MOUNT, "ops", allowed_users="ojtest", max_ttl=600)
    ca_file = Path("/tmp") / f"oj-vault-ca-{tmp_path.name}.pub"
    ca_file.write_text(ca_key.export_public_key().decode())
    ca_file.chmod(0o644)
    try:
        server = fresh_sshd(
            {"TrustedUserCAKeys": str(ca_file), "PasswordAuthentication": "no", "KbdInteractiveAuthentication": "no"}
        )
        item = await gateway.create_item(
            name="signed",
            hostname=f"{server.host}:{server.port}",
            username=server.username,
            credential_ref=f"vault:ssh:{SSH_MOUNT}/ops",
        )
        sock = await gateway.jump(item["id"])
        try:
            await _connect_unasked(sock)
            await sock.send_keys("whoami\n")
            await sock.read_until(f"{server.username}\r\n".encode())
        finally:
            await sock.close()
    finally:
        ca_file.unlink(missing_ok=True)
    [sign] = emulator.received(f"{SSH_MOUNT}/sign/ops")
    assert sign.status == 200


async def test_a_sealed_vault_ends_the_jump_with_vaults_message_and_no_hang(
    gateway: Gateway, emulator: VaultEmulator, sshd_server: SshServer
) -> None:
    emulator.put("secret/linux/web01", {"password": sshd_server.password})
    item = await _item_with_scopes(gateway, sshd_server, credential_ref="vault:secret/linux/web01")
    emulator.seal()
    sock = await gateway.jump(item["id"])
    try:
        while True:
            msg = await sock.next_of("prompt_host_key", "state", timeout=15)
            if msg["t"] == "prompt_host_key":
                await sock.send_json({"t": "answer_host_key", "id": msg["id"], "decision": "save"})
            elif msg["state"] == "ended":
                break
    finally:
        await sock.close()
    assert "sealed" in str(msg.get("reason", "")) + str(msg.get("error", "")), msg


async def test_the_credential_list_says_when_vault_is_sealed(
    gateway: Gateway, emulator: VaultEmulator, sshd_server: SshServer
) -> None:
    item = await _item_with_scopes(gateway, sshd_server, "vault:secret/linux/")
    emulator.seal()
    body = await gateway.api("GET", f"/api/v1/jump-items/{item['id']}/credentials", expect=503)
    assert body["error"]["code"] == "credential_store_unavailable"
    assert "sealed" in body["error"]["message"]
