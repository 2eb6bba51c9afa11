"""Jumpoint clusters in the session hub: which members of each Jumpoint are connected, which one gets a new Jump,
and the host keys every member trusts.

* **Routing.** A new Jump goes to a connected, admitted member with the fewest active sessions (Jumps being
  started count too; ties: any of them, :func:`choose_member`). A member that disconnects stops getting Jumps at
  once; its sessions end naming it (``the Jumpoint member <host> of <name> disconnected``), the others' go on.
* **Admission.** A member that connects is given the cluster's trusted keys (``hostkeys_sync``, replacing its
  cache) and then ``welcome``; only then does it get Jumps. A member registered before clusters existed first
  hands over the keys its host trusted (``hostkeys.list``), once (``adopt_host_keys``).
* **Host keys.** A key a member's rep saved (``hostkey_saved``) is stored (``console_web/db/cluster.py``) and
  passed to the other members (``hostkey_added``); an administrator's removal reaches every member
  (``hostkeys_removed``). Every push and every sync of one Jumpoint is sent under the cluster's lock, and a sync
  reads the database under it, so a member never misses a change made while it was being admitted. A Jump waits
  (briefly) for key changes already received to reach every member, so a key saved through one member is trusted
  by the member the next Jump lands on.
* **Bounds.** Each member's saves are stored one after the other by one task of its own (so one member holds at
  most one database connection for them); a member with :data:`MAX_PENDING_SAVES` saves waiting breaks the
  protocol: its tunnel is closed (:meth:`JumpointLink.abort`), and when it connects again its admission replaces
  its cache with the cluster's keys, so the saves it was refused leave no member trusting a key the others do not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from console_web.db import cluster as cluster_db
from console_web.db.cluster import MemberAuth
from console_web.db.database import Database
from console_web.hub.link import JumpointLink
from jumpoint.core import wire
from jumpoint.core.errors import Busy, JumpError, JumpointUnavailable, ProtocolViolation
from jumpoint.core.hostkeys import HostKey, check_known_host, parse_host_key

log = logging.getLogger(__name__)

ADMIT_WAIT_SECONDS = 10.0
"""How long a Jump waits for a member that is connecting (being given the cluster's keys) when none is ready."""
KEY_SETTLE_SECONDS = 5.0
"""How long a Jump waits for host-key changes already received to reach the members."""
MAX_PENDING_SAVES = 64
"""A member's ``hostkey_saved`` messages waiting to be stored (the one being stored included) past which its tunnel is
closed. A rep saves a key by answering a prompt, so a real member has one or two waiting at most."""


class Routable(Protocol):
    """What routing needs of a member."""

    @property
    def load(self) -> int:
        """Its active sessions (and Jumps being started on it)."""
        ...


R = TypeVar("R", bound=Routable)


def choose_member(members: Iterable[R], rng: random.Random | None = None) -> R | None:
    """The member with the least ``load``; among equals any one (at random, so equal members share the Jumps);
    None when there is none."""
    candidates = list(members)
    if not candidates:
        return None
    least = min(m.load for m in candidates)
    tied = [m for m in candidates if m.load == least]
    return (rng or random).choice(tied)


@dataclass(frozen=True, slots=True)
class PendingSave:
    """A ``hostkey_saved`` message waiting to be stored; ``done`` resolves once it was handled (stored, refused or
    failed, and logged), and is cancelled when it never will be (the member was refused, the console is stopping)."""

    msg: wire.HostKeySaved
    done: asyncio.Future[None]


@dataclass(frozen=True, slots=True)
class MemberLive:
    """A connected member as the API shows it."""

    member_id: int
    hostname: str
    connected_since: datetime
    active_sessions: int
    ready: bool


@dataclass(frozen=True, slots=True)
class JumpointLive:
    """A Jumpoint as the API shows it: whether it takes Jumps now, and its connected members."""

    connected: bool
    members: dict[int, MemberLive]


class Cluster:
    """The connected members of one Jumpoint, and what keeps their host keys in step."""

    def __init__(self, jumpoint_id: int, name: str) -> None:
        self.jumpoint_id = jumpoint_id
        self.name = name
        self.links: dict[int, JumpointLink] = {}
        """Connected members by member id (admitted or being admitted)."""
        self.keys_lock = asyncio.Lock()
        self.saves: dict[JumpointLink, deque[PendingSave]] = {}
        """Each member's saves waiting to be stored, oldest (the one being stored) first; only while any wait."""
        self.key_tasks: set[asyncio.Task[None]] = set()
        """The tasks storing them, one per member with saves waiting."""

    def routable(self) -> list[JumpointLink]:
        """The members that may get a new Jump now."""
        return [link for link in self.links.values() if link.routable]

    def others(self, link: JumpointLink) -> list[JumpointLink]:
        """Every other connected member (admitted or not)."""
        return [other for other in self.links.values() if other is not link and not other.closed]


class Clusters:
    """Every Jumpoint's connected members (the hub owns one)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._clusters: dict[int, Cluster] = {}

    # --- membership ----------------------------------------------------------------------------------------
    def get(self, jumpoint_id: int) -> Cluster | None:
        """The Jumpoint's cluster, if a member of it connected since the console started."""
        return self._clusters.get(jumpoint_id)

    def links(self, jumpoint_id: int | None = None) -> list[JumpointLink]:
        """The connected members of one Jumpoint (or of all)."""
        if jumpoint_id is None:
            return [link for c in self._clusters.values() for link in c.links.values()]
        cluster = self._clusters.get(jumpoint_id)
        return list(cluster.links.values()) if cluster is not None else []

    def is_connected(self, jumpoint_id: int) -> bool:
        """Whether any member of the Jumpoint is connected and admitted."""
        cluster = self._clusters.get(jumpoint_id)
        return cluster is not None and bool(cluster.routable())

    def live(self, jumpoint_ids: Sequence[int]) -> dict[int, JumpointLive]:
        """Each Jumpoint's state (connected: some member may take a Jump) and its connected members."""
        return {j: JumpointLive(self.is_connected(j), self.members_live(j)) for j in jumpoint_ids}

    def members_live(self, jumpoint_id: int) -> dict[int, MemberLive]:
        """The Jumpoint's connected members by member id."""
        return {
            link.member_id: MemberLive(
                link.member_id, link.hostname, link.connected_at, len(link.sessions), link.ready.is_set()
            )
            for link in self.links(jumpoint_id)
            if not link.closed
        }

    def attach(self, link: JumpointLink) -> JumpointLink | None:
        """Add a member's new tunnel to its cluster; return the member's previous link it replaces, if any."""
        cluster = self._clusters.get(link.jumpoint_id)
        if cluster is None:
            cluster = self._clusters[link.jumpoint_id] = Cluster(link.jumpoint_id, link.name)
        cluster.name = link.name
        previous = cluster.links.get(link.member_id)
        cluster.links[link.member_id] = link
        return previous

    def detach(self, link: JumpointLink) -> None:
        """The member's tunnel is gone: it gets no more Jumps."""
        cluster = self._clusters.get(link.jumpoint_id)
        if cluster is not None and cluster.links.get(link.member_id) is link:
            del cluster.links[link.member_id]

    def link_of(self, member_id: int) -> JumpointLink | None:
        """The connected link of a member."""
        return next((link for link in self.links() if link.member_id == member_id), None)

    def disconnect_hint(self, link: JumpointLink) -> str:
        """What a participant of a session on a member that went away should do."""
        cluster = self._clusters.get(link.jumpoint_id)
        if cluster is not None and any(other is not link for other in cluster.routable()):
            return f"the session cannot continue; Jump again: the other members of {link.name} take new Jumps"
        return "the session cannot continue; Jump again when the Jumpoint is back"

    # --- routing -------------------------------------------------------------------------------------------
    async def pick(self, jumpoint_id: int, max_sessions: int) -> JumpointLink:
        """The member a new Jump goes to, with one Jump reserved on it (release with ``link.reserved -= 1``).

        Waits up to :data:`ADMIT_WAIT_SECONDS` when members are connecting but none is admitted yet, and up to
        :data:`KEY_SETTLE_SECONDS` for host-key changes already received to reach every member (saves received
        later do not make it wait longer). Raises JumpointUnavailable when no member is connected, Busy when every
        member runs ``max_sessions``.
        """
        cluster = self._clusters.get(jumpoint_id)
        await self.wait_admitted(jumpoint_id)
        if cluster is not None:
            # each member's saves are stored in order: the newest one received is handled last
            received = [pending[-1].done for pending in cluster.saves.values() if pending]
            if received:
                await asyncio.wait(received, timeout=KEY_SETTLE_SECONDS)
        members = cluster.routable() if cluster is not None else []
        chosen = choose_member(members)
        if cluster is not None and chosen is None and any(m.draining and not m.closed for m in cluster.links.values()):
            raise JumpointUnavailable(
                f"Jumpoint {cluster.name!r} is shutting down and takes no new Jumps",
                hint="Jump again once its service is back (sessions already running go on until it stops)",
            )
        if cluster is None or chosen is None:
            raise JumpointUnavailable(
                "the Jumpoint for this item is not connected",
                hint="start the Jumpoint service on its host, or pick an item on a connected Jumpoint",
            )
        if chosen.load >= max_sessions:
            raise Busy(
                f"every member of Jumpoint {cluster.name!r} already runs its limit of sessions"
                if len(members) > 1
                else f"Jumpoint {cluster.name!r} already runs its limit of sessions"
            )
        chosen.reserved += 1
        return chosen

    async def wait_admitted(self, jumpoint_id: int) -> list[JumpointLink]:
        """The members that may take work now; when members are connecting but none is admitted yet, first wait
        (up to :data:`ADMIT_WAIT_SECONDS`) for one to be."""
        cluster = self._clusters.get(jumpoint_id)
        if cluster is None:
            return []
        if not cluster.routable() and cluster.links:
            waits = [asyncio.ensure_future(link.ready.wait()) for link in cluster.links.values()]
            try:
                await asyncio.wait(waits, timeout=ADMIT_WAIT_SECONDS, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()
        return cluster.routable()

    # --- admission -----------------------------------------------------------------------------------------
    async def admit(self, link: JumpointLink, member: MemberAuth) -> None:
        """Give a member that just said hello the cluster's keys, then welcome it; it gets Jumps from then on.

        A member marked ``adopt_host_keys`` first hands over its host's cached keys. When admission fails (the
        tunnel went away, the database failed) the tunnel is closed, and the member connects again.
        """
        try:
            if member.adopt_host_keys:
                await self._adopt(link)
            cluster = self._clusters[link.jumpoint_id]
            async with cluster.keys_lock:
                keys = await cluster_db.cluster_keys(self._db, link.jumpoint_id)
                entries = [
                    wire.HostKeyEntry(host=k.host, port=k.port, algorithm=k.key.algorithm, key=k.key.blob_b64)
                    for k in keys
                ]
                for frame in wire.encode_host_key_sync(entries):
                    await link.send(frame)
            welcome = wire.Welcome(version=wire.PROTOCOL_VERSION, jumpoint_id=link.jumpoint_id, name=link.name)
            await link.send(wire.encode_control(0, welcome))
        except JumpError as exc:
            link.log.warning("could not admit the member: %s", exc.message)
            await link.ws.close(code=1011, message=b"admission failed")
            return
        except Exception:
            link.log.exception("could not admit the member")
            await link.ws.close(code=1011, message=b"admission failed")
            return
        link.ready.set()
        link.log.info("member admitted with the cluster's %d host key(s)", len(entries))

    async def _adopt(self, link: JumpointLink) -> None:
        """A member from before clusters: its host's cached keys become the cluster's (once)."""
        try:
            listed = await link.request("hostkeys.list", {})
        except JumpError as exc:
            link.log.warning("could not read the member's cached host keys to adopt them: %s", exc.message)
            return
        keys: list[tuple[str, int, HostKey]] = []
        for entry in listed if isinstance(listed, list) else []:
            try:
                host = check_known_host(str(entry["host"]))
                port = int(entry["port"])
                key = parse_host_key(str(entry["algorithm"]), str(entry["key"]))
            except (KeyError, TypeError, ValueError) as exc:
                link.log.warning("skipping a cached host key the member listed: %s", exc)
                continue
            if 1 <= port <= 65535:
                keys.append((host, port, key))
        added = await cluster_db.add_cluster_keys(
            self._db, link.jumpoint_id, keys, added_by=link.hostname, member_id=link.member_id, adopted=True
        )
        link.log.info("adopted %d of the member's %d cached host key(s) for the cluster", len(added), len(keys))
        cluster = self._clusters[link.jumpoint_id]
        await self._push_added(cluster, link, added)

    # --- host keys -----------------------------------------------------------------------------------------
    def on_host_key_saved(self, link: JumpointLink, msg: wire.HostKeySaved) -> None:
        """A rep saved a key on ``link``'s member (called from its tunnel reader): store it and pass it on.

        The saves of one member are stored in the order received by one task of the cluster (started when the first
        one arrives, ending when none waits), which new Jumps wait for (:meth:`pick`). A member with
        :data:`MAX_PENDING_SAVES` waiting already is refused: its tunnel is closed (:meth:`JumpointLink.abort`) and
        the saves still waiting are dropped (its admission, when it connects again, makes it forget them).
        """
        cluster = self._clusters.get(link.jumpoint_id)
        if cluster is None or link.aborted is not None:
            return
        pending = cluster.saves.get(link)
        if pending is not None and len(pending) >= MAX_PENDING_SAVES:
            link.abort(ProtocolViolation(f"more than {MAX_PENDING_SAVES} host-key saves waiting to be stored"))
            return
        save = PendingSave(msg, asyncio.get_running_loop().create_future())
        if pending is not None:
            pending.append(save)
            return
        pending = cluster.saves[link] = deque([save])
        task = asyncio.get_running_loop().create_task(self._store_saves(cluster, link, pending), name="hostkey-saved")
        cluster.key_tasks.add(task)
        task.add_done_callback(cluster.key_tasks.discard)

    async def _store_saves(self, cluster: Cluster, link: JumpointLink, pending: deque[PendingSave]) -> None:
        """Store the member's saves one by one until none waits (or the member was refused)."""
        try:
            while pending and link.aborted is None:
                save = pending[0]  # stays queued while stored: a Jump arriving now waits for it
                await self._store_saved(cluster, link, save.msg)
                pending.popleft()
                save.done.set_result(None)
        finally:  # no await from the last check of ``pending`` to here: a save arriving meanwhile starts a new task
            if cluster.saves.get(link) is pending:
                del cluster.saves[link]
            for save in pending:
                save.done.cancel()

    async def _store_saved(self, cluster: Cluster, link: JumpointLink, msg: wire.HostKeySaved) -> None:
        try:
            added = await cluster_db.add_cluster_keys(
                self._db,
                link.jumpoint_id,
                [(msg.host, msg.port, msg.host_key)],
                added_by=link.hostname,
                member_id=link.member_id,
            )
            await self._push_added(cluster, link, added)
            if not added:
                await self._withdraw_refused(cluster, link, msg)
        except Exception:
            link.log.exception("could not store the key saved for %s:%d for the cluster", msg.host, msg.port)

    async def _withdraw_refused(self, cluster: Cluster, link: JumpointLink, msg: wire.HostKeySaved) -> None:
        """The cluster refused the key the member saved (it trusts another for that host): the member drops it too,
        so that no member trusts a key the others refuse."""
        fingerprint = msg.host_key.fingerprint
        if await cluster_db.is_cluster_key(self._db, link.jumpoint_id, msg.host, msg.port, fingerprint):
            return  # already trusted: nothing was refused
        frame = wire.encode_control(0, wire.HostKeysRemoved(host=msg.host, port=msg.port, fingerprint=fingerprint))
        async with cluster.keys_lock:
            try:
                await link.send(frame)
            except JumpError as exc:
                link.log.warning("could not withdraw the refused key of %s:%d: %s", msg.host, msg.port, exc.message)
                return
        link.log.warning(
            "the member saved the key %s of %s:%d, which the cluster refuses: told it to drop the key",
            fingerprint,
            msg.host,
            msg.port,
        )

    async def _push_added(self, cluster: Cluster, origin: JumpointLink, added: list[tuple[str, int, HostKey]]) -> None:
        if not added:
            return
        async with cluster.keys_lock:
            for other in cluster.others(origin):
                for host, port, key in added:
                    frame = wire.encode_control(
                        0, wire.HostKeyAdded(host=host, port=port, algorithm=key.algorithm, key=key.blob_b64)
                    )
                    with contextlib.suppress(JumpError):
                        await other.send(frame)
        for host, port, key in added:
            origin.log.info(
                "%s key %s of %s:%d is trusted by the cluster now", key.algorithm, key.fingerprint, host, port
            )

    async def keys_removed(self, jumpoint_id: int, host: str, port: int, fingerprint: str | None) -> int:
        """An administrator removed keys from the console: tell every connected member; return how many were told."""
        cluster = self._clusters.get(jumpoint_id)
        if cluster is None:
            return 0
        try:
            frame = wire.encode_control(0, wire.HostKeysRemoved(host=host, port=port, fingerprint=fingerprint))
        except ValueError as exc:  # a host name no member could have cached
            log.info("not telling the members of %s: %s", cluster.name, exc)
            return 0
        told = 0
        async with cluster.keys_lock:
            for link in list(cluster.links.values()):
                if link.closed:
                    continue
                try:
                    await link.send(frame)
                    told += 1
                except JumpError as exc:
                    link.log.warning("could not tell the member that keys were removed: %s", exc.message)
        return told

    # --- shutdown --------------------------------------------------------------------------------------------
    def key_tasks(self) -> list[asyncio.Task[None]]:
        """Host-key work still running (cancelled at console shutdown)."""
        return [task for cluster in self._clusters.values() for task in cluster.key_tasks]


__all__ = [
    "ADMIT_WAIT_SECONDS",
    "KEY_SETTLE_SECONDS",
    "MAX_PENDING_SAVES",
    "Cluster",
    "Clusters",
    "MemberLive",
    "PendingSave",
    "choose_member",
]
