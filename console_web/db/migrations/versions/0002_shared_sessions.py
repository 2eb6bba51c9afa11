"""shared sessions: session policy and recording flags on items, participants, timeline, audit source address

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jump_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_policy", sa.String(length=16), nullable=False, server_default="join_existing")
        )
        batch_op.add_column(sa.Column("record_session", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("record_input", sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recorded", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("recording_deleted_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_address", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_audit_events_session_id"), ["session_id"], unique=False)

    op.create_table(
        "session_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("participant_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("display_name", sa.String(length=128), nullable=False),
        sa.Column("external", sa.Boolean(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("left_reason", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_participants")),
    )
    with op.batch_alter_table("session_participants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_participants_session_id"), ["session_id"], unique=False)

    op.create_table(
        "session_timeline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("author_user_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_timeline")),
    )
    with op.batch_alter_table("session_timeline", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_timeline_session_id"), ["session_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("session_timeline", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_timeline_session_id"))
    op.drop_table("session_timeline")
    with op.batch_alter_table("session_participants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_participants_session_id"))
    op.drop_table("session_participants")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_session_id"))
        batch_op.drop_column("source_address")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("recording_deleted_at")
        batch_op.drop_column("recorded")
    with op.batch_alter_table("jump_items", schema=None) as batch_op:
        batch_op.drop_column("record_input")
        batch_op.drop_column("record_session")
        batch_op.drop_column("session_policy")
