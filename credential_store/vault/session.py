"""A Vault session: the token in use, its renewal, and calls that survive the token's end.

* The first call logs in (:class:`~credential_store.vault.auth.Authenticator`) and starts the renewal task.
* The renewal task wakes when two thirds of the token's TTL have passed and calls ``auth/token/renew-self``.
  When the token cannot be renewed, renewal fails, or the renewal no longer extends it (its max TTL), an AppRole
  or Kubernetes session logs in again; a static token is left to run out (a warning says when).
* A call answered 403 is retried once if the token turns out to be the cause (past its TTL, or
  ``lookup-self`` refused too): after a new login, or for a static token after re-reading its file, if the
  operator put a new token there. A 403 with a valid token is a policy denial and is reported as one.

Nothing here logs a token or a secret: only the store's name, Vault's URL, TTLs and operations.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import hvac
import hvac.exceptions

from credential_store.vault.auth import Authenticator, TokenLease, lease_from_auth
from credential_store.vault.errors import Operation, translate
from credential_store.vault.settings import VaultSettings
from credential_store.vault.transport import Transport
from jumpoint.core.errors import CredentialStoreDenied, CredentialStoreUnavailable, JumpError

log = logging.getLogger(__name__)

RENEW_AT = 2 / 3
RETRY_MIN = 0.5
RETRY_MAX = 30.0
LOOKUP_SELF = Operation("token lookup", "auth/token/lookup-self", "read")
RENEW_SELF = Operation("token renewal", "auth/token/renew-self", "update")


class VaultSession:
    """The authenticated connection of one Vault store; :meth:`call` runs one hvac call with the token."""

    def __init__(self, name: str, settings: VaultSettings) -> None:
        self.name = name
        self.url = settings.url
        self.transport = Transport(name, settings)
        self.auth = Authenticator(name, settings, self.transport)
        self._lease: TokenLease | None = None
        self._generation = 0
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._renewal: asyncio.Task[None] | None = None
        self._gave_up: TokenLease | None = None
        self._retry_at = 0.0
        self._closed = False

    @property
    def lease(self) -> TokenLease | None:
        """The current token's lease (for tests and diagnostics; its token is a Secret)."""
        return self._lease

    async def call(self, fn: Callable[[hvac.Client], Any], op: Operation) -> Any:
        """Run ``fn(client)`` with the session's token; raise the core's errors naming ``op``.

        A 403 caused by the token's end is retried once with a new token; no request takes longer than the store's
        ``timeout_seconds`` (:mod:`credential_store.vault.transport`).
        """
        generation = await self._ready()
        try:
            return await self.transport.run(fn)
        except hvac.exceptions.Forbidden as exc:
            if not await self._recover(generation):
                raise self._translate(exc, op) from None
        except Exception as exc:
            raise self._translate(exc, op) from None
        try:
            return await self.transport.run(fn)
        except Exception as exc:
            raise self._translate(exc, op) from None

    async def aclose(self) -> None:
        """Stop renewing, forget the token and close the connection pool; idempotent."""
        self._closed = True
        task, self._renewal = self._renewal, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._lease = None
        self.transport.set_token("")
        self.transport.close()

    # --- logging in -------------------------------------------------------------------------------------
    async def _ready(self) -> int:
        if self._closed:
            raise CredentialStoreUnavailable(f"the Vault credential store '{self.name}' has been closed")
        if self._lease is None:
            async with self._lock:
                if self._lease is None:
                    await self._login_locked()
        if self._closed:
            raise CredentialStoreUnavailable(f"the Vault credential store '{self.name}' has been closed")
        if self._renewal is None:
            self._renewal = asyncio.create_task(self._renew_loop(), name=f"vault-renewal-{self.name}")
        return self._generation

    async def _login_locked(self) -> None:
        try:
            lease = await self.auth.login()
        except Exception as exc:
            raise self._login_error(exc) from None
        self._install(lease, "logged in")

    def _install(self, lease: TokenLease, how: str) -> None:
        self._lease = lease
        self.transport.set_token(lease.token.reveal())
        self._generation += 1
        self._gave_up = None
        self._retry_at = 0.0
        self._wake.set()
        life = f"lasts {lease.ttl:g} s" if lease.ttl else "does not expire"
        renewable = "renewable" if lease.renewable else "not renewable"
        log.info(
            "Vault store '%s' %s at %s (%s auth); the token %s (%s)",
            self.name,
            how,
            self.url,
            self.auth.auth.method,
            life,
            renewable,
        )

    def _login_error(self, exc: BaseException) -> JumpError:
        if not self.auth.can_log_in_again and isinstance(exc, hvac.exceptions.Forbidden):
            return CredentialStoreDenied(
                f"Vault at {self.url} does not accept the token from {self.auth.describe_source()}: "
                "it is invalid, expired or revoked",
                hint=self.auth.replace_token_hint(),
            )
        return translate(exc, url=self.url, op=self.auth.login_operation(), timeout=self.transport.timeout)

    def _translate(self, exc: BaseException, op: Operation) -> JumpError:
        return translate(exc, url=self.url, op=op, timeout=self.transport.timeout)

    # --- a 403 ------------------------------------------------------------------------------------------
    async def _recover(self, generation: int) -> bool:
        """After a 403: True if a new token is in place (retry the call), False if the token is fine."""
        async with self._lock:
            if self._generation != generation:
                return True
            lease = self._lease
            if lease is None:
                raise CredentialStoreUnavailable(f"the Vault credential store '{self.name}' has been closed")
            if not lease.expired() and not await self._token_rejected():
                return False
            log.info("Vault store '%s': Vault no longer accepts the token; getting a new one", self.name)
            if self.auth.can_log_in_again:
                await self._login_locked()
                return True
            token = await self.auth.read_static_token()
            if token == lease.token:
                raise CredentialStoreDenied(
                    f"Vault at {self.url} no longer accepts the token from {self.auth.describe_source()}: "
                    "it has expired or been revoked",
                    hint=self.auth.replace_token_hint(),
                )
            try:
                new_lease = await self.auth.adopt(token)
            except Exception as exc:
                raise self._login_error(exc) from None
            self._install(new_lease, "switched to the new token")
            return True

    async def _token_rejected(self) -> bool:
        try:
            await self.transport.run(lambda client: client.auth.token.lookup_self())
        except hvac.exceptions.Forbidden:
            return True
        except Exception as exc:
            raise self._translate(exc, LOOKUP_SELF) from None
        return False

    # --- renewal ----------------------------------------------------------------------------------------
    def _renew_due(self) -> float | None:
        """When the renewal task should act next (monotonic clock), or None to wait for a new token."""
        lease = self._lease
        if lease is None or lease.expires_at is None or lease is self._gave_up:
            return None
        if not lease.renewable and not self.auth.can_log_in_again:
            return None
        return max(lease.obtained_at + lease.ttl * RENEW_AT, self._retry_at)

    async def _renew_loop(self) -> None:
        while not self._closed:
            self._wake.clear()
            due = self._renew_due()
            delay = None if due is None else max(due - time.monotonic(), 0.0)
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
                continue
            except TimeoutError:
                pass
            lease = self._lease
            if lease is None:
                continue
            try:
                await self._refresh(lease)
            except Exception as exc:
                error = exc if isinstance(exc, JumpError) else self._translate(exc, RENEW_SELF)
                remaining = (lease.expires_at or 0) - time.monotonic()
                retry = min(max(remaining / 4, RETRY_MIN), RETRY_MAX)
                self._retry_at = time.monotonic() + retry
                log.warning(
                    "Vault store '%s': could not renew or replace the token (%s); trying again in %.1f s",
                    self.name,
                    error.message,
                    retry,
                )

    async def _refresh(self, lease: TokenLease) -> None:
        async with self._lock:
            if self._lease is not lease:
                return
            if lease.renewable and await self._renew(lease):
                return
            if self.auth.can_log_in_again:
                await self._login_locked()
                return
            self._gave_up = lease
            left = max((lease.expires_at or 0) - time.monotonic(), 0)
            log.warning(
                "Vault store '%s': the token from %s cannot be renewed and stops working in %.0f s; %s",
                self.name,
                self.auth.describe_source(),
                left,
                self.auth.replace_token_hint(),
            )

    async def _renew(self, lease: TokenLease) -> bool:
        """Renew the token; True if that extended it."""
        try:
            answer = await self.transport.run(lambda client: client.auth.token.renew_self())
            renewed = lease_from_auth(answer)
        except Exception as exc:
            log.warning("Vault store '%s': token renewal failed: %s", self.name, self._translate(exc, RENEW_SELF))
            return False
        remaining = (lease.expires_at or 0) - time.monotonic()
        if renewed.ttl <= remaining + 0.5:
            log.info("Vault store '%s': the token has reached its maximum TTL", self.name)
            return False
        self._lease = TokenLease(lease.token, renewed.ttl, renewed.renewable)
        self._retry_at = 0.0
        self._wake.set()
        log.debug("Vault store '%s': token renewed for %g s", self.name, renewed.ttl)
        return True
