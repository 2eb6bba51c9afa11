"""Jumpoint clusters in the database: the members of a Jumpoint and the host keys the cluster trusts.

A Jumpoint is served by one or more registered hosts (members), each with its own token. The console holds the
host keys (and TLS certificates, ``x509-sha256``) every member trusts; the session hub keeps the members' caches
equal to them (``console_web/hub/clusters.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from console_web.auth.tokens import JUMPOINT_TOKEN_PREFIX, hash_secret
from console_web.db.clock import utcnow
from console_web.db.database import Database
from console_web.db.models import HOSTNAME_MAX, Jumpoint, JumpointHostKey, JumpointMember
from console_web.db.repo import add_audit
from jumpoint.core.errors import NotFound
from jumpoint.core.hostkeys import HostKey
from jumpoint.core.wire import MAX_CLUSTER_KEYS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MemberAuth:
    """Who a valid member token belongs to."""

    member_id: int
    jumpoint_id: int
    name: str
    """The Jumpoint's name."""
    hostname: str
    """The member's host name as last known."""
    adopt_host_keys: bool


@dataclass(frozen=True, slots=True)
class MemberRow:
    """A member as stored."""

    id: int
    jumpoint_id: int
    hostname: str
    builtin: bool
    registered_at: datetime
    last_seen_at: datetime | None


@dataclass(frozen=True, slots=True)
class ClusterKey:
    """One key the cluster trusts for ``host:port``."""

    host: str
    port: int
    key: HostKey
    fingerprint: str
    added_at: datetime
    added_by: str


def _member_row(m: JumpointMember) -> MemberRow:
    return MemberRow(m.id, m.jumpoint_id, m.hostname, m.builtin, m.registered_at, m.last_seen_at)


# --- members ---------------------------------------------------------------------------------------------------
async def authenticate_member(db: Database, token: str) -> MemberAuth | None:
    """The member a tunnel token belongs to, or None (unknown, malformed, or its member was revoked)."""
    if not token.startswith(JUMPOINT_TOKEN_PREFIX) or len(token) > 256:
        return None
    digest = hash_secret(token)
    async with db.session() as session:
        row = (
            await session.execute(
                select(JumpointMember, Jumpoint.name)
                .join(Jumpoint, Jumpoint.id == JumpointMember.jumpoint_id)
                .where(JumpointMember.token_hash == digest)
            )
        ).first()
    if row is None:
        return None
    member, name = row
    return MemberAuth(member.id, member.jumpoint_id, str(name), member.hostname, member.adopt_host_keys)


async def mark_member_seen(db: Database, member_id: int, jumpoint_id: int, hostname: str) -> None:
    """Record that the member connected now, from ``hostname`` (the Jumpoint too: its last-seen host and time)."""
    now = utcnow()
    async with db.session() as session:
        await session.execute(
            update(JumpointMember)
            .where(JumpointMember.id == member_id)
            .values(last_seen_at=now, hostname=hostname[:HOSTNAME_MAX])
        )
        await session.execute(
            update(Jumpoint)
            .where(Jumpoint.id == jumpoint_id)
            .values(last_seen_at=now, hostname=hostname[:HOSTNAME_MAX])
        )


async def list_members(db: Database, jumpoint_id: int) -> list[MemberRow]:
    """The Jumpoint's members, oldest first; NotFound when the Jumpoint does not exist."""
    async with db.session() as session:
        if await session.get(Jumpoint, jumpoint_id) is None:
            raise NotFound(f"Jumpoint {jumpoint_id} does not exist")
        rows = await session.scalars(
            select(JumpointMember).where(JumpointMember.jumpoint_id == jumpoint_id).order_by(JumpointMember.id)
        )
        return [_member_row(m) for m in rows]


async def member_counts(db: Database) -> dict[int, int]:
    """How many members each Jumpoint has (Jumpoints without members are absent)."""
    async with db.session() as session:
        rows = await session.execute(
            select(JumpointMember.jumpoint_id, func.count()).group_by(JumpointMember.jumpoint_id)
        )
        return {int(jumpoint_id): int(count) for jumpoint_id, count in rows}


async def revoke_member(
    db: Database, jumpoint_id: int, member_id: int, *, actor_user_id: int | None, source_address: str | None
) -> MemberRow:
    """Delete the member (its token stops working at once), audited; NotFound when it is not the Jumpoint's."""
    async with db.session() as session:
        member = await session.get(JumpointMember, member_id)
        if member is None or member.jumpoint_id != jumpoint_id:
            raise NotFound(f"Jumpoint {jumpoint_id} has no member {member_id}")
        row = _member_row(member)
        await session.execute(delete(JumpointMember).where(JumpointMember.id == member_id))
        add_audit(
            session,
            action="jumpoint.member_revoked",
            actor_user_id=actor_user_id,
            source_address=source_address,
            detail={"jumpoint_id": jumpoint_id, "member_id": member_id, "hostname": row.hostname},
        )
    log.info("member %d (%s) of Jumpoint %d revoked", member_id, row.hostname, jumpoint_id)
    return row


# --- the cluster's host keys ------------------------------------------------------------------------------------
async def cluster_keys(db: Database, jumpoint_id: int) -> list[ClusterKey]:
    """Every key the Jumpoint's members trust, by host, port and time added."""
    async with db.session() as session:
        rows = await session.scalars(
            select(JumpointHostKey)
            .where(JumpointHostKey.jumpoint_id == jumpoint_id)
            .order_by(JumpointHostKey.host, JumpointHostKey.port, JumpointHostKey.id)
        )
        return [
            ClusterKey(k.host, k.port, HostKey(k.algorithm, k.key_blob), k.fingerprint, k.added_at, k.added_by)
            for k in rows
        ]


async def is_cluster_key(db: Database, jumpoint_id: int, host: str, port: int, fingerprint: str) -> bool:
    """Whether the Jumpoint's members trust the key ``fingerprint`` for ``host:port``."""
    async with db.session() as session:
        found = await session.scalar(
            select(JumpointHostKey.id).where(
                JumpointHostKey.jumpoint_id == jumpoint_id,
                JumpointHostKey.host == host,
                JumpointHostKey.port == port,
                JumpointHostKey.fingerprint == fingerprint,
            )
        )
        return found is not None


async def add_cluster_keys(
    db: Database,
    jumpoint_id: int,
    keys: list[tuple[str, int, HostKey]],
    *,
    added_by: str,
    member_id: int | None = None,
    adopted: bool = False,
) -> list[tuple[str, int, HostKey]]:
    """Trust ``keys`` (``(host, port, key)``, already checked) for the whole Jumpoint; return those that were new.

    Keys already trusted are skipped. A key for a ``host:port`` the Jumpoint already trusts other keys for is
    refused (a changed key: logged, and audited as ``hostkeys.refused`` with both fingerprints), so two reps saving
    different keys for one new host at the same time leave only the first trusted; keys of one call for a host the
    Jumpoint held none for are all taken (a member's adopted cache may hold several algorithms). Past
    :data:`~jumpoint.core.wire.MAX_CLUSTER_KEYS` per Jumpoint the rest are refused (logged). Each new key is audited
    (``hostkeys.added``, the member as actor). With ``adopted``, the member's ``adopt_host_keys`` is cleared in the
    same transaction. Calls for one Jumpoint are checked one after the other, from any console process; a key
    another console process inserted at the same moment counts as already trusted.
    """
    try:
        return await _add_cluster_keys(db, jumpoint_id, keys, added_by, member_id, adopted)
    except IntegrityError:
        # A concurrent insert of the same key (the unique constraint): take them one by one.
        added: list[tuple[str, int, HostKey]] = []
        for one in keys:
            try:
                added += await _add_cluster_keys(db, jumpoint_id, [one], added_by, member_id, adopted)
            except IntegrityError:
                continue
        return added


async def _add_cluster_keys(
    db: Database,
    jumpoint_id: int,
    keys: list[tuple[str, int, HostKey]],
    added_by: str,
    member_id: int | None,
    adopted: bool,
) -> list[tuple[str, int, HostKey]]:
    added: list[tuple[str, int, HostKey]] = []
    async with db.session() as session:
        # Write the Jumpoint's row first: its lock (PostgreSQL: the row's; SQLite: the database's) is held until the
        # commit, so a concurrent call for this Jumpoint reads the keys only once this one's are in.
        await session.execute(update(Jumpoint).where(Jumpoint.id == jumpoint_id).values(comments=Jumpoint.comments))
        trusted: dict[tuple[str, int], set[str]] = {}
        for host, port, fingerprint in await session.execute(
            select(JumpointHostKey.host, JumpointHostKey.port, JumpointHostKey.fingerprint).where(
                JumpointHostKey.jumpoint_id == jumpoint_id
            )
        ):
            trusted.setdefault((host, port), set()).add(fingerprint)
        held_before = {where: frozenset(fingerprints) for where, fingerprints in trusted.items()}
        room = MAX_CLUSTER_KEYS - sum(len(fingerprints) for fingerprints in trusted.values())
        for host, port, key in keys:
            host = host.lower()
            fingerprint = key.fingerprint
            if fingerprint in trusted.get((host, port), ()):
                continue
            held = held_before.get((host, port))
            if held:
                _refuse_changed(session, jumpoint_id, member_id, added_by, host, port, key, sorted(held))
                continue
            if room <= 0:
                log.warning(
                    "Jumpoint %d trusts %d keys, its limit: the key of %s:%d was not stored",
                    jumpoint_id,
                    MAX_CLUSTER_KEYS,
                    host,
                    port,
                )
                continue
            room -= 1
            trusted.setdefault((host, port), set()).add(fingerprint)
            session.add(
                JumpointHostKey(
                    jumpoint_id=jumpoint_id,
                    host=host,
                    port=port,
                    algorithm=key.algorithm,
                    key_blob=key.blob_b64,
                    fingerprint=fingerprint,
                    added_at=utcnow(),
                    added_by=added_by[:HOSTNAME_MAX],
                )
            )
            add_audit(
                session,
                action="hostkeys.added",
                actor_jumpoint_id=jumpoint_id,
                detail={
                    "jumpoint_id": jumpoint_id,
                    "member_id": member_id,
                    "member": added_by,
                    "host": host,
                    "port": port,
                    "algorithm": key.algorithm,
                    "fingerprint": fingerprint,
                    "adopted": adopted,
                },
            )
            added.append((host, port, key))
        if adopted and member_id is not None:
            await session.execute(
                update(JumpointMember).where(JumpointMember.id == member_id).values(adopt_host_keys=False)
            )
    return added


def _refuse_changed(
    session: AsyncSession,
    jumpoint_id: int,
    member_id: int | None,
    member: str,
    host: str,
    port: int,
    key: HostKey,
    trusted: list[str],
) -> None:
    """Log and audit a key refused because the Jumpoint trusts other keys for ``host:port``."""
    log.warning(
        "Jumpoint %d: the %s key %s of %s:%d from member %r was refused: the cluster trusts %s for it",
        jumpoint_id,
        key.algorithm,
        key.fingerprint,
        host,
        port,
        member,
        ", ".join(trusted),
    )
    add_audit(
        session,
        action="hostkeys.refused",
        actor_jumpoint_id=jumpoint_id,
        detail={
            "jumpoint_id": jumpoint_id,
            "member_id": member_id,
            "member": member,
            "host": host,
            "port": port,
            "algorithm": key.algorithm,
            "fingerprint": key.fingerprint,
            "trusted": trusted,
        },
    )


async def remove_cluster_keys(db: Database, jumpoint_id: int, host: str, port: int, fingerprint: str | None) -> int:
    """Forget the keys of ``host:port`` (only the one with ``fingerprint`` if given) for the whole Jumpoint;
    return how many were removed."""
    condition = [
        JumpointHostKey.jumpoint_id == jumpoint_id,
        JumpointHostKey.host == host.lower(),
        JumpointHostKey.port == port,
    ]
    if fingerprint is not None:
        condition.append(JumpointHostKey.fingerprint == fingerprint)
    async with db.session() as session:
        result = await session.execute(delete(JumpointHostKey).where(*condition))
        return int(getattr(result, "rowcount", 0) or 0)
