"""Jumpoint registration: single-use, expiring keys exchanged for the Jumpoint's token.

Registration is public (the key is the credential), so attempts are rate limited per source address: each takes
a slot of ``REGISTRATIONS_PER_MINUTE`` before the key is looked up and a successful one gives it back, so refused
attempts (and attempts still in flight) count. Beyond the limit the answer is TooManyRequests with no audit row
of its own; one ``registration_key.throttled`` row per address and minute says that attempts were throttled.
Host names go into the log with ``%r``, so a line break in one cannot forge a log line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from console_web.auth.ratelimit import SlidingWindowLimiter
from console_web.auth.tokens import JUMPOINT_TOKEN_PREFIX, REGISTRATION_KEY_PREFIX, hash_secret, mint
from console_web.db.clock import utcnow
from console_web.db.database import Database
from console_web.db.models import Jumpoint, JumpointMember, JumpointRegistrationKey
from console_web.db.repo import add_audit, audit
from jumpoint.core.errors import Conflict, NotFound, TooManyRequests, Unauthorized

log = logging.getLogger(__name__)

REGISTRATIONS_PER_MINUTE = 10
"""Registration attempts one source address may make per minute that did not succeed (refused or in flight)."""


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
    log.info("registration key created for Jumpoint %r", name)
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
    log.warning("Jumpoint registration refused (%s) from host %r at %s", reason, hostname, source_address)


def _limit_keys(source_address: str | None) -> tuple[str, str]:
    """The limiter's keys for ``source_address``: its attempts, and "its throttling was audited"."""
    address = source_address or "unknown"
    return f"register:{address}", f"register-throttled:{address}"


async def _throttle(
    db: Database, limiter: SlidingWindowLimiter, hostname: str, source_address: str | None
) -> float | None:
    """Take a slot for one attempt from ``source_address`` and return it (for :meth:`SlidingWindowLimiter.forget`),
    or raise TooManyRequests when the address has no slot left; the first refusal in a minute is audited
    (``registration_key.throttled``), the others are not."""
    attempts_key, audited_key = _limit_keys(source_address)
    wait = limiter.retry_after(attempts_key, REGISTRATIONS_PER_MINUTE)
    if wait is None:
        return limiter.record(attempts_key)
    if limiter.retry_after(audited_key, 1) is None:
        limiter.record(audited_key)  # before the await: parallel refusals write one row
        await audit(
            db,
            action="registration_key.throttled",
            source_address=source_address,
            detail={
                "hostname": hostname,
                "limit_per_minute": REGISTRATIONS_PER_MINUTE,
                "note": "further attempts from this address in the next minute are refused without an audit row each",
            },
        )
        log.warning(
            "Jumpoint registrations from %s throttled: more than %d a minute did not succeed (host %r)",
            source_address,
            REGISTRATIONS_PER_MINUTE,
            hostname,
        )
    raise TooManyRequests(
        f"too many registration attempts from this address; try again in {wait} seconds",
        hint="check the registration key: create a new one in the console if it expired or was used",
        details={"retry_after_seconds": wait},
    )


async def register_jumpoint(
    db: Database,
    key: str,
    hostname: str,
    *,
    source_address: str | None = None,
    limiter: SlidingWindowLimiter | None = None,
) -> Registration:
    """Spend ``key``: the host becomes a new member of the key's Jumpoint (a cluster when it already has members),
    with its own token; the other members and their tokens are left as they are.

    Raises Unauthorized for an unknown or expired key and Conflict for a key already used; each refusal is
    audited, like the registration, with ``source_address`` (the registering host's address). With a
    ``limiter``, ``source_address`` gets ``REGISTRATIONS_PER_MINUTE`` attempts a minute that do not succeed; past
    that, TooManyRequests before the key is looked at (see the module docstring for what is audited).
    """
    slot = None if limiter is None else await _throttle(db, limiter, hostname, source_address)
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
    if limiter is not None and slot is not None:
        limiter.forget(_limit_keys(source_address)[0], slot)
    log.info("Jumpoint %r registered a member from host %r (member %d)", name, hostname, member_id)
    return Registration(jumpoint_id, name, secret.text, member_id)
