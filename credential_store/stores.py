"""The Jumpoint's configured credential stores, as one credential source.

Each store is built by the factory its ``type`` names under the ``openjump.credential_providers`` entry
point. A reference ``store:path`` is fetched from that store; a reference without a known store prefix is a
name in the ``local`` store (Jump Items written before stores had names). Listing splits the query's scopes by
store, asks each store concurrently, and merges the answers, sorted, up to the query's limit. When every
store asked fails, the first failure is raised; when some answer, the others' errors travel in the
listing's ``errors`` (and the log), so the rep sees what is missing and why.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from credential_store.base import CredentialProvider, ProviderFactory
from jumpoint.core.credentials import (
    LOCAL_STORE,
    Credential,
    CredentialInfo,
    CredentialQuery,
    check_ref,
    split_ref,
)
from jumpoint.core.errors import ConfigError, JumpError, NotFound

ENTRY_POINT_GROUP = "openjump.credential_providers"
DEFAULT_STORES: dict[str, dict[str, Any]] = {LOCAL_STORE: {"type": "local"}}

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CredentialListing:
    """The answer to a listing: the credentials found and the stores that could not answer."""

    credentials: list[CredentialInfo]
    errors: dict[str, dict[str, Any]] = field(default_factory=dict)


def installed_providers() -> list[str]:
    """The names of every installed provider (entry points), sorted."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load_factory(kind: str) -> ProviderFactory | None:
    """The factory the entry point ``kind`` names, imported now; None if no such provider is installed."""
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=kind):
        factory: ProviderFactory = ep.load()
        return factory
    return None


class CredentialStores:
    """The configured stores by name; implements the core ``CredentialSource``."""

    def __init__(self, stores: Mapping[str, CredentialProvider]) -> None:
        self.stores = dict(stores)

    @classmethod
    def from_config(
        cls,
        blocks: Mapping[str, Mapping[str, Any]],
        *,
        state_dir: Path,
        factories: Mapping[str, ProviderFactory] | None = None,
    ) -> CredentialStores:
        """Build every store of the ``credential_stores`` configuration; ConfigError names a bad one."""
        installed = sorted(factories) if factories is not None else installed_providers()
        stores: dict[str, CredentialProvider] = {}
        for name, block in blocks.items():
            settings = dict(block)
            kind = settings.pop("type", None)
            if not isinstance(kind, str):
                raise ConfigError(f"credential_stores.{name}.type: required, one of {', '.join(installed)}")
            factory = factories.get(kind) if factories is not None else load_factory(kind)
            if factory is None:
                raise ConfigError(
                    f"credential_stores.{name}.type: {kind!r} is not an installed credential provider",
                    hint=f"installed: {', '.join(installed) or 'none'}",
                )
            stores[name] = factory(name, settings, state_dir=state_dir)
        return cls(stores)

    def _store_for(self, ref: str) -> tuple[CredentialProvider, str]:
        check_ref(ref)
        store, path = split_ref(ref)
        provider = self.stores.get(store)
        if provider is None:
            if store == LOCAL_STORE:
                raise NotFound(
                    f"credential {ref!r} names the local store, which this Jumpoint does not have",
                    hint="add a store of type 'local' to credential_stores in the Jumpoint's configuration",
                )
            raise NotFound(
                f"credential {ref!r} names the store {store!r}, which this Jumpoint does not have",
                hint=f"this Jumpoint's stores: {', '.join(sorted(self.stores)) or 'none'}",
            )
        return provider, path

    async def fetch(self, ref: str, *, purpose: str, username: str | None = None) -> Credential:
        """Fetch ``ref`` from its store (see the core ``CredentialSource``)."""
        provider, path = self._store_for(ref)
        return await provider.fetch(path, purpose=purpose, username=username)

    async def list_for(self, query: CredentialQuery) -> CredentialListing:
        """The credentials the query's scopes allow, from every store they name, sorted, up to the limit."""
        by_store: dict[str, list[str]] = {}
        for scope in query.scopes:
            check_ref(scope, what="credential scope", scope=True)
            store, path = split_ref(scope)
            by_store.setdefault(store, []).append(path)
        known = {name: paths for name, paths in by_store.items() if name in self.stores}
        errors: dict[str, dict[str, Any]] = {
            name: NotFound(f"this Jumpoint has no credential store named {name!r}").to_dict()
            for name in by_store
            if name not in self.stores
        }
        results = await asyncio.gather(
            *(self.stores[name].list_for(paths, query) for name, paths in known.items()), return_exceptions=True
        )
        found: dict[str, CredentialInfo] = {}
        failures: list[JumpError] = []
        for name, result in zip(known, results, strict=True):
            if isinstance(result, JumpError):
                log.warning("credential store %r could not list credentials for %s: %s", name, query.item, result)
                errors[name] = result.to_dict()
                failures.append(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                found.update((info.ref, info) for info in result)
        if failures and len(failures) == len(known):
            raise failures[0]
        listing = sorted(found.values(), key=lambda info: info.ref.casefold())[: query.limit]
        return CredentialListing(listing, errors)

    async def aclose(self) -> None:
        """Close every store."""
        for name, provider in self.stores.items():
            try:
                await provider.aclose()
            except Exception:
                log.exception("credential store %r did not close cleanly", name)
