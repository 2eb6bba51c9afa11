"""Server-side login sessions (the ``web_sessions`` table): start, look up, end."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete

from console_web.auth.tokens import hash_secret, mint
from console_web.config import SecuritySettings
from console_web.db.clock import utcnow
from console_web.db.database import Database
from console_web.db.models import WebSession


@dataclass(frozen=True, slots=True)
class StartedSession:
    """A new login session: the cookie token (never stored), its id (the token's hash) and CSRF token."""

    cookie_token: str
    session_id: str
    csrf_token: str
    expires_at: datetime


async def start_web_session(db: Database, user_id: int, security: SecuritySettings) -> StartedSession:
    """Create a login session for ``user_id`` expiring after ``session_max_hours``."""
    secret = mint()
    csrf = secrets.token_urlsafe(32)
    now = utcnow()
    expires_at = now + timedelta(hours=security.session_max_hours)
    async with db.session() as session:
        session.add(
            WebSession(
                id=secret.digest,
                user_id=user_id,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=expires_at,
            )
        )
    return StartedSession(secret.text, secret.digest, csrf, expires_at)


async def end_web_session(db: Database, session_id: str) -> None:
    """Delete the login session ``session_id`` (idempotent)."""
    async with db.session() as session:
        await session.execute(delete(WebSession).where(WebSession.id == session_id))


async def end_user_web_sessions(db: Database, user_id: int, *, except_id: str | None = None) -> None:
    """Delete every login session of ``user_id`` (after a password change or when disabled)."""
    async with db.session() as session:
        stmt = delete(WebSession).where(WebSession.user_id == user_id)
        if except_id is not None:
            stmt = stmt.where(WebSession.id != except_id)
        await session.execute(stmt)


def session_id_for(cookie_token: str) -> str:
    """The row id of the login session a cookie token opens."""
    return hash_secret(cookie_token)
