"""The credential provider plugin interface.

A provider satisfies the core :class:`~jumpoint.core.credentials.CredentialSource` (``fetch``), so adapters
can use it directly, and can tell which credentials may serve a Jump Item (``list_for``). Secrets leave a
provider only wrapped in :class:`~jumpoint.core.secret.Secret`, and only through ``fetch``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from jumpoint.core.credentials import Credential, CredentialKind

__all__ = ["Credential", "CredentialKind", "CredentialProvider"]


@runtime_checkable
class CredentialProvider(Protocol):
    """A store of credentials, registered under the ``openjump.credential_providers`` entry point."""

    async def list_for(self, item_ref: str) -> list[str]:
        """The names of the credentials that may be used for the Jump Item ``item_ref`` (no secrets)."""
        ...

    async def fetch(self, ref: str, *, purpose: str) -> Credential:
        """Return credential ``ref``; raise :class:`~jumpoint.core.errors.NotFound` naming it if missing.

        ``purpose`` says who asks and why, for the provider's audit trail.
        """
        ...
