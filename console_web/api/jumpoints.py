"""``/jumpoints``, their members (the registered hosts of a cluster), registration keys, ``/jumpoint/register``
and the host keys each Jumpoint's members trust (held by the console)."""

from __future__ import annotations

import logging
import shlex
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from sqlalchemy import delete, func, select

from console_web.api.bodies import json_model, no_content, path_int, read_body, read_query
from console_web.api.context import LOGIN_LIMITER_KEY, client_ip, config_of, db_of, principal_of
from console_web.api.hubapi import hub_or_none
from console_web.api.routing import endpoint
from console_web.api.schemas import (
    HostKeyOut,
    HostKeyRemoveQuery,
    Items,
    JumpointCreate,
    JumpointMemberOut,
    JumpointOut,
    JumpointUpdate,
    RegisterIn,
    RegisterOut,
    RegistrationKeyCreate,
    RegistrationKeyOut,
    RemovedOut,
)
from console_web.config import ConsoleConfig
from console_web.db import cluster as cluster_db
from console_web.db.models import JumpItem, Jumpoint
from console_web.db.registration import create_registration_key, register_jumpoint
from console_web.db.repo import add_audit, create_jumpoint_in, flush_unique, jumpoint_name_taken
from console_web.hub.clusters import JumpointLive
from jumpoint.core.errors import Conflict, NotFound

log = logging.getLogger(__name__)


def register_command(console_url: str, key: str) -> str:
    """The command an admin runs on the Jumpoint host to register it."""
    return f"jumpoint register --console {shlex.quote(console_url)} --key {shlex.quote(key)}"


def console_url_from_config(config: ConsoleConfig) -> str:
    """The console's URL as the Jumpoint should use it: ``listen.public_url`` or derived from ``listen``."""
    if config.listen.public_url:
        return config.listen.public_url.rstrip("/")
    scheme = "http" if config.listen.tls.mode == "off" else "https"
    host = config.listen.host
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{config.listen.port}"


async def _live(request: web.Request, jumpoint_ids: Sequence[int]) -> dict[int, JumpointLive]:
    hub = hub_or_none(request)
    return await hub.jumpoints_live(jumpoint_ids) if hub is not None and jumpoint_ids else {}


def _out(jumpoint: Jumpoint, live_now: dict[int, JumpointLive], members: int) -> JumpointOut:
    state = live_now.get(jumpoint.id)
    live = state.members if state is not None else {}
    return JumpointOut(
        id=jumpoint.id,
        name=jumpoint.name,
        comments=jumpoint.comments,
        hostname=jumpoint.hostname,
        registered=members > 0,
        registered_at=jumpoint.registered_at,
        last_seen_at=jumpoint.last_seen_at,
        connected=state is not None and state.connected,
        members=members,
        members_connected=sum(1 for m in live.values() if m.ready),
    )


def _missing(jumpoint_id: int) -> NotFound:
    return NotFound(f"Jumpoint {jumpoint_id} does not exist")


@endpoint("GET", "/jumpoints", access="user", summary="List Jumpoints", tag="jumpoints", response=Items[JumpointOut])
async def list_jumpoints(request: web.Request) -> web.StreamResponse:
    """Every Jumpoint by name, with ``connected`` and how many members it has (connected and registered)."""
    counts = await cluster_db.member_counts(db_of(request))
    async with db_of(request).session() as session:
        rows = (await session.scalars(select(Jumpoint).order_by(Jumpoint.name))).all()
    live = await _live(request, [j.id for j in rows])
    return json_model(Items[JumpointOut](items=[_out(j, live, counts.get(j.id, 0)) for j in rows]))


@endpoint(
    "POST",
    "/jumpoints",
    access="admin",
    summary="Create a Jumpoint",
    tag="jumpoints",
    body=JumpointCreate,
    response=JumpointOut,
    status=201,
)
async def create_jumpoint(request: web.Request) -> web.StreamResponse:
    """Create a Jumpoint; then create a registration key for it."""
    principal = principal_of(request)
    body = await read_body(request, JumpointCreate)
    async with db_of(request).session() as session:
        jumpoint = await create_jumpoint_in(session, body.name, body.comments)
        add_audit(
            session,
            action="jumpoint.created",
            actor_user_id=principal.user_id,
            source_address=client_ip(request),
            detail={"jumpoint_id": jumpoint.id, "name": jumpoint.name},
        )
        out = _out(jumpoint, {}, 0)
    log.info("Jumpoint %s created by %s", out.name, principal.username)
    return json_model(out, status=201)


@endpoint("GET", "/jumpoints/{id}", access="user", summary="Get a Jumpoint", tag="jumpoints", response=JumpointOut)
async def get_jumpoint(request: web.Request) -> web.StreamResponse:
    """One Jumpoint (its members: ``GET /jumpoints/{id}/members``)."""
    jumpoint_id = path_int(request, "id")
    counts = await cluster_db.member_counts(db_of(request))
    async with db_of(request).session() as session:
        jumpoint = await session.get(Jumpoint, jumpoint_id)
        if jumpoint is None:
            raise _missing(jumpoint_id)
    return json_model(_out(jumpoint, await _live(request, [jumpoint_id]), counts.get(jumpoint_id, 0)))


@endpoint(
    "PATCH",
    "/jumpoints/{id}",
    access="admin",
    summary="Change a Jumpoint",
    tag="jumpoints",
    body=JumpointUpdate,
    response=JumpointOut,
)
async def update_jumpoint(request: web.Request) -> web.StreamResponse:
    """Rename or re-comment a Jumpoint."""
    principal = principal_of(request)
    jumpoint_id = path_int(request, "id")
    body = await read_body(request, JumpointUpdate)
    live = await _live(request, [jumpoint_id])
    async with db_of(request).session() as session:
        jumpoint = await session.get(Jumpoint, jumpoint_id)
        if jumpoint is None:
            raise _missing(jumpoint_id)
        if body.name is not None and body.name != jumpoint.name:
            if await session.scalar(select(Jumpoint.id).where(Jumpoint.name == body.name)) is not None:
                raise jumpoint_name_taken(body.name)
            jumpoint.name = body.name
        if body.comments is not None:
            jumpoint.comments = body.comments
        await flush_unique(session, jumpoint_name_taken(jumpoint.name))
        add_audit(
            session,
            action="jumpoint.updated",
            actor_user_id=principal.user_id,
            source_address=client_ip(request),
            detail={"jumpoint_id": jumpoint_id, "name": jumpoint.name},
        )
        out = _out(jumpoint, live, 0)
    counts = await cluster_db.member_counts(db_of(request))
    return json_model(out.model_copy(update={"members": counts.get(jumpoint_id, 0)}))


@endpoint(
    "DELETE",
    "/jumpoints/{id}",
    access="admin",
    summary="Delete a Jumpoint without Jump Items",
    tag="jumpoints",
    status=204,
)
async def delete_jumpoint(request: web.Request) -> web.StreamResponse:
    """Delete a Jumpoint (its token stops working); 409 while Jump Items use it."""
    principal = principal_of(request)
    jumpoint_id = path_int(request, "id")
    async with db_of(request).session() as session:
        jumpoint = await session.get(Jumpoint, jumpoint_id)
        if jumpoint is None:
            raise _missing(jumpoint_id)
        count = await session.scalar(
            select(func.count()).select_from(JumpItem).where(JumpItem.jumpoint_id == jumpoint_id)
        )
        if count:
            raise Conflict(f"{count} Jump Items use Jumpoint {jumpoint.name!r}; move or delete them first")
        await session.execute(delete(Jumpoint).where(Jumpoint.id == jumpoint_id))
        add_audit(
            session,
            action="jumpoint.deleted",
            actor_user_id=principal.user_id,
            source_address=client_ip(request),
            detail={"jumpoint_id": jumpoint_id, "name": jumpoint.name},
        )
    return no_content()


@endpoint(
    "POST",
    "/jumpoints/{id}/registration-keys",
    access="admin",
    summary="Create a one-time registration key",
    tag="jumpoints",
    body=RegistrationKeyCreate,
    response=RegistrationKeyOut,
    status=201,
)
async def create_key(request: web.Request) -> web.StreamResponse:
    """A single-use key, valid ``expires_minutes`` (default ``security.registration_key_minutes``)."""
    principal = principal_of(request)
    jumpoint_id = path_int(request, "id")
    body = await read_body(request, RegistrationKeyCreate)
    config = config_of(request)
    minutes = body.expires_minutes or config.security.registration_key_minutes
    issued = await create_registration_key(
        db_of(request), jumpoint_id, minutes=minutes, created_by=principal.user_id, source_address=client_ip(request)
    )
    url = config.listen.public_url.rstrip("/") if config.listen.public_url else f"{request.scheme}://{request.host}"
    return json_model(
        RegistrationKeyOut(
            jumpoint_id=issued.jumpoint_id,
            jumpoint_name=issued.jumpoint_name,
            key=issued.key,
            expires_at=issued.expires_at,
            command=register_command(url, issued.key),
        ),
        status=201,
    )


@endpoint(
    "POST",
    "/jumpoint/register",
    access="public",
    summary="Register a Jumpoint with its one-time key",
    tag="jumpoints",
    body=RegisterIn,
    response=RegisterOut,
    description="The key is spent and the host becomes a new member of the key's Jumpoint, with its own token (a "
    "Jumpoint with several members is a cluster); 401 for an unknown or expired key, 409 for a key already used; "
    "429 past 10 attempts a minute from one address that did not succeed.",
)
async def register(request: web.Request) -> web.StreamResponse:
    """Exchange a registration key for a new member's token."""
    body = await read_body(request, RegisterIn)
    result = await register_jumpoint(
        db_of(request),
        body.key,
        body.hostname,
        source_address=client_ip(request),
        limiter=request.app[LOGIN_LIMITER_KEY],
    )
    return json_model(
        RegisterOut(jumpoint_id=result.jumpoint_id, name=result.name, token=result.token, member_id=result.member_id)
    )


@endpoint(
    "GET",
    "/jumpoints/{id}/members",
    access="admin",
    summary="List the Jumpoint's members",
    tag="jumpoints",
    response=Items[JumpointMemberOut],
)
async def list_members(request: web.Request) -> web.StreamResponse:
    """The hosts registered as the Jumpoint's members, oldest first: connected or not (since when), their active
    sessions, when they registered and were last seen."""
    jumpoint_id = path_int(request, "id")
    members = await cluster_db.list_members(db_of(request), jumpoint_id)
    state = (await _live(request, [jumpoint_id])).get(jumpoint_id)
    live = state.members if state is not None else {}
    items: list[JumpointMemberOut] = []
    for m in members:
        now = live.get(m.id)
        connected = now is not None and now.ready
        items.append(
            JumpointMemberOut(
                id=m.id,
                hostname=now.hostname if now is not None else m.hostname,
                builtin=m.builtin,
                registered_at=m.registered_at,
                last_seen_at=m.last_seen_at,
                connected=connected,
                connected_since=now.connected_since if now is not None and connected else None,
                active_sessions=now.active_sessions if now is not None else 0,
            )
        )
    return json_model(Items[JumpointMemberOut](items=items))


@endpoint(
    "DELETE",
    "/jumpoints/{id}/members/{member_id}",
    access="admin",
    summary="Revoke a member of the Jumpoint",
    tag="jumpoints",
    status=204,
    description="The member's token stops working at once; if it is connected, its tunnel is closed and its "
    "sessions end. The Jumpoint's other members go on. The host must register again with a new key to return.",
)
async def revoke_member(request: web.Request) -> web.StreamResponse:
    """Revoke one member (its token), audited."""
    principal = principal_of(request)
    jumpoint_id = path_int(request, "id")
    member_id = path_int(request, "member_id")
    row = await cluster_db.revoke_member(
        db_of(request),
        jumpoint_id,
        member_id,
        actor_user_id=principal.user_id,
        source_address=client_ip(request),
    )
    hub = hub_or_none(request)
    if hub is not None:
        await hub.member_revoked(jumpoint_id, member_id, row.hostname)
    log.info("member %d (%s) of Jumpoint %d revoked by %s", member_id, row.hostname, jumpoint_id, principal.username)
    return no_content()


async def _existing_jumpoint(request: web.Request) -> int:
    jumpoint_id = path_int(request, "id")
    async with db_of(request).session() as session:
        if await session.get(Jumpoint, jumpoint_id) is None:
            raise _missing(jumpoint_id)
    return jumpoint_id


@endpoint(
    "GET",
    "/jumpoints/{id}/host-keys",
    access="admin",
    summary="List the host keys the Jumpoint's members trust",
    tag="jumpoints",
    response=Items[HostKeyOut],
)
async def list_host_keys(request: web.Request) -> web.StreamResponse:
    """The keys (and TLS certificates) the console holds for the Jumpoint; every member verifies against them."""
    jumpoint_id = await _existing_jumpoint(request)
    keys = await cluster_db.cluster_keys(db_of(request), jumpoint_id)
    return json_model(
        Items[HostKeyOut](
            items=[
                HostKeyOut(
                    host=k.host,
                    port=k.port,
                    algorithm=k.key.algorithm,
                    fingerprint=k.fingerprint,
                    added_at=k.added_at.isoformat(),
                    added_by=k.added_by,
                )
                for k in keys
            ]
        )
    )


@endpoint(
    "DELETE",
    "/jumpoints/{id}/host-keys",
    access="admin",
    summary="Forget trusted host keys",
    tag="jumpoints",
    query=HostKeyRemoveQuery,
    response=RemovedOut,
)
async def remove_host_keys(request: web.Request) -> web.StreamResponse:
    """Remove the keys of ``host:port`` (only ``fingerprint`` if given) for the whole Jumpoint: on the console and
    on every connected member (a member that is not connected gets the cluster's keys when it connects); returns
    how many were removed. The next Jump to that host asks again."""
    principal = principal_of(request)
    query = read_query(request, HostKeyRemoveQuery)
    jumpoint_id = await _existing_jumpoint(request)
    removed = await cluster_db.remove_cluster_keys(
        db_of(request), jumpoint_id, query.host, query.port, query.fingerprint
    )
    hub = hub_or_none(request)
    told = await hub.host_keys_removed(jumpoint_id, query.host, query.port, query.fingerprint) if hub else 0
    args: dict[str, Any] = {"host": query.host, "port": query.port}
    if query.fingerprint is not None:
        args["fingerprint"] = query.fingerprint
    await _audit_removed(request, principal.user_id, jumpoint_id, {**args, "members_told": told}, removed)
    return json_model(RemovedOut(removed=removed))


async def _audit_removed(request: web.Request, user_id: int, jumpoint_id: int, args: dict[str, Any], n: int) -> None:
    async with db_of(request).session() as session:
        add_audit(
            session,
            action="hostkeys.removed",
            actor_user_id=user_id,
            source_address=client_ip(request),
            detail={"jumpoint_id": jumpoint_id, **args, "removed": n},
        )
