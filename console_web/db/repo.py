"""Repository functions shared by the API, the CLI and the session hub.

Each function opens its own transaction (``db.session()``) unless it takes an ``AsyncSession``.
Secrets are never logged: usernames and Jumpoint names are, tokens and passwords are not.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from console_web.auth.passwords import hash_password
from console_web.auth.tokens import JUMPOINT_TOKEN_PREFIX, hash_secret, mint
from console_web.db.clock import utcnow
from console_web.db.database import Database, is_unique_violation
from console_web.db.models import (
    NAME_MAX,
    USERNAME_PATTERN,
    AuditEvent,
    JumpGroup,
    Jumpoint,
    JumpointMember,
    SessionRecord,
    User,
)
from jumpoint.core.errors import BadRequest, Conflict

log = logging.getLogger(__name__)

PASSWORD_MIN = 8
PASSWORD_MAX = 1024
_USERNAME_RE = re.compile(USERNAME_PATTERN)


# --- unique names ------------------------------------------------------------------------------
async def flush_unique(session: AsyncSession, conflict: Conflict) -> None:
    """Flush ``session``; raise ``conflict`` when a unique constraint refuses a row.

    A name is checked before it is written, but two requests can pass that check together; the database's unique
    constraint then refuses the second one's row, which becomes this 409 instead of an internal error. The session's
    transaction is then spoilt: let the exception end it.
    """
    try:
        await session.flush()
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise conflict from None


# --- audit -------------------------------------------------------------------------------------
def add_audit(
    session: AsyncSession,
    *,
    action: str,
    actor_user_id: int | None = None,
    actor_jumpoint_id: int | None = None,
    session_id: str | None = None,
    source_address: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an audit event to ``session``'s transaction (it is written when that transaction commits)."""
    session.add(
        AuditEvent(
            at=utcnow(),
            action=action[:64],
            actor_user_id=actor_user_id,
            actor_jumpoint_id=actor_jumpoint_id,
            session_id=session_id,
            source_address=source_address[:64] if source_address else None,
            detail=detail or {},
        )
    )


async def audit(
    db: Database,
    *,
    action: str,
    actor_user_id: int | None = None,
    actor_jumpoint_id: int | None = None,
    session_id: str | None = None,
    source_address: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write one audit event in its own transaction. ``detail`` must hold no secrets."""
    async with db.session() as session:
        add_audit(
            session,
            action=action,
            actor_user_id=actor_user_id,
            actor_jumpoint_id=actor_jumpoint_id,
            session_id=session_id,
            source_address=source_address,
            detail=detail,
        )


# --- users -------------------------------------------------------------------------------------
def validate_username(username: str) -> str:
    """Return ``username`` if it is 1..64 characters of ``a-z 0-9 . _ -``; raise BadRequest otherwise."""
    if not _USERNAME_RE.fullmatch(username):
        raise BadRequest(
            f"username {username[:80]!r} is not valid: use 1 to 64 characters among a-z, 0-9, '.', '_' and '-'",
            details={"field": "username"},
        )
    return username


def validate_password(password: str) -> str:
    """Return ``password`` if its length is within bounds; raise BadRequest otherwise (never echoing it)."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise BadRequest(
            f"password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long",
            details={"field": "password"},
        )
    return password


async def create_user_in(
    session: AsyncSession,
    username: str,
    password_hash: str,
    *,
    display_name: str | None = None,
    is_admin: bool = False,
) -> User:
    """Insert a user and their personal Jump Group in ``session``; raise Conflict if the name is taken (also when
    another request takes it at the same moment)."""
    validate_username(username)
    taken = Conflict(f"a user named {username!r} already exists", details={"field": "username"})
    if await session.scalar(select(User.id).where(User.username == username)) is not None:
        raise taken
    user = User(
        username=username,
        display_name=(display_name or username)[:NAME_MAX],
        password_hash=password_hash,
        is_admin=is_admin,
        disabled=False,
        file_upload=True,
        file_download=True,
        file_roots=[],
        created_at=utcnow(),
    )
    session.add(user)
    await flush_unique(session, taken)
    session.add(JumpGroup(name=f"Personal: {username}"[:NAME_MAX], personal_owner_id=user.id, created_at=utcnow()))
    await session.flush()
    return user


async def create_user(
    db: Database,
    username: str,
    password: str,
    *,
    display_name: str | None = None,
    is_admin: bool = False,
) -> int:
    """Create a user (with their personal Jump Group) and return the id; BadRequest/Conflict on bad input."""
    validate_username(username)
    validate_password(password)
    pw_hash = await hash_password(password)
    async with db.session() as session:
        user = await create_user_in(session, username, pw_hash, display_name=display_name, is_admin=is_admin)
        add_audit(
            session,
            action="user.created",
            detail={"user_id": user.id, "username": username, "admin": is_admin},
        )
        user_id = user.id
    log.info("user %s created (admin=%s)", username, is_admin)
    return user_id


async def count_users(db: Database) -> int:
    """How many users exist (disabled ones included)."""
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def find_user_by_name(db: Database, username: str) -> User | None:
    """The user called ``username``, or None."""
    async with db.session() as session:
        return await session.scalar(select(User).where(User.username == username))


# --- Jumpoints ---------------------------------------------------------------------------------
async def authenticate_jumpoint(db: Database, token: str) -> tuple[int, str] | None:
    """Return ``(jumpoint_id, name)`` of the Jumpoint a member's token belongs to, or None (unknown or revoked)."""
    if not token.startswith(JUMPOINT_TOKEN_PREFIX) or len(token) > 256:
        return None
    digest = hash_secret(token)
    async with db.session() as session:
        row = (
            await session.execute(
                select(Jumpoint.id, Jumpoint.name)
                .join(JumpointMember, JumpointMember.jumpoint_id == Jumpoint.id)
                .where(JumpointMember.token_hash == digest)
            )
        ).first()
    return (int(row[0]), str(row[1])) if row is not None else None


async def mark_jumpoint_seen(db: Database, jumpoint_id: int, hostname: str) -> None:
    """Record that a member of the Jumpoint connected now, from ``hostname``."""
    async with db.session() as session:
        await session.execute(
            update(Jumpoint).where(Jumpoint.id == jumpoint_id).values(last_seen_at=utcnow(), hostname=hostname[:253])
        )


async def create_jumpoint_in(session: AsyncSession, name: str, comments: str = "") -> Jumpoint:
    """Insert a Jumpoint (not yet registered); raise Conflict if the name is taken (also when another request takes
    it at the same moment)."""
    if not 1 <= len(name) <= NAME_MAX:
        raise BadRequest(f"Jumpoint name must be 1 to {NAME_MAX} characters", details={"field": "name"})
    taken = jumpoint_name_taken(name)
    if await session.scalar(select(Jumpoint.id).where(Jumpoint.name == name)) is not None:
        raise taken
    jumpoint = Jumpoint(name=name, comments=comments, hostname="")
    session.add(jumpoint)
    await flush_unique(session, taken)
    return jumpoint


def jumpoint_name_taken(name: str) -> Conflict:
    """The 409 for a Jumpoint name another Jumpoint has."""
    return Conflict(f"a Jumpoint named {name!r} already exists", details={"field": "name"})


def shared_group_name_taken(name: str) -> Conflict:
    """The 409 for a shared Jump Group name another shared group has (personal groups' names may repeat)."""
    return Conflict(f"a shared Jump Group named {name!r} already exists", details={"field": "name"})


async def ensure_builtin_jumpoint(db: Database, name: str) -> tuple[int, str]:
    """Create Jumpoint ``name`` if missing, mint a new token for its built-in member (replacing the previous one),
    return ``(id, token)``.

    The built-in member is the member marked ``builtin``, else the Jumpoint's oldest member (a database from
    before clusters), else a new one; any other member of the Jumpoint is left as it is.
    """
    secret = mint(JUMPOINT_TOKEN_PREFIX)
    now = utcnow()
    async with db.session() as session:
        jumpoint = await session.scalar(select(Jumpoint).where(Jumpoint.name == name))
        if jumpoint is None:
            jumpoint = await create_jumpoint_in(session, name, "runs inside the console process")
            add_audit(session, action="jumpoint.created", detail={"jumpoint_id": jumpoint.id, "name": name})
        member = await session.scalar(
            select(JumpointMember)
            .where(JumpointMember.jumpoint_id == jumpoint.id)
            .order_by(JumpointMember.builtin.desc(), JumpointMember.id)
            .limit(1)
        )
        if member is None:
            member = JumpointMember(jumpoint_id=jumpoint.id, token_hash=secret.digest, registered_at=now)
            session.add(member)
        member.token_hash = secret.digest
        member.builtin = True
        jumpoint.registered_at = jumpoint.registered_at or now
        jumpoint_id = jumpoint.id
    return jumpoint_id, secret.text


# --- session history ---------------------------------------------------------------------------
async def create_session_record(
    db: Database,
    *,
    session_id: str,
    item_id: int | None,
    item_name: str,
    user_id: int,
    jumpoint_id: int,
    protocol: str,
    target: str,
    recorded: bool = False,
) -> None:
    """Record that a session started."""
    async with db.session() as session:
        session.add(
            SessionRecord(
                id=session_id,
                item_id=item_id,
                item_name=item_name[:NAME_MAX],
                user_id=user_id,
                jumpoint_id=jumpoint_id,
                protocol=protocol[:16],
                target=target,
                started_at=utcnow(),
                recorded=recorded,
            )
        )


async def end_session_in(
    session: AsyncSession, session_id: str, *, reason: str, error_code: str | None, at: datetime | None = None
) -> None:
    """Record in ``session``'s transaction that a session ended (the first end wins; later calls change nothing)."""
    await session.execute(
        update(SessionRecord)
        .where(SessionRecord.id == session_id, SessionRecord.ended_at.is_(None))
        .values(ended_at=at or utcnow(), end_reason=reason[:256], error_code=error_code[:64] if error_code else None)
    )


async def end_session_record(db: Database, session_id: str, *, reason: str, error_code: str | None) -> None:
    """Record that a session ended, in its own transaction (see :func:`end_session_in`)."""
    async with db.session() as session:
        await end_session_in(session, session_id, reason=reason, error_code=error_code)
