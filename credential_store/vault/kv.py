"""KV secrets (engine versions 1 and 2): reading one into a Credential, and listing folders without reading any.

A secret becomes a credential by its fields (the store's ``fields``, or the reference's own field options):
``ssh_certificate`` when it has a private key and a certificate, ``private_key`` when it has a private key,
``password`` when it has a password. ``username`` and ``domain`` come along when present. Every field used must
be a string of at most 64 KiB; messages name the secret and the field, never a value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hvac

from credential_store.vault.errors import Operation
from credential_store.vault.paths import KvFolder, KvSecret
from credential_store.vault.session import VaultSession
from credential_store.vault.transport import as_dict
from jumpoint.core.credentials import Credential, CredentialInfo, CredentialKind
from jumpoint.core.errors import BadRequest, CredentialStoreDenied, NotFound
from jumpoint.core.secret import Secret

log = logging.getLogger(__name__)

FIELD_MAX = 64 * 1024
FOLDERS_PER_LISTING = 500
DEPTH_MAX = 32


async def read_secret(session: VaultSession, ref: KvSecret) -> dict[str, Any]:
    """The key/value data of secret ``ref`` (its pinned version for KV v2); NotFound naming it if absent."""
    if ref.kv_version == 2:
        op = Operation(ref.describe(), f"{ref.mount}/data/{ref.secret}", "read")

        def read_v2(client: hvac.Client) -> dict[str, Any]:
            answer = client.secrets.kv.v2.read_secret_version(
                path=ref.secret, version=ref.version, mount_point=ref.mount, raise_on_deleted_version=True
            )
            return as_dict(as_dict(as_dict(answer, "KV v2 answer").get("data"), "KV v2 data").get("data"), "secret")

        result: dict[str, Any] = await session.call(read_v2, op)
        return result
    op = Operation(ref.describe(), ref.path, "read")

    def read_v1(client: hvac.Client) -> dict[str, Any]:
        answer = client.secrets.kv.v1.read_secret(path=ref.secret, mount_point=ref.mount)
        return as_dict(as_dict(answer, "KV v1 answer").get("data"), "secret")

    result = await session.call(read_v1, op)
    return result


async def secret_exists(session: VaultSession, ref: KvSecret) -> bool:
    """Whether KV v2 metadata shows secret ``ref`` exists, without reading its values.

    KV v1 has no metadata, and a policy may allow reading a secret but not its metadata: in both cases the
    answer is True and a missing secret is reported when it is fetched.
    """
    if ref.kv_version != 2:
        return True
    op = Operation(f"metadata of {ref.describe()}", f"{ref.mount}/metadata/{ref.secret}", "read")
    try:
        await session.call(lambda c: c.secrets.kv.v2.read_secret_metadata(path=ref.secret, mount_point=ref.mount), op)
    except NotFound:
        return False
    except CredentialStoreDenied:
        return True
    return True


def to_credential(name: str, ref: KvSecret, data: dict[str, Any]) -> Credential:
    """The credential secret ``ref`` holds, named ``name``; BadRequest if its fields do not make one."""
    names = ref.fields

    def get(field_name: str) -> str | None:
        if field_name not in data:
            return None
        value = data[field_name]
        if not isinstance(value, str):
            raise BadRequest(f"field '{field_name}' of Vault secret '{ref.path}' is not a string")
        if len(value.encode()) > FIELD_MAX:
            raise BadRequest(f"field '{field_name}' of Vault secret '{ref.path}' is larger than {FIELD_MAX} bytes")
        return value or None

    password, private_key, certificate = get(names.password), get(names.private_key), get(names.certificate)
    username, domain, passphrase = get(names.username), get(names.domain), get(names.passphrase)
    kind: CredentialKind
    if private_key and certificate:
        kind = "ssh_certificate"
    elif private_key:
        kind = "private_key"
    elif password:
        kind = "password"
    else:
        raise BadRequest(
            f"secret {ref.path} has neither a '{names.password}' nor a '{names.private_key}' field",
            hint="add the field in Vault, or name the secret's fields with options (e.g. ?password=pw)",
        )
    if kind == "password":
        return Credential(name=name, kind=kind, username=username, password=Secret(password or ""), domain=domain)
    assert private_key is not None
    return Credential(
        name=name,
        kind=kind,
        username=username,
        private_key=Secret(private_key),
        passphrase=Secret(passphrase) if passphrase else None,
        certificate=certificate.strip() if kind == "ssh_certificate" and certificate else None,
        domain=domain,
    )


@dataclass(slots=True)
class Listing:
    """The results of one ``list_for``: references in order, at most ``limit``, those ``matches`` accepts."""

    limit: int
    matches: Callable[[str], bool]
    infos: list[CredentialInfo] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    folders_listed: int = 0

    @property
    def full(self) -> bool:
        """Whether the limit is reached."""
        return len(self.infos) >= self.limit

    def add(self, info: CredentialInfo) -> None:
        """Keep ``info`` if it matches, is new, and there is room."""
        if not self.full and info.ref not in self.seen and self.matches(info.ref):
            self.seen.add(info.ref)
            self.infos.append(info)


async def list_folder(session: VaultSession, store: str, folder: KvFolder, listing: Listing) -> None:
    """Add the secrets under ``folder`` to ``listing``, depth first, in Vault's (sorted) order.

    Listing never reads a secret. A folder that does not exist is empty; a sub-folder the policy does not let
    the Jumpoint list is skipped (the top folder being denied is an error). At most ``FOLDERS_PER_LISTING``
    folders are listed per call, so a search cannot make the Jumpoint walk a whole Vault.
    """
    await _walk(session, store, folder, folder.folder, listing, depth=0)


async def _walk(session: VaultSession, store: str, top: KvFolder, prefix: str, listing: Listing, depth: int) -> None:
    if listing.full or depth > DEPTH_MAX:
        return
    if listing.folders_listed >= FOLDERS_PER_LISTING:
        log.warning("Vault store '%s': listing stopped after %d folders", store, FOLDERS_PER_LISTING)
        return
    listing.folders_listed += 1
    for key in await _list_keys(session, top, prefix, is_top=depth == 0):
        if listing.full:
            return
        if key.endswith("/"):
            await _walk(session, store, top, prefix + key, listing, depth + 1)
        else:
            listing.add(CredentialInfo(ref=f"{store}:{top.mount}/{prefix}{key}", kind=None))


async def _list_keys(session: VaultSession, top: KvFolder, prefix: str, *, is_top: bool) -> list[str]:
    mount = top.mount
    if top.kv_version == 2:
        op = Operation(f"folder '{mount}/{prefix}'", f"{mount}/metadata/{prefix}", "list")

        def call(client: hvac.Client) -> list[str]:
            return _keys(client.secrets.kv.v2.list_secrets(path=prefix, mount_point=mount))
    else:
        op = Operation(f"folder '{mount}/{prefix}'", f"{mount}/{prefix}", "list")

        def call(client: hvac.Client) -> list[str]:
            return _keys(client.secrets.kv.v1.list_secrets(path=prefix, mount_point=mount))

    try:
        keys: list[str] = await session.call(call, op)
    except NotFound:
        return []
    except CredentialStoreDenied:
        if is_top:
            raise
        log.info("Vault store: skipping folder '%s/%s', which the policy does not let the Jumpoint list", mount, prefix)
        return []
    return keys


def _keys(answer: Any) -> list[str]:
    keys = as_dict(as_dict(answer, "LIST answer").get("data"), "LIST data").get("keys")
    if not isinstance(keys, list):
        raise ValueError("LIST answer without keys")
    return [key for key in keys if _usable_key(key)]


def _usable_key(key: object) -> bool:
    if not isinstance(key, str) or not key or "?" in key or any(ord(ch) < 32 for ch in key):
        return False
    return key.rstrip("/") not in ("", ".", "..") and "//" not in key
