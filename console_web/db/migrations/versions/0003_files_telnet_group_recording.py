"""file-transfer permissions on users, Telnet prompt patterns on items, recording policy on groups

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("file_upload", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("file_download", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("file_roots", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("jump_groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recording", sa.String(length=16), nullable=False, server_default="per_item"))
    with op.batch_alter_table("jump_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("login_prompt", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("password_prompt", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("login_failure", sa.String(length=256), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jump_items", schema=None) as batch_op:
        batch_op.drop_column("login_failure")
        batch_op.drop_column("password_prompt")
        batch_op.drop_column("login_prompt")
    with op.batch_alter_table("jump_groups", schema=None) as batch_op:
        batch_op.drop_column("recording")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("file_roots")
        batch_op.drop_column("file_download")
        batch_op.drop_column("file_upload")
