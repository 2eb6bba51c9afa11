"""Console nodes: the key that signs every message nodes of a cluster exchange through Redis

One row, made by the first node that starts; every node reads it from the shared database, so whoever can reach
Redis but not the database cannot speak for a node (for instance claim to be an administrator in a live session).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 03:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``console_node_keys``."""
    op.create_table(
        "console_node_keys",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("key_hex", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_console_node_keys")),
    )


def downgrade() -> None:
    """Drop ``console_node_keys``."""
    op.drop_table("console_node_keys")
