"""The host keys a Jumpoint cluster trusts, as the console stores them (``console_web.db.cluster``): a saved key for
a host the cluster already trusts another key for is refused, so it never reaches the other members."""

from __future__ import annotations

import asyncio
import base64
import struct
from typing import Any

import pytest
from sqlalchemy import select

from console_web.db import cluster as cluster_db
from console_web.db import repo
from console_web.db.database import Database
from console_web.db.models import AuditEvent
from console_web.hub import clusters as clusters_module
from console_web.hub.clusters import MAX_PENDING_SAVES, Clusters
from console_web.hub.link import CLOSE_POLICY_VIOLATION, JumpointLink
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
        self.close_code: int | None = None
        self.close_reason = b""

    async def send_bytes(self, frame: bytes) -> None:
        self.sent.append(wire.decode_control(frame[wire.HEADER.size :]))

    async def close(self, *, code: int, message: bytes) -> bool:
        self.closed, self.close_code, self.close_reason = True, code, message
        return True


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


class SlowStore:
    """``add_cluster_keys`` on a database that stores a host's key only once the test lets it (:meth:`let`); counts
    the calls in flight at once."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.in_flight = 0
        self.most_in_flight = 0
        self.stored: list[str] = []
        self._gates: dict[str, asyncio.Event] = {}
        self._all = False
        monkeypatch.setattr(cluster_db, "add_cluster_keys", self.add_cluster_keys)

    def let(self, host: str | None = None) -> None:
        """Let the key of ``host`` be stored (None: every key from now on)."""
        if host is None:
            self._all = True
            for gate in self._gates.values():
                gate.set()
        else:
            self._gates.setdefault(host, asyncio.Event()).set()

    async def add_cluster_keys(
        self, _db: Database, _jumpoint_id: int, keys: list[tuple[str, int, HostKey]], **_: Any
    ) -> list[tuple[str, int, HostKey]]:
        [(host, _port, _key)] = keys
        gate = self._gates.setdefault(host, asyncio.Event())
        if self._all:
            gate.set()
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await gate.wait()
        finally:
            self.in_flight -= 1
        self.stored.append(host)
        return keys


async def test_a_members_saves_are_stored_one_at_a_time_and_too_many_waiting_close_its_tunnel(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SlowStore(monkeypatch)
    ws = RecordingSocket()
    link = JumpointLink(1, "LAN", "jp-a", ws, member_id=1)  # type: ignore[arg-type]
    clusters = Clusters(db)
    clusters.attach(link)

    for n in range(MAX_PENDING_SAVES):
        clusters.on_host_key_saved(link, saved(KEY_A, host=f"host-{n}"))
    await asyncio.sleep(0.01)
    assert store.most_in_flight == 1  # one task and one database connection for the member, whatever it sends
    assert len(clusters.key_tasks()) == 1 and ws.close_code is None

    clusters.on_host_key_saved(link, saved(KEY_A, host="one-too-many"))
    clusters.on_host_key_saved(link, saved(KEY_A, host="after-the-refusal"))
    await asyncio.sleep(0)
    assert ws.close_code == CLOSE_POLICY_VIOLATION
    assert ws.close_reason == f"more than {MAX_PENDING_SAVES} host-key saves waiting to be stored".encode()
    assert link.closed and link.aborted is not None

    store.let()
    await asyncio.gather(*clusters.key_tasks())
    assert store.stored == ["host-0"]  # the save being stored when the member was refused; the rest are dropped
    cluster = clusters.get(1)
    assert cluster is not None and cluster.saves == {}


async def test_a_jump_waits_for_the_saves_received_before_it_and_not_for_those_received_after(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SlowStore(monkeypatch)
    link = JumpointLink(1, "LAN", "jp-a", RecordingSocket(), member_id=1)  # type: ignore[arg-type]
    link.ready.set()
    clusters = Clusters(db)
    clusters.attach(link)
    monkeypatch.setattr(clusters_module, "KEY_SETTLE_SECONDS", 30.0)

    clusters.on_host_key_saved(link, saved(KEY_A, host="before"))
    picking = asyncio.ensure_future(clusters.pick(1, max_sessions=10))
    await asyncio.sleep(0.01)
    assert not picking.done()  # waits for the save received before the Jump

    for n in range(3):
        clusters.on_host_key_saved(link, saved(KEY_A, host=f"after-{n}"))
    store.let("before")
    assert await asyncio.wait_for(picking, 1) is link  # the Jump went on without waiting for the later saves
    assert store.stored == ["before"]

    store.let()
    await asyncio.gather(*clusters.key_tasks())
    assert store.stored == ["before", "after-0", "after-1", "after-2"]
