"""Who can see which Jump Groups and Items.

A user sees their personal group and the shared groups they are a member of; admins also see every shared
group, but never other people's personal groups. Anything not visible is reported as not existing (404).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from console_web.auth.principal import Principal
from console_web.db.models import JumpGroup, JumpGroupMember, JumpItem
from jumpoint.core.errors import NotFound


def visible_groups(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause on ``JumpGroup`` selecting the groups ``principal`` can use."""
    member_of = select(JumpGroupMember.group_id).where(JumpGroupMember.user_id == principal.user_id)
    admin_shared = JumpGroup.personal_owner_id.is_(None) if principal.is_admin else false()
    return or_(JumpGroup.personal_owner_id == principal.user_id, JumpGroup.id.in_(member_of), admin_shared)


async def get_group(session: AsyncSession, principal: Principal, group_id: int) -> JumpGroup:
    """The visible group ``group_id``; NotFound otherwise."""
    group = await session.scalar(select(JumpGroup).where(and_(JumpGroup.id == group_id, visible_groups(principal))))
    if group is None:
        raise NotFound(f"Jump Group {group_id} does not exist")
    return group


async def personal_group(session: AsyncSession, principal: Principal) -> JumpGroup:
    """The caller's personal group."""
    group = await session.scalar(select(JumpGroup).where(JumpGroup.personal_owner_id == principal.user_id))
    if group is None:
        raise NotFound("you have no personal Jump Group")
    return group


async def get_item(session: AsyncSession, principal: Principal, item_id: int) -> JumpItem:
    """The visible Jump Item ``item_id``; NotFound otherwise (same message whether hidden or missing)."""
    item = await session.scalar(
        select(JumpItem)
        .join(JumpGroup, JumpGroup.id == JumpItem.group_id)
        .where(and_(JumpItem.id == item_id, visible_groups(principal)))
    )
    if item is None:
        raise NotFound(f"Jump Item {item_id} does not exist")
    return item
