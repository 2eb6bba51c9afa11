"""The key console nodes share through the database (``console_web/db/node_keys.py``)."""

from __future__ import annotations

import asyncio

from console_web.db.database import Database
from console_web.db.node_keys import KEY_BYTES, shared_key


async def test_every_node_gets_the_same_key_made_once_even_when_they_start_together(db: Database) -> None:
    keys = await asyncio.gather(*(shared_key(db) for _ in range(5)))
    assert len(set(keys)) == 1
    assert len(keys[0]) == KEY_BYTES
    assert await shared_key(db) == keys[0]  # kept: a node that starts later signs with it too


async def test_keys_of_different_names_differ(db: Database) -> None:
    assert await shared_key(db, "one") != await shared_key(db, "two")
