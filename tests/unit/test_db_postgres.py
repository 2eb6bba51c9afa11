"""PostgreSQL as the console's database, on a real server (``tests/fixtures/postgres.py``), whichever database the
other tests use: the migrations up from empty to head and back down, the schema against the models, the
configuration (the password from a file or the environment), the errors an operator sees at start, the pool, and
the ``openjump`` commands."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.engine import make_url

from console_web.cli import main
from console_web.config import ConsoleConfig, load_console_config
from console_web.db import repo
from console_web.db.database import Database, alembic_config
from console_web.db.models import Base, JumpItem
from jumpoint.core.errors import ConfigError
from tests.fixtures.db_migrations import migrate_to
from tests.fixtures.postgres import PgDatabase, PostgresServer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MakeDatabase = Callable[..., PgDatabase]
TABLES = {t.name for t in Base.metadata.sorted_tables}
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def schema_differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def write_config(tmp_path: Path, url: str, *extra: str) -> Path:
    path = tmp_path / "console.yaml"
    path.write_text("\n".join([f"state_dir: {tmp_path / 'state'}", "database:", f"  url: {url}", *extra, ""]))
    return path


# --- migrations ------------------------------------------------------------------------------------------------
async def test_migrations_upgrade_an_empty_database_to_head_and_back_down_to_base(
    postgres_database: MakeDatabase,
) -> None:
    db = await Database.open(postgres_database().url)
    try:
        async with db.engine.begin() as conn:
            assert await conn.run_sync(table_names) == set()
        assert await db.current_revision() is None
        await db.migrate()
        assert await db.current_revision() == HEAD
        async with db.engine.begin() as conn:
            assert await conn.run_sync(table_names) == TABLES | {"alembic_version"}
            # The migrations make exactly the tables, columns, types, indexes and keys the models describe.
            assert await conn.run_sync(schema_differences) == []
        async with db.engine.begin() as conn:
            await conn.run_sync(migrate_to, "base", down=True)
            assert await conn.run_sync(table_names) == {"alembic_version"}
        assert await db.current_revision() is None
        await db.migrate()
        await db.migrate()  # at head already: nothing to do
        assert await db.current_revision() == HEAD
    finally:
        await db.close()


async def test_each_migration_goes_down_and_up_again_one_step_at_a_time(postgres_database: MakeDatabase) -> None:
    db = await Database.open(postgres_database().url)
    revisions = [r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()]
    try:
        await db.migrate()
        async with db.engine.begin() as conn:
            for below in [*revisions[1:], "base"]:
                await conn.run_sync(migrate_to, below, down=True)
            for revision in reversed(revisions):
                await conn.run_sync(migrate_to, revision)
            assert await conn.run_sync(schema_differences) == []
    finally:
        await db.close()


async def test_migrations_0004_and_0005_fill_existing_rows_on_postgresql(postgres_database: MakeDatabase) -> None:
    db = await Database.open(postgres_database().url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(migrate_to, "0003")
            await conn.execute(
                text(
                    "INSERT INTO users (username, display_name, password_hash, is_admin, disabled, created_at) VALUES "
                    "('root', 'Root', 'x', true, false, now()), ('rep', 'Rep', 'x', false, false, now())"
                )
            )
            await conn.execute(text("INSERT INTO jumpoints (name, comments, hostname) VALUES ('LAN', '', '')"))
            await conn.execute(text("INSERT INTO jump_groups (name, created_at) VALUES ('Linux', now())"))
            for name, creator in (("by-admin", "root"), ("by-rep", "rep")):
                await conn.execute(
                    text(
                        "INSERT INTO jump_items (group_id, name, jumpoint_id, hostname, protocol, port, username, "
                        "terminal_type, keepalive_seconds, tag, comments, created_by, created_at, updated_at) "
                        "SELECT 1, :name, 1, 'web.lan', 'ssh', 22, 'root', 'xterm', 0, '', '', users.id, now(), now() "
                        "FROM users WHERE username = :creator"
                    ),
                    {"name": name, "creator": creator},
                )
        await db.migrate()
        async with db.session() as session:
            items = {i.name: i for i in await session.scalars(select(JumpItem))}
            # The sequences went on from the rows inserted by hand: new rows get new ids.
            later = await repo.create_user_in(session, "later", "x")
        assert items["by-admin"].target_by_admin is True
        assert items["by-rep"].target_by_admin is False
        assert (items["by-rep"].credential_scopes, items["by-rep"].quality, items["by-rep"].rdp_security) == (
            [],
            "full_color",
            "auto",
        )
        assert later.id == 3
    finally:
        await db.close()


async def test_console_nodes_starting_together_migrate_one_after_the_other(postgres_database: MakeDatabase) -> None:
    url = postgres_database().url
    nodes = [await Database.open(url) for _ in range(3)]
    try:
        await asyncio.gather(*(node.migrate() for node in nodes))
        assert {await node.current_revision() for node in nodes} == {HEAD}
    finally:
        for node in nodes:
            await node.close()


# --- configuration ----------------------------------------------------------------------------------------------
def test_the_password_comes_from_a_file_or_the_environment_not_the_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "db.password"
    secret.write_text("p@ss word:/1\n")
    url = "postgresql+asyncpg://openjump@db.example.net:5432/openjump"
    config = load_console_config(write_config(tmp_path, url, f"  password: {{file: {secret}}}"))
    resolved = make_url(config.database_url)
    assert (resolved.username, resolved.password, resolved.host, resolved.database) == (
        "openjump",
        "p@ss word:/1",
        "db.example.net",
        "openjump",
    )
    monkeypatch.setenv("OJ_TEST_DB_PASSWORD", "from-env")
    config = load_console_config(write_config(tmp_path, url, "  password: {env: OJ_TEST_DB_PASSWORD}"))
    assert make_url(config.database_url).password == "from-env"
    monkeypatch.delenv("OJ_TEST_DB_PASSWORD")
    with pytest.raises(ConfigError, match="OJ_TEST_DB_PASSWORD is not set"):
        _ = config.database_url


def test_a_password_given_twice_or_without_a_server_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "db.password"
    secret.write_text("pw\n")
    password = f"  password: {{file: {secret}}}"
    twice = load_console_config(write_config(tmp_path, "postgresql+asyncpg://u:inline@db/oj", password))
    with pytest.raises(ConfigError, match="given twice"):
        _ = twice.database_url
    sqlite = load_console_config(write_config(tmp_path, "sqlite+aiosqlite:///x.db", password))
    with pytest.raises(ConfigError, match="SQLite, which takes no password"):
        _ = sqlite.database_url
    no_url = ConsoleConfig.model_validate({"database": {"password": {"file": str(secret)}}})
    with pytest.raises(ConfigError, match=r"database\.url is not"):
        _ = no_url.database_url


def test_pool_settings_are_validated(tmp_path: Path) -> None:
    path = write_config(tmp_path, "postgresql+asyncpg://u@db/oj", "  pool_size: 0")
    with pytest.raises(ConfigError, match="pool_size"):
        load_console_config(path)


async def test_the_pool_follows_the_settings_and_plain_postgresql_urls_mean_asyncpg(
    postgres_server: PostgresServer, postgres_database: MakeDatabase
) -> None:
    target = postgres_database()
    settings = ConsoleConfig.model_validate({"database": {"pool_size": 3, "max_overflow": 2}}).database
    db = await Database.open(target.url.replace("postgresql+asyncpg://", "postgresql://"), settings)
    try:
        assert db.dialect == "postgresql"
        assert db.engine.url.drivername == "postgresql+asyncpg"
        assert db.engine.pool.size() == 3  # type: ignore[attr-defined]
        async with db.engine.connect() as conn:
            name = await conn.scalar(text("SELECT current_setting('application_name')"))
        assert name == "openjump-console"
    finally:
        await db.close()


# --- errors at start ------------------------------------------------------------------------------------------
async def test_a_wrong_password_says_so(postgres_database: MakeDatabase) -> None:
    target = postgres_database()
    with pytest.raises(ConfigError, match=r"refused the password of user 'openjump'.*database.password") as caught:
        await Database.open(target.url_without_password.replace("openjump@", "openjump:wrong@"))
    assert "wrong" not in str(caught.value)


async def test_a_role_that_may_not_log_in_is_told_apart(postgres_server: PostgresServer) -> None:
    postgres_server.admin("CREATE ROLE oj_nologin NOLOGIN PASSWORD 'nologin-pw'")
    url = f"postgresql+asyncpg://oj_nologin:nologin-pw@{postgres_server.host}:{postgres_server.port}/postgres"
    try:
        with pytest.raises(ConfigError, match=r"refused user 'oj_nologin': .*not permitted to log in.*pg_hba\.conf"):
            await Database.open(url)
    finally:
        postgres_server.admin("DROP ROLE oj_nologin")


async def test_a_missing_database_says_how_to_create_it(postgres_server: PostgresServer) -> None:
    url = postgres_server.database("no_such_db").url
    with pytest.raises(ConfigError, match=r"the database 'no_such_db' does not exist .*CREATE DATABASE no_such_db"):
        await Database.open(url)


async def test_an_unreachable_server_names_the_address(postgres_server: PostgresServer) -> None:
    from tests.fixtures.servers import free_port

    port = free_port()
    url = postgres_server.database("openjump").url.replace(f":{postgres_server.port}/", f":{port}/")
    refused = rf"cannot connect to the database at 127\.0\.0\.1:{port}/openjump: connection refused"
    with pytest.raises(ConfigError, match=refused):
        await Database.open(url)
    with pytest.raises(ConfigError, match=r"cannot find the database host 'db\.invalid'"):
        await Database.open("postgresql+asyncpg://openjump:pw@db.invalid:5432/openjump")


async def test_a_database_not_in_utf8_is_refused(postgres_server: PostgresServer) -> None:
    postgres_server.admin(
        "CREATE DATABASE oj_latin OWNER openjump ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
    )
    try:
        with pytest.raises(ConfigError, match=r"uses the encoding SQL_ASCII; OpenJump needs UTF8"):
            await Database.open(postgres_server.database("oj_latin").url)
    finally:
        postgres_server.drop_database("oj_latin")


async def test_a_user_who_may_not_create_tables_is_told_to_own_the_database(postgres_server: PostgresServer) -> None:
    postgres_server.admin("CREATE DATABASE oj_not_owned TEMPLATE template0")  # owned by the superuser
    try:
        db = await Database.open(postgres_server.database("oj_not_owned").url)
        try:
            with pytest.raises(ConfigError, match=r"may not change the schema .*ALTER DATABASE oj_not_owned OWNER TO"):
                await db.migrate()
        finally:
            await db.close()
    finally:
        postgres_server.drop_database("oj_not_owned")


# --- the openjump commands --------------------------------------------------------------------------------------
def test_openjump_migrate_and_create_user_on_postgresql(
    postgres_server: PostgresServer,
    postgres_database: MakeDatabase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = postgres_database()
    secret = tmp_path / "db.password"
    secret.write_text(postgres_server.app_password + "\n")
    config = write_config(tmp_path, target.url_without_password, f"  password: {{file: {secret}}}", "  pool_size: 2")
    assert main(["migrate", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"migrated the database from revision (empty) to {HEAD}" in out
    assert postgres_server.app_password not in out
    assert main(["migrate", "--config", str(config)]) == 0
    assert f"up to date (revision {HEAD})" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("a-good-password\n"))
    assert main(["create-user", "--config", str(config), "--username", "ops", "--admin", "--password-stdin"]) == 0
    assert "created user ops (id 1, administrator)" in capsys.readouterr().out

    secret.write_text("not-the-password\n")
    assert main(["migrate", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: PostgreSQL at 127.0.0.1:") and "refused the password of user 'openjump'" in err
