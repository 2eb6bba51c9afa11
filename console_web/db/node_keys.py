"""Keys console nodes share through the database (``console_node_keys``)."""

from __future__ import annotations

import secrets

from sqlalchemy.exc import IntegrityError

from console_web.db.database import Database
from console_web.db.models import ConsoleNodeKey

CLUSTER_KEY = "cluster-bus"
KEY_BYTES = 32


async def shared_key(db: Database, name: str = CLUSTER_KEY) -> bytes:
    """The key called ``name``, made now (random, 256 bits) by whichever node asks first; every node gets the same."""
    async with db.session() as session:
        row = await session.get(ConsoleNodeKey, name)
        if row is not None:
            return bytes.fromhex(row.key_hex)
    try:
        async with db.session() as session:
            session.add(ConsoleNodeKey(name=name, key_hex=secrets.token_hex(KEY_BYTES)))
    except IntegrityError:
        pass  # another node made it at the same moment: read theirs
    async with db.session() as session:
        row = await session.get(ConsoleNodeKey, name)
        assert row is not None
        return bytes.fromhex(row.key_hex)
