"""Credential values handed to adapters, credential references, and the interfaces adapters fetch through.

A **credential reference** names one credential in one store: ``store:path`` (``local:db-admin``,
``vault:secret/linux/web01?password=pw``, ``vault:ssh:ssh-client-signer/ops``). A reference without a store
prefix names a credential in the Jumpoint's local store. A **scope** is a reference that may end in ``/``:
it allows every credential under that folder, and ``store:*`` allows every credential of the store. Jump
Items and Jump Groups carry scopes; a rep may inject only a credential that one of the item's scopes allows
(:func:`scope_allows`).

Provider plugins (``credential_store``) implement :class:`CredentialSource`; adapters call it at the
moment they need a secret, so a credential is held in memory only for the login it serves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Protocol

from jumpoint.core.errors import BadRequest, NotFound
from jumpoint.core.secret import Secret

CredentialKind = Literal["password", "private_key", "ssh_certificate"]
CREDENTIAL_KINDS: tuple[CredentialKind, ...] = ("password", "private_key", "ssh_certificate")

REF_MAX = 512
STORE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
LOCAL_STORE = "local"
LIST_LIMIT = 2000
ALL = "*"


@dataclass(frozen=True, slots=True)
class Credential:
    """A credential fetched from a store: a name for the audit trail, and secrets wrapped in :class:`Secret`.

    ``certificate`` is an OpenSSH certificate (public, so not a secret) that goes with ``private_key``;
    ``domain`` is the Windows domain an RDP login uses.
    """

    name: str
    kind: CredentialKind
    username: str | None = None
    password: Secret | None = None
    private_key: Secret | None = None
    passphrase: Secret | None = None
    certificate: str | None = None
    domain: str | None = None


@dataclass(frozen=True, slots=True)
class CredentialInfo:
    """What a rep may see of a credential: its reference and, when the store knows it without reading the
    secret, its kind. Never a secret, never a user name."""

    ref: str
    kind: CredentialKind | None = None


@dataclass(frozen=True, slots=True)
class CredentialQuery:
    """A request for the credentials a rep may inject into a Jump Item.

    ``scopes`` are the item's and its group's scopes (already authorised by the console); ``search`` filters
    references case-insensitively; at most ``limit`` results come back.
    """

    scopes: tuple[str, ...]
    item: str
    user: str
    search: str = ""
    limit: int = LIST_LIMIT


class CredentialSource(Protocol):
    """Where an adapter fetches the credential a Jump Item names."""

    async def fetch(self, ref: str, *, purpose: str, username: str | None = None) -> Credential:
        """Return credential ``ref``; raise :class:`~jumpoint.core.errors.NotFound` if there is none.

        ``purpose`` says who asks and why (``"ssh login to host:22 for session S"``) for the store's audit;
        ``username`` is the login the credential will serve, for stores that mint one (a signed SSH
        certificate names it as its principal).
        """
        ...


def split_ref(ref: str) -> tuple[str, str]:
    """``(store, path)`` of a reference; a reference without a store prefix is in the local store."""
    store, sep, path = ref.partition(":")
    if sep and STORE_NAME.fullmatch(store):
        return store, path
    return LOCAL_STORE, ref


def check_ref(ref: str, *, what: str = "credential reference", scope: bool = False) -> str:
    """Return ``ref`` if it is a well-formed reference (or scope); raise BadRequest saying what is wrong."""
    if not ref or len(ref) > REF_MAX:
        raise BadRequest(f"a {what} must be 1 to {REF_MAX} characters")
    if ref != ref.strip() or any(ord(ch) < 32 or ord(ch) == 127 for ch in ref):
        raise BadRequest(f"the {what} {ref!r} has surrounding spaces or control characters")
    _store, path = split_ref(ref)
    if not path:
        raise BadRequest(f"the {what} {ref!r} names a store but no credential", hint="write it as store:path")
    if path == ALL:
        if not scope:
            raise BadRequest(f"the {what} {ref!r} names every credential of a store, not one credential")
        return ref
    base, query_sep, _query = path.partition("?")
    if any(part in (".", "..") for part in base.split("/")):
        raise BadRequest(f"the {what} {ref!r} contains '.' or '..' segments")
    if base.endswith("/"):
        if not scope:
            raise BadRequest(f"the {what} {ref!r} names a folder, not one credential")
        if query_sep:
            raise BadRequest(
                f"the folder scope {ref!r} cannot carry options",
                hint="name each credential with its options, or set the store's default field names",
            )
    return ref


def normalise_ref(ref: str) -> str:
    """The reference with its store spelled out (``db`` becomes ``local:db``), for comparisons."""
    store, path = split_ref(ref)
    return f"{store}:{path}"


def scope_allows(scope: str, ref: str) -> bool:
    """Whether ``scope`` (a reference, or a folder ending in ``/``) allows credential ``ref``."""
    scope_n, ref_n = normalise_ref(scope), normalise_ref(ref)
    scope_store, scope_path = split_ref(scope_n)
    if scope_path == ALL:
        return split_ref(ref_n)[0] == scope_store
    if scope_n.endswith("/"):
        return ref_n.startswith(scope_n) and len(ref_n) > len(scope_n)
    return scope_n == ref_n


async def fetch_item_credential(
    source: CredentialSource | None, ref: str, *, purpose: str, username: str | None
) -> Credential:
    """Fetch a Jump Item's credential for an adapter; NotFound saying so when the Jumpoint has no store."""
    if source is None:
        raise NotFound(
            f"credential '{ref}' cannot be fetched: this Jumpoint has no credential store",
            hint="configure a credential store on the Jumpoint, or take the credential off the item",
        )
    return await source.fetch(ref, purpose=purpose, username=username)
