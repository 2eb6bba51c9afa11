"""The credential provider plugin interface.

A third party ships a provider as its own package and registers a factory under the
``openjump.credential_providers`` entry point; the Jumpoint's configuration names a store, its ``type``
(the entry point's name) and its settings::

    credential_stores:
      vault:
        type: vault
        url: https://vault.example.net:8200
        ...

A provider satisfies the core :class:`~jumpoint.core.credentials.CredentialSource` (``fetch``) for the
paths of its own store (the part of a reference after ``store:``), and lists the credentials a rep may
pick (``list_for``). Secrets leave a provider only wrapped in :class:`~jumpoint.core.secret.Secret`, and
only through ``fetch``; ``list_for`` returns references and kinds, never a secret or a user name.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from jumpoint.core.credentials import Credential, CredentialInfo, CredentialKind, CredentialQuery

__all__ = [
    "Credential",
    "CredentialInfo",
    "CredentialKind",
    "CredentialProvider",
    "CredentialQuery",
    "ProviderFactory",
]


@runtime_checkable
class CredentialProvider(Protocol):
    """One configured credential store.

    Errors are the core's: :class:`~jumpoint.core.errors.NotFound` naming the path,
    :class:`~jumpoint.core.errors.CredentialStoreUnavailable` (unreachable, sealed, timed out),
    :class:`~jumpoint.core.errors.CredentialStoreDenied` (the store refused the Jumpoint),
    :class:`~jumpoint.core.errors.BadRequest` (a malformed path or a secret of the wrong shape). No call
    may block the event loop or wait without a time limit.
    """

    async def list_for(self, paths: list[str], query: CredentialQuery) -> list[CredentialInfo]:
        """The credentials under ``paths`` (this store's parts of the query's scopes; a path ending in
        ``/`` is a folder) that match ``query.search``, at most ``query.limit``, as full references."""
        ...

    async def fetch(self, path: str, *, purpose: str, username: str | None = None) -> Credential:
        """Return the credential at ``path`` of this store, its secrets wrapped.

        ``purpose`` says who asks and why, for the provider's audit trail; ``username`` is the login it
        will serve (a store that mints certificates uses it as the principal).
        """
        ...

    async def aclose(self) -> None:
        """Release connections and background tasks (token renewal); idempotent."""
        ...


class ProviderFactory(Protocol):
    """What the entry point names: builds a provider from its configuration block."""

    def __call__(self, name: str, settings: Mapping[str, Any], *, state_dir: Path) -> CredentialProvider:
        """Build store ``name``; raise :class:`~jumpoint.core.errors.ConfigError` naming the key for a bad setting.

        ``settings`` is the store's block without ``type``; ``state_dir`` is the Jumpoint's private state
        directory.
        """
        ...
