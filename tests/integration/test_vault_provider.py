"""The Vault credential store against the project's Vault-API emulator, through the real hvac client."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncssh
import pytest
import requests

from credential_store.base import CredentialProvider
from credential_store.vault import VaultCredentialStore
from jumpoint.core.credentials import CredentialInfo, CredentialQuery
from jumpoint.core.errors import (
    BadRequest,
    ConfigError,
    CredentialStoreDenied,
    CredentialStoreUnavailable,
    NotFound,
)
from tests.fixtures.servers import free_port
from tests.fixtures.vault_emulator import SilentServer, VaultEmulator, silent_server, vault_emulator

__all__ = ["silent_server", "vault_emulator"]  # the fixtures, imported for pytest

StartEmulator = Callable[..., Awaitable[VaultEmulator]]
MakeStore = Callable[..., VaultCredentialStore]

PASSWORD = "Pa55-w0rd-in-vault"
KEY_TEXT = "-----BEGIN OPENSSH PRIVATE KEY-----\nFAKEKEYMATERIAL\n-----END OPENSSH PRIVATE KEY-----\n"


def query(search: str = "", limit: int = 2000) -> CredentialQuery:
    return CredentialQuery(scopes=(), item="item-1", user="alice", search=search, limit=limit)


def refs(infos: list[CredentialInfo]) -> list[str]:
    return [info.ref for info in infos]


async def eventually(condition: Callable[[], object], timeout: float = 5.0) -> None:
    """Wait until ``condition()`` is true (background renewal runs on the wall clock)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not become true in time"
        await asyncio.sleep(0.05)


@pytest.fixture
async def emulator(vault_emulator: StartEmulator) -> VaultEmulator:
    return await vault_emulator()


@pytest.fixture
async def make_store(tmp_path: Path) -> AsyncIterator[MakeStore]:
    """Build stores (closed after the test). Without ``auth``: a token file holding ``token``."""
    stores: list[VaultCredentialStore] = []

    def make(
        emulator: VaultEmulator | None = None, *, token: str | None = None, **settings: Any
    ) -> VaultCredentialStore:
        if "auth" not in settings:
            assert emulator is not None or token is not None
            token_file = tmp_path / f"token-{len(stores)}"
            token_file.write_text((token or emulator.create_token()) + "\n")  # type: ignore[union-attr]
            settings["auth"] = {"method": "token", "token_file": str(token_file)}
        settings.setdefault("url", emulator.url if emulator is not None else "http://127.0.0.1:1")
        store = VaultCredentialStore("vault", settings, state_dir=tmp_path)
        stores.append(store)
        return store

    yield make
    for store in stores:
        await store.aclose()


# --- KV ---------------------------------------------------------------------------------------------------------
async def test_the_store_is_a_credential_provider(emulator: VaultEmulator, make_store: MakeStore) -> None:
    assert isinstance(make_store(emulator), CredentialProvider)


async def test_a_kv_v2_secret_is_fetched_as_a_password_credential_with_the_username_from_the_secret(
    emulator: VaultEmulator, make_store: MakeStore
) -> None:
    emulator.put("secret/linux/web01", {"username": "root", "password": PASSWORD, "notes": "rack 4"})
    credential = await make_store(emulator).fetch("secret/linux/web01", purpose="ssh login to web01:22")
    assert (credential.name, credential.kind, credential.username) == ("vault:secret/linux/web01", "password", "root")
    assert credential.password is not None
    assert credential.password.reveal() == PASSWORD
    assert PASSWORD not in repr(credential)
    assert emulator.received("secret/data/linux/web01")[0].status == 200


async def test_a_kv_v1_secret_is_read_from_a_version_1_mount(emulator: VaultEmulator, make_store: MakeStore) -> None:
    emulator.mount_kv("legacy", version=1)
    emulator.put("legacy/net/switch1", {"password": PASSWORD})
    credential = await make_store(emulator, kv_mounts={"legacy": 1}).fetch("legacy/net/switch1", purpose="t")
    assert credential.kind == "password"
    assert credential.username is None
    assert [r.path for r in emulator.received("legacy/")] == ["legacy/net/switch1"]


async def test_a_pinned_version_is_read_and_a_missing_version_is_not_found_naming_it(
    emulator: VaultEmulator, make_store: MakeStore
) -> None:
    emulator.put("secret/db", {"password": "first"})
    emulator.put("secret/db", {"password": "second"})
    store = make_store(emulator)
    latest = await store.fetch("secret/db", purpose="t")
    pinned = await store.fetch("secret/db?version=1", purpose="t")
    assert latest.password is not None
    assert pinned.password is not None
    assert (latest.password.reveal(), pinned.password.reveal()) == ("second", "first")
    assert emulator.received("secret/data/db")[-1].query == {"version": "1"}
    with pytest.raises(NotFound) as caught:
        await store.fetch("secret/db?version=7", purpose="t")
    assert caught.value.message == f"there is no secret 'secret/db' version 7 in Vault at {emulator.url}"


async def test_a_deleted_version_is_not_found(emulator: VaultEmulator, make_store: MakeStore) -> None:
    emulator.put("secret/db", {"password": "first"})
    emulator.put("secret/db", {"password": "second"})
    emulator.delete_version("secret/db", 2)
    store = make_store(emulator)
    with pytest.raises(NotFound, match="version 2"):
        await store.fetch("secret/db?version=2", purpose="t")
    assert (await store.fetch("secret/db?version=1", purpose="t")).kind == "password"


async def test_per_reference_field_names_and_store_field_names_pick_the_secrets_fields(
    emulator: VaultEmulator, make_store: MakeStore
) -> None:
    emulator.put("secret/app", {"login": "svc", "pw": PASSWORD, "ad": "CORP"})
    store = make_store(emulator, fields={"username": "login", "domain": "ad"})
    credential = await store.fetch("secret/app?password=pw", purpose="rdp login")
    assert (credential.kind, credential.username, credential.domain) == ("password", "svc", "CORP")
    with pytest.raises(BadRequest) as caught:
        await store.fetch("secret/app", purpose="t")
    assert caught.value.message == "secret secret/app has neither a 'password' nor a 'private_key' field"


async def test_a_key_and_certificate_secret_is_an_ssh_certificate_credential(
    emulator: VaultEmulator, make_store: MakeStore
) -> None:
    emulator.put("secret/keys/deploy", {"username": "deploy", "private_key": KEY_TEXT, "certificate": "ssh-cert x\n"})
    emulator.put("secret/keys/plain", {"private_key": KEY_TEXT, "passphrase": "pp"})
    store = make_store(emulator)
    with_cert = await store.fetch("secret/keys/deploy", purpose="t")
    assert (with_cert.kind, with_cert.certificate, with_cert.username) == ("ssh_certificate", "ssh-cert x", "deploy")
    plain = await store.fetch("secret/keys/plain", purpose="t")
    assert plain.kind == "private_key"
    assert plain.private_key is not None
    assert plain.passphrase is not None
    assert (plain.private_key.reveal(), plain.passphrase.reveal()) == (KEY_TEXT, "pp")


async def test_a_missing_secret_is_not_found_naming_the_path(emulator: VaultEmulator, make_store: MakeStore) -> None:
    with pytest.raises(NotFound) as caught:
        await make_store(emulator).fetch("secret/ghost", purpose="t")
    assert caught.value.message == f"there is no secret 'secret/ghost' in Vault at {emulator.url}"


async def test_a_path_outside_the_policy_is_denied_naming_the_path_and_hinting_at_the_policy(
    emulator: VaultEmulator, make_store: MakeStore
) -> None:
    emulator.put("secret/linux/web01", {"password": PASSWORD})
    emulator.put("secret/finance/db", {"password": PASSWORD})
    emulator.set_policy("jumpoint", {"secret/data/linux/*": ["read"], "secret/metadata/linux/*": ["list", "read"]})
    store = make_store(emulator, token=emulator.create_token(["jumpoint"]))
    assert (await store.fetch("secret/linux/web01", purpose="t")).kind == "password"
    with pytest.raises(CredentialStoreDenied) as caught:
        await store.fetch("secret/finance/db", purpose="t")
    assert caught.value.message == f"Vault at {emulator.url} denied access to secret 'secret/finance/db'"
    assert caught.value.hint == "the Jumpoint's Vault policy needs the 'read' capability on 'secret/data/finance/db'"


# --- listing ------------------------------------------------------------------------------------------------------
def seed_tree(emulator: VaultEmulator) -> None:
    for path in ("linux/web01", "linux/db/pg01", "linux/db/pg02", "linux/db/old/pg00", "windows/dc01"):
        emulator.put(f"secret/{path}", {"password": PASSWORD})


async def test_a_folder_is_listed_recursively_depth_first_without_reading_any_secret(
    emulator: VaultEmulator, make_store: MakeStore
) -> None:
    seed_tree(emulator)
    infos = await make_store(emulator).list_for(["secret/linux/"], query())
    assert refs(infos) == [
        "vault:secret/linux/db/old/pg00",
        "vault:secret/linux/db/pg01",
        "vault:secret/linux/db/pg02",
        "vault:secret/linux/web01",
    ]
    assert {info.kind for info in infos} == {None}
    assert emulator.received("secret/data/") == []
    assert {r.method for r in emulator.received("secret/metadata/")} == {"LIST"}


async def test_a_kv_v1_folder_is_listed_too(emulator: VaultEmulator, make_store: MakeStore) -> None:
    emulator.mount_kv("legacy", version=1)
    emulator.put("legacy/a/one", {"password": "x"})
    emulator.put("legacy/a/b/two", {"password": "x"})
    infos = await make_store(emulator, kv_mounts={"legacy": 1}).list_for(["legacy/"], query())
    assert refs(infos) == ["vault:legacy/a/b/two", "vault:legacy/a/one"]
    assert all(r.method == "LIST" for r in emulator.received("legacy/"))


async def test_search_filters_the_references_case_insensitively(emulator: VaultEmulator, make_store: MakeStore) -> None:
    seed_tree(emulator)
    infos = await make_store(emulator).list_for(["secret/"], query(search="PG0"))
    assert refs(infos) == ["vault:secret/linux/db/old/pg00", "vault:secret/linux/db/pg01", "vault:secret/linux/db/pg02"]


async def test_listing_stops_at_the_limit_across_folders(emulator: VaultEmulator, make_store: MakeStore) -> None:
    for folder in range(25):
        for index in range(100):
            emulator.put(f"secret/bulk/f{folder:02d}/host-{index:03d}", {"password": "x"})
    infos = await make_store(emulator).list_for(["secret/bulk/", "secret/other/"], query())
    assert len(infos) == 2000
    assert infos[0].ref == "vault:secret/bulk/f00/host-000"
    assert infos[-1].ref == "vault:secret/bulk/f19/host-099"
    assert len(emulator.received("secret/metadata/", "LIST")) == 21  # bulk/ and f00..f19, not f20..f24 or other/


async def test_a_missing_folder_is_empty_and_a_denied_top_folder_is_an_error(
    emulator: VaultEmulator, make_store: MakeStore
) -> None:
    seed_tree(emulator)
    emulator.set_policy("linux-only", {"secret/metadata/linux/*": ["list"]})
    store = make_store(emulator, token=emulator.create_token(["linux-only"]))
    assert await store.list_for(["secret/linux/nothing-here/"], query()) == []
    with pytest.raises(CredentialStoreDenied) as caught:
        await store.list_for(["secret/windows/"], query())
    assert caught.value.hint == "the Jumpoint's Vault policy needs the 'list' capability on 'secret/metadata/windows/'"


async def test_a_sub_folder_the_policy_hides_is_skipped(emulator: VaultEmulator, make_store: MakeStore) -> None:
    seed_tree(emulator)
    emulator.set_policy("no-db", {"secret/metadata/linux/*": ["list"], "secret/metadata/linux/db/*": ["deny"]})
    infos = await make_store(emulator, token=emulator.create_token(["no-db"])).list_for(["secret/linux/"], query())
    assert refs(infos) == ["vault:secret/linux/web01"]


async def test_single_secrets_and_ssh_roles_are_listed_as_themselves(
    emulator: VaultEmulator, make_store: MakeStore
) -> None:
    emulator.put("secret/linux/web01", {"password": PASSWORD})
    infos = await make_store(emulator).list_for(
        ["secret/linux/web01?password=password", "secret/ghost", "ssh:ssh-client-signer/ops"], query()
    )
    assert infos == [
        CredentialInfo("vault:secret/linux/web01?password=password", None),
        CredentialInfo("vault:ssh:ssh-client-signer/ops", "ssh_certificate"),
    ]
    assert emulator.received("secret/data/") == []
    assert [r.path for r in emulator.received("secret/metadata/")] == [
        "secret/metadata/linux/web01",
        "secret/metadata/ghost",
    ]


async def test_a_list_request_as_get_with_list_true_is_answered_like_the_list_method(emulator: VaultEmulator) -> None:
    seed_tree(emulator)
    token = emulator.create_token()
    headers = {"X-Vault-Token": token}
    by_get = await asyncio.to_thread(
        requests.get, f"{emulator.url}/v1/secret/metadata/linux", params={"list": "true"}, headers=headers, timeout=5
    )
    by_list = await asyncio.to_thread(
        requests.request, "LIST", f"{emulator.url}/v1/secret/metadata/linux/", headers=headers, timeout=5
    )
    assert by_get.json()["data"] == by_list.json()["data"] == {"keys": ["db/", "web01"]}
    assert by_get.headers["Content-Type"] == "application/json"


# --- auth ---------------------------------------------------------------------------------------------------------
async def test_approle_login_reads_the_role_id_and_secret_id_from_files(
    emulator: VaultEmulator, make_store: MakeStore, tmp_path: Path
) -> None:
    emulator.put("secret/db", {"password": PASSWORD})
    emulator.set_policy("jumpoint", {"secret/data/*": ["read"]})
    role_id, secret_id = emulator.add_approle(policies=["jumpoint"], mount="jumpoints")
    (tmp_path / "role-id").write_text(role_id + "\n")
    (tmp_path / "secret-id").write_text(secret_id)
    auth = {
        "method": "approle",
        "role_id_file": str(tmp_path / "role-id"),
        "secret_id_file": str(tmp_path / "secret-id"),
        "mount": "jumpoints",
    }
    store = make_store(emulator, auth=auth)
    assert (await store.fetch("secret/db", purpose="t")).kind == "password"
    login = emulator.received("auth/jumpoints/login")
    assert [(r.status, r.body_keys) for r in login] == [(200, ("role_id", "secret_id"))]


async def test_a_wrong_secret_id_is_denied_and_a_missing_file_is_a_config_error_naming_the_key(
    emulator: VaultEmulator, make_store: MakeStore, tmp_path: Path
) -> None:
    role_id, _secret_id = emulator.add_approle(policies=["default"])
    (tmp_path / "role-id").write_text(role_id)
    (tmp_path / "secret-id").write_text("not-the-secret-id")
    auth = {"method": "approle", "role_id_file": str(tmp_path / "role-id"), "secret_id_file": str(tmp_path / "sid")}
    with pytest.raises(ConfigError) as missing:
        await make_store(emulator, auth=auth).fetch("secret/db", purpose="t")
    assert missing.value.message.startswith(f"credential_stores.vault.auth.secret_id_file: cannot read {tmp_path}/sid")
    auth["secret_id_file"] = str(tmp_path / "secret-id")
    with pytest.raises(CredentialStoreDenied) as refused:
        await make_store(emulator, auth=auth).fetch("secret/db", purpose="t")
    assert refused.value.message == f"Vault at {emulator.url} refused the AppRole login: invalid role or secret ID"
    with pytest.raises(CredentialStoreDenied) as no_mount:
        await make_store(emulator, auth={**auth, "mount": "elsewhere"}).fetch("secret/db", purpose="t")
    assert no_mount.value.message == f"Vault at {emulator.url} has no AppRole login at auth/elsewhere/login"


async def test_a_jwt_the_kubernetes_role_does_not_accept_is_denied(
    emulator: VaultEmulator, make_store: MakeStore, tmp_path: Path
) -> None:
    emulator.add_kubernetes_role("jumpoint", policies=["root"])
    (tmp_path / "jwt").write_text("eyJ.some-other-service-account.sig")
    store = make_store(emulator, auth={"method": "kubernetes", "role": "jumpoint", "jwt_file": str(tmp_path / "jwt")})
    with pytest.raises(CredentialStoreDenied) as caught:
        await store.fetch("secret/db", purpose="t")
    assert caught.value.message == f"Vault at {emulator.url} refused the Kubernetes login: permission denied"


async def test_kubernetes_login_sends_the_service_account_jwt(
    emulator: VaultEmulator, make_store: MakeStore, tmp_path: Path
) -> None:
    emulator.put("secret/db", {"password": PASSWORD})
    jwt = emulator.add_kubernetes_role("jumpoint", policies=["root"])
    (tmp_path / "jwt").write_text(jwt)
    store = make_store(emulator, auth={"method": "kubernetes", "role": "jumpoint", "jwt_file": str(tmp_path / "jwt")})
    assert (await store.fetch("secret/db", purpose="t")).kind == "password"
    assert [r.body_keys for r in emulator.received("auth/kubernetes/login")] == [("jwt", "role")]


async def test_a_token_from_an_environment_variable_is_used(
    emulator: VaultEmulator, make_store: MakeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.put("secret/db", {"password": PASSWORD})
    monkeypatch.setenv("OJ_TEST_VAULT_TOKEN", emulator.create_token())
    store = make_store(emulator, auth={"method": "token", "token_env": "OJ_TEST_VAULT_TOKEN"})
    assert (await store.fetch("secret/db", purpose="t")).kind == "password"
    monkeypatch.delenv("OJ_TEST_VAULT_TOKEN")
    with pytest.raises(ConfigError, match=r"auth\.token_env: the environment variable OJ_TEST_VAULT_TOKEN"):
        await make_store(emulator, auth={"method": "token", "token_env": "OJ_TEST_VAULT_TOKEN"}).fetch(
            "secret/db", purpose="t"
        )


async def test_an_invalid_static_token_is_denied_with_a_hint_to_replace_the_token_file(
    emulator: VaultEmulator, make_store: MakeStore
) -> None:
    store = make_store(emulator, token="hvs.not-a-token")
    with pytest.raises(CredentialStoreDenied) as caught:
        await store.fetch("secret/db", purpose="t")
    assert "does not accept the token from the token file" in caught.value.message
    assert caught.value.hint is not None
    assert "put a valid Vault token in" in caught.value.hint


async def test_concurrent_first_fetches_log_in_once(
    emulator: VaultEmulator, make_store: MakeStore, tmp_path: Path
) -> None:
    emulator.put("secret/db", {"password": PASSWORD})
    jwt = emulator.add_kubernetes_role("jumpoint", policies=["root"])
    (tmp_path / "jwt").write_text(jwt)
    store = make_store(emulator, auth={"method": "kubernetes", "role": "jumpoint", "jwt_file": str(tmp_path / "jwt")})
    results = await asyncio.gather(*(store.fetch("secret/db", purpose="t") for _ in range(10)))
    assert len(results) == 10
    assert len(emulator.received("auth/kubernetes/login")) == 1


async def test_a_namespace_is_sent_and_keeps_data_apart(emulator: VaultEmulator, make_store: MakeStore) -> None:
    emulator.put("secret/db", {"password": "root-namespace"})
    emulator.mount_kv("secret", 2, namespace="team-a")
    emulator.put("secret/db", {"password": "team-a"}, namespace="team-a")
    store = make_store(emulator, token=emulator.create_token(namespace="team-a"), namespace="team-a")
    credential = await store.fetch("secret/db", purpose="t")
    assert credential.password is not None
    assert credential.password.reveal() == "team-a"
    assert {r.namespace for r in emulator.requests} == {"team-a"}


# --- TLS ----------------------------------------------------------------------------------------------------------
async def test_https_with_the_custom_ca_file_works(vault_emulator: StartEmulator, make_store: MakeStore) -> None:
    emulator = await vault_emulator(tls=True)
    emulator.put("secret/db", {"password": PASSWORD})
    assert emulator.url.startswith("https://127.0.0.1:")
    store = make_store(emulator, ca_file=str(emulator.ca_file))
    assert (await store.fetch("secret/db", purpose="t")).kind == "password"


async def test_a_certificate_from_another_ca_fails_saying_tls_verification_failed_and_hinting_at_ca_file(
    vault_emulator: StartEmulator, make_store: MakeStore
) -> None:
    emulator = await vault_emulator(tls=True)
    for store in (make_store(emulator, ca_file=str(emulator.wrong_ca_file)), make_store(emulator)):
        with pytest.raises(CredentialStoreUnavailable) as caught:
            await store.fetch("secret/db", purpose="t")
        assert caught.value.message.startswith(
            f"cannot connect to Vault at {emulator.url}: TLS certificate verification failed"
        )
        assert caught.value.hint is not None
        assert "ca_file" in caught.value.hint


# --- the token's life ---------------------------------------------------------------------------------------------
async def test_a_short_lived_token_is_renewed_before_it_expires(emulator: VaultEmulator, make_store: MakeStore) -> None:
    emulator.put("secret/db", {"password": PASSWORD})
    token = emulator.create_token(ttl=2, renewable=True)
    store = make_store(emulator, token=token)
    await store.fetch("secret/db", purpose="t")
    first_expiry = emulator.tokens[token].expires_at
    assert first_expiry is not None
    await eventually(lambda: emulator.received("auth/token/renew-self"))
    await asyncio.sleep(max(first_expiry - emulator.now(), 0) + 0.2)  # past the token's first TTL
    assert (await store.fetch("secret/db", purpose="t")).kind == "password"
    assert {r.status for r in emulator.received("auth/token/renew-self")} == {200}
    assert emulator.tokens[token].expires_at > first_expiry  # type: ignore[operator]
    assert all(r.status == 200 for r in emulator.received("secret/"))


async def test_when_renewal_fails_the_store_logs_in_again_before_the_token_expires(
    emulator: VaultEmulator, make_store: MakeStore, tmp_path: Path
) -> None:
    emulator.put("secret/db", {"password": PASSWORD})
    role_id, secret_id = emulator.add_approle(policies=["root"], token_ttl=2)
    (tmp_path / "r").write_text(role_id)
    (tmp_path / "s").write_text(secret_id)
    emulator.fail_renewals = True
    store = make_store(
        emulator, auth={"method": "approle", "role_id_file": str(tmp_path / "r"), "secret_id_file": str(tmp_path / "s")}
    )
    await store.fetch("secret/db", purpose="t")
    await eventually(lambda: len(emulator.received("auth/approle/login")) >= 2)
    await asyncio.sleep(0.8)  # past the first token's TTL
    assert (await store.fetch("secret/db", purpose="t")).kind == "password"
    assert [r.status for r in emulator.received("auth/token/renew-self")][:1] == [500]
    assert all(r.status == 200 for r in emulator.received("secret/"))


async def test_a_token_that_reached_its_max_ttl_is_replaced_by_a_new_login(
    emulator: VaultEmulator, make_store: MakeStore, tmp_path: Path
) -> None:
    emulator.put("secret/db", {"password": PASSWORD})
    role_id, secret_id = emulator.add_approle(policies=["root"], token_ttl=2, token_max_ttl=2)
    (tmp_path / "r").write_text(role_id)
    (tmp_path / "s").write_text(secret_id)
    store = make_store(
        emulator, auth={"method": "approle", "role_id_file": str(tmp_path / "r"), "secret_id_file": str(tmp_path / "s")}
    )
    await store.fetch("secret/db", purpose="t")
    await eventually(lambda: len(emulator.received("auth/approle/login")) == 2)
    assert [r.status for r in emulator.received("auth/token/renew-self")] == [200]  # renewed, but not extended
    assert (await store.fetch("secret/db", purpose="t")).kind == "password"


async def test_a_revoked_login_token_is_replaced_and_the_call_retried_once(
    emulator: VaultEmulator, make_store: MakeStore, tmp_path: Path
) -> None:
    emulator.put("secret/db", {"password": PASSWORD})
    role_id, secret_id = emulator.add_approle(policies=["root"])
    (tmp_path / "r").write_text(role_id)
    (tmp_path / "s").write_text(secret_id)
    store = make_store(
        emulator, auth={"method": "approle", "role_id_file": str(tmp_path / "r"), "secret_id_file": str(tmp_path / "s")}
    )
    await store.fetch("secret/db", purpose="t")
    emulator.revoke_all()
    assert (await store.fetch("secret/db", purpose="t")).kind == "password"
    assert [r.status for r in emulator.received("secret/data/db")] == [200, 403, 200]
    assert len(emulator.received("auth/approle/login")) == 2


async def test_an_expired_static_token_is_denied_until_the_token_file_holds_a_new_one(
    emulator: VaultEmulator, make_store: MakeStore, tmp_path: Path
) -> None:
    emulator.put("secret/db", {"password": PASSWORD})
    store = make_store(emulator, token=emulator.create_token(ttl=60, renewable=False))
    await store.fetch("secret/db", purpose="t")
    emulator.advance(120)
    with pytest.raises(CredentialStoreDenied) as caught:
        await store.fetch("secret/db", purpose="t")
    token_file = tmp_path / "token-0"
    assert caught.value.message == (
        f"Vault at {emulator.url} no longer accepts the token from the token file {token_file}: "
        "it has expired or been revoked"
    )
    assert caught.value.hint == f"put a valid Vault token in {token_file}; it is read again on the next request"
    token_file.write_text(emulator.create_token())
    assert (await store.fetch("secret/db", purpose="t")).kind == "password"


# --- Vault unwell -------------------------------------------------------------------------------------------------
async def test_a_sealed_vault_fails_the_fetch_with_a_clear_message(
    emulator: VaultEmulator, make_store: MakeStore
) -> None:
    emulator.put("secret/db", {"password": PASSWORD})
    store = make_store(emulator)
    await store.fetch("secret/db", purpose="t")
    emulator.seal()
    with pytest.raises(CredentialStoreUnavailable) as caught:
        await store.fetch("secret/db", purpose="t")
    assert caught.value.message == f"Vault at {emulator.url} is sealed"
    health = await asyncio.to_thread(requests.get, f"{emulator.url}/v1/sys/health", timeout=5)
    assert (health.status_code, health.json()["sealed"]) == (503, True)


async def test_a_standby_that_cannot_serve_the_request_fails_the_fetch_as_unavailable(
    emulator: VaultEmulator, make_store: MakeStore
) -> None:
    emulator.set_standby()
    with pytest.raises(CredentialStoreUnavailable) as caught:
        await make_store(emulator).fetch("secret/db", purpose="t")
    assert caught.value.message.startswith(f"Vault at {emulator.url} is a standby node")
    health = await asyncio.to_thread(requests.get, f"{emulator.url}/v1/sys/health", timeout=5)
    assert health.status_code == 429


async def test_the_health_endpoint_answers_like_vault(emulator: VaultEmulator) -> None:
    async def status() -> int:
        return (await asyncio.to_thread(requests.get, f"{emulator.url}/v1/sys/health", timeout=5)).status_code

    assert await status() == 200
    emulator.initialized = False
    assert await status() == 501


async def test_an_unreachable_vault_fails_naming_the_url_and_the_cause(make_store: MakeStore) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CredentialStoreUnavailable) as caught:
        await make_store(token="hvs.x", url=url).fetch("secret/db", purpose="t")
    assert (
        caught.value.message
        == f"cannot connect to Vault at {url}: connection refused (is Vault listening on that address and port?)"
    )


async def test_a_vault_that_never_answers_fails_within_timeout_seconds(
    silent_server: SilentServer, make_store: MakeStore
) -> None:
    store = make_store(token="hvs.x", url=silent_server.url, timeout_seconds=1)
    started = time.monotonic()
    with pytest.raises(CredentialStoreUnavailable) as caught:
        await store.fetch("secret/db", purpose="t")
    assert time.monotonic() - started < 3
    assert caught.value.message.startswith(f"Vault at {silent_server.url} did not answer within 1 s")


# --- answers too large or too slow --------------------------------------------------------------------------------
Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter, str], Awaitable[None]]


class HostileVault:
    """A server on 127.0.0.1 that reads a request's head and lets ``answer(reader, writer, path)`` reply (without
    ``http``: answers as soon as a client connects, path ``""``); it counts the bytes written and notes when the
    client went away."""

    def __init__(self, answer: Answer, *, http: bool = True) -> None:
        self.answer = answer
        self.http = http
        self.sent = 0
        self.client_gone = asyncio.Event()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await writer.drain()
        self.sent += len(data)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if not self.http:
                await self.answer(reader, writer, "")
            while self.http:  # one connection may carry several requests
                head = await reader.readuntil(b"\r\n\r\n")
                await self.answer(reader, writer, head.split(b" ")[1].decode())
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self.client_gone.set()
            writer.close()


StartHostile = Callable[..., Awaitable[HostileVault]]


@pytest.fixture
async def hostile_vault() -> AsyncIterator[StartHostile]:
    """A factory: ``await hostile_vault(answer, http=True)`` starts a :class:`HostileVault`, stopped after the test."""
    servers: list[HostileVault] = []

    async def start(answer: Answer, *, http: bool = True) -> HostileVault:
        server = HostileVault(answer, http=http)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


LOOKUP_SELF_ANSWER = b'{"data": {"ttl": 0, "renewable": false}}'
HUGE = 64 * 1024 * 1024


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_an_answer_over_1_mib_fails_naming_the_url_and_the_secret_and_is_not_read_whole(
    declared: bool, hostile_vault: StartHostile, make_store: MakeStore
) -> None:
    piece = b"x" * 65536

    async def answer(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> None:
        if path == "/v1/auth/token/lookup-self":
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(LOOKUP_SELF_ANSWER)}"
            await server.write(writer, head.encode() + b"\r\n\r\n" + LOOKUP_SELF_ANSWER)
            return
        framing = f"Content-Length: {HUGE}" if declared else "Transfer-Encoding: chunked"
        await server.write(writer, f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{framing}\r\n\r\n".encode())
        start = b'{"data": {"data": {"password": "'
        await server.write(writer, start if declared else b"%x\r\n%s\r\n" % (len(start), start))
        for _ in range(HUGE // len(piece)):
            await server.write(writer, piece if declared else b"%x\r\n%s\r\n" % (len(piece), piece))

    server = await hostile_vault(answer)
    store = make_store(token="hvs.x", url=server.url, timeout_seconds=30)
    tracemalloc.start()
    try:
        with pytest.raises(CredentialStoreUnavailable) as caught:
            await store.fetch("secret/db", purpose="t")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert caught.value.message == (
        f"Vault at {server.url} sent an answer larger than 1 MiB (secret 'secret/db'); it was not read"
    )
    assert peak < 8 * 1024 * 1024  # the body is 64 MiB
    await asyncio.wait_for(server.client_gone.wait(), 5)  # the connection was closed, not drained
    assert server.sent < 24 * 1024 * 1024


@pytest.mark.parametrize("where", ["tls handshake", "head", "body"])
async def test_a_vault_trickling_its_answer_fails_within_timeout_seconds_and_the_connection_and_thread_are_released(
    where: str, hostile_vault: StartHostile, make_store: MakeStore
) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    server_hello = b"\x16\x03\x03\x40\x00" + b"\x02" * 16384  # a TLS handshake record, never finished in time
    trickled = {"tls handshake": server_hello, "head": head, "body": b" " * 100000}[where]

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, _path: str) -> None:
        if where == "body":
            await server.write(writer, head)
        for byte in trickled:  # each read gets a byte well within the timeout
            if reader.at_eof():
                raise ConnectionResetError
            await server.write(writer, bytes([byte]))
            await asyncio.sleep(0.1)

    tls = where == "tls handshake"
    server = await hostile_vault(trickle, http=not tls)
    url = server.url.replace("http://", "https://") if tls else server.url
    store = make_store(token="hvs.x", url=url, timeout_seconds=1, tls_verify=False)
    started = time.monotonic()
    with pytest.raises(CredentialStoreUnavailable) as caught:
        await store.fetch("secret/db", purpose="t")
    assert time.monotonic() - started < 1.5
    assert caught.value.message.startswith(f"Vault at {url} did not answer within 1 s")
    await asyncio.wait_for(server.client_gone.wait(), 1)
    await eventually(lambda: store.session.transport.busy == 0, timeout=1)


async def test_calls_to_a_stuck_vault_use_the_stores_own_threads_and_leave_the_default_executor_free(
    silent_server: SilentServer, make_store: MakeStore
) -> None:
    store = make_store(token="hvs.x", url=silent_server.url, timeout_seconds=2)
    transport = store.session.transport
    threads: list[str] = []

    def lookup(client: Any) -> Any:
        threads.append(threading.current_thread().name)
        return client.auth.token.lookup_self()

    calls = [asyncio.create_task(transport.run(lookup)) for _ in range(16)]
    await eventually(lambda: len(threads) > 0)
    started = time.monotonic()
    assert await asyncio.to_thread(lambda: "free") == "free"
    assert time.monotonic() - started < 0.5
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(result, TimeoutError | requests.exceptions.Timeout) for result in results), results
    assert threads and all(name.startswith("vault-vault") for name in threads)
    assert len(set(threads)) <= 4


# --- SSH signing --------------------------------------------------------------------------------------------------
async def test_ssh_sign_returns_a_fresh_key_and_a_certificate_for_the_username_valid_for_the_ttl(
    emulator: VaultEmulator, make_store: MakeStore
) -> None:
    ca = emulator.mount_ssh("ssh-client-signer")
    emulator.add_ssh_role("ssh-client-signer", "ops", allowed_users="alice,bob", max_ttl=3600)
    store = make_store(emulator, ssh={"ttl_seconds": 600})
    credential = await store.fetch("ssh:ssh-client-signer/ops", purpose="ssh login", username="alice")
    assert (credential.name, credential.kind, credential.username) == (
        "vault:ssh:ssh-client-signer/ops",
        "ssh_certificate",
        "alice",
    )
    assert credential.private_key is not None
    assert credential.certificate is not None
    private_text = credential.private_key.reveal()
    assert private_text.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    cert: Any = asyncssh.import_certificate(credential.certificate)
    assert cert.principals == ["alice"]
    valid_after, valid_before = cert._valid_after, cert._valid_before
    assert abs(valid_before - (time.time() + 600)) < 10
    assert valid_before - valid_after == 600 + 30  # Vault back-dates certificates by 30 s
    assert cert.signing_key.export_public_key() == ca.export_public_key()
    assert asyncssh.import_private_key(private_text).export_public_key() == cert.key.export_public_key()
    (sign,) = emulator.received("ssh-client-signer/sign/ops")
    assert sign.details == {"cert_type": "user", "valid_principals": ["alice"], "ttl": 600}
    again = await store.fetch("ssh:ssh-client-signer/ops", purpose="ssh login", username="alice")
    assert again.private_key != credential.private_key


async def test_ssh_sign_needs_a_username_the_role_allows(emulator: VaultEmulator, make_store: MakeStore) -> None:
    emulator.mount_ssh("ssh")
    emulator.add_ssh_role("ssh", "ops", allowed_users="alice")
    store = make_store(emulator)
    with pytest.raises(BadRequest, match="no username was given"):
        await store.fetch("ssh:ssh/ops", purpose="t")
    with pytest.raises(BadRequest, match="cannot be an SSH certificate principal"):
        await store.fetch("ssh:ssh/ops", purpose="t", username="alice,root")
    with pytest.raises(BadRequest, match="mallory is not a valid value for valid_principals"):
        await store.fetch("ssh:ssh/ops", purpose="t", username="mallory")
    assert len(emulator.received("ssh/sign/")) == 1


# --- what is logged -----------------------------------------------------------------------------------------------
async def test_no_secret_token_secret_id_or_jwt_appears_in_any_log_record(
    emulator: VaultEmulator, make_store: MakeStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.put("secret/db", {"username": "sa", "password": PASSWORD})
    emulator.put("secret/key", {"private_key": KEY_TEXT, "passphrase": "key-passphrase-77"})
    emulator.mount_ssh("ssh")
    emulator.add_ssh_role("ssh", "ops")
    role_id, secret_id = emulator.add_approle(policies=["root"], token_ttl=2)
    (tmp_path / "r").write_text(role_id)
    (tmp_path / "s").write_text(secret_id)
    jwt = emulator.add_kubernetes_role("jumpoint", policies=["root"])
    (tmp_path / "jwt").write_text(jwt)
    static = make_store(emulator, token=emulator.create_token(ttl=2))
    approle = make_store(
        emulator, auth={"method": "approle", "role_id_file": str(tmp_path / "r"), "secret_id_file": str(tmp_path / "s")}
    )
    kube = make_store(emulator, auth={"method": "kubernetes", "role": "jumpoint", "jwt_file": str(tmp_path / "jwt")})
    handed_out: list[str] = []
    for store in (static, approle, kube):
        await store.fetch("secret/db", purpose="audit test")
        key = await store.fetch("secret/key", purpose="audit test")
        cert = await store.fetch("ssh:ssh/ops", purpose="audit test", username="alice")
        handed_out += [key.private_key.reveal(), cert.private_key.reveal()]  # type: ignore[union-attr]
    await eventually(lambda: len(emulator.received("auth/token/renew-self")) >= 2)  # static and AppRole tokens
    emulator.revoke_all()  # and a re-login
    await approle.fetch("secret/db", purpose="audit test")
    secrets_seen = [PASSWORD, "key-passphrase-77", "FAKEKEYMATERIAL", role_id, secret_id, jwt, *emulator.tokens]
    secrets_seen += [line for text in handed_out for line in text.splitlines()[1:-1]]
    assert any(r.name.startswith("urllib3") for r in caplog.records), "library debug output was not captured"
    assert "vault:secret/db" in caplog.text
    assert "audit test" in caplog.text
    for record in caplog.records:
        text = " ".join([record.getMessage(), repr(record.args), record.exc_text or ""])
        for value in secrets_seen:
            assert value not in text, f"a secret leaked into a log record of {record.name}"


async def test_aclose_stops_the_renewal_task_and_is_idempotent(emulator: VaultEmulator, make_store: MakeStore) -> None:
    emulator.put("secret/db", {"password": PASSWORD})
    store = make_store(emulator, token=emulator.create_token(ttl=30))
    await store.fetch("secret/db", purpose="t")
    task = store.session._renewal
    assert task is not None
    assert not task.done()
    await store.aclose()
    await store.aclose()
    assert task.done()
    with pytest.raises(CredentialStoreUnavailable, match="has been closed"):
        await store.fetch("secret/db", purpose="t")
