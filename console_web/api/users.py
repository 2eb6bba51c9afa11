"""``/users``: administrators manage accounts (the password is write-only)."""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy import delete, select

from console_web.api.bodies import json_model, no_content, path_int, read_body
from console_web.api.context import client_ip, db_of, principal_of
from console_web.api.routing import endpoint
from console_web.api.schemas import Items, UserCreate, UserOut, UserUpdate
from console_web.auth.passwords import hash_password
from console_web.auth.websessions import end_user_web_sessions
from console_web.db.models import User
from console_web.db.repo import add_audit, create_user_in
from jumpoint.core.errors import Conflict, NotFound

log = logging.getLogger(__name__)


def _missing(user_id: int) -> NotFound:
    return NotFound(f"user {user_id} does not exist")


@endpoint("GET", "/users", access="admin", summary="List users", tag="users", response=Items[UserOut])
async def list_users(request: web.Request) -> web.StreamResponse:
    """Every user, ordered by username."""
    async with db_of(request).session() as session:
        users = (await session.scalars(select(User).order_by(User.username))).all()
        return json_model(Items[UserOut](items=[UserOut.model_validate(u) for u in users]))


@endpoint(
    "POST",
    "/users",
    access="admin",
    summary="Create a user (and their personal Jump Group)",
    tag="users",
    body=UserCreate,
    response=UserOut,
    status=201,
)
async def create_user(request: web.Request) -> web.StreamResponse:
    """Create a user; 409 if the username is taken."""
    principal = principal_of(request)
    body = await read_body(request, UserCreate)
    pw_hash = await hash_password(body.password)
    async with db_of(request).session() as session:
        user = await create_user_in(
            session, body.username, pw_hash, display_name=body.display_name, is_admin=body.is_admin
        )
        user.file_upload, user.file_download, user.file_roots = body.file_upload, body.file_download, body.file_roots
        add_audit(
            session,
            action="user.created",
            actor_user_id=principal.user_id,
            source_address=client_ip(request),
            detail={"user_id": user.id, "username": user.username, "admin": user.is_admin},
        )
        out = UserOut.model_validate(user)
    log.info("user %s created by %s", out.username, principal.username)
    return json_model(out, status=201)


@endpoint("GET", "/users/{id}", access="admin", summary="Get a user", tag="users", response=UserOut)
async def get_user(request: web.Request) -> web.StreamResponse:
    """One user."""
    user_id = path_int(request, "id")
    async with db_of(request).session() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise _missing(user_id)
        return json_model(UserOut.model_validate(user))


@endpoint(
    "PATCH",
    "/users/{id}",
    access="admin",
    summary="Change a user",
    tag="users",
    body=UserUpdate,
    response=UserOut,
)
async def update_user(request: web.Request) -> web.StreamResponse:
    """Change the display name, password, admin flag, disabled flag or file-transfer permissions.

    Ends their login sessions on a password change or when disabled. Admins cannot demote or disable themselves."""
    principal = principal_of(request)
    user_id = path_int(request, "id")
    body = await read_body(request, UserUpdate)
    if user_id == principal.user_id and (body.is_admin is False or body.disabled is True):
        raise Conflict("you cannot remove your own administrator rights or disable yourself")
    pw_hash = await hash_password(body.password) if body.password is not None else None
    changed: list[str] = []
    async with db_of(request).session() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise _missing(user_id)
        if body.display_name is not None:
            user.display_name = body.display_name or user.username
            changed.append("display_name")
        if pw_hash is not None:
            user.password_hash = pw_hash
            changed.append("password")
        if body.is_admin is not None:
            user.is_admin = body.is_admin
            changed.append("is_admin")
        if body.disabled is not None:
            user.disabled = body.disabled
            changed.append("disabled")
        if body.file_upload is not None:
            user.file_upload = body.file_upload
            changed.append("file_upload")
        if body.file_download is not None:
            user.file_download = body.file_download
            changed.append("file_download")
        if body.file_roots is not None:
            user.file_roots = body.file_roots
            changed.append("file_roots")
        add_audit(
            session,
            action="user.updated",
            actor_user_id=principal.user_id,
            source_address=client_ip(request),
            detail={"user_id": user_id, "username": user.username, "changed": changed},
        )
        out = UserOut.model_validate(user)
    if pw_hash is not None or body.disabled:
        await end_user_web_sessions(
            db_of(request),
            user_id,
            except_id=principal.web_session_id if user_id == principal.user_id else None,
        )
    return json_model(out)


@endpoint("DELETE", "/users/{id}", access="admin", summary="Delete a user", tag="users", status=204)
async def delete_user(request: web.Request) -> web.StreamResponse:
    """Delete a user with their tokens, login sessions and personal Jump Group (and its items)."""
    principal = principal_of(request)
    user_id = path_int(request, "id")
    if user_id == principal.user_id:
        raise Conflict("you cannot delete your own account")
    async with db_of(request).session() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise _missing(user_id)
        username = user.username
        await session.execute(delete(User).where(User.id == user_id))
        add_audit(
            session,
            action="user.deleted",
            actor_user_id=principal.user_id,
            source_address=client_ip(request),
            detail={"user_id": user_id, "username": username},
        )
    log.info("user %s deleted by %s", username, principal.username)
    return no_content()
