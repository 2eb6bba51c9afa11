"""Shared Jump Groups have unique names: a partial unique index on jump_groups.name where personal_owner_id IS NULL

Creating a shared group checked the name first, but two requests at the same moment could both pass, and a rename
was not checked at all. Shared groups that already share a name are renamed first, all but the oldest: "Ops" becomes
"Ops (2)" (the first free number), each rename audited as group.updated. Personal groups' names may still repeat.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME_MAX = 128
SHARED = "personal_owner_id IS NULL"

_groups = sa.table(
    "jump_groups",
    sa.column("id", sa.Integer()),
    sa.column("name", sa.String(length=NAME_MAX)),
    sa.column("personal_owner_id", sa.Integer()),
)
_audit = sa.table(
    "audit_events",
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("action", sa.String(length=64)),
    sa.column("detail", sa.JSON()),
)


def _free_name(name: str, taken: set[str]) -> str:
    """``name (n)`` with the smallest n >= 2 no shared group has, cut to fit NAME_MAX characters."""
    number = 2
    while True:
        suffix = f" ({number})"
        candidate = name[: NAME_MAX - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        number += 1


def _rename_duplicates() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_groups.c.id, _groups.c.name).where(_groups.c.personal_owner_id.is_(None)).order_by(_groups.c.id)
    ).all()
    taken = {name for _, name in rows}
    seen: set[str] = set()
    for group_id, name in rows:
        if name not in seen:
            seen.add(name)
            continue
        new = _free_name(name, taken)
        taken.add(new)
        connection.execute(_groups.update().where(_groups.c.id == group_id).values(name=new))
        connection.execute(
            _audit.insert().values(
                at=datetime.now(UTC),
                action="group.updated",
                detail={
                    "group_id": group_id,
                    "name": new,
                    "changed": {"name": new},
                    "reason": "migration 0008: another shared Jump Group had the same name",
                },
            )
        )


def upgrade() -> None:
    """Rename shared groups whose name an older shared group has, then add the unique index."""
    _rename_duplicates()
    op.create_index(
        "uq_jump_groups_shared_name",
        "jump_groups",
        ["name"],
        unique=True,
        sqlite_where=sa.text(SHARED),
        postgresql_where=sa.text(SHARED),
    )


def downgrade() -> None:
    """Drop the index (the renamed groups keep their new names)."""
    op.drop_index("uq_jump_groups_shared_name", table_name="jump_groups")
