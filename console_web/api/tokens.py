"""``/tokens``: the caller's own API tokens (the text is returned once, at creation)."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from sqlalchemy import delete, select

from console_web.api.bodies import json_model, no_content, path_int, read_body
from console_web.api.context import client_ip, db_of, principal_of
from console_web.api.routing import endpoint
from console_web.api.schemas import Items, TokenCreate, TokenCreated, TokenOut
from console_web.db.api_tokens import create_api_token
from console_web.db.clock import utcnow
from console_web.db.models import ApiToken
from console_web.db.repo import add_audit
from jumpoint.core.errors import NotFound


@endpoint("GET", "/tokens", access="user", summary="List my API tokens", tag="tokens", response=Items[TokenOut])
async def list_tokens(request: web.Request) -> web.StreamResponse:
    """The caller's tokens, newest first, without their text."""
    principal = principal_of(request)
    async with db_of(request).session() as session:
        rows = (
            await session.scalars(
                select(ApiToken).where(ApiToken.user_id == principal.user_id).order_by(ApiToken.id.desc())
            )
        ).all()
        return json_model(Items[TokenOut](items=[TokenOut.model_validate(r) for r in rows]))


@endpoint(
    "POST",
    "/tokens",
    access="user",
    summary="Create an API token (its text is shown once)",
    tag="tokens",
    body=TokenCreate,
    response=TokenCreated,
    status=201,
)
async def create_token(request: web.Request) -> web.StreamResponse:
    """Mint a token for the caller."""
    principal = principal_of(request)
    body = await read_body(request, TokenCreate)
    expires_at = utcnow() + timedelta(days=body.expires_days) if body.expires_days else None
    created = await create_api_token(
        db_of(request), principal.user_id, body.name, expires_at=expires_at, source_address=client_ip(request)
    )
    return json_model(
        TokenCreated(
            id=created.id,
            name=created.name,
            prefix=created.prefix,
            created_at=created.created_at,
            expires_at=created.expires_at,
            token=created.token,
        ),
        status=201,
    )


@endpoint("DELETE", "/tokens/{id}", access="user", summary="Revoke one of my API tokens", tag="tokens", status=204)
async def delete_token(request: web.Request) -> web.StreamResponse:
    """Revoke a token of the caller's; 404 for anybody else's."""
    principal = principal_of(request)
    token_id = path_int(request, "id")
    async with db_of(request).session() as session:
        result = await session.execute(
            delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == principal.user_id)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise NotFound(f"API token {token_id} does not exist")
        add_audit(
            session,
            action="token.deleted",
            actor_user_id=principal.user_id,
            source_address=client_ip(request),
            detail={"token_id": token_id},
        )
    return no_content()
