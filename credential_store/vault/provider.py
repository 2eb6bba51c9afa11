"""The Vault credential provider: the ``vault`` entry point's factory and the CredentialProvider it builds."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from credential_store.vault import kv, ssh_sign
from credential_store.vault.paths import KvFolder, SshRole, parse
from credential_store.vault.session import VaultSession
from credential_store.vault.settings import VaultSettings, load_settings
from jumpoint.core.credentials import Credential, CredentialInfo, CredentialQuery
from jumpoint.core.errors import BadRequest

log = logging.getLogger(__name__)


class VaultCredentialStore:
    """Credentials kept in HashiCorp Vault (KV v1/v2 secrets, SSH certificates signed on demand).

    ``VaultCredentialStore(name, settings, *, state_dir)`` validates ``settings`` (ConfigError naming
    ``credential_stores.<name>.<key>``) and contacts nothing: the first ``fetch`` or ``list_for`` logs in and
    starts token renewal; ``aclose`` stops it. Paths follow :mod:`credential_store.vault.paths`. Every Vault
    request is bounded by ``timeout_seconds``. Fetches are logged by reference and purpose, never by value.
    """

    def __init__(self, name: str, settings: Mapping[str, Any], *, state_dir: Path) -> None:
        self.name = name
        self.settings: VaultSettings = load_settings(name, settings)
        self.state_dir = state_dir
        self.session = VaultSession(name, self.settings)

    def ref(self, path: str) -> str:
        """The full reference of store path ``path`` (``<store>:<path>``)."""
        return f"{self.name}:{path}"

    async def fetch(self, path: str, *, purpose: str, username: str | None = None) -> Credential:
        """The credential at ``path``: a KV secret's fields, or a new key signed for ``username`` by an SSH role.

        Raises NotFound (naming the path and pinned version), BadRequest (malformed path, a folder, a secret
        without usable fields, an SSH role without a username), CredentialStoreDenied (policy or token),
        CredentialStoreUnavailable (unreachable, sealed, standby, timed out).
        """
        target = parse(path, self.settings)
        name = self.ref(path)
        if isinstance(target, KvFolder):
            raise BadRequest(f"the Vault path '{path}' names a folder, not one credential")
        if isinstance(target, SshRole):
            credential = await ssh_sign.sign(self.session, name, target, username, self.settings.ssh.ttl_seconds)
        else:
            credential = kv.to_credential(name, target, await kv.read_secret(self.session, target))
        log.info("Vault credential '%s' (%s) fetched for %s", name, credential.kind, purpose)
        return credential

    async def list_for(self, paths: list[str], query: CredentialQuery) -> list[CredentialInfo]:
        """The references under ``paths`` matching ``query.search`` (case-insensitive), at most ``query.limit``.

        A folder (``mount/folder/``) is listed recursively, depth first, without reading any secret (kind None).
        An ``ssh:`` role is returned as itself (kind ``ssh_certificate``). A single KV secret is returned as itself
        (kind None) if KV v2 metadata shows it exists; KV v1 secrets, and secrets whose metadata the policy hides,
        are returned unchecked (a missing one is reported when fetched).
        """
        needle = query.search.casefold()
        listing = kv.Listing(limit=max(query.limit, 0), matches=lambda ref: needle in ref.casefold())
        for path in paths:
            if listing.full:
                break
            target = parse(path, self.settings)
            if isinstance(target, SshRole):
                listing.add(CredentialInfo(ref=self.ref(path), kind="ssh_certificate"))
            elif isinstance(target, KvFolder):
                await kv.list_folder(self.session, self.name, target, listing)
            elif self._wanted(listing, path) and await kv.secret_exists(self.session, target):
                listing.add(CredentialInfo(ref=self.ref(path), kind=None))
        return listing.infos

    def _wanted(self, listing: kv.Listing, path: str) -> bool:
        ref = self.ref(path)
        return listing.matches(ref) and ref not in listing.seen

    async def aclose(self) -> None:
        """Stop token renewal and close connections; idempotent."""
        await self.session.aclose()
