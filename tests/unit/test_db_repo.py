"""The storage layer: migrations, SQLite settings and the repository functions the hub calls."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from console_web.db import repo
from console_web.db.database import Database
from console_web.db.models import AuditEvent, JumpGroup, SessionRecord, User
from jumpoint.core.errors import BadRequest, Conflict

TABLES = {
    "users",
    "web_sessions",
    "api_tokens",
    "jump_groups",
    "jump_group_members",
    "jumpoints",
    "jumpoint_registration_keys",
    "jump_items",
    "sessions",
    "audit_events",
}


async def test_migrations_create_every_table_and_can_run_twice(db: Database) -> None:
    await db.migrate()
    async with db.engine.connect() as conn:
        names = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    assert names >= TABLES | {"alembic_version"}


async def test_sqlite_uses_wal_and_enforces_foreign_keys(db: Database) -> None:
    async with db.session() as session:
        assert (await session.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1


async def test_creating_a_user_creates_their_personal_jump_group(db: Database) -> None:
    user_id = await repo.create_user(db, "carol", "carol-password", display_name="Carol C")
    assert await repo.count_users(db) == 1
    async with db.session() as session:
        user = await session.get(User, user_id)
        group = await session.scalar(select(JumpGroup).where(JumpGroup.personal_owner_id == user_id))
    assert user is not None and user.display_name == "Carol C"
    assert user.password_hash.startswith("$argon2id$")
    assert group is not None and group.name == "Personal: carol"


async def test_duplicate_and_invalid_usernames_are_refused(db: Database) -> None:
    await repo.create_user(db, "carol", "carol-password")
    with pytest.raises(Conflict, match="already exists"):
        await repo.create_user(db, "carol", "other-password")
    with pytest.raises(BadRequest, match="username 'Carol!' is not valid"):
        await repo.create_user(db, "Carol!", "carol-password")
    with pytest.raises(BadRequest, match="password must be 8"):
        await repo.create_user(db, "dave", "short")


async def test_builtin_jumpoint_gets_a_fresh_token_each_start(db: Database) -> None:
    first_id, first = await repo.ensure_builtin_jumpoint(db, "Built-in")
    second_id, second = await repo.ensure_builtin_jumpoint(db, "Built-in")
    assert first_id == second_id
    assert first.startswith("ojj_") and first != second
    assert await repo.authenticate_jumpoint(db, first) is None
    assert await repo.authenticate_jumpoint(db, second) == (first_id, "Built-in")
    assert await repo.authenticate_jumpoint(db, "ojj_wrong") is None
    await repo.mark_jumpoint_seen(db, first_id, "console-host")


async def test_session_history_is_recorded_and_ended_once(db: Database) -> None:
    await repo.create_session_record(
        db,
        session_id="abc",
        item_id=None,
        item_name="web",
        user_id=1,
        jumpoint_id=1,
        protocol="ssh",
        target="ssh://root@web:22",
    )
    await repo.end_session_record(db, "abc", reason="closed by the target", error_code=None)
    await repo.end_session_record(db, "abc", reason="later", error_code="internal")
    await repo.audit(db, action="jump.started", actor_user_id=1, session_id="abc", detail={"item": "web"})
    async with db.session() as session:
        record = await session.get(SessionRecord, "abc")
        event = await session.scalar(select(AuditEvent))
    assert record is not None and record.ended_at is not None
    assert (record.end_reason, record.error_code) == ("closed by the target", None)
    assert record.started_at.tzinfo is not None
    assert event is not None and event.detail == {"item": "web"} and event.session_id == "abc"


async def test_database_directory_is_created(tmp_path: Path) -> None:
    database = await Database.open(f"sqlite+aiosqlite:///{tmp_path / 'deep' / 'dir' / 'c.db'}")
    await database.migrate()
    await database.close()
    assert (tmp_path / "deep" / "dir" / "c.db").exists()
