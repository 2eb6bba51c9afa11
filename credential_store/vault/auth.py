"""Getting a Vault token: the configured token, an AppRole login or a Kubernetes login.

The token, the AppRole secret id and the Kubernetes JWT are read from their files (or the environment) at each
login, never earlier and never kept beyond it, so an operator can rotate them without restarting the Jumpoint.
They travel only in request bodies and headers that nothing of ours logs, and they are wrapped in
:class:`~jumpoint.core.secret.Secret` while held.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hvac

from credential_store.vault.errors import Operation
from credential_store.vault.settings import AppRoleAuth, KubernetesAuth, TokenAuth, VaultSettings, key_prefix
from credential_store.vault.transport import Transport, as_dict
from jumpoint.core.errors import ConfigError
from jumpoint.core.secret import Secret

SECRET_FILE_MAX = 64 * 1024


@dataclass(frozen=True, slots=True)
class TokenLease:
    """A token and what Vault said about its life: ``ttl`` seconds from ``obtained_at`` (monotonic clock;
    0 means it never expires), and whether ``renew-self`` may extend it."""

    token: Secret
    ttl: float
    renewable: bool
    obtained_at: float = field(default_factory=time.monotonic)

    @property
    def expires_at(self) -> float | None:
        """When the token stops working (monotonic clock), or None if it never does."""
        return self.obtained_at + self.ttl if self.ttl > 0 else None

    def expired(self, now: float | None = None) -> bool:
        """Whether the token's TTL has run out by ``now``."""
        expires = self.expires_at
        return expires is not None and (time.monotonic() if now is None else now) >= expires


class Authenticator:
    """Logs in to Vault with the store's ``auth`` settings; ``login`` returns a fresh :class:`TokenLease`."""

    def __init__(self, name: str, settings: VaultSettings, transport: Transport) -> None:
        self.name = name
        self.auth = settings.auth
        self.transport = transport

    @property
    def can_log_in_again(self) -> bool:
        """Whether a new token can be had without the operator (AppRole, Kubernetes)."""
        return not isinstance(self.auth, TokenAuth)

    def describe_source(self) -> str:
        """Where the static token comes from, for messages: ``the token file /x`` or ``$VAR``."""
        auth = self.auth
        if isinstance(auth, TokenAuth):
            if auth.token_file is not None:
                return f"the token file {auth.token_file}"
            return f"the environment variable {auth.token_env}"
        return f"the {auth.method} login"

    def replace_token_hint(self) -> str:
        """What the operator does when the static token is no longer valid."""
        auth = self.auth
        if isinstance(auth, TokenAuth) and auth.token_file is not None:
            return f"put a valid Vault token in {auth.token_file}; it is read again on the next request"
        return f"set {getattr(auth, 'token_env', 'the token variable')} to a valid Vault token and restart the Jumpoint"

    def login_operation(self) -> Operation:
        """The :class:`Operation` a login is reported as."""
        auth = self.auth
        if isinstance(auth, AppRoleAuth):
            return Operation("AppRole login", f"auth/{auth.mount}/login", "update", login="AppRole")
        if isinstance(auth, KubernetesAuth):
            return Operation("Kubernetes login", f"auth/{auth.mount}/login", "update", login="Kubernetes")
        return Operation("token lookup", "auth/token/lookup-self", "read", login="token")

    async def read_static_token(self) -> Secret:
        """The configured token as it is now in its file or variable (token auth only)."""
        auth = self.auth
        assert isinstance(auth, TokenAuth)
        token_file = auth.token_file
        if token_file is not None:
            return await self.transport.run_plain(lambda: self._read_file(token_file, "auth.token_file"))
        value = os.environ.get(auth.token_env or "", "").strip()
        if not value:
            raise ConfigError(
                f"{key_prefix(self.name)}.auth.token_env: the environment variable {auth.token_env} is empty or unset",
                hint="export the Vault token in the Jumpoint's environment",
            )
        return Secret(value)

    async def login(self) -> TokenLease:
        """Obtain a token and learn its TTL; raise the core's errors (translated by the caller)."""
        auth = self.auth
        if isinstance(auth, TokenAuth):
            return await self.adopt(await self.read_static_token())
        if isinstance(auth, AppRoleAuth):
            role_id = await self.transport.run_plain(lambda: self._read_file(auth.role_id_file, "auth.role_id_file"))
            secret_id = await self.transport.run_plain(
                lambda: self._read_file(auth.secret_id_file, "auth.secret_id_file")
            )
            mount = auth.mount

            def approle(client: hvac.Client) -> Any:
                return client.auth.approle.login(
                    role_id=role_id.reveal(), secret_id=secret_id.reveal(), use_token=False, mount_point=mount
                )

            return lease_from_auth(await self.transport.run_login(approle))
        assert isinstance(auth, KubernetesAuth)
        jwt = await self.transport.run_plain(lambda: self._read_file(auth.jwt_file, "auth.jwt_file"))
        role, mount = auth.role, auth.mount

        def kubernetes(client: hvac.Client) -> Any:
            return client.auth.kubernetes.login(role=role, jwt=jwt.reveal(), use_token=False, mount_point=mount)

        return lease_from_auth(await self.transport.run_login(kubernetes))

    async def adopt(self, token: Secret) -> TokenLease:
        """Use ``token`` and look it up (``auth/token/lookup-self``) to learn its TTL and renewability."""
        self.transport.set_token(token.reveal())
        data = as_dict((await self.transport.run(lambda c: c.auth.token.lookup_self())), "lookup-self")
        info = as_dict(data.get("data"), "lookup-self data")
        ttl = info.get("ttl") or 0
        return TokenLease(token, float(ttl) if isinstance(ttl, int | float) else 0.0, bool(info.get("renewable")))

    def _read_file(self, path: Path, key: str) -> Secret:
        where = f"{key_prefix(self.name)}.{key}"
        try:
            with path.open("rb") as handle:
                raw = handle.read(SECRET_FILE_MAX + 1)
        except OSError as exc:
            raise ConfigError(
                f"{where}: cannot read {path}: {exc.strerror}",
                hint="check the file exists and the Jumpoint's service account may read it",
            ) from None
        if len(raw) > SECRET_FILE_MAX:
            raise ConfigError(f"{where}: {path} is larger than {SECRET_FILE_MAX} bytes")
        value = raw.decode("utf-8", errors="replace").strip()
        if not value:
            raise ConfigError(f"{where}: {path} is empty")
        return Secret(value)


def lease_from_auth(response: Any) -> TokenLease:
    """A lease from the ``auth`` block of a login or ``renew-self`` answer."""
    block = as_dict(as_dict(response, "auth answer").get("auth"), "auth block")
    token = block.get("client_token")
    ttl = block.get("lease_duration") or 0
    if not isinstance(token, str) or not token:
        raise ValueError("auth block without client_token")
    return TokenLease(Secret(token), float(ttl) if isinstance(ttl, int | float) else 0.0, bool(block.get("renewable")))
