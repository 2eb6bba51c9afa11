"""The credential value handed to adapters, and the narrow interface adapters fetch it through.

Provider plugins (``credential_store``) implement :class:`CredentialSource`; adapters call it at the
moment they need a secret, so a credential is held in memory only for the login it serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from jumpoint.core.secret import Secret

CredentialKind = Literal["password", "private_key"]


@dataclass(frozen=True, slots=True)
class Credential:
    """A credential fetched from a store: a name for the audit trail, and secrets wrapped in :class:`Secret`."""

    name: str
    kind: CredentialKind
    username: str | None = None
    password: Secret | None = None
    private_key: Secret | None = None
    passphrase: Secret | None = None


class CredentialSource(Protocol):
    """Where an adapter fetches the credential a Jump Item names."""

    async def fetch(self, ref: str, *, purpose: str) -> Credential:
        """Return credential ``ref``; raise :class:`~jumpoint.core.errors.NotFound` if there is none.

        ``purpose`` says who asks and why (``"ssh login to host:22 for session S"``) for the store's audit.
        """
        ...
