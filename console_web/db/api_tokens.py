"""API tokens: created for a user, listed without their text, revoked by deleting them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from console_web.auth.tokens import API_TOKEN_PREFIX, mint
from console_web.db.clock import utcnow
from console_web.db.database import Database
from console_web.db.models import NAME_MAX, ApiToken
from console_web.db.repo import add_audit
from jumpoint.core.errors import BadRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CreatedToken:
    """A new API token: the row's fields and the token text, which is shown this once only."""

    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    token: str


async def create_api_token(
    db: Database, user_id: int, name: str, *, expires_at: datetime | None, source_address: str | None = None
) -> CreatedToken:
    """Mint an API token for ``user_id``; only its hash is stored. ``source_address`` goes into the audit event."""
    if not 1 <= len(name) <= NAME_MAX:
        raise BadRequest(f"name: must be 1 to {NAME_MAX} characters", details={"field": "name"})
    secret = mint(API_TOKEN_PREFIX)
    now = utcnow()
    async with db.session() as session:
        row = ApiToken(
            user_id=user_id,
            name=name,
            token_hash=secret.digest,
            prefix=secret.display_prefix,
            created_at=now,
            expires_at=expires_at,
        )
        session.add(row)
        await session.flush()
        add_audit(
            session,
            action="token.created",
            actor_user_id=user_id,
            source_address=source_address,
            detail={"token_id": row.id, "name": name},
        )
        token_id = row.id
    log.info("API token %d created for user id %d", token_id, user_id)
    return CreatedToken(token_id, name, secret.display_prefix, now, expires_at, secret.text)
