"""The database handle: an async SQLAlchemy engine, its sessions and programmatic Alembic migrations."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from jumpoint.core.errors import ConfigError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
    finally:
        cursor.close()


def alembic_config() -> Config:
    """An Alembic configuration pointing at the migrations shipped inside the package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


class Database:
    """An open database. ``open`` connects; ``migrate`` upgrades the schema to head; ``close`` disposes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    async def open(cls, url: str) -> Database:
        """Create the engine for ``url`` (SQLite: WAL and foreign keys); ConfigError if the URL is bad."""
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise ConfigError(f"database.url is not a valid SQLAlchemy URL: {exc}") from None
        is_sqlite = parsed.get_backend_name() == "sqlite"
        if is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            engine = create_async_engine(parsed, pool_pre_ping=not is_sqlite)
        except (ArgumentError, ImportError) as exc:
            raise ConfigError(f"cannot use database URL {parsed.render_as_string()}: {exc}") from None
        if is_sqlite:
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        log.info("database opened: %s", parsed.render_as_string(hide_password=True))
        return cls(engine)

    async def migrate(self) -> None:
        """Run ``alembic upgrade head`` on this engine."""

        def upgrade(connection: Connection) -> None:
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")

        async with self.engine.begin() as conn:
            await conn.run_sync(upgrade)
        log.info("database schema is at head")

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed when the block exits normally, else rolled back."""
        async with self._sessions() as session, session.begin():
            yield session

    async def close(self) -> None:
        """Dispose of the engine and its connections."""
        await self.engine.dispose()
