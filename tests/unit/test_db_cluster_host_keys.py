"""The host keys a Jumpoint cluster trusts, as the console stores them (``console_web.db.cluster``): a saved key for
a host the cluster already trusts another key for is refused, so it never reaches the other members."""

from __future__ import annotations

import asyncio
import base64
import struct

from sqlalchemy import select

from console_web.db import cluster as cluster_db
from console_web.db import repo
from console_web.db.database import Database
from console_web.db.models import AuditEvent
from console_web.hub.clusters import Clusters
from console_web.hub.link import JumpointLink
from jumpoint.core import wire
from jumpoint.core.hostkeys import HostKey


def make_key(seed: int, algorithm: str = "ssh-ed25519") -> HostKey:
    name = algorithm.encode()
    blob = struct.pack(">I", len(name)) + name + struct.pack(">I", 32) + bytes([seed]) * 32
    return HostKey(algorithm, base64.b64encode(blob).decode())


KEY_A, KEY_B, KEY_RSA = make_key(1), make_key(2), make_key(3, "ssh-rsa")


async def trusted(db: Database, jumpoint_id: int) -> list[tuple[str, int, HostKey]]:
    return [(k.host, k.port, k.key) for k in await cluster_db.cluster_keys(db, jumpoint_id)]


async def audited(db: Database, action: str) -> list[dict[str, object]]:
    async with db.session() as session:
        rows = await session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        return [dict(row.detail or {}) for row in rows]


async def test_a_different_key_saved_for_a_host_the_cluster_trusts_is_refused_and_audited(db: Database) -> None:
    jumpoint_id, _ = await repo.ensure_builtin_jumpoint(db, "LAN")
    assert await cluster_db.add_cluster_keys(db, jumpoint_id, [("DB01", 22, KEY_A)], added_by="jp-a") == [
        ("db01", 22, KEY_A)
    ]
    # Nothing new to pass on to the other members: the changed key is refused.
    assert await cluster_db.add_cluster_keys(db, jumpoint_id, [("db01", 22, KEY_B)], added_by="jp-b") == []
    assert await trusted(db, jumpoint_id) == [("db01", 22, KEY_A)]
    [refused] = await audited(db, "hostkeys.refused")
    assert refused["member"] == "jp-b"
    assert (refused["host"], refused["port"], refused["fingerprint"]) == ("db01", 22, KEY_B.fingerprint)
    assert refused["trusted"] == [KEY_A.fingerprint]
    # The same key again, and another port, are fine.
    assert await cluster_db.add_cluster_keys(db, jumpoint_id, [("db01", 22, KEY_A)], added_by="jp-b") == []
    assert await cluster_db.add_cluster_keys(db, jumpoint_id, [("db01", 2222, KEY_B)], added_by="jp-b") == [
        ("db01", 2222, KEY_B)
    ]


async def test_two_members_saving_different_keys_for_one_new_host_at_once_leave_one_trusted(db: Database) -> None:
    jumpoint_id, _ = await repo.ensure_builtin_jumpoint(db, "LAN")
    results = await asyncio.gather(
        cluster_db.add_cluster_keys(db, jumpoint_id, [("db01", 22, KEY_A)], added_by="jp-a"),
        cluster_db.add_cluster_keys(db, jumpoint_id, [("db01", 22, KEY_B)], added_by="jp-b"),
    )
    assert sorted(len(added) for added in results) == [0, 1]
    [(_, _, key)] = await trusted(db, jumpoint_id)
    [added] = [added for added in results if added]
    assert added == [("db01", 22, key)]


async def test_a_members_adopted_cache_brings_every_algorithm_of_a_new_host_but_no_changed_key(db: Database) -> None:
    jumpoint_id, _ = await repo.ensure_builtin_jumpoint(db, "LAN")
    await cluster_db.add_cluster_keys(db, jumpoint_id, [("web", 22, KEY_A)], added_by="jp-a")
    adopted = [("db01", 22, KEY_A), ("db01", 22, KEY_RSA), ("web", 22, KEY_B)]
    added = await cluster_db.add_cluster_keys(db, jumpoint_id, adopted, added_by="jp-old", adopted=True)
    assert added == [("db01", 22, KEY_A), ("db01", 22, KEY_RSA)]
    assert ("web", 22, KEY_B) not in await trusted(db, jumpoint_id)


class RecordingSocket:
    """A member's tunnel as the console sees it: what is sent to the member is kept."""

    closed = False

    def __init__(self) -> None:
        self.sent: list[wire.ControlMessage] = []

    async def send_bytes(self, frame: bytes) -> None:
        self.sent.append(wire.decode_control(frame[wire.HEADER.size :]))


def saved(key: HostKey, host: str = "db01") -> wire.HostKeySaved:
    return wire.HostKeySaved(host=host, port=22, algorithm=key.algorithm, key=key.blob_b64)


async def test_a_member_whose_saved_key_the_cluster_refuses_is_told_to_drop_it_and_the_others_hear_nothing(
    db: Database,
) -> None:
    jumpoint_id, _ = await repo.ensure_builtin_jumpoint(db, "LAN")
    await cluster_db.add_cluster_keys(db, jumpoint_id, [("db01", 22, KEY_A)], added_by="jp-a")
    a_ws, b_ws = RecordingSocket(), RecordingSocket()
    a = JumpointLink(jumpoint_id, "LAN", "jp-a", a_ws, member_id=1)  # type: ignore[arg-type]
    b = JumpointLink(jumpoint_id, "LAN", "jp-b", b_ws, member_id=2)  # type: ignore[arg-type]
    clusters = Clusters(db)
    clusters.attach(a)
    clusters.attach(b)

    clusters.on_host_key_saved(b, saved(KEY_B))  # a rep on jp-b saved a different key for db01
    await asyncio.gather(*clusters.key_tasks())
    assert b_ws.sent == [wire.HostKeysRemoved(host="db01", port=22, fingerprint=KEY_B.fingerprint)]
    assert a_ws.sent == []

    clusters.on_host_key_saved(a, saved(KEY_A))  # the key the cluster trusts, saved again: nothing to withdraw
    await asyncio.gather(*clusters.key_tasks())
    assert a_ws.sent == [] and b_ws.sent == [wire.HostKeysRemoved(host="db01", port=22, fingerprint=KEY_B.fingerprint)]
