"""Migration 0008 (shared Jump Group names are unique) on a database that already holds shared groups of one name,
and back, on SQLite and on a real PostgreSQL server (``tests/fixtures/postgres.py``; skipped when PostgreSQL is not
installed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import IntegrityError

from console_web.db.database import Database
from console_web.db.models import AuditEvent, JumpGroup
from console_web.db.types import UtcDateTime
from tests.fixtures.db_migrations import migrate_to

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CREATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LONG = "L" * 128


async def _groups(db: Database) -> list[tuple[int, str, int | None]]:
    async with db.session() as session:
        rows = await session.execute(
            select(JumpGroup.id, JumpGroup.name, JumpGroup.personal_owner_id).order_by(JumpGroup.id)
        )
        return [(r[0], r[1], r[2]) for r in rows]


async def test_migration_0008_renames_all_but_the_oldest_shared_group_of_a_name_and_then_refuses_another(
    empty_db: Database,
) -> None:
    db = empty_db
    async with db.engine.begin() as conn:
        await conn.run_sync(migrate_to, "0007")
        await conn.execute(
            text(
                "INSERT INTO users (id, username, display_name, password_hash, is_admin, disabled, file_upload, "
                "file_download, file_roots, created_at) VALUES (1, 'alice', 'Alice', 'x', false, false, true, true, "
                "'[]', :at)"
            ).bindparams(bindparam("at", type_=UtcDateTime())),
            {"at": CREATED},
        )
        for group_id, name, owner in [
            (1, "Ops", None),
            (2, "Ops", 1),  # a personal group: its name may repeat a shared one's
            (3, "Ops", None),
            (4, "Ops (2)", None),  # the first free number is taken: the next duplicate becomes "Ops (3)"
            (5, "Ops", None),
            (6, LONG, None),
            (7, LONG, None),
            (8, "Dev", None),
        ]:
            await conn.execute(
                text(
                    "INSERT INTO jump_groups (id, name, personal_owner_id, recording, credential_scopes, created_at) "
                    "VALUES (:id, :name, :owner, 'per_item', '[]', :at)"
                ).bindparams(bindparam("at", type_=UtcDateTime())),
                {"id": group_id, "name": name, "owner": owner, "at": CREATED},
            )
    await db.migrate()

    assert await _groups(db) == [
        (1, "Ops", None),
        (2, "Ops", 1),
        (3, "Ops (3)", None),
        (4, "Ops (2)", None),
        (5, "Ops (4)", None),
        (6, LONG, None),
        (7, "L" * 124 + " (2)", None),
        (8, "Dev", None),
    ]
    async with db.session() as session:
        events = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "group.updated"))).all()
    assert sorted((e.detail["group_id"], e.detail["name"]) for e in events) == [
        (3, "Ops (3)"),
        (5, "Ops (4)"),
        (7, "L" * 124 + " (2)"),
    ]
    assert all(e.detail["reason"].startswith("migration 0008") and e.at.tzinfo is not None for e in events)

    with pytest.raises(IntegrityError, match=r"uq_jump_groups_shared_name|jump_groups\.name"):
        async with db.session() as session:
            session.add(JumpGroup(id=99, name="Dev", personal_owner_id=None, created_at=CREATED))

    # Going back drops the index only: two shared groups of one name are possible again, and the names stay.
    async with db.engine.begin() as conn:
        await conn.run_sync(migrate_to, "0007", down=True)
    async with db.session() as session:
        session.add(JumpGroup(id=99, name="Dev", personal_owner_id=None, created_at=CREATED))
    assert [name for _, name, _ in await _groups(db)].count("Dev") == 2
