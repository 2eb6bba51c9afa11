"""The built-in credential store: one Fernet-encrypted file in the Jumpoint's state directory.

``credentials.enc`` holds a Fernet token of a JSON object ``{name: {kind, username, password, private_key,
passphrase}}``; ``credentials.key`` holds the Fernet key, created (mode 0600) on first use. Both files are
written atomically. Whoever can read the key file can read the credentials: the state directory must be
private to the Jumpoint's service account. Fetches are logged by name and purpose, never by value.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, get_args

from cryptography.fernet import Fernet, InvalidToken

from jumpoint.core.credentials import Credential, CredentialKind
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


class LocalCredentialStore:
    """Credentials encrypted at rest in ``state_dir``; implements ``CredentialProvider``."""

    def __init__(self, state_dir: Path | str) -> None:
        self.state_dir = Path(state_dir)
        self.path = self.state_dir / STORE_FILE
        self.key_path = self.state_dir / KEY_FILE
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
        replace: bool = False,
    ) -> None:
        """Store a credential; Conflict if ``name`` exists (unless ``replace``), BadRequest if invalid."""
        _check_name(name)
        if kind not in get_args(CredentialKind):
            raise BadRequest(f"credential kind must be one of {', '.join(get_args(CredentialKind))}")
        if kind == "password" and not password:
            raise BadRequest(f"credential '{name}' is a password credential but has no password")
        if kind == "private_key" and not private_key:
            raise BadRequest(f"credential '{name}' is a private key credential but has no key")
        secrets = {"password": password, "private_key": private_key, "passphrase": passphrase}
        for field, secret in secrets.items():
            if secret is not None and len(secret) > SECRET_MAX:
                raise BadRequest(f"the {field} of credential '{name}' is longer than {SECRET_MAX} characters")
        record: dict[str, Any] = {"kind": kind, "username": username or None}
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

    # --- CredentialProvider ------------------------------------------------------------------------
    async def list_for(self, item_ref: str) -> list[str]:
        """Every stored name: the local store does not restrict credentials to items."""
        return await asyncio.to_thread(self.names)

    async def fetch(self, ref: str, *, purpose: str) -> Credential:
        """Return credential ``ref`` with its secrets wrapped; raise NotFound naming it if missing."""
        records = await asyncio.to_thread(self._read_locked)
        record = records.get(ref)
        if record is None:
            raise NotFound(
                f"there is no credential named '{ref}' on this Jumpoint",
                hint="add it with 'jumpoint credentials add' or fix the Jump Item's credential",
            )
        log.info("credential '%s' fetched for %s", ref, purpose)
        return Credential(
            name=ref,
            kind=record["kind"],
            username=record.get("username"),
            password=_secret(record.get("password")),
            private_key=_secret(record.get("private_key")),
            passphrase=_secret(record.get("passphrase")),
        )

    # --- files -------------------------------------------------------------------------------------
    def _fernet(self, *, create: bool) -> Fernet | None:
        try:
            key = self.key_path.read_bytes().strip()
        except FileNotFoundError:
            if not create:
                return None
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            key = Fernet.generate_key()
            _atomic_write(self.key_path, key + b"\n")
        try:
            return Fernet(key)
        except ValueError:
            raise ConfigError(
                f"{self.key_path} does not hold a valid Fernet key",
                hint="restore the key file from backup; without it the stored credentials cannot be read",
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
                f"{self.path} exists but its key file {self.key_path} is missing",
                hint="restore the key file from backup",
            )
        try:
            data = json.loads(fernet.decrypt(self.path.read_bytes()))
        except InvalidToken:
            raise ConfigError(
                f"{self.path} cannot be decrypted with {self.key_path}",
                hint="the key file does not belong to this store, or the store is corrupt",
            ) from None
        if not isinstance(data, dict):
            raise ConfigError(f"{self.path} does not hold a credential table")
        return data

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
