"""The Vault store's settings: one pydantic model per block of the store's YAML, validated strictly.

:func:`load_settings` turns a store's configuration block into :class:`VaultSettings` or raises
:class:`~jumpoint.core.errors.ConfigError` naming each bad key as ``credential_stores.<name>.<key.path>``.
Secrets (a token, an AppRole secret id, a Kubernetes JWT) are never settings: the settings name the file or
environment variable that holds them, read at login time (:mod:`credential_store.vault.auth`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, FilePath, ValidationError, field_validator, model_validator

from jumpoint.core.errors import ConfigError

KUBERNETES_JWT_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
_MOUNT = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
AUTH_METHODS = ("token", "approle", "kubernetes")
KvVersion = Literal[1, 2]
KV_DEFAULT_VERSION: KvVersion = 2


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_mount(value: str) -> str:
    value = value.strip("/")
    if not _MOUNT.fullmatch(value) or any(part in (".", "..") for part in value.split("/")):
        raise ValueError("must be a Vault mount path such as 'secret' or 'team/kv' (letters, digits, '_', '-', '.')")
    return value


class TokenAuth(_Strict):
    """A token the operator issued, read from ``token_file`` or the environment variable ``token_env``."""

    method: Literal["token"]
    token_file: Path | None = None
    token_env: str | None = None

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError("must be an environment variable name such as VAULT_TOKEN")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> TokenAuth:
        if (self.token_file is None) == (self.token_env is None):
            raise ValueError("set exactly one of token_file or token_env (the token itself never goes in the YAML)")
        return self


class AppRoleAuth(_Strict):
    """AppRole login: the role id and the secret id each come from a file."""

    method: Literal["approle"]
    role_id_file: Path
    secret_id_file: Path
    mount: str = "approle"

    @field_validator("mount")
    @classmethod
    def _mount(cls, value: str) -> str:
        return _check_mount(value)


class KubernetesAuth(_Strict):
    """Kubernetes login with the pod's service-account JWT."""

    method: Literal["kubernetes"]
    role: str = Field(min_length=1, max_length=256)
    jwt_file: Path = KUBERNETES_JWT_FILE
    mount: str = "kubernetes"

    @field_validator("mount")
    @classmethod
    def _mount(cls, value: str) -> str:
        return _check_mount(value)


AuthSettings = Annotated[TokenAuth | AppRoleAuth | KubernetesAuth, Field(discriminator="method")]


class FieldNames(_Strict):
    """The names of the fields a KV secret keeps each part of a credential in."""

    username: str = Field(default="username", min_length=1, max_length=256)
    password: str = Field(default="password", min_length=1, max_length=256)
    private_key: str = Field(default="private_key", min_length=1, max_length=256)
    passphrase: str = Field(default="passphrase", min_length=1, max_length=256)
    certificate: str = Field(default="certificate", min_length=1, max_length=256)
    domain: str = Field(default="domain", min_length=1, max_length=256)


class SshSettings(_Strict):
    """The SSH secrets engine: how long a signed certificate is valid."""

    ttl_seconds: int = Field(default=300, ge=30, le=86400)


class VaultSettings(_Strict):
    """A Vault credential store's whole configuration block (without ``type``)."""

    url: str
    namespace: str | None = None
    ca_file: FilePath | None = None
    tls_verify: bool = True
    timeout_seconds: int = Field(default=10, ge=1, le=120)
    auth: AuthSettings
    kv_mounts: dict[str, KvVersion] = Field(default_factory=lambda: {"secret": KV_DEFAULT_VERSION})
    fields: FieldNames = Field(default_factory=FieldNames)
    ssh: SshSettings = Field(default_factory=SshSettings)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL such as https://vault.example.net:8200")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("must be a plain URL without credentials, query or fragment")
        try:
            parts.port  # noqa: B018 - validates the port
        except ValueError:
            raise ValueError("has an invalid port") from None
        return value.rstrip("/")

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip("/")
        if not value:
            return None
        return _check_mount(value)

    @field_validator("kv_mounts")
    @classmethod
    def _mounts(cls, value: dict[str, KvVersion]) -> dict[str, KvVersion]:
        if not value:
            raise ValueError("must name at least one KV mount, e.g. {secret: 2}")
        return {_check_mount(mount): version for mount, version in value.items()}

    def tls_verify_arg(self) -> bool | str:
        """What ``requests`` takes as ``verify``: False, the CA bundle's path, or True (the system's CAs)."""
        if not self.tls_verify:
            return False
        return str(self.ca_file) if self.ca_file is not None else True


def key_prefix(name: str) -> str:
    """How every message about store ``name``'s settings starts: ``credential_stores.<name>``."""
    return f"credential_stores.{name}"


def _where(name: str, loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc]
    # A discriminated union puts the method's name in the location (auth.approle.role_id_file): drop it.
    if len(parts) >= 2 and parts[0] == "auth" and parts[1] in AUTH_METHODS:
        del parts[1]
    return ".".join([key_prefix(name), *parts])


def load_settings(name: str, settings: Mapping[str, Any]) -> VaultSettings:
    """Validate store ``name``'s block; raise ConfigError listing each bad key and what was expected."""
    try:
        return VaultSettings.model_validate(dict(settings))
    except ValidationError as exc:
        lines = [f"{key_prefix(name)}: invalid Vault credential store settings"]
        for err in exc.errors():
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (see docs/vault.md for the Vault store's settings)"
            elif err["type"] == "union_tag_invalid" or err["type"] == "union_tag_not_found":
                msg = f"method must be one of {', '.join(AUTH_METHODS)}"
            lines.append(f"  {_where(name, err['loc'])}: {msg}")
        raise ConfigError("\n".join(lines), hint="fix the Jumpoint's configuration file and restart it") from None
