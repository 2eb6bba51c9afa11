"""Jumpoint clusters: members with their own tokens, and the host keys the console holds for each Jumpoint

Each registered Jumpoint becomes a Jumpoint with one member that keeps its token (its host's cached host keys
become the cluster's the next time it connects: ``adopt_host_keys``); ``jumpoints.token_hash`` is emptied and no
longer used (SQLite cannot drop a unique column of a table other tables refer to inside this transaction).
Going back keeps one member per Jumpoint (the built-in one, else the oldest): the others must register again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_jumpoints = sa.table(
    "jumpoints",
    sa.column("id", sa.Integer()),
    sa.column("token_hash", sa.String(length=64)),
    sa.column("hostname", sa.String(length=253)),
    sa.column("registered_at", sa.DateTime(timezone=True)),
    sa.column("last_seen_at", sa.DateTime(timezone=True)),
)
_members = sa.table(
    "jumpoint_members",
    sa.column("id", sa.Integer()),
    sa.column("jumpoint_id", sa.Integer()),
    sa.column("token_hash", sa.String(length=64)),
    sa.column("hostname", sa.String(length=253)),
    sa.column("builtin", sa.Boolean()),
    sa.column("adopt_host_keys", sa.Boolean()),
    sa.column("registered_at", sa.DateTime(timezone=True)),
    sa.column("last_seen_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "jumpoint_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("jumpoint_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("hostname", sa.String(length=253), nullable=False),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("adopt_host_keys", sa.Boolean(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["jumpoint_id"],
            ["jumpoints.id"],
            name=op.f("fk_jumpoint_members_jumpoint_id_jumpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jumpoint_members")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_jumpoint_members_token_hash")),
    )
    with op.batch_alter_table("jumpoint_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jumpoint_members_jumpoint_id"), ["jumpoint_id"], unique=False)

    op.create_table(
        "jumpoint_host_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("jumpoint_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("algorithm", sa.String(length=64), nullable=False),
        sa.Column("key_blob", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.String(length=253), nullable=False),
        sa.ForeignKeyConstraint(
            ["jumpoint_id"],
            ["jumpoints.id"],
            name=op.f("fk_jumpoint_host_keys_jumpoint_id_jumpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jumpoint_host_keys")),
        sa.UniqueConstraint(
            "jumpoint_id", "host", "port", "fingerprint", name=op.f("uq_jumpoint_host_keys_jumpoint_id")
        ),
    )

    # Every registered Jumpoint becomes a cluster of one: its host is the member, and its token keeps working.
    op.execute(
        _members.insert().from_select(
            ["jumpoint_id", "token_hash", "hostname", "builtin", "adopt_host_keys", "registered_at", "last_seen_at"],
            sa.select(
                _jumpoints.c.id,
                _jumpoints.c.token_hash,
                _jumpoints.c.hostname,
                sa.false(),
                sa.true(),
                sa.func.coalesce(_jumpoints.c.registered_at, sa.func.now()),
                _jumpoints.c.last_seen_at,
            ).where(_jumpoints.c.token_hash.is_not(None)),
        )
    )
    op.execute(_jumpoints.update().values(token_hash=None))


def downgrade() -> None:
    # One token per Jumpoint again: the built-in member's, else the oldest member's.
    first_member = (
        sa.select(_members.c.token_hash)
        .where(_members.c.jumpoint_id == _jumpoints.c.id)
        .order_by(_members.c.builtin.desc(), _members.c.id)
        .limit(1)
        .scalar_subquery()
    )
    op.execute(_jumpoints.update().values(token_hash=first_member))
    op.drop_table("jumpoint_host_keys")
    with op.batch_alter_table("jumpoint_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jumpoint_members_jumpoint_id"))
    op.drop_table("jumpoint_members")
