"""Jumpoint registration: single-use, expiring keys exchanged for the Jumpoint's token."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from console_web.auth.tokens import JUMPOINT_TOKEN_PREFIX, REGISTRATION_KEY_PREFIX, hash_secret, mint
from console_web.db.clock import utcnow
from console_web.db.database import Database
from console_web.db.models import Jumpoint, JumpointMember, JumpointRegistrationKey
from console_web.db.repo import add_audit, audit
from jumpoint.core.errors import Conflict, NotFound, Unauthorized

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A registration key as shown once to the admin."""

    jumpoint_id: int
    jumpoint_name: str
    key: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Registration:
    """What a registering host gets: the Jumpoint's id and name, its own member id, and its token (shown once)."""

    jumpoint_id: int
    name: str
    token: str
    member_id: int = 0


async def create_registration_key(
    db: Database, jumpoint_id: int, *, minutes: int, created_by: int | None, source_address: str | None = None
) -> IssuedKey:
    """Mint a key for Jumpoint ``jumpoint_id`` valid ``minutes``; NotFound if there is no such Jumpoint.

    ``source_address`` (the admin's client address) goes into the audit event.
    """
    secret = mint(REGISTRATION_KEY_PREFIX)
    expires_at = utcnow() + timedelta(minutes=minutes)
    async with db.session() as session:
        jumpoint = await session.get(Jumpoint, jumpoint_id)
        if jumpoint is None:
            raise NotFound(f"Jumpoint {jumpoint_id} does not exist")
        session.add(
            JumpointRegistrationKey(
                jumpoint_id=jumpoint_id,
                key_hash=secret.digest,
                created_by=created_by,
                created_at=utcnow(),
                expires_at=expires_at,
            )
        )
        add_audit(
            session,
            action="registration_key.created",
            actor_user_id=created_by,
            source_address=source_address,
            detail={"jumpoint_id": jumpoint_id, "name": jumpoint.name, "expires_at": expires_at.isoformat()},
        )
        name = jumpoint.name
    log.info("registration key created for Jumpoint %s", name)
    return IssuedKey(jumpoint_id, name, secret.text, expires_at)


async def _refuse(
    db: Database, reason: str, jumpoint_id: int | None, hostname: str, source_address: str | None
) -> None:
    await audit(
        db,
        action="registration_key.refused",
        actor_jumpoint_id=jumpoint_id,
        source_address=source_address,
        detail={"reason": reason, "hostname": hostname},
    )
    log.warning("Jumpoint registration refused (%s) from host %s", reason, hostname)


async def register_jumpoint(
    db: Database, key: str, hostname: str, *, source_address: str | None = None
) -> Registration:
    """Spend ``key``: the host becomes a new member of the key's Jumpoint (a cluster when it already has members),
    with its own token; the other members and their tokens are left as they are.

    Raises Unauthorized for an unknown or expired key and Conflict for a key already used; each refusal is
    audited, like the registration, with ``source_address`` (the registering host's address).
    """
    digest = hash_secret(key)
    now = utcnow()
    async with db.session() as session:
        row = await session.scalar(select(JumpointRegistrationKey).where(JumpointRegistrationKey.key_hash == digest))
        found = None if row is None else (row.jumpoint_id, row.used_at, row.expires_at, row.id)
    if found is None:
        await _refuse(db, "unknown key", None, hostname, source_address)
        raise Unauthorized(
            "this registration key is not valid",
            hint="create a new key in the console (Jumpoints > Register)",
        )
    jumpoint_id, used_at, expires_at, key_id = found
    if used_at is not None:
        await _refuse(db, "key already used", jumpoint_id, hostname, source_address)
        raise Conflict(
            f"this registration key was already used at {used_at.isoformat()}; each key works once",
            hint="create a new key in the console",
        )
    if expires_at <= now:
        await _refuse(db, "key expired", jumpoint_id, hostname, source_address)
        raise Unauthorized(
            f"this registration key expired at {expires_at.isoformat()}",
            hint="create a new key in the console",
        )
    secret = mint(JUMPOINT_TOKEN_PREFIX)
    async with db.session() as session:
        spent = await session.execute(
            update(JumpointRegistrationKey)
            .where(JumpointRegistrationKey.id == key_id, JumpointRegistrationKey.used_at.is_(None))
            .values(used_at=now)
        )
        if getattr(spent, "rowcount", 0) != 1:
            raise Conflict("this registration key was already used; each key works once")
        jumpoint = await session.get(Jumpoint, jumpoint_id)
        if jumpoint is None:
            raise NotFound(f"Jumpoint {jumpoint_id} does not exist any more")
        member = JumpointMember(
            jumpoint_id=jumpoint_id, token_hash=secret.digest, hostname=hostname[:253], registered_at=now
        )
        session.add(member)
        jumpoint.hostname = hostname[:253]
        jumpoint.registered_at = jumpoint.registered_at or now
        await session.flush()
        add_audit(
            session,
            action="registration_key.used",
            actor_jumpoint_id=jumpoint_id,
            source_address=source_address,
            detail={"jumpoint_id": jumpoint_id, "name": jumpoint.name, "hostname": hostname, "member_id": member.id},
        )
        name, member_id = jumpoint.name, member.id
    log.info("Jumpoint %s registered a member from host %s (member %d)", name, hostname, member_id)
    return Registration(jumpoint_id, name, secret.text, member_id)
