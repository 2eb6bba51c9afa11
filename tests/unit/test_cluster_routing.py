"""Which member of a Jumpoint cluster a new Jump goes to (``console_web/hub/clusters.py``): the connected, admitted
member with the fewest active sessions, any of the equals on a tie; none connected is "Jumpoint unavailable"."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from console_web.hub.clusters import Clusters, choose_member
from console_web.hub.link import JumpointLink
from jumpoint.core.errors import Busy, JumpointUnavailable


@dataclass
class Member:
    name: str
    load: int


def _link(member_id: int, hostname: str, *, ready: bool = True, sessions: int = 0) -> JumpointLink:
    ws: Any = SimpleNamespace(closed=False)
    link = JumpointLink(7, "LAN-A", hostname, ws, member_id=member_id)
    link.sessions.update(dict.fromkeys(range(sessions)))  # type: ignore[arg-type]  # only counted
    if ready:
        link.ready.set()
    return link


def _clusters(*links: JumpointLink) -> Clusters:
    clusters = Clusters(db=None)  # type: ignore[arg-type]
    for link in links:
        clusters.attach(link)
    return clusters


def test_the_member_with_the_fewest_sessions_gets_the_jump() -> None:
    members = [Member("a", 3), Member("b", 1), Member("c", 2)]
    assert choose_member(members) == Member("b", 1)


def test_a_tie_goes_to_any_of_the_least_busy_members_and_spreads_over_them() -> None:
    members = [Member("a", 1), Member("b", 0), Member("c", 0)]
    rng = random.Random(4711)
    chosen = {choose_member(members, rng).name for _ in range(50)}  # type: ignore[union-attr]
    assert chosen == {"b", "c"}


def test_no_member_means_no_choice() -> None:
    assert choose_member([]) is None


async def test_jumps_alternate_between_two_idle_members_as_sessions_start() -> None:
    a, b = _link(1, "jp-a"), _link(2, "jp-b")
    clusters = _clusters(a, b)
    first = await clusters.pick(7, max_sessions=10)
    second = await clusters.pick(7, max_sessions=10)  # the first Jump is still starting: it counts
    assert {first, second} == {a, b}
    assert (a.load, b.load) == (1, 1)


async def test_a_member_that_is_not_admitted_yet_or_gone_gets_no_jump() -> None:
    connecting, gone, up = _link(1, "jp-a", ready=False), _link(2, "jp-b"), _link(3, "jp-c", sessions=5)
    gone.closed = True
    clusters = _clusters(connecting, gone, up)
    assert await clusters.pick(7, max_sessions=10) is up


async def test_a_jump_waits_for_a_member_that_is_being_admitted() -> None:
    connecting = _link(1, "jp-a", ready=False)
    clusters = _clusters(connecting)
    asyncio.get_running_loop().call_later(0.05, connecting.ready.set)
    assert await clusters.pick(7, max_sessions=10) is connecting


async def test_no_connected_member_is_jumpoint_unavailable_and_a_full_cluster_is_busy() -> None:
    with pytest.raises(JumpointUnavailable, match="not connected"):
        await _clusters().pick(7, max_sessions=10)
    gone = _link(1, "jp-a")
    clusters = _clusters(gone)
    clusters.detach(gone)
    with pytest.raises(JumpointUnavailable):
        await clusters.pick(7, max_sessions=10)
    full = _clusters(_link(1, "jp-a", sessions=2), _link(2, "jp-b", sessions=2))
    with pytest.raises(Busy, match="every member of Jumpoint 'LAN-A'"):
        await full.pick(7, max_sessions=2)


async def test_a_member_reconnecting_replaces_its_old_tunnel_and_the_hint_names_the_others() -> None:
    old, other = _link(1, "jp-a"), _link(2, "jp-b")
    clusters = _clusters(old, other)
    new = _link(1, "jp-a")
    assert clusters.attach(new) is old
    assert sorted(link.member_id for link in clusters.links(7)) == [1, 2]
    assert "other members of LAN-A" in clusters.disconnect_hint(new)
    clusters.detach(other)
    assert "when the Jumpoint is back" in clusters.disconnect_hint(new)
    assert new.label == "the Jumpoint member jp-a of LAN-A"
