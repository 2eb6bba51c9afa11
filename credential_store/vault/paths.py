"""The grammar of a path inside a Vault store (the part of a reference after ``<store>:``).

* ``<kv mount>/<secret path>[?options]`` names a KV secret. The path must start with one of the store's
  ``kv_mounts`` (a mount may itself contain ``/``; the longest matching mount wins). Options, as a query
  string: ``version=N`` (KV version 2 only) pins that version, and ``username=F``, ``password=F``,
  ``private_key=F``, ``passphrase=F``, ``certificate=F``, ``domain=F`` name the secret's fields for this
  reference, overriding the store's ``fields``. Any other option is refused.
* ``<kv mount>/<folder>/`` (and ``<kv mount>/`` for the whole mount) names a folder: only a listing takes it.
* ``ssh:<ssh mount>/<role>`` names a role of the SSH secrets engine, which signs a fresh key for each fetch.

Segments may not be empty, ``.`` or ``..``; nothing here contacts Vault.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

from credential_store.vault.settings import FieldNames, VaultSettings
from jumpoint.core.errors import BadRequest

SSH_PREFIX = "ssh:"
FIELD_OPTIONS = ("username", "password", "private_key", "passphrase", "certificate", "domain")
OPTIONS = ("version", *FIELD_OPTIONS)
VERSION_MAX = 2**31 - 1


@dataclass(frozen=True, slots=True)
class KvSecret:
    """One KV secret: ``secret`` is its path inside ``mount``; ``version`` is pinned (KV v2) or None."""

    mount: str
    kv_version: int
    secret: str
    version: int | None
    fields: FieldNames

    @property
    def path(self) -> str:
        """The secret's store path without options (``mount/secret``)."""
        return f"{self.mount}/{self.secret}"

    def describe(self) -> str:
        """How messages name it: ``secret 'secret/linux/web01'`` (with the version when pinned)."""
        pinned = f" version {self.version}" if self.version is not None else ""
        return f"secret '{self.path}'{pinned}"


@dataclass(frozen=True, slots=True)
class KvFolder:
    """A folder of a KV mount; ``folder`` is ``''`` for the mount's root, else ends in ``/``."""

    mount: str
    kv_version: int
    folder: str

    @property
    def path(self) -> str:
        """The folder's store path (``mount/folder/``)."""
        return f"{self.mount}/{self.folder}"


@dataclass(frozen=True, slots=True)
class SshRole:
    """A role of the SSH secrets engine mounted at ``mount``."""

    mount: str
    role: str

    @property
    def path(self) -> str:
        """The role's store path (``ssh:mount/role``)."""
        return f"{SSH_PREFIX}{self.mount}/{self.role}"


VaultPath = KvSecret | KvFolder | SshRole


def _segments_ok(text: str) -> bool:
    return all(part not in ("", ".", "..") for part in text.split("/"))


def _check_chars(path: str) -> None:
    if not path or path != path.strip() or any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        raise BadRequest(f"the Vault path {path!r} is empty or has surrounding spaces or control characters")


def parse(path: str, settings: VaultSettings) -> VaultPath:
    """Parse a store path into what it names; raise BadRequest saying what is wrong and what is allowed."""
    _check_chars(path)
    if path.startswith(SSH_PREFIX):
        return _parse_ssh(path)
    base, sep, query = path.partition("?")
    mount = _match_mount(base, settings)
    kv_version = settings.kv_mounts[mount]
    rest = base[len(mount) + 1 :]
    if rest == "" or rest.endswith("/"):
        if sep:
            raise BadRequest(f"the Vault folder '{base}' cannot carry options", hint="options belong to one secret")
        if rest and not _segments_ok(rest[:-1]):
            raise BadRequest(f"the Vault folder '{base}' has an empty, '.' or '..' segment")
        return KvFolder(mount, kv_version, rest)
    if not _segments_ok(rest):
        raise BadRequest(f"the Vault secret path '{base}' has an empty, '.' or '..' segment")
    version, fields = _parse_options(base, query, kv_version, settings.fields) if sep else (None, settings.fields)
    return KvSecret(mount, kv_version, rest, version, fields)


def _match_mount(base: str, settings: VaultSettings) -> str:
    for mount in sorted(settings.kv_mounts, key=len, reverse=True):
        if base.startswith(mount + "/"):
            return mount
    mounts = ", ".join(f"'{m}/'" for m in sorted(settings.kv_mounts))
    if base in settings.kv_mounts:
        raise BadRequest(f"the Vault path '{base}' names a mount, not a secret", hint=f"write it as '{base}/<secret>'")
    raise BadRequest(
        f"the Vault path '{base}' is neither under one of this store's KV mounts ({mounts}) nor 'ssh:<mount>/<role>'",
        hint="add the mount to the store's kv_mounts or fix the reference",
    )


def _parse_options(base: str, query: str, kv_version: int, defaults: FieldNames) -> tuple[int | None, FieldNames]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise BadRequest(f"the options of Vault secret '{base}' are not a valid query string: {query!r}") from None
    seen: set[str] = set()
    version: int | None = None
    overrides: dict[str, str] = {}
    for key, value in pairs:
        if key not in OPTIONS:
            raise BadRequest(
                f"unknown option '{key}' on Vault secret '{base}'", hint=f"the options are {', '.join(OPTIONS)}"
            )
        if key in seen:
            raise BadRequest(f"option '{key}' is given twice on Vault secret '{base}'")
        seen.add(key)
        if key == "version":
            version = _parse_version(base, value, kv_version)
        else:
            if not value or len(value) > 256:
                raise BadRequest(f"option '{key}' of Vault secret '{base}' must name a field (1 to 256 characters)")
            overrides[key] = value
    return version, defaults.model_copy(update=overrides) if overrides else defaults


def _parse_version(base: str, value: str, kv_version: int) -> int:
    if kv_version != 2:
        raise BadRequest(
            f"the Vault secret '{base}' is in a KV version 1 mount, which has no versions",
            hint="remove 'version=' or declare the mount as version 2 in kv_mounts",
        )
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= VERSION_MAX:
        raise BadRequest(f"option 'version' of Vault secret '{base}' must be a positive whole number, not {value!r}")
    return int(value)


def _parse_ssh(path: str) -> SshRole:
    body = path[len(SSH_PREFIX) :]
    mount, slash, role = body.rpartition("/")
    if "?" in body:
        raise BadRequest(f"the Vault SSH role '{path}' cannot carry options")
    if not slash or not mount or not role or not _segments_ok(mount):
        raise BadRequest(
            f"the Vault SSH path '{path}' must be 'ssh:<ssh mount>/<role>'", hint="e.g. ssh:ssh-client-signer/ops"
        )
    return SshRole(mount, role)
