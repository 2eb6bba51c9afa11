"""RDP Jump Items: domain, security mode, console session, ignore an untrusted certificate

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Server defaults fill the existing rows (SQLite and PostgreSQL alike); every item so far is SSH, Telnet or VNC,
    # for which these columns mean nothing.
    with op.batch_alter_table("jump_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("domain", sa.String(length=128), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("rdp_security", sa.String(length=8), nullable=False, server_default="auto"))
        batch_op.add_column(sa.Column("console_session", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("ignore_certificate", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("jump_items", schema=None) as batch_op:
        batch_op.drop_column("ignore_certificate")
        batch_op.drop_column("console_session")
        batch_op.drop_column("rdp_security")
        batch_op.drop_column("domain")
