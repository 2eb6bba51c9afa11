"""The Jumpoint's configured credential stores: routing fetches, merging listings, clear configuration errors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from credential_store.base import CredentialProvider
from credential_store.local import LocalCredentialStore
from credential_store.stores import CredentialStores
from jumpoint.core.credentials import Credential, CredentialInfo, CredentialQuery
from jumpoint.core.errors import ConfigError, CredentialStoreUnavailable, NotFound
from jumpoint.core.secret import Secret


class FakeVault:
    """A provider that answers from a dict, or fails like an unreachable store."""

    def __init__(self, name: str, secrets: dict[str, str], *, down: bool = False) -> None:
        self.name, self.secrets, self.down = name, secrets, down
        self.closed = False

    async def list_for(self, paths: list[str], query: CredentialQuery) -> list[CredentialInfo]:
        if self.down:
            raise CredentialStoreUnavailable("Vault at https://vault:8200 is unreachable")
        return [CredentialInfo(f"{self.name}:{p}") for p in sorted(self.secrets) if any(p.startswith(x) for x in paths)]

    async def fetch(self, path: str, *, purpose: str, username: str | None = None) -> Credential:
        return Credential(f"{self.name}:{path}", "password", username, password=Secret(self.secrets[path]))

    async def aclose(self) -> None:
        self.closed = True


def _stores(tmp_path: Path, *, down: bool = False) -> tuple[CredentialStores, FakeVault]:
    vault = FakeVault("vault", {"secret/linux/web01": "pw1", "secret/linux/db01": "pw2"}, down=down)
    local = LocalCredentialStore(tmp_path)
    local.add("db-admin", "password", "dba", password=Secret("pw3"))
    return CredentialStores({"local": local, "vault": vault}), vault


def _query(*scopes: str) -> CredentialQuery:
    return CredentialQuery(scopes=scopes, item="web01", user="rep")


async def test_a_fetch_goes_to_the_store_the_reference_names(tmp_path: Path) -> None:
    stores, _ = _stores(tmp_path)
    fetched = await stores.fetch("vault:secret/linux/web01", purpose="test", username="root")
    assert (fetched.name, fetched.username) == ("vault:secret/linux/web01", "root")
    assert (await stores.fetch("db-admin", purpose="test")).name == "local:db-admin"


async def test_a_reference_to_a_store_this_jumpoint_lacks_says_which_stores_it_has(tmp_path: Path) -> None:
    stores, _ = _stores(tmp_path)
    with pytest.raises(NotFound, match="'cyberark'") as caught:
        await stores.fetch("cyberark:safe/x", purpose="test")
    assert caught.value.hint == "this Jumpoint's stores: local, vault"


async def test_a_listing_merges_every_store_sorted(tmp_path: Path) -> None:
    stores, _ = _stores(tmp_path)
    listing = await stores.list_for(_query("vault:secret/linux/", "local:*"))
    assert [c.ref for c in listing.credentials] == [
        "local:db-admin",
        "vault:secret/linux/db01",
        "vault:secret/linux/web01",
    ]
    assert listing.errors == {}


async def test_a_store_that_fails_is_named_while_the_others_still_answer(tmp_path: Path) -> None:
    stores, _ = _stores(tmp_path, down=True)
    listing = await stores.list_for(_query("vault:secret/linux/", "local:*", "ghost:x/"))
    assert [c.ref for c in listing.credentials] == ["local:db-admin"]
    assert listing.errors["vault"]["code"] == "credential_store_unavailable"
    assert listing.errors["ghost"]["code"] == "not_found"


async def test_when_every_store_fails_the_listing_fails_with_the_stores_message(tmp_path: Path) -> None:
    stores, _ = _stores(tmp_path, down=True)
    with pytest.raises(CredentialStoreUnavailable, match="unreachable"):
        await stores.list_for(_query("vault:secret/linux/"))


async def test_closing_closes_every_store(tmp_path: Path) -> None:
    stores, vault = _stores(tmp_path)
    await stores.aclose()
    assert vault.closed


def test_the_configuration_builds_stores_by_type_and_names_a_bad_one(tmp_path: Path) -> None:
    made: list[tuple[str, Mapping[str, Any]]] = []

    def factory(name: str, settings: Mapping[str, Any], *, state_dir: Path) -> CredentialProvider:
        made.append((name, settings))
        return FakeVault(name, {})

    stores = CredentialStores.from_config(
        {"prod": {"type": "fake", "url": "https://v"}}, state_dir=tmp_path, factories={"fake": factory}
    )
    assert list(stores.stores) == ["prod"]
    assert made == [("prod", {"url": "https://v"})]
    with pytest.raises(ConfigError, match=r"credential_stores\.x\.type: 'hsm' is not an installed"):
        CredentialStores.from_config({"x": {"type": "hsm"}}, state_dir=tmp_path, factories={"fake": factory})
    with pytest.raises(ConfigError, match=r"credential_stores\.x\.type: required"):
        CredentialStores.from_config({"x": {}}, state_dir=tmp_path, factories={"fake": factory})


def test_the_installed_local_provider_is_found_through_its_entry_point(tmp_path: Path) -> None:
    stores = CredentialStores.from_config({"local": {"type": "local"}}, state_dir=tmp_path)
    assert isinstance(stores.stores["local"], LocalCredentialStore)
