"""``/jump-groups``: each user's personal group plus shared groups (admins manage shared groups)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from console_web.api.access import get_group, visible_groups
from console_web.api.bodies import json_model, no_content, path_int, read_body
from console_web.api.context import client_ip, db_of, principal_of
from console_web.api.routing import endpoint
from console_web.api.schemas import GroupCreate, GroupOut, GroupUpdate, Items, MemberOut
from console_web.auth.principal import Principal
from console_web.db.clock import utcnow
from console_web.db.models import JumpGroup, JumpGroupMember, JumpItem, User
from console_web.db.repo import add_audit, flush_unique, shared_group_name_taken
from jumpoint.core.errors import Conflict, Forbidden, NotFound


def _out(group: JumpGroup, members: list[MemberOut] | None = None) -> GroupOut:
    return GroupOut(
        id=group.id,
        name=group.name,
        personal=group.personal_owner_id is not None,
        recording=group.recording,
        credential_scopes=list(group.credential_scopes or []),
        owner_user_id=group.personal_owner_id,
        members=members,
    )


async def _members(session: AsyncSession, group_id: int) -> list[MemberOut]:
    rows = await session.execute(
        select(User.id, User.username)
        .join(JumpGroupMember, JumpGroupMember.user_id == User.id)
        .where(JumpGroupMember.group_id == group_id)
        .order_by(User.username)
    )
    return [MemberOut(user_id=uid, username=name) for uid, name in rows]


async def _shared_name_taken(session: AsyncSession, name: str) -> bool:
    """Whether a shared Jump Group is named ``name`` (checked first for a clear 409; the unique index on shared
    groups' names refuses the one that slips past at the same moment)."""
    taken = await session.scalar(
        select(JumpGroup.id).where(JumpGroup.name == name, JumpGroup.personal_owner_id.is_(None))
    )
    return taken is not None


def _may_manage(principal: Principal, group: JumpGroup) -> None:
    if group.personal_owner_id is None and not principal.is_admin:
        raise Forbidden("only an administrator may change a shared Jump Group")
    if group.personal_owner_id is not None and group.personal_owner_id != principal.user_id:
        raise Forbidden("only its owner may change a personal Jump Group")


@endpoint(
    "GET",
    "/jump-groups",
    access="user",
    summary="List my Jump Groups",
    tag="jump-groups",
    response=Items[GroupOut],
)
async def list_groups(request: web.Request) -> web.StreamResponse:
    """The caller's personal group first, then the shared groups they can use, by name."""
    principal = principal_of(request)
    async with db_of(request).session() as session:
        groups = (
            await session.scalars(
                select(JumpGroup)
                .where(visible_groups(principal))
                .order_by(JumpGroup.personal_owner_id.is_(None), JumpGroup.name)
            )
        ).all()
        return json_model(Items[GroupOut](items=[_out(g) for g in groups]))


@endpoint(
    "POST",
    "/jump-groups",
    access="admin",
    summary="Create a shared Jump Group",
    tag="jump-groups",
    body=GroupCreate,
    response=GroupOut,
    status=201,
)
async def create_group(request: web.Request) -> web.StreamResponse:
    """Create a shared group (personal groups are created with their user)."""
    principal = principal_of(request)
    body = await read_body(request, GroupCreate)
    async with db_of(request).session() as session:
        if await _shared_name_taken(session, body.name):
            raise shared_group_name_taken(body.name)
        group = JumpGroup(
            name=body.name,
            personal_owner_id=None,
            recording=body.recording,
            credential_scopes=body.credential_scopes,
            created_at=utcnow(),
        )
        session.add(group)
        await flush_unique(session, shared_group_name_taken(body.name))
        add_audit(
            session,
            action="group.created",
            actor_user_id=principal.user_id,
            source_address=client_ip(request),
            detail={"group_id": group.id, "name": group.name, "recording": group.recording},
        )
        out = _out(group, [])
    return json_model(out, status=201)


@endpoint(
    "GET",
    "/jump-groups/{id}",
    access="user",
    summary="Get a Jump Group",
    tag="jump-groups",
    response=GroupOut,
)
async def get_group_route(request: web.Request) -> web.StreamResponse:
    """One visible group; admins also see the members of shared groups."""
    principal = principal_of(request)
    group_id = path_int(request, "id")
    async with db_of(request).session() as session:
        group = await get_group(session, principal, group_id)
        members = await _members(session, group.id) if principal.is_admin and group.personal_owner_id is None else None
        return json_model(_out(group, members))


@endpoint(
    "PATCH",
    "/jump-groups/{id}",
    access="user",
    summary="Rename a Jump Group or change its recording policy",
    tag="jump-groups",
    body=GroupUpdate,
    response=GroupOut,
)
async def update_group(request: web.Request) -> web.StreamResponse:
    """Rename or change the recording policy: shared groups by an admin, a personal group by its owner.

    Only an administrator may change a group's recording policy (it is an audit control, not a preference). A shared
    group may not take another shared group's name (409)."""
    principal = principal_of(request)
    group_id = path_int(request, "id")
    body = await read_body(request, GroupUpdate)
    async with db_of(request).session() as session:
        group = await get_group(session, principal, group_id)
        _may_manage(principal, group)
        changed: dict[str, str | list[str]] = {}
        if body.recording is not None and body.recording != group.recording:
            if not principal.is_admin:
                raise Forbidden("only an administrator may change a Jump Group's recording policy")
            group.recording = changed["recording"] = body.recording
        if body.credential_scopes is not None and body.credential_scopes != group.credential_scopes:
            if not principal.is_admin:
                raise Forbidden("only an administrator may change a Jump Group's credential scopes")
            group.credential_scopes = changed["credential_scopes"] = list(body.credential_scopes)
        if body.name is not None and body.name != group.name:
            if group.personal_owner_id is None and await _shared_name_taken(session, body.name):
                raise shared_group_name_taken(body.name)
            group.name = changed["name"] = body.name
            await flush_unique(session, shared_group_name_taken(body.name))
        add_audit(
            session,
            action="group.updated",
            actor_user_id=principal.user_id,
            source_address=client_ip(request),
            detail={"group_id": group.id, "name": group.name, "changed": changed},
        )
        return json_model(_out(group))


@endpoint(
    "DELETE",
    "/jump-groups/{id}",
    access="admin",
    summary="Delete an empty shared Jump Group",
    tag="jump-groups",
    status=204,
)
async def delete_group(request: web.Request) -> web.StreamResponse:
    """Delete a shared group that holds no Jump Items."""
    principal = principal_of(request)
    group_id = path_int(request, "id")
    async with db_of(request).session() as session:
        group = await get_group(session, principal, group_id)
        if group.personal_owner_id is not None:
            raise Conflict("a personal Jump Group is deleted only with its user")
        count = await session.scalar(select(func.count()).select_from(JumpItem).where(JumpItem.group_id == group_id))
        if count:
            raise Conflict(f"Jump Group {group.name!r} still holds {count} Jump Items; move or delete them first")
        await session.execute(delete(JumpGroup).where(JumpGroup.id == group_id))
        add_audit(
            session,
            action="group.deleted",
            actor_user_id=principal.user_id,
            source_address=client_ip(request),
            detail={"group_id": group_id, "name": group.name},
        )
    return no_content()


async def _shared_group_and_user(
    session: AsyncSession, principal: Principal, request: web.Request
) -> tuple[JumpGroup, User]:
    group = await get_group(session, principal, path_int(request, "id"))
    if group.personal_owner_id is not None:
        raise Conflict("personal Jump Groups have no members; use a shared group")
    user_id = path_int(request, "user_id")
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return group, user


@endpoint(
    "PUT",
    "/jump-groups/{id}/members/{user_id}",
    access="admin",
    summary="Add a member to a shared group",
    tag="jump-groups",
    status=204,
)
async def add_member(request: web.Request) -> web.StreamResponse:
    """Make the user a member (idempotent)."""
    principal = principal_of(request)
    async with db_of(request).session() as session:
        group, user = await _shared_group_and_user(session, principal, request)
        if await session.get(JumpGroupMember, (group.id, user.id)) is None:
            session.add(JumpGroupMember(group_id=group.id, user_id=user.id))
            add_audit(
                session,
                action="group.member_added",
                actor_user_id=principal.user_id,
                source_address=client_ip(request),
                detail={"group_id": group.id, "user_id": user.id, "username": user.username},
            )
    return no_content()


@endpoint(
    "DELETE",
    "/jump-groups/{id}/members/{user_id}",
    access="admin",
    summary="Remove a member from a shared group",
    tag="jump-groups",
    status=204,
)
async def remove_member(request: web.Request) -> web.StreamResponse:
    """Remove the user from the group; 404 if they were not a member."""
    principal = principal_of(request)
    async with db_of(request).session() as session:
        group, user = await _shared_group_and_user(session, principal, request)
        result = await session.execute(
            delete(JumpGroupMember).where(JumpGroupMember.group_id == group.id, JumpGroupMember.user_id == user.id)
        )
        if getattr(result, "rowcount", 0) != 1:
            raise NotFound(f"user {user.username!r} is not a member of Jump Group {group.name!r}")
        add_audit(
            session,
            action="group.member_removed",
            actor_user_id=principal.user_id,
            source_address=client_ip(request),
            detail={"group_id": group.id, "user_id": user.id, "username": user.username},
        )
    return no_content()
