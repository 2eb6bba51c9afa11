"""``/jump-items``: Jump Items (SSH, Telnet, VNC, RDP) in the Jump Groups the caller can use, and starting a Jump."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from console_web.api.access import get_group, get_item, personal_group, visible_groups
from console_web.api.bodies import json_model, no_content, path_int, read_body, read_query
from console_web.api.context import client_ip, db_of, principal_of
from console_web.api.hubapi import hub_of
from console_web.api.item_credentials import check_credential_fields, credential_for_jump, target_approval
from console_web.api.routing import endpoint
from console_web.api.schemas import (
    DEFAULT_PORTS,
    JumpIn,
    JumpItemCreate,
    JumpItemList,
    JumpItemOut,
    JumpItemQuery,
    JumpItemUpdate,
    JumpOut,
    SessionOut,
)
from console_web.db.clock import utcnow
from console_web.db.models import JumpGroup, JumpItem, Jumpoint
from console_web.db.repo import add_audit
from console_web.db.types import text_lower
from console_web.hub.jump import JumpRequest
from jumpoint.core.adapter import DESKTOP_PROTOCOLS, Target
from jumpoint.core.errors import BadRequest

log = logging.getLogger(__name__)

LIST_CAP = 200


def recording_decision(group_policy: str, item_records: bool) -> bool:
    """Whether a Jump to an item is recorded: the group's ``always`` / ``never`` override the item's own setting."""
    if group_policy == "always":
        return True
    if group_policy == "never":
        return False
    return item_records


async def _check_jumpoint(session: AsyncSession, jumpoint_id: int) -> None:
    if await session.get(Jumpoint, jumpoint_id) is None:
        raise BadRequest(f"jumpoint_id: Jumpoint {jumpoint_id} does not exist", details={"field": "jumpoint_id"})


def _host_and_port(body: JumpItemCreate | JumpItemUpdate) -> tuple[str | None, int | None]:
    try:
        return body.host_and_port()
    except ValueError as exc:  # already checked by the model; kept for safety
        raise BadRequest(f"hostname: {exc}") from None


def target_for_jump(item: JumpItem, body: JumpIn, credential_ref: str | None) -> Target:
    """The Target the Jumpoint connects to: the item's fields, the viewer's panel size and the credential to inject.

    The RDP fields travel only for RDP items and the desktop size only for desktops (VNC ignores it), so what an
    item kept from another protocol never reaches the Jumpoint. Raises pydantic's ValidationError if a stored value
    no longer passes the Jumpoint's checks (an internal error: the API validated it when it was saved)."""
    fields: dict[str, Any] = {
        "protocol": item.protocol,
        "hostname": item.hostname,
        "port": item.port,
        "username": item.username,
        "terminal_type": item.terminal_type,
        "quality": item.quality,
        "keepalive_seconds": item.keepalive_seconds,
        "credential_ref": credential_ref,
        "cols": body.cols,
        "rows": body.rows,
        "login_prompt": item.login_prompt,
        "password_prompt": item.password_prompt,
        "login_failure": item.login_failure,
    }
    if item.protocol == "rdp":
        fields |= {
            "domain": item.domain,
            "rdp_security": item.rdp_security,
            "console_session": item.console_session,
            "ignore_certificate": item.ignore_certificate,
        }
    if item.protocol in DESKTOP_PROTOCOLS:
        fields |= {"desktop_width": body.desktop_width, "desktop_height": body.desktop_height}
    return Target.model_validate(fields)


@endpoint(
    "GET",
    "/jump-items",
    access="user",
    summary="List or search Jump Items",
    tag="jump-items",
    query=JumpItemQuery,
    response=JumpItemList,
)
async def list_items(request: web.Request) -> web.StreamResponse:
    """Visible items ordered by name, at most 200; ``search`` matches name, hostname, tag or comments, ignoring case
    in every script on both databases (the Client Scripting URL's search is this one)."""
    principal = principal_of(request)
    query = read_query(request, JumpItemQuery)
    stmt = (
        select(JumpItem)
        .join(JumpGroup, JumpGroup.id == JumpItem.group_id)
        .where(visible_groups(principal))
        .order_by(text_lower(JumpItem.name), JumpItem.id)
        .limit(LIST_CAP + 1)
    )
    if query.group_id is not None:
        stmt = stmt.where(JumpItem.group_id == query.group_id)
    if query.search:
        needle = query.search.strip().lower()
        stmt = stmt.where(
            or_(
                *(
                    text_lower(column).contains(needle, autoescape=True)
                    for column in (JumpItem.name, JumpItem.hostname, JumpItem.tag, JumpItem.comments)
                )
            )
        )
    async with db_of(request).session() as session:
        rows = (await session.scalars(stmt)).all()
        items = [JumpItemOut.model_validate(r) for r in rows[:LIST_CAP]]
    return json_model(JumpItemList(items=items, truncated=len(rows) > LIST_CAP))


@endpoint(
    "POST",
    "/jump-items",
    access="user",
    summary="Create a Jump Item",
    tag="jump-items",
    body=JumpItemCreate,
    response=JumpItemOut,
    status=201,
)
async def create_item(request: web.Request) -> web.StreamResponse:
    """Create an item in a group the caller can use (default: their personal group)."""
    principal = principal_of(request)
    body = await read_body(request, JumpItemCreate)
    check_credential_fields(principal, body)
    host, port = _host_and_port(body)
    assert host is not None
    async with db_of(request).session() as session:
        group = (
            await get_group(session, principal, body.group_id)
            if body.group_id is not None
            else await personal_group(session, principal)
        )
        await _check_jumpoint(session, body.jumpoint_id)
        now = utcnow()
        item = JumpItem(
            group_id=group.id,
            name=body.name,
            jumpoint_id=body.jumpoint_id,
            hostname=host,
            protocol=body.protocol,
            port=port or DEFAULT_PORTS[body.protocol],
            username=body.username,
            terminal_type=body.terminal_type,
            quality=body.quality,
            domain=body.domain,
            rdp_security=body.rdp_security,
            console_session=body.console_session,
            ignore_certificate=body.ignore_certificate,
            keepalive_seconds=body.keepalive_seconds,
            tag=body.tag,
            comments=body.comments,
            credential_ref=body.credential_ref,
            credential_scopes=body.credential_scopes,
            target_by_admin=principal.is_admin,
            session_policy=body.session_policy,
            record_session=body.record_session,
            record_input=body.record_input,
            login_prompt=body.login_prompt,
            password_prompt=body.password_prompt,
            login_failure=body.login_failure,
            created_by=principal.user_id,
            created_at=now,
            updated_at=now,
        )
        session.add(item)
        await session.flush()
        add_audit(
            session,
            action="item.created",
            actor_user_id=principal.user_id,
            source_address=client_ip(request),
            detail={"item_id": item.id, "name": item.name, "group_id": group.id},
        )
        out = JumpItemOut.model_validate(item)
    return json_model(out, status=201)


@endpoint(
    "GET",
    "/jump-items/{id}",
    access="user",
    summary="Get a Jump Item",
    tag="jump-items",
    response=JumpItemOut,
)
async def get_item_route(request: web.Request) -> web.StreamResponse:
    """One visible item (404 for items in groups the caller cannot use)."""
    principal = principal_of(request)
    item_id = path_int(request, "id")
    async with db_of(request).session() as session:
        return json_model(JumpItemOut.model_validate(await get_item(session, principal, item_id)))


@endpoint(
    "PATCH",
    "/jump-items/{id}",
    access="user",
    summary="Change a Jump Item",
    tag="jump-items",
    body=JumpItemUpdate,
    response=JumpItemOut,
)
async def update_item(request: web.Request) -> web.StreamResponse:
    """Change the given fields; moving needs access to the new group; ``hostname:port`` sets the port."""
    principal = principal_of(request)
    item_id = path_int(request, "id")
    body = await read_body(request, JumpItemUpdate)
    check_credential_fields(principal, body)
    given = body.model_fields_set  # null only where it clears the value (JumpItemUpdate.NULLABLE)
    host, port = _host_and_port(body)
    changes: dict[str, Any] = {f: getattr(body, f) for f in given if f not in ("hostname", "port")}
    if host is not None:
        changes["hostname"] = host
    if port is not None:
        changes["port"] = port
    async with db_of(request).session() as session:
        item = await get_item(session, principal, item_id)
        if "group_id" in changes:
            await get_group(session, principal, changes["group_id"])
        if "jumpoint_id" in changes:
            await _check_jumpoint(session, changes["jumpoint_id"])
        moved = {field for field, value in changes.items() if getattr(item, field) != value}
        for field, value in changes.items():
            setattr(item, field, value)
        approved = target_approval(principal, moved if not principal.is_admin else changes, item.target_by_admin)
        if approved != item.target_by_admin:
            item.target_by_admin = approved
            changes["target_by_admin"] = approved
        item.updated_at = utcnow()
        add_audit(
            session,
            action="item.updated",
            actor_user_id=principal.user_id,
            source_address=client_ip(request),
            detail={"item_id": item.id, "name": item.name, "changed": sorted(changes)},
        )
        out = JumpItemOut.model_validate(item)
    return json_model(out)


@endpoint("DELETE", "/jump-items/{id}", access="user", summary="Delete a Jump Item", tag="jump-items", status=204)
async def delete_item(request: web.Request) -> web.StreamResponse:
    """Delete a visible item."""
    principal = principal_of(request)
    item_id = path_int(request, "id")
    async with db_of(request).session() as session:
        item = await get_item(session, principal, item_id)
        await session.execute(delete(JumpItem).where(and_(JumpItem.id == item.id)))
        add_audit(
            session,
            action="item.deleted",
            actor_user_id=principal.user_id,
            source_address=client_ip(request),
            detail={"item_id": item_id, "name": item.name},
        )
    return no_content()


@endpoint(
    "POST",
    "/jump-items/{id}/jump",
    access="user",
    summary="Jump: start a session to the item",
    tag="jump-items",
    body=JumpIn,
    response=JumpOut,
    status=201,
    description="503 jumpoint_unavailable when the item's Jumpoint is not connected. For a desktop, send the size "
    "the session panel has (desktop_width, desktop_height): an RDP desktop is made that size.",
)
async def jump(request: web.Request) -> web.StreamResponse:
    """Build the Target from the item and ask the hub to start the session."""
    principal = principal_of(request)
    item_id = path_int(request, "id")
    body = await read_body(request, JumpIn)
    async with db_of(request).session() as session:
        item = await get_item(session, principal, item_id)
        group = await session.get(JumpGroup, item.group_id)
        record_session = recording_decision(group.recording if group is not None else "per_item", item.record_session)
        credential_ref = credential_for_jump(item, group, body.credential)
        request_ = JumpRequest(
            item_id=item.id,
            item_name=item.name,
            jumpoint_id=item.jumpoint_id,
            target=target_for_jump(item, body, credential_ref),
            session_policy=item.session_policy,
            record_session=record_session,
            record_input=item.record_input and record_session,
        )
    info = await hub_of(request).start_session(principal, request_)
    async with db_of(request).session() as session:
        add_audit(
            session,
            action="jump.joined" if info.joined else "jump.started",
            actor_user_id=principal.user_id,
            source_address=client_ip(request),
            session_id=info.session_id,
            detail={
                "item_id": item_id,
                "name": request_.item_name,
                "jumpoint_id": request_.jumpoint_id,
                "credential": None if info.joined else credential_ref,
            },
        )
    log.info("user %s jumped to item %d (session %s)", principal.username, item_id, info.session_id)
    return json_model(
        JumpOut(
            session_id=info.session_id,
            url=f"/api/v1/sessions/{info.session_id}/ws",
            session=SessionOut.model_validate(info),
            joined=info.joined,
        ),
        status=201,
    )
