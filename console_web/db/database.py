"""The database handle: an async SQLAlchemy engine, its sessions and programmatic Alembic migrations.

SQLite (aiosqlite) is the default; PostgreSQL (asyncpg) is the server database. Opening a PostgreSQL database
connects once at once, so that an unreachable server, a refused password or a missing database stops the console
at start with a message an operator can act on, instead of failing the first request.
"""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from console_web.config import DatabaseSettings
from console_web.db.types import SQLITE_LOWER, python_lower
from jumpoint.core.errors import ConfigError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
APPLICATION_NAME = "openjump-console"
# pg_advisory_xact_lock key held while migrating, so that console nodes starting together migrate one at a time.
MIGRATION_LOCK_KEY = 0x6F6A_6D69_6772  # "ojmigr"
DEFAULT_DRIVERS = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Each new SQLite connection: foreign keys, WAL, a busy timeout, and ``oj_lower`` (``types.text_lower``)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
    finally:
        cursor.close()
    dbapi_connection.create_function(SQLITE_LOWER, 1, python_lower, deterministic=True)


NUL = "\x00"
NUL_REPLACEMENT = "\ufffd"


def _scrub(value: Any) -> Any:
    """``value`` with NUL characters replaced (PostgreSQL text cannot hold them; SQLite's could)."""
    if isinstance(value, str) and NUL in value:
        return value.replace(NUL, NUL_REPLACEMENT)
    if isinstance(value, tuple | list) and any(isinstance(v, str) and NUL in v for v in value):
        return type(value)(_scrub(v) for v in value)
    return value


def _scrub_parameters(
    _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool
) -> tuple[str, Any]:
    """``before_cursor_execute`` hook: replace NUL in every text parameter by U+FFFD, on every database alike.

    PostgreSQL refuses a NUL in text ("invalid byte sequence"), so a name or a search typed with one failed there
    with an internal error; now it is stored, or searched for, as the replacement character on both databases.
    """
    if isinstance(parameters, dict):
        if any(isinstance(v, str) and NUL in v for v in parameters.values()):
            parameters = {k: _scrub(v) for k, v in parameters.items()}
    elif executemany and isinstance(parameters, list):
        parameters = [
            {k: _scrub(v) for k, v in row.items()} if isinstance(row, dict) else _scrub(row) for row in parameters
        ]
    else:
        parameters = _scrub(parameters)
    return statement, parameters


def alembic_config() -> Config:
    """An Alembic configuration pointing at the migrations shipped inside the package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def parse_url(url: str | URL) -> URL:
    """``url`` as an SQLAlchemy URL; ``postgresql://`` (no driver) means asyncpg. ConfigError if it is not a URL."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"database.url is not a valid SQLAlchemy URL: {exc}") from None
    if parsed.drivername in DEFAULT_DRIVERS:
        parsed = parsed.set(drivername=DEFAULT_DRIVERS[parsed.drivername])
    return parsed


def _where(url: URL) -> str:
    """Where a server database is, for messages: ``host:port/database`` (no user or password)."""
    host = url.host or "the local socket"
    port = f":{url.port}" if url.port else ""
    return f"{host}{port}/{url.database or ''}"


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error (asyncpg's, through SQLAlchemy's wrapper), if it has one."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        for name in ("sqlstate", "pgcode"):
            code = getattr(seen, name, None)
            if isinstance(code, str):
                return code
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


def is_unique_violation(exc: BaseException) -> bool:
    """Whether a database error is a unique constraint (or unique index) refusing a second equal value: SQLSTATE 23505
    on PostgreSQL, "UNIQUE constraint failed" on SQLite."""
    if _sqlstate(exc) == "23505":
        return True
    orig = getattr(exc, "orig", None) or exc
    return str(orig).startswith("UNIQUE constraint failed")


def _server_message(exc: BaseException) -> str:
    """The server's own text of a database error, without SQLAlchemy's decorations."""
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def connect_problem(exc: BaseException, url: URL, settings: DatabaseSettings) -> str:
    """What went wrong opening a connection to ``url``, said so that an operator can fix it."""
    where = _where(url)
    user = url.username or "(the default user)"
    database = url.database or "(the default database)"
    code = _sqlstate(exc)
    if code == "28P01":
        return (
            f"PostgreSQL at {where} refused the password of user {user!r} (or there is no such user): check "
            "database.password against the role's password (ALTER ROLE ... PASSWORD) and that the role exists"
        )
    if code in ("28000", "28P00"):
        return (
            f"PostgreSQL at {where} refused user {user!r}: {_server_message(exc)}. Check that the role exists "
            "and may log in, and that pg_hba.conf has a line for this host, user and database"
        )
    if code == "3D000":
        return (
            f"the database {database!r} does not exist on the PostgreSQL server at {where}: create it, e.g. "
            f"CREATE DATABASE {database} OWNER {url.username or 'openjump'} ENCODING 'UTF8' TEMPLATE template0 "
            "(docs/operations.md, PostgreSQL)"
        )
    if code == "42501":
        return f"user {user!r} may not connect to the database {database!r} at {where}: {_server_message(exc)}"
    if code == "57P03":
        return f"the PostgreSQL server at {where} is starting up or shutting down; start the console again shortly"
    if code == "53300":
        return (
            f"the PostgreSQL server at {where} has no free connection ({_server_message(exc)}): raise its "
            "max_connections or lower database.pool_size and database.max_overflow"
        )
    if isinstance(exc, socket.gaierror):
        return f"cannot find the database host {url.host!r} (database.url): {exc.strerror or exc}"
    if isinstance(exc, TimeoutError):
        return (
            f"no answer from the database at {where} within {settings.connect_timeout_seconds} s "
            "(database.connect_timeout_seconds): is the address right, and does a firewall let the console through?"
        )
    if isinstance(exc, ConnectionRefusedError):
        return (
            f"cannot connect to the database at {where}: connection refused. Is PostgreSQL running and listening "
            "on that address and port (listen_addresses and port in postgresql.conf)?"
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS to the database at {where} failed: {exc}"
    if isinstance(exc, OSError):
        return f"cannot connect to the database at {where}: {exc.strerror or exc}"
    return f"cannot use the database at {where}: {_server_message(exc)}"


def _engine_options(url: URL, settings: DatabaseSettings) -> dict[str, Any]:
    """``create_async_engine`` options: pool sizes and timeouts for a server database, none for SQLite."""
    if url.get_backend_name() == "sqlite":
        return {}
    options: dict[str, Any] = {
        "pool_pre_ping": True,
        "pool_size": settings.pool_size,
        "max_overflow": settings.max_overflow,
        "pool_timeout": settings.pool_timeout_seconds,
        "pool_recycle": settings.pool_recycle_seconds or -1,
    }
    if url.get_driver_name() == "asyncpg":
        options["connect_args"] = {
            "timeout": settings.connect_timeout_seconds,
            "server_settings": {"application_name": APPLICATION_NAME},
        }
    return options


class Database:
    """An open database. ``open`` connects; ``migrate`` upgrades the schema to head; ``close`` disposes."""

    def __init__(self, engine: AsyncEngine, settings: DatabaseSettings | None = None) -> None:
        self.engine = engine
        self.settings = settings or DatabaseSettings()
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql`` (the SQLAlchemy dialect's name)."""
        return self.engine.dialect.name

    @classmethod
    async def open(cls, url: str | URL, settings: DatabaseSettings | None = None) -> Database:
        """Create the engine for ``url`` (SQLite: WAL and foreign keys; a server: a pool sized by ``settings``).

        A server database is connected to at once and checked (UTF-8); ConfigError says what to fix when the URL
        is bad, the driver is missing, or the server cannot be used.
        """
        settings = settings or DatabaseSettings()
        parsed = parse_url(url)
        is_sqlite = parsed.get_backend_name() == "sqlite"
        if is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            engine = create_async_engine(parsed, **_engine_options(parsed, settings))
        except ImportError as exc:
            raise ConfigError(
                f"database.url needs the {parsed.get_driver_name()!r} driver, which is not installed ({exc})"
            ) from None
        except ArgumentError as exc:
            raise ConfigError(f"cannot use database URL {parsed.render_as_string()}: {exc}") from None
        if is_sqlite:
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "before_cursor_execute", _scrub_parameters, retval=True)
        database = cls(engine, settings)
        if not is_sqlite:
            try:
                await database._check_server(parsed)
            except BaseException:
                await engine.dispose()
                raise
        log.info("database opened: %s", parsed.render_as_string(hide_password=True))
        return database

    async def _check_server(self, url: URL) -> None:
        """Connect once; refuse a PostgreSQL database that does not store text as UTF-8."""
        try:
            async with self.engine.connect() as conn:
                if conn.dialect.name != "postgresql":
                    return
                encoding = await conn.scalar(text("SHOW server_encoding"))
                version = await conn.scalar(text("SHOW server_version"))
        except (DBAPIError, OSError, TimeoutError) as exc:
            raise ConfigError(connect_problem(exc, url, self.settings)) from None
        except (TypeError, ValueError) as exc:  # a URL parameter the driver does not take (?sslmode=..., a typo)
            raise ConfigError(
                f"database.url: the {url.get_driver_name()} driver refused its parameters: {exc}"
            ) from None
        if str(encoding).upper() not in ("UTF8", "UTF-8"):
            raise ConfigError(
                f"the database {url.database!r} at {_where(url)} uses the encoding {encoding}; OpenJump needs UTF8: "
                f"create it again with CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0"
            )
        log.info("connected to PostgreSQL %s at %s", version, _where(url))

    async def migrate(self) -> None:
        """Run ``alembic upgrade head`` on this engine (on PostgreSQL, one node at a time: an advisory lock)."""

        def upgrade(connection: Connection) -> None:
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")

        try:
            async with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                await conn.run_sync(upgrade)
        except DBAPIError as exc:
            if _sqlstate(exc) == "42501":
                url = self.engine.url
                raise ConfigError(
                    f"user {url.username!r} may not change the schema of the database {url.database!r} at "
                    f"{_where(url)} ({_server_message(exc)}): make it the database's owner "
                    f"(ALTER DATABASE {url.database} OWNER TO {url.username}) or GRANT it CREATE on the schema"
                ) from None
            raise
        log.info("database schema is at head")

    async def current_revision(self) -> str | None:
        """The schema's Alembic revision (None: an empty database)."""

        def read(connection: Connection) -> str | None:
            from alembic.runtime.migration import MigrationContext

            return MigrationContext.configure(connection).get_current_revision()

        async with self.engine.connect() as conn:
            return await conn.run_sync(read)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed when the block exits normally, else rolled back."""
        async with self._sessions() as session, session.begin():
            yield session

    async def close(self) -> None:
        """Dispose of the engine and its connections."""
        await self.engine.dispose()
