"""Migration 0006 (Jumpoint clusters) on a database that already holds registered Jumpoints, and back, on SQLite
and on a real PostgreSQL server (``tests/fixtures/postgres.py``; skipped when PostgreSQL is not installed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, bindparam, inspect, select, text

from console_web.auth.tokens import JUMPOINT_TOKEN_PREFIX, mint
from console_web.db import cluster as cluster_db
from console_web.db import repo
from console_web.db.database import Database
from console_web.db.models import Jumpoint, JumpointMember
from console_web.db.types import UtcDateTime
from tests.fixtures.db_migrations import migrate_to

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

CLUSTER_TABLES = {"jumpoint_members", "jumpoint_host_keys"}
REGISTERED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_migration_0006_makes_each_registered_jumpoint_a_cluster_of_one_whose_token_keeps_working(
    empty_db: Database,
) -> None:
    db = empty_db
    registered = mint(JUMPOINT_TOKEN_PREFIX)
    async with db.engine.begin() as conn:
        await conn.run_sync(migrate_to, "0005")
        assert not CLUSTER_TABLES & await conn.run_sync(table_names)
        await conn.execute(
            text(
                "INSERT INTO jumpoints (id, name, comments, token_hash, hostname, registered_at, last_seen_at) VALUES "
                "(1, 'LAN-A', '', :token, 'jp-a.lan', :at, :at), (2, 'Not yet', '', NULL, '', NULL, NULL)"
            ).bindparams(bindparam("at", type_=UtcDateTime())),
            {"token": registered.digest, "at": REGISTERED_AT},
        )
    await db.migrate()

    assert await repo.authenticate_jumpoint(db, registered.text) == (1, "LAN-A")
    member = await cluster_db.authenticate_member(db, registered.text)
    assert member is not None
    assert (member.jumpoint_id, member.name, member.hostname, member.adopt_host_keys) == (1, "LAN-A", "jp-a.lan", True)
    [row] = await cluster_db.list_members(db, 1)
    assert (row.hostname, row.builtin, row.registered_at, row.last_seen_at) == (
        "jp-a.lan",
        False,
        REGISTERED_AT,
        REGISTERED_AT,
    )
    assert await cluster_db.list_members(db, 2) == []
    async with db.session() as session:
        assert (await session.scalars(select(Jumpoint.token_hash))).all() == [None, None]

    # A second member joins; going back keeps one token per Jumpoint: the oldest member's.
    async with db.session() as session:
        session.add(JumpointMember(jumpoint_id=1, token_hash=mint(JUMPOINT_TOKEN_PREFIX).digest, hostname="jp-b"))
    async with db.engine.begin() as conn:
        await conn.run_sync(migrate_to, "0005", down=True)
        assert not CLUSTER_TABLES & await conn.run_sync(table_names)
        rows = (await conn.execute(text("SELECT id, token_hash FROM jumpoints ORDER BY id"))).all()
        assert [tuple(r) for r in rows] == [(1, registered.digest), (2, None)]
    await db.migrate()
    assert await repo.authenticate_jumpoint(db, registered.text) == (1, "LAN-A")


async def test_after_migration_0006_the_builtin_jumpoint_takes_over_its_migrated_member(empty_db: Database) -> None:
    db = empty_db
    async with db.engine.begin() as conn:
        await conn.run_sync(migrate_to, "0005")
        await conn.execute(
            text(
                "INSERT INTO jumpoints (id, name, comments, token_hash, hostname, registered_at) VALUES "
                "(1, 'Built-in', 'runs inside the console process', :token, 'console', :at)"
            ).bindparams(bindparam("at", type_=UtcDateTime())),
            {"token": mint(JUMPOINT_TOKEN_PREFIX).digest, "at": REGISTERED_AT},
        )
    await db.migrate()
    jumpoint_id, token = await repo.ensure_builtin_jumpoint(db, "Built-in")
    [member] = await cluster_db.list_members(db, jumpoint_id)
    assert member.builtin and member.hostname == "console"
    auth = await cluster_db.authenticate_member(db, token)
    assert auth is not None and auth.member_id == member.id and auth.adopt_host_keys
