"""The Vault store's path grammar, its settings' validation, and how a KV secret's fields become a credential."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hvac.exceptions
import pytest
import requests.exceptions

from credential_store.vault import VaultCredentialStore
from credential_store.vault.errors import Operation, translate
from credential_store.vault.kv import to_credential
from credential_store.vault.paths import KvFolder, KvSecret, SshRole, parse
from credential_store.vault.settings import VaultSettings, load_settings
from jumpoint.core.errors import (
    BadRequest,
    ConfigError,
    CredentialStoreDenied,
    CredentialStoreUnavailable,
    NotFound,
)

BASE: dict[str, Any] = {"url": "https://vault.example.net:8200", "auth": {"method": "token", "token_env": "VT"}}


def settings(**overrides: Any) -> VaultSettings:
    return load_settings("vault", {**BASE, **overrides})


MOUNTS = settings(kv_mounts={"secret": 2, "kv1": 1, "team/kv": 2})


# --- the grammar -------------------------------------------------------------------------------------------------
def test_a_kv_path_names_the_mount_and_the_secret() -> None:
    ref = parse("secret/linux/web01", MOUNTS)
    assert isinstance(ref, KvSecret)
    assert (ref.mount, ref.kv_version, ref.secret, ref.version) == ("secret", 2, "linux/web01", None)
    assert ref.fields == MOUNTS.fields


def test_the_longest_matching_mount_wins_and_mounts_may_contain_slashes() -> None:
    ref = parse("team/kv/db/admin", MOUNTS)
    assert isinstance(ref, KvSecret)
    assert (ref.mount, ref.secret) == ("team/kv", "db/admin")


def test_a_version_pin_and_per_reference_field_names_are_options() -> None:
    ref = parse("secret/db?version=3&password=pw&username=login", MOUNTS)
    assert isinstance(ref, KvSecret)
    assert ref.version == 3
    assert (ref.fields.password, ref.fields.username, ref.fields.private_key) == ("pw", "login", "private_key")
    assert ref.describe() == "secret 'secret/db' version 3"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("other/db", "neither under one of this store's KV mounts ('kv1/', 'secret/', 'team/kv/')"),
        ("secret", "names a mount, not a secret"),
        ("secret/db?colour=blue", "unknown option 'colour'"),
        ("secret/db?version=2&version=3", "given twice"),
        ("secret/db?version=0", "positive whole number"),
        ("secret/db?version=two", "positive whole number"),
        ("kv1/db?version=2", "KV version 1 mount, which has no versions"),
        ("secret/db?password=", "must name a field"),
        ("secret/a//b", "empty, '.' or '..' segment"),
        ("secret/a/../b", "empty, '.' or '..' segment"),
        ("secret/folder/?version=1", "cannot carry options"),
        ("ssh:only-a-mount", "must be 'ssh:<ssh mount>/<role>'"),
        ("ssh:ssh/ops?ttl=5", "cannot carry options"),
        (" secret/db", "surrounding spaces"),
    ],
)
def test_a_malformed_path_is_a_bad_request_saying_what_is_wrong(path: str, message: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse(path, MOUNTS)
    assert message in caught.value.message


def test_a_path_ending_in_a_slash_is_a_folder_and_the_mount_root_is_one_too() -> None:
    folder = parse("secret/linux/", MOUNTS)
    assert folder == KvFolder("secret", 2, "linux/")
    assert parse("kv1/", MOUNTS) == KvFolder("kv1", 1, "")


def test_an_ssh_path_names_the_engine_mount_and_the_role() -> None:
    role = parse("ssh:ssh-client-signer/ops", MOUNTS)
    assert role == SshRole("ssh-client-signer", "ops")
    assert role.path == "ssh:ssh-client-signer/ops"
    assert parse("ssh:team/ssh/ops", MOUNTS) == SshRole("team/ssh", "ops")


# --- settings ----------------------------------------------------------------------------------------------------
def test_the_defaults_are_a_kv_v2_secret_mount_ten_second_timeouts_and_five_minute_certificates() -> None:
    loaded = settings()
    assert loaded.kv_mounts == {"secret": 2}
    assert (loaded.timeout_seconds, loaded.tls_verify, loaded.ssh.ttl_seconds) == (10, True, 300)
    assert loaded.fields.private_key == "private_key"
    assert loaded.url == "https://vault.example.net:8200"


def test_the_three_auth_methods_validate_with_their_defaults() -> None:
    approle = settings(auth={"method": "approle", "role_id_file": "/r", "secret_id_file": "/s"}).auth
    assert approle.method == "approle"
    assert approle.mount == "approle"
    kube = settings(auth={"method": "kubernetes", "role": "jumpoint"}).auth
    assert kube.method == "kubernetes"
    assert str(kube.jwt_file) == "/var/run/secrets/kubernetes.io/serviceaccount/token"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"url": "ftp://vault"}, "credential_stores.vault.url: must be an http:// or https:// URL"),
        ({"url": "https://user:pw@vault"}, "credential_stores.vault.url: must be a plain URL"),
        ({"timeout_seconds": 0}, "credential_stores.vault.timeout_seconds: Input should be greater than or equal to 1"),
        (
            {"timeout_seconds": 121},
            "credential_stores.vault.timeout_seconds: Input should be less than or equal to 120",
        ),
        ({"kv_mounts": {"secret": 3}}, "credential_stores.vault.kv_mounts.secret: Input should be 1 or 2"),
        ({"kv_mounts": {}}, "credential_stores.vault.kv_mounts: must name at least one KV mount"),
        ({"ssh": {"ttl_seconds": 10}}, "credential_stores.vault.ssh.ttl_seconds: Input should be greater than"),
        ({"fields": {"pasword": "pw"}}, "credential_stores.vault.fields.pasword: unknown key"),
        ({"token": "hvs.abc"}, "credential_stores.vault.token: unknown key"),
        ({"ca_file": "/nonexistent/ca.pem"}, "credential_stores.vault.ca_file: Path does not point to a file"),
        ({"auth": {"method": "token"}}, "credential_stores.vault.auth: set exactly one of token_file or token_env"),
        (
            {"auth": {"method": "token", "token_file": "/t", "token_env": "X"}},
            "credential_stores.vault.auth: set exactly one of token_file or token_env",
        ),
        ({"auth": {"method": "token", "token": "hvs.x"}}, "credential_stores.vault.auth.token: unknown key"),
        ({"auth": {"method": "approle", "role_id_file": "/r"}}, "credential_stores.vault.auth.secret_id_file: Field"),
        ({"auth": {"method": "kubernetes"}}, "credential_stores.vault.auth.role: Field required"),
        (
            {"auth": {"method": "ldap"}},
            "credential_stores.vault.auth: method must be one of token, approle, kubernetes",
        ),
        ({"auth": {"method": "token", "token_env": "1BAD"}}, "credential_stores.vault.auth.token_env: must be an"),
    ],
)
def test_a_bad_setting_is_a_config_error_naming_its_key_and_what_was_expected(
    overrides: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings(**overrides)
    assert expected in caught.value.message


def test_a_missing_url_is_named_too() -> None:
    with pytest.raises(ConfigError, match=r"credential_stores\.corp\.url: Field required"):
        load_settings("corp", {"auth": {"method": "token", "token_env": "VT"}})


def test_the_factory_validates_and_contacts_nothing(tmp_path: Path) -> None:
    store = VaultCredentialStore("vault", {**BASE, "url": "http://127.0.0.1:1"}, state_dir=tmp_path)
    assert store.settings.url == "http://127.0.0.1:1"
    with pytest.raises(ConfigError, match=r"credential_stores\.vault\.kv_mounts"):
        VaultCredentialStore("vault", {**BASE, "kv_mounts": []}, state_dir=tmp_path)


# --- a secret's fields -------------------------------------------------------------------------------------------
def secret(path: str = "secret/db", **kw: Any) -> KvSecret:
    ref = parse(path, MOUNTS)
    assert isinstance(ref, KvSecret)
    return ref


def test_a_password_secret_becomes_a_password_credential_with_username_and_domain() -> None:
    cred = to_credential("vault:secret/db", secret(), {"username": "sa", "password": "pw", "domain": "CORP"})
    assert (cred.name, cred.kind, cred.username, cred.domain) == ("vault:secret/db", "password", "sa", "CORP")
    assert cred.password is not None
    assert cred.password.reveal() == "pw"


def test_a_private_key_wins_over_a_password_and_a_certificate_makes_it_an_ssh_certificate() -> None:
    key_only = to_credential("n", secret(), {"password": "pw", "private_key": "KEY", "passphrase": "pp"})
    assert key_only.kind == "private_key"
    assert key_only.passphrase is not None
    assert key_only.passphrase.reveal() == "pp"
    with_cert = to_credential("n", secret(), {"private_key": "KEY", "certificate": "ssh-ed25519-cert-v01 AAAA\n"})
    assert (with_cert.kind, with_cert.certificate) == ("ssh_certificate", "ssh-ed25519-cert-v01 AAAA")


def test_per_reference_field_names_are_used() -> None:
    cred = to_credential("n", secret("secret/db?password=pw&username=login"), {"login": "sa", "pw": "x"})
    assert (cred.kind, cred.username) == ("password", "sa")


def test_a_secret_without_password_or_key_is_a_bad_request_that_shows_no_value() -> None:
    with pytest.raises(BadRequest) as caught:
        to_credential("n", secret(), {"username": "sa", "token": "VALUE-123"})
    assert caught.value.message == "secret secret/db has neither a 'password' nor a 'private_key' field"
    assert "VALUE-123" not in str(caught.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"password": 1234}, "field 'password' of Vault secret 'secret/db' is not a string"),
        ({"password": "x" * (64 * 1024 + 1)}, "field 'password' of Vault secret 'secret/db' is larger than 65536"),
        ({"password": "ok", "username": ["a"]}, "field 'username' of Vault secret 'secret/db' is not a string"),
    ],
)
def test_a_field_that_is_not_a_short_string_is_refused_naming_path_and_field(
    data: dict[str, Any], message: str
) -> None:
    with pytest.raises(BadRequest, match=message):
        to_credential("n", secret(), data)


# --- errors ------------------------------------------------------------------------------------------------------
OP = Operation("secret 'secret/db'", "secret/data/db", "read")
URL = "https://vault.example.net:8200"


def vault_error(cls: type[hvac.exceptions.VaultError], *errors: str) -> hvac.exceptions.VaultError:
    return cls(errors=list(errors), method="get", url=f"{URL}/v1/secret/data/db")


@pytest.mark.parametrize(
    ("exc", "cls", "message"),
    [
        (
            vault_error(hvac.exceptions.VaultDown, "Vault is sealed"),
            CredentialStoreUnavailable,
            f"Vault at {URL} is sealed",
        ),
        (
            vault_error(hvac.exceptions.InternalServerError, "local node not active but active cluster node not found"),
            CredentialStoreUnavailable,
            "is a standby node",
        ),
        (
            vault_error(hvac.exceptions.Forbidden, "1 error occurred:\n\t* permission denied\n\n"),
            CredentialStoreDenied,
            f"Vault at {URL} denied access to secret 'secret/db'",
        ),
        (vault_error(hvac.exceptions.InvalidPath), NotFound, f"there is no secret 'secret/db' in Vault at {URL}"),
        (vault_error(hvac.exceptions.InternalServerError, "storage failure"), CredentialStoreUnavailable, "storage"),
        (requests.exceptions.ConnectionError("[Errno 111] Connection refused"), CredentialStoreUnavailable, "refused"),
        (
            requests.exceptions.ConnectionError("NameResolutionError: Failed to resolve 'vault.invalid'"),
            CredentialStoreUnavailable,
            "the host name does not resolve",
        ),
        (
            requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
            CredentialStoreUnavailable,
            "TLS certificate verification failed",
        ),
        (requests.exceptions.ReadTimeout("read timed out"), CredentialStoreUnavailable, "did not answer within 10 s"),
        (TimeoutError(), CredentialStoreUnavailable, "did not answer within 10 s"),
    ],
)
def test_library_errors_become_the_cores_errors_with_actionable_messages(
    exc: BaseException, cls: type[Exception], message: str
) -> None:
    error = translate(exc, url=URL, op=OP, timeout=10)
    assert isinstance(error, cls)
    assert message in error.message


def test_a_denial_hints_at_the_policy_and_a_tls_failure_at_ca_file() -> None:
    denied = translate(vault_error(hvac.exceptions.Forbidden, "permission denied"), url=URL, op=OP, timeout=10)
    assert denied.hint == "the Jumpoint's Vault policy needs the 'read' capability on 'secret/data/db'"
    tls = translate(requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED"), url=URL, op=OP, timeout=10)
    assert tls.hint is not None
    assert "ca_file" in tls.hint
