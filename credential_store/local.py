"""The built-in credential store: one Fernet-encrypted file in the Jumpoint's state directory.

``credentials.enc`` holds a Fernet token (AES-128-CBC with HMAC-SHA256, from ``cryptography``) of a JSON
object ``{name: {kind, username, domain, password, private_key, passphrase, certificate}}``. The key comes
from an environment variable (``key_env``), a file (``key_file``), or ``credentials.key`` in the state
directory, created (mode 0600) on first use. Files are written atomically. Whoever can read the key can read
the credentials: keep it private to the Jumpoint's service account. Fetches are logged by name and purpose,
never by value.

Names may contain ``/``, so a Jump Item's scope ``local:linux/`` allows every credential named ``linux/...``.

Configuration (``credential_stores`` in the Jumpoint's YAML)::

    local:
      type: local
      key_env: OPENJUMP_CREDENTIALS_KEY   # or key_file: /etc/openjump/credentials.key
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from cryptography.fernet import Fernet, InvalidToken
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jumpoint.core.config_files import format_validation_error
from jumpoint.core.credentials import (
    ALL,
    CREDENTIAL_KINDS,
    LOCAL_STORE,
    Credential,
    CredentialInfo,
    CredentialKind,
    CredentialQuery,
)
from jumpoint.core.errors import BadRequest, ConfigError, Conflict, NotFound
from jumpoint.core.secret import Secret

STORE_FILE = "credentials.enc"
KEY_FILE = "credentials.key"
NAME_MAX = 256
SECRET_MAX = 64 * 1024

log = logging.getLogger(__name__)


def _atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: temp file (0600) in the same directory, fsync, rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class LocalStoreSettings(BaseModel):
    """The local store's configuration block."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")] | None = None
    key_file: Path | None = None


def from_config(name: str, settings: Mapping[str, Any], *, state_dir: Path) -> LocalCredentialStore:
    """The ``local`` entry point: a local store built from its configuration block."""
    try:
        parsed = LocalStoreSettings.model_validate(dict(settings))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(f"credential_stores.{name}", exc)) from None
    if parsed.key_env and parsed.key_file:
        raise ConfigError(f"credential_stores.{name}: give key_env or key_file, not both")
    return LocalCredentialStore(state_dir, name=name, key_env=parsed.key_env, key_file=parsed.key_file)


class LocalCredentialStore:
    """Credentials encrypted at rest in ``state_dir``; implements ``CredentialProvider``.

    The key is read from ``key_env`` (an environment variable holding a Fernet key) or ``key_file`` if
    given, else from ``credentials.key`` in ``state_dir`` (created on first write).
    """

    def __init__(
        self,
        state_dir: Path | str,
        *,
        name: str = LOCAL_STORE,
        key_env: str | None = None,
        key_file: Path | None = None,
    ) -> None:
        self.name = name
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / STORE_FILE
        self.key_path = key_file or self.state_dir / KEY_FILE
        self.key_env = key_env
        self._lock = threading.RLock()

    # --- management (the Jumpoint's CLI) ---------------------------------------------------------
    def add(
        self,
        name: str,
        kind: CredentialKind,
        username: str | None = None,
        *,
        password: Secret | None = None,
        private_key: Secret | None = None,
        passphrase: Secret | None = None,
        certificate: str | None = None,
        domain: str | None = None,
        replace: bool = False,
    ) -> None:
        """Store a credential; Conflict if ``name`` exists (unless ``replace``), BadRequest if invalid."""
        _check_name(name)
        if kind not in CREDENTIAL_KINDS:
            raise BadRequest(f"credential kind must be one of {', '.join(CREDENTIAL_KINDS)}")
        if kind == "password" and not password:
            raise BadRequest(f"credential '{name}' is a password credential but has no password")
        if kind in ("private_key", "ssh_certificate") and not private_key:
            raise BadRequest(f"credential '{name}' is a {kind.replace('_', ' ')} credential but has no private key")
        if kind == "ssh_certificate" and not certificate:
            raise BadRequest(f"credential '{name}' is an SSH certificate credential but has no certificate")
        secrets = {"password": password, "private_key": private_key, "passphrase": passphrase}
        for field, secret in secrets.items():
            if secret is not None and len(secret) > SECRET_MAX:
                raise BadRequest(f"the {field} of credential '{name}' is longer than {SECRET_MAX} characters")
        if certificate is not None and len(certificate) > SECRET_MAX:
            raise BadRequest(f"the certificate of credential '{name}' is longer than {SECRET_MAX} characters")
        record: dict[str, Any] = {"kind": kind, "username": username or None, "domain": domain or None}
        if certificate:
            record["certificate"] = certificate.strip()
        record.update({field: s.reveal() for field, s in secrets.items() if s is not None})
        with self._lock:
            records = self._read()
            if name in records and not replace:
                raise Conflict(f"a credential named '{name}' already exists", hint="remove it first")
            records[name] = record
            self._store(records)
        log.info("credential '%s' (%s) stored", name, kind)

    def remove(self, name: str) -> None:
        """Delete credential ``name``; raise NotFound naming it if there is none."""
        with self._lock:
            records = self._read()
            if name not in records:
                raise NotFound(f"there is no credential named '{name}' in {self.path}")
            del records[name]
            self._store(records)
        log.info("credential '%s' removed", name)

    def names(self) -> list[str]:
        """Every credential name, sorted."""
        with self._lock:
            return sorted(self._read())

    def kinds(self) -> dict[str, CredentialKind]:
        """Every credential name with its kind (no secrets)."""
        with self._lock:
            return {name: record["kind"] for name, record in sorted(self._read().items())}

    # --- CredentialProvider ------------------------------------------------------------------------
    async def list_for(self, paths: list[str], query: CredentialQuery) -> list[CredentialInfo]:
        """The stored credentials that ``paths`` allow (a name, a ``folder/`` prefix, or ``*``)."""
        kinds = await asyncio.to_thread(self.kinds)
        search = query.search.casefold()
        found: list[CredentialInfo] = []
        for name, kind in kinds.items():
            allowed = any(p in (ALL, name) or (p.endswith("/") and name.startswith(p)) for p in paths)
            ref = f"{self.name}:{name}"
            if allowed and search in ref.casefold():
                found.append(CredentialInfo(ref=ref, kind=kind))
                if len(found) >= query.limit:
                    break
        return found

    async def fetch(self, path: str, *, purpose: str, username: str | None = None) -> Credential:
        """Return credential ``path`` with its secrets wrapped; raise NotFound naming it if missing."""
        records = await asyncio.to_thread(self._read_locked)
        record = records.get(path)
        if record is None:
            raise NotFound(
                f"there is no credential named '{path}' in this Jumpoint's local store",
                hint="add it with 'jumpoint credentials add' or fix the Jump Item's credential",
            )
        log.info("credential '%s' fetched for %s", path, purpose)
        return Credential(
            name=f"{self.name}:{path}",
            kind=record["kind"],
            username=record.get("username"),
            password=_secret(record.get("password")),
            private_key=_secret(record.get("private_key")),
            passphrase=_secret(record.get("passphrase")),
            certificate=record.get("certificate") if isinstance(record.get("certificate"), str) else None,
            domain=record.get("domain") if isinstance(record.get("domain"), str) else None,
        )

    async def aclose(self) -> None:
        """Nothing to release: every call reads the file afresh."""

    # --- files -------------------------------------------------------------------------------------
    def _fernet(self, *, create: bool) -> Fernet | None:
        if self.key_env is not None:
            value = os.environ.get(self.key_env)
            if not value:
                raise ConfigError(
                    f"the local credential store's key variable {self.key_env} is not set",
                    hint="set it to the store's Fernet key (a new one: python -c 'from cryptography.fernet "
                    "import Fernet; print(Fernet.generate_key().decode())')",
                )
            return self._checked_fernet(value.encode().strip(), f"the variable {self.key_env}")
        try:
            key = self.key_path.read_bytes().strip()
        except FileNotFoundError:
            if not create:
                return None
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            key = Fernet.generate_key()
            _atomic_write(self.key_path, key + b"\n")
        return self._checked_fernet(key, str(self.key_path))

    @staticmethod
    def _checked_fernet(key: bytes, where: str) -> Fernet:
        try:
            return Fernet(key)
        except ValueError:
            raise ConfigError(
                f"{where} does not hold a valid Fernet key",
                hint="restore the key from backup; without it the stored credentials cannot be read",
            ) from None

    def _read_locked(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return self._read()

    def _read(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        fernet = self._fernet(create=False)
        if fernet is None:
            raise ConfigError(
                f"{self.path} exists but its key ({self._key_source()}) is missing",
                hint="restore the key file from backup",
            )
        try:
            data = json.loads(fernet.decrypt(self.path.read_bytes()))
        except InvalidToken:
            raise ConfigError(
                f"{self.path} cannot be decrypted with {self._key_source()}",
                hint="the key file does not belong to this store, or the store is corrupt",
            ) from None
        if not isinstance(data, dict):
            raise ConfigError(f"{self.path} does not hold a credential table")
        return data

    def _key_source(self) -> str:
        return f"the variable {self.key_env}" if self.key_env else str(self.key_path)

    def _store(self, records: dict[str, dict[str, Any]]) -> None:
        fernet = self._fernet(create=True)
        assert fernet is not None
        _atomic_write(self.path, fernet.encrypt(json.dumps(records).encode()))


def _secret(value: object) -> Secret | None:
    return Secret(value) if isinstance(value, str) else None


def _check_name(name: str) -> None:
    if not name or len(name) > NAME_MAX or name != name.strip() or any(ord(ch) < 32 for ch in name):
        raise BadRequest(
            f"a credential name must be 1 to {NAME_MAX} characters without control characters or surrounding spaces"
        )
    if name == ALL or name.endswith("/") or any(part in ("", ".", "..") for part in name.split("/")):
        raise BadRequest(
            f"the credential name {name!r} is not usable",
            hint="use '/' only between non-empty folder names (linux/web01), and not '*'",
        )
