"""The Jumpoint's local credential store: secrets encrypted at rest, fetched by name."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from credential_store.base import CredentialProvider
from credential_store.local import KEY_FILE, STORE_FILE, LocalCredentialStore, from_config
from jumpoint.core.credentials import CredentialInfo, CredentialQuery
from jumpoint.core.errors import BadRequest, ConfigError, Conflict, NotFound
from jumpoint.core.secret import Secret

PASSWORD = "s3cret-Pa55word"


def test_the_local_store_is_a_credential_provider(tmp_path: Path) -> None:
    assert isinstance(LocalCredentialStore(tmp_path), CredentialProvider)


async def test_a_stored_password_is_fetched_back_wrapped_and_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = LocalCredentialStore(tmp_path)
    store.add("web-admin", "password", "admin", password=Secret(PASSWORD))
    credential = await LocalCredentialStore(tmp_path).fetch("web-admin", purpose="ssh login to web:22")
    assert (credential.name, credential.kind, credential.username) == ("local:web-admin", "password", "admin")
    assert credential.password is not None
    assert credential.password.reveal() == PASSWORD
    assert credential.private_key is None
    assert PASSWORD not in repr(credential)
    assert "web-admin" in caplog.text
    assert "ssh login to web:22" in caplog.text
    assert PASSWORD not in caplog.text


async def test_a_private_key_with_passphrase_round_trips(tmp_path: Path) -> None:
    store = LocalCredentialStore(tmp_path)
    store.add("deploy", "private_key", None, private_key=Secret("KEY TEXT"), passphrase=Secret("pp"))
    credential = await store.fetch("deploy", purpose="test")
    assert credential.private_key is not None
    assert credential.passphrase is not None
    assert (credential.private_key.reveal(), credential.passphrase.reveal()) == ("KEY TEXT", "pp")
    assert credential.username is None


def test_secrets_are_encrypted_at_rest_and_both_files_are_private(tmp_path: Path) -> None:
    LocalCredentialStore(tmp_path).add("web-admin", "password", "admin", password=Secret(PASSWORD))
    assert PASSWORD.encode() not in (tmp_path / STORE_FILE).read_bytes()
    assert b"web-admin" not in (tmp_path / STORE_FILE).read_bytes()
    for name in (STORE_FILE, KEY_FILE):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600


def test_names_lists_and_remove_deletes(tmp_path: Path) -> None:
    store = LocalCredentialStore(tmp_path)
    assert store.names() == []
    store.add("b", "password", None, password=Secret("x"))
    store.add("a", "password", None, password=Secret("y"))
    assert store.names() == ["a", "b"]
    store.remove("a")
    assert store.names() == ["b"]
    with pytest.raises(NotFound, match="'a'"):
        store.remove("a")


def _query(search: str = "", limit: int = 2000) -> CredentialQuery:
    return CredentialQuery(scopes=(), item="item 7", user="rep", search=search, limit=limit)


async def test_list_for_offers_what_the_paths_allow_with_kinds_and_no_secrets(tmp_path: Path) -> None:
    store = LocalCredentialStore(tmp_path)
    store.add("linux/web01", "password", "root", password=Secret(PASSWORD))
    store.add("linux/db01", "private_key", None, private_key=Secret("KEY"))
    store.add("windows/dc", "password", None, password=Secret("x"))
    found = await store.list_for(["linux/"], _query())
    assert found == [
        CredentialInfo("local:linux/db01", "private_key"),
        CredentialInfo("local:linux/web01", "password"),
    ]
    assert [c.ref for c in await store.list_for(["*"], _query(search="WEB"))] == ["local:linux/web01"]
    assert [c.ref for c in await store.list_for(["windows/dc", "linux/nope"], _query())] == ["local:windows/dc"]
    assert len(await store.list_for(["*"], _query(limit=2))) == 2
    assert PASSWORD not in repr(found) and "root" not in repr(found)


async def test_a_certificate_credential_keeps_its_certificate_and_domain(tmp_path: Path) -> None:
    store = LocalCredentialStore(tmp_path)
    store.add("cert", "ssh_certificate", "ops", private_key=Secret("KEY"), certificate="ssh-ed25519-cert-v01 AAA")
    store.add("win", "password", "admin", password=Secret("pw"), domain="CORP")
    cert = await store.fetch("cert", purpose="test")
    assert (cert.kind, cert.certificate) == ("ssh_certificate", "ssh-ed25519-cert-v01 AAA")
    assert (await store.fetch("win", purpose="test")).domain == "CORP"
    with pytest.raises(BadRequest, match="no certificate"):
        store.add("bad", "ssh_certificate", None, private_key=Secret("KEY"))


async def test_the_key_can_come_from_an_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OJ_TEST_KEY", Fernet.generate_key().decode())
    store = from_config("local", {"key_env": "OJ_TEST_KEY"}, state_dir=tmp_path)
    store.add("a", "password", None, password=Secret("x"))
    assert not (tmp_path / KEY_FILE).exists()
    assert (await store.fetch("a", purpose="test")).name == "local:a"
    monkeypatch.delenv("OJ_TEST_KEY")
    with pytest.raises(ConfigError, match="OJ_TEST_KEY is not set"):
        await store.fetch("a", purpose="test")


def test_a_bad_store_setting_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"credential_stores\.mine"):
        from_config("mine", {"key_envv": "X"}, state_dir=tmp_path)
    with pytest.raises(ConfigError, match="not both"):
        from_config("mine", {"key_env": "X", "key_file": "/k"}, state_dir=tmp_path)


async def test_fetching_an_unknown_name_raises_not_found_naming_it(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="'ghost'"):
        await LocalCredentialStore(tmp_path).fetch("ghost", purpose="test")


def test_a_duplicate_name_is_a_conflict_unless_replacing(tmp_path: Path) -> None:
    store = LocalCredentialStore(tmp_path)
    store.add("dup", "password", None, password=Secret("1"))
    with pytest.raises(Conflict, match="'dup'"):
        store.add("dup", "password", None, password=Secret("2"))
    store.add("dup", "password", None, password=Secret("2"), replace=True)
    assert store.names() == ["dup"]


@pytest.mark.parametrize(
    ("name", "kind", "secrets"),
    [
        ("", "password", {"password": Secret("x")}),
        (" padded", "password", {"password": Secret("x")}),
        ("ok", "password", {}),
        ("ok", "private_key", {"password": Secret("x")}),
        ("ok", "token", {"password": Secret("x")}),
        ("folder/", "password", {"password": Secret("x")}),
        ("a//b", "password", {"password": Secret("x")}),
        ("*", "password", {"password": Secret("x")}),
    ],
)
def test_an_invalid_credential_is_refused(tmp_path: Path, name: str, kind: str, secrets: dict[str, Secret]) -> None:
    with pytest.raises(BadRequest):
        LocalCredentialStore(tmp_path).add(name, kind, None, **secrets)  # type: ignore[arg-type]


async def test_a_store_whose_key_was_replaced_says_so(tmp_path: Path) -> None:
    LocalCredentialStore(tmp_path).add("a", "password", None, password=Secret("x"))
    (tmp_path / KEY_FILE).unlink()
    other = tmp_path / "other"
    LocalCredentialStore(other).add("b", "password", None, password=Secret("y"))
    (tmp_path / KEY_FILE).write_bytes((other / KEY_FILE).read_bytes())
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        await LocalCredentialStore(tmp_path).fetch("a", purpose="test")
