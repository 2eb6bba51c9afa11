"""hvac is synchronous: each call runs in a worker thread, bounded twice.

``requests`` gets ``timeout_seconds`` for connecting and for each read, and the awaiting coroutine gives up
``TIMEOUT_MARGIN`` seconds after that (a server that trickles bytes, or a name lookup that hangs, cannot hold a
caller longer). Exceptions come out raw; :mod:`credential_store.vault.errors` translates them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import hvac

from credential_store.vault.settings import VaultSettings

T = TypeVar("T")
TIMEOUT_MARGIN = 1.0


class Transport:
    """One hvac client for one store; ``run`` calls it off the event loop within the store's time limit."""

    def __init__(self, settings: VaultSettings) -> None:
        self.url = settings.url
        self.timeout = float(settings.timeout_seconds)
        self.client = _client(settings)
        self.login_client = _client(settings)

    def set_token(self, token: str | None) -> None:
        """Use ``token`` for the calls that follow (None: no token, for a login)."""
        self.client.adapter.token = token

    async def run(self, call: Callable[[hvac.Client], T]) -> T:
        """Run ``call(client)`` in a thread; raise TimeoutError if it takes longer than the time limit."""
        return await asyncio.wait_for(asyncio.to_thread(call, self.client), self.timeout + TIMEOUT_MARGIN)

    async def run_login(self, call: Callable[[hvac.Client], T]) -> T:
        """Like :meth:`run`, on a client that sends no token (a stale token must not spoil a login)."""
        return await asyncio.wait_for(asyncio.to_thread(call, self.login_client), self.timeout + TIMEOUT_MARGIN)

    async def run_plain(self, call: Callable[[], T]) -> T:
        """Run a blocking helper (a file read) in a thread, within the same time limit."""
        return await asyncio.wait_for(asyncio.to_thread(call), self.timeout + TIMEOUT_MARGIN)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.client.adapter.close()
        self.login_client.adapter.close()


def _client(settings: VaultSettings) -> hvac.Client:
    # token="" (not None): hvac would otherwise pick up $VAULT_TOKEN or ~/.vault-token on its own.
    return hvac.Client(
        url=settings.url,
        token="",
        verify=settings.tls_verify_arg(),
        timeout=settings.timeout_seconds,
        namespace=settings.namespace,
    )


def as_dict(value: Any, what: str) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ValueError (Vault answered something that is not its API)."""
    if not isinstance(value, dict):
        raise ValueError(f"{what}: expected a JSON object")
    return value
