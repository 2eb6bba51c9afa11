"""The Vault credential store against a real Vault, when one is configured in the environment.

Run against a dev server (see docs/vault.md)::

    vault server -dev -dev-root-token-id=root &
    export VAULT_ADDR=http://127.0.0.1:8200 VAULT_TOKEN=root
    .venv/bin/pytest -q tests/integration/test_vault_real.py -p no:cacheprovider

Optional: ``VAULT_CACERT`` (a CA bundle for an HTTPS Vault), ``VAULT_NAMESPACE`` (Vault Enterprise),
``OPENJUMP_VAULT_KV_MOUNT`` (a KV version 2 mount, default ``secret``). The token must be able to write and delete
under that mount, and (for the policy test) create policies and child tokens; each test that needs more than the
token may do is skipped, saying why. Every test writes under its own ``openjump-test-<random>/`` path and deletes it,
the policy and the tokens it created.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import hvac
import hvac.exceptions
import pytest

from credential_store.vault import VaultCredentialStore
from jumpoint.core.credentials import CredentialQuery
from jumpoint.core.errors import CredentialStoreDenied, NotFound

VAULT_ADDR = os.environ.get("VAULT_ADDR", "")
VAULT_TOKEN = os.environ.get("VAULT_TOKEN", "")
if not (VAULT_ADDR and VAULT_TOKEN):
    pytest.skip(
        "no real Vault configured: start one (vault server -dev -dev-root-token-id=root), export VAULT_ADDR and "
        "VAULT_TOKEN, and run pytest tests/integration/test_vault_real.py (see docs/vault.md)",
        allow_module_level=True,
    )

KV_MOUNT = os.environ.get("OPENJUMP_VAULT_KV_MOUNT", "secret")
NAMESPACE = os.environ.get("VAULT_NAMESPACE") or None
CA_FILE = os.environ.get("VAULT_CACERT") or None
PASSWORD = "real-vault-password-1"


@dataclass
class RealVault:
    """An admin hvac client, the unique base path of this test's data, and what to clean up."""

    client: hvac.Client
    base: str
    mounts: dict[str, Any]
    secrets: list[str] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    ssh_roles: list[tuple[str, str]] = field(default_factory=list)

    def put(self, path: str, data: dict[str, Any]) -> int:
        """Write ``<base>/<path>`` in the KV v2 mount; return the new version."""
        full = f"{self.base}/{path}"
        answer = self.client.secrets.kv.v2.create_or_update_secret(path=full, secret=data, mount_point=KV_MOUNT)
        if full not in self.secrets:
            self.secrets.append(full)
        return int(answer["data"]["version"])

    def cleanup(self) -> None:
        """Delete everything the test created; report, do not raise, what could not be deleted."""
        for path in self.secrets:
            _quietly(lambda p=path: self.client.secrets.kv.v2.delete_metadata_and_all_versions(p, mount_point=KV_MOUNT))
        for name in self.policies:
            _quietly(lambda n=name: self.client.adapter.delete(f"/v1/sys/policy/{n}"))
        for token in self.tokens:
            _quietly(lambda t=token: self.client.auth.token.revoke(t))
        for mount, role in self.ssh_roles:
            _quietly(lambda m=mount, r=role: self.client.adapter.delete(f"/v1/{m}/roles/{r}"))


def _quietly(action: Any) -> None:
    try:
        action()
    except Exception as exc:  # cleanup must not hide the test's own result
        print(f"vault cleanup: {type(exc).__name__}: {exc}")


@pytest.fixture
def real_vault() -> Iterator[RealVault]:
    client = hvac.Client(url=VAULT_ADDR, token=VAULT_TOKEN, namespace=NAMESPACE, verify=CA_FILE or True, timeout=10)
    try:
        mounts = client.adapter.get("/v1/sys/mounts")["data"]
    except hvac.exceptions.VaultError as exc:
        pytest.skip(f"the token in VAULT_TOKEN cannot list the secrets engines at {VAULT_ADDR}: {exc}")
    mount = mounts.get(f"{KV_MOUNT}/", {})
    if mount.get("type") != "kv" or str((mount.get("options") or {}).get("version")) != "2":
        pytest.skip(f"{VAULT_ADDR} has no KV version 2 mount at '{KV_MOUNT}/' (set OPENJUMP_VAULT_KV_MOUNT)")
    vault = RealVault(client=client, base=f"openjump-test-{uuid.uuid4().hex[:12]}", mounts=mounts)
    try:
        yield vault
    finally:
        vault.cleanup()
        client.adapter.close()


@pytest.fixture
async def make_store(tmp_path: Path) -> AsyncIterator[Any]:
    stores: list[VaultCredentialStore] = []

    def make(token: str = VAULT_TOKEN, **settings: Any) -> VaultCredentialStore:
        token_file = tmp_path / f"token-{len(stores)}"
        token_file.write_text(token)
        token_file.chmod(0o600)
        block: dict[str, Any] = {
            "url": VAULT_ADDR,
            "auth": {"method": "token", "token_file": str(token_file)},
            "kv_mounts": {KV_MOUNT: 2},
        }
        if NAMESPACE:
            block["namespace"] = NAMESPACE
        if CA_FILE:
            block["ca_file"] = CA_FILE
        store = VaultCredentialStore("vault", {**block, **settings}, state_dir=tmp_path)
        stores.append(store)
        return store

    yield make
    for store in stores:
        await store.aclose()


def query(search: str = "") -> CredentialQuery:
    return CredentialQuery(scopes=(), item="item-1", user="alice", search=search)


async def test_a_kv_v2_secret_is_fetched_from_a_real_vault(real_vault: RealVault, make_store: Any) -> None:
    real_vault.put("linux/web01", {"username": "root", "password": PASSWORD})
    credential = await make_store().fetch(f"{KV_MOUNT}/{real_vault.base}/linux/web01", purpose="real vault test")
    assert (credential.kind, credential.username) == ("password", "root")
    assert credential.password is not None
    assert credential.password.reveal() == PASSWORD


async def test_a_pinned_version_is_read_from_a_real_vault(real_vault: RealVault, make_store: Any) -> None:
    real_vault.put("db", {"password": "first"})
    real_vault.put("db", {"password": "second"})
    store = make_store()
    pinned = await store.fetch(f"{KV_MOUNT}/{real_vault.base}/db?version=1", purpose="t")
    latest = await store.fetch(f"{KV_MOUNT}/{real_vault.base}/db", purpose="t")
    assert pinned.password is not None
    assert latest.password is not None
    assert (pinned.password.reveal(), latest.password.reveal()) == ("first", "second")
    with pytest.raises(NotFound, match="version 9"):
        await store.fetch(f"{KV_MOUNT}/{real_vault.base}/db?version=9", purpose="t")


async def test_a_folder_of_a_real_vault_is_listed_recursively(real_vault: RealVault, make_store: Any) -> None:
    for path in ("linux/web01", "linux/db/pg01", "linux/db/pg02", "windows/dc01"):
        real_vault.put(path, {"password": PASSWORD})
    prefix = f"vault:{KV_MOUNT}/{real_vault.base}"
    infos = await make_store().list_for([f"{KV_MOUNT}/{real_vault.base}/"], query())
    assert [info.ref for info in infos] == [
        f"{prefix}/linux/db/pg01",
        f"{prefix}/linux/db/pg02",
        f"{prefix}/linux/web01",
        f"{prefix}/windows/dc01",
    ]
    searched = await make_store().list_for([f"{KV_MOUNT}/{real_vault.base}/"], query(search="PG02"))
    assert [info.ref for info in searched] == [f"{prefix}/linux/db/pg02"]


async def test_a_path_outside_the_tokens_policy_is_denied_by_a_real_vault(
    real_vault: RealVault, make_store: Any
) -> None:
    real_vault.put("linux/web01", {"password": PASSWORD})
    real_vault.put("finance/db", {"password": PASSWORD})
    policy = f"{real_vault.base}-linux"
    rules = f'path "{KV_MOUNT}/data/{real_vault.base}/linux/*" {{ capabilities = ["read"] }}\n'
    try:
        real_vault.client.sys.create_or_update_policy(policy, rules)
        real_vault.policies.append(policy)
        token = real_vault.client.auth.token.create(policies=[policy], ttl="10m")["auth"]["client_token"]
        real_vault.tokens.append(token)
    except hvac.exceptions.Forbidden:
        pytest.skip("the token in VAULT_TOKEN may not create policies and tokens")
    store = make_store(token=token)
    assert (await store.fetch(f"{KV_MOUNT}/{real_vault.base}/linux/web01", purpose="t")).kind == "password"
    with pytest.raises(CredentialStoreDenied, match="denied access to secret"):
        await store.fetch(f"{KV_MOUNT}/{real_vault.base}/finance/db", purpose="t")


async def test_an_ssh_role_of_a_real_vault_signs_a_certificate_for_the_user(
    real_vault: RealVault, make_store: Any
) -> None:
    ssh_mounts = [name.rstrip("/") for name, info in real_vault.mounts.items() if info.get("type") == "ssh"]
    if not ssh_mounts:
        pytest.skip("no SSH secrets engine mounted (vault secrets enable ssh; vault write ssh/config/ca ...)")
    mount = ssh_mounts[0]
    try:
        ca_public = real_vault.client.adapter.get(f"/v1/{mount}/config/ca")["data"]["public_key"]
    except (hvac.exceptions.VaultError, KeyError, TypeError):
        pytest.skip(f"the SSH engine at {mount}/ has no CA (vault write {mount}/config/ca generate_signing_key=true)")
    role = f"{real_vault.base}-ops"
    try:
        real_vault.client.adapter.post(
            f"/v1/{mount}/roles/{role}",
            json={
                "key_type": "ca",
                "allow_user_certificates": True,
                "allowed_users": "alice",
                "default_extensions": {"permit-pty": ""},
                "ttl": "30m",
                "max_ttl": "1h",
            },
        )
    except hvac.exceptions.Forbidden:
        pytest.skip(f"the token in VAULT_TOKEN may not create roles in {mount}/")
    real_vault.ssh_roles.append((mount, role))
    store = make_store(ssh={"ttl_seconds": 600})
    credential = await store.fetch(f"ssh:{mount}/{role}", purpose="t", username="alice")
    assert credential.kind == "ssh_certificate"
    assert credential.certificate is not None
    assert credential.private_key is not None
    cert: Any = asyncssh.import_certificate(credential.certificate)
    assert cert.principals == ["alice"]
    assert abs(cert._valid_before - (time.time() + 600)) < 60
    assert cert.signing_key.export_public_key().split()[:2] == ca_public.encode().split()[:2]
    private = asyncssh.import_private_key(credential.private_key.reveal())
    assert private.export_public_key() == cert.key.export_public_key()
