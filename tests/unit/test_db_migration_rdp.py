"""Migration 0005 (RDP Jump Items) on a database that already holds items, and back."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, inspect, select, text

from console_web.db.database import Database
from console_web.db.models import JumpItem
from tests.fixtures.db_migrations import migrate_to

RDP_COLUMNS = {"domain", "rdp_security", "console_session", "ignore_certificate"}


def item_columns(connection: Connection) -> set[str]:
    return {c["name"] for c in inspect(connection).get_columns("jump_items")}


async def test_migration_0005_adds_the_rdp_columns_to_existing_items_with_their_defaults(tmp_path: Path) -> None:
    db = await Database.open(f"sqlite+aiosqlite:///{tmp_path / 'console.db'}")
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(migrate_to, "0004")
            assert not RDP_COLUMNS & await conn.run_sync(item_columns)
            await conn.execute(text("INSERT INTO jumpoints (id, name, comments, hostname) VALUES (1, 'LAN', '', '')"))
            await conn.execute(
                text("INSERT INTO jump_groups (id, name, created_at) VALUES (1, 'Linux', '2026-01-01 00:00:00')")
            )
            await conn.execute(
                text(
                    "INSERT INTO jump_items (id, group_id, name, jumpoint_id, hostname, protocol, port, username, "
                    "terminal_type, keepalive_seconds, tag, comments, created_at, updated_at) VALUES (7, 1, 'web', 1, "
                    "'web.lan', 'vnc', 5900, 'root', 'xterm', 0, '', '', '2026-01-01 00:00:00', "
                    "'2026-01-01 00:00:00')"
                )
            )
        await db.migrate()
        async with db.session() as session:
            item = await session.scalar(select(JumpItem).where(JumpItem.id == 7))
        assert item is not None
        assert (item.name, item.protocol, item.port, item.quality) == ("web", "vnc", 5900, "full_color")
        assert (item.domain, item.rdp_security, item.console_session, item.ignore_certificate) == (
            "",
            "auto",
            False,
            False,
        )

        async with db.engine.begin() as conn:
            await conn.run_sync(migrate_to, "0004", down=True)
            assert not RDP_COLUMNS & await conn.run_sync(item_columns)
            assert (await conn.execute(text("SELECT name FROM jump_items"))).scalars().all() == ["web"]
        await db.migrate()
        async with db.engine.connect() as conn:
            assert await conn.run_sync(item_columns) >= RDP_COLUMNS
    finally:
        await db.close()
