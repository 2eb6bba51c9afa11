"""credential scopes on Jump Items and Groups, whether an administrator set the item's target, desktop quality

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 20:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jump_groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credential_scopes", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("jump_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credential_scopes", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("target_by_admin", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("quality", sa.String(length=16), nullable=False, server_default="full_color"))
        batch_op.alter_column("credential_ref", type_=sa.String(length=512), existing_nullable=True)
    # Items an administrator created keep injecting their credential; a rep's item must be approved first.
    op.execute(
        "UPDATE jump_items SET target_by_admin = "
        "(SELECT users.is_admin FROM users WHERE users.id = jump_items.created_by) "
        "WHERE created_by IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("jump_items", schema=None) as batch_op:
        batch_op.alter_column("credential_ref", type_=sa.String(length=256), existing_nullable=True)
        batch_op.drop_column("quality")
        batch_op.drop_column("target_by_admin")
        batch_op.drop_column("credential_scopes")
    with op.batch_alter_table("jump_groups", schema=None) as batch_op:
        batch_op.drop_column("credential_scopes")
