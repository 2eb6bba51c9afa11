"""Sharing a live session: invitations to reps and groups, one-time external keys, guest join, the rep directory."""

from __future__ import annotations

import re

from aiohttp import web
from sqlalchemy import select

from console_web.api.bodies import json_model, no_content, read_body
from console_web.api.context import LOGIN_LIMITER_KEY, client_ip, config_of, db_of, principal_of
from console_web.api.hubapi import hub_of
from console_web.api.routing import endpoint
from console_web.api.sharing_schemas import (
    AcceptOut,
    DirectoryGroup,
    DirectoryOut,
    DirectoryUser,
    ExternalKeyCreated,
    ExternalKeyIn,
    ExternalKeyList,
    ExternalKeyOut,
    InvitationList,
    InvitationOut,
    InviteIn,
    JoinIn,
    JoinOut,
)
from console_web.auth.guests import set_guest_cookie
from console_web.db.models import JumpGroup, JumpGroupMember, User
from console_web.hub.sharing import MAX_PENDING_PER_SESSION
from jumpoint.core.errors import NotFound, TooManyRequests

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
JOIN_ATTEMPTS_PER_MINUTE = 10


def _path_token(request: web.Request, name: str) -> str:
    value = request.match_info.get(name, "")
    if not _TOKEN.match(value):
        raise NotFound(f"{name.replace('_', ' ')} does not exist")
    return value


@endpoint(
    "GET",
    "/directory",
    access="user",
    summary="Reps and shared groups that can be invited",
    tag="sharing",
    response=DirectoryOut,
)
async def directory(request: web.Request) -> web.StreamResponse:
    """Enabled users (id, username, display name) and shared Jump Groups."""
    async with db_of(request).session() as session:
        users = (await session.execute(select(User).where(User.disabled.is_(False)).order_by(User.username))).scalars()
        groups = (
            await session.execute(
                select(JumpGroup).where(JumpGroup.personal_owner_id.is_(None)).order_by(JumpGroup.name)
            )
        ).scalars()
        out = DirectoryOut(
            users=[DirectoryUser(id=u.id, username=u.username, display_name=u.display_name) for u in users],
            groups=[DirectoryGroup(id=g.id, name=g.name) for g in groups],
        )
    return json_model(out)


@endpoint(
    "POST",
    "/sessions/{id}/invitations",
    access="user",
    summary="Invite a rep or a shared group's members (owner)",
    tag="sharing",
    body=InviteIn,
    response=InvitationList,
    status=201,
    description="409 when the rep already has an active invitation to this session (a group skips such members), "
    f"or when the session would have more than {MAX_PENDING_PER_SESSION} pending invitations (then nobody is invited).",
)
async def invite(request: web.Request) -> web.StreamResponse:
    """Invite one rep, or every enabled member of a shared group (reps already in the session, and a group's members
    who already have an active invitation to it, are skipped); all of them or none."""
    principal = principal_of(request)
    session_id = _path_token(request, "id")
    body = await read_body(request, InviteIn)
    async with db_of(request).session() as session:
        if body.user_id is not None:
            user = await session.get(User, body.user_id)
            if user is None or user.disabled:
                raise NotFound(f"user {body.user_id} does not exist")
            user_ids = [user.id]
        else:
            group = await session.get(JumpGroup, body.group_id)
            if group is None or group.personal_owner_id is not None:
                raise NotFound(f"shared group {body.group_id} does not exist")
            rows = await session.execute(
                select(User.id)
                .join(JumpGroupMember, JumpGroupMember.user_id == User.id)
                .where(JumpGroupMember.group_id == group.id, User.disabled.is_(False))
            )
            user_ids = list(rows.scalars())
    made = await hub_of(request).invite_users(session_id, principal, user_ids)
    return json_model(InvitationList(items=[InvitationOut.model_validate(i) for i in made]), status=201)


@endpoint(
    "GET",
    "/sessions/{id}/invitations",
    access="user",
    summary="Pending invitations of a session (owner)",
    tag="sharing",
    response=InvitationList,
)
async def session_invitations(request: web.Request) -> web.StreamResponse:
    """The session's pending invitations."""
    items = await hub_of(request).session_invitations(_path_token(request, "id"), principal_of(request))
    return json_model(InvitationList(items=[InvitationOut.model_validate(i) for i in items]))


@endpoint(
    "DELETE",
    "/sessions/{id}/invitations/{invitation_id}",
    access="user",
    summary="Cancel an invitation (owner)",
    tag="sharing",
    status=204,
)
async def cancel_invitation(request: web.Request) -> web.StreamResponse:
    """Cancel a pending invitation."""
    await hub_of(request).cancel_invitation(
        _path_token(request, "id"), _path_token(request, "invitation_id"), principal_of(request)
    )
    return no_content()


@endpoint(
    "GET", "/invitations", access="user", summary="My pending invitations", tag="sharing", response=InvitationList
)
async def my_invitations(request: web.Request) -> web.StreamResponse:
    """The caller's invitation queue."""
    items = await hub_of(request).my_invitations(principal_of(request))
    return json_model(InvitationList(items=[InvitationOut.model_validate(i) for i in items]))


@endpoint(
    "POST",
    "/invitations/{invitation_id}/accept",
    access="user",
    summary="Accept an invitation",
    tag="sharing",
    response=AcceptOut,
)
async def accept_invitation(request: web.Request) -> web.StreamResponse:
    """Accept: the caller may now open the session page and takes a seat as a peer."""
    session_id = await hub_of(request).accept_invitation(_path_token(request, "invitation_id"), principal_of(request))
    return json_model(
        AcceptOut(session_id=session_id, url=f"/api/v1/sessions/{session_id}/ws", page=f"/sessions/{session_id}")
    )


@endpoint(
    "POST",
    "/invitations/{invitation_id}/decline",
    access="user",
    summary="Decline an invitation",
    tag="sharing",
    status=204,
)
async def decline_invitation(request: web.Request) -> web.StreamResponse:
    """Decline: the invitation disappears and the owner sees it in the timeline."""
    await hub_of(request).decline_invitation(_path_token(request, "invitation_id"), principal_of(request))
    return no_content()


@endpoint(
    "POST",
    "/sessions/{id}/external-keys",
    access="user",
    summary="Create a one-time key for an external invitee (owner)",
    tag="sharing",
    body=ExternalKeyIn,
    response=ExternalKeyCreated,
    status=201,
)
async def create_external_key(request: web.Request) -> web.StreamResponse:
    """The key and its URL are returned this once."""
    body = await read_body(request, ExternalKeyIn)
    key, listing = await hub_of(request).create_external_key(
        _path_token(request, "id"),
        principal_of(request),
        description=body.description,
        minutes=body.expires_minutes,
        mode=body.mode,
    )
    base = (config_of(request).listen.public_url or f"{request.scheme}://{request.host}").rstrip("/")
    return json_model(ExternalKeyCreated(**listing, key=key, url=f"{base}/join/{key}"), status=201)


@endpoint(
    "GET",
    "/sessions/{id}/external-keys",
    access="user",
    summary="Unused external keys of a session (owner)",
    tag="sharing",
    response=ExternalKeyList,
)
async def list_external_keys(request: web.Request) -> web.StreamResponse:
    """Unused, unexpired keys (never the key text)."""
    items = await hub_of(request).external_keys(_path_token(request, "id"), principal_of(request))
    return json_model(ExternalKeyList(items=[ExternalKeyOut.model_validate(i) for i in items]))


@endpoint(
    "DELETE",
    "/sessions/{id}/external-keys/{key_id}",
    access="user",
    summary="Cancel an unused external key (owner)",
    tag="sharing",
    status=204,
)
async def cancel_external_key(request: web.Request) -> web.StreamResponse:
    """Cancel a key before it is used."""
    await hub_of(request).cancel_external_key(
        _path_token(request, "id"), _path_token(request, "key_id"), principal_of(request)
    )
    return no_content()


@endpoint(
    "POST",
    "/join",
    access="public",
    summary="An external invitee joins with a one-time key",
    tag="sharing",
    body=JoinIn,
    response=JoinOut,
    description="Spends the key and sets the guest cookie. A used, cancelled or expired key is 404 (one message). "
    "Rate limited per address.",
)
async def join(request: web.Request) -> web.StreamResponse:
    """Spend the key: the guest may open that one session's page."""
    limiter = request.app[LOGIN_LIMITER_KEY]
    source = client_ip(request)
    limit_key = f"join:{source}"
    wait = limiter.retry_after(limit_key, JOIN_ATTEMPTS_PER_MINUTE)
    if wait is not None:
        raise TooManyRequests(f"too many attempts; try again in {wait} seconds", details={"retry_after_seconds": wait})
    limiter.record(limit_key)
    body = await read_body(request, JoinIn)
    token, guest = await hub_of(request).redeem_external_key(body.key, body.display_name, source)
    response = json_model(JoinOut(session_id=guest.session_id, page=f"/sessions/{guest.session_id}"))
    set_guest_cookie(response, request, token)
    return response
