"""A Jumpoint's members through the REST API: each registered host is listed (connected or not, since when, its
active sessions), counted on the Jumpoint, and can be revoked on its own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from console_web.db import repo
from console_web.db.models import AuditEvent
from console_web.hub.clusters import MemberLive

Console = Any


async def _cluster_of_two(console: Console) -> tuple[int, dict[str, Any], dict[str, Any], str]:
    """Jumpoint 'LAN-A' with members 'jp-a' and 'jp-b'; returns its id, both registrations and an admin CSRF."""
    csrf = await console.login_as("admin")
    headers = {"X-CSRF-Token": csrf}
    created = await (await console.client.post("/api/v1/jumpoints", json={"name": "LAN-A"}, headers=headers)).json()
    jumpoint_id = int(created["id"])
    registered = []
    for host in ("jp-a", "jp-b"):
        key = await (
            await console.client.post(f"/api/v1/jumpoints/{jumpoint_id}/registration-keys", json={}, headers=headers)
        ).json()
        resp = await console.client.post("/api/v1/jumpoint/register", json={"key": key["key"], "hostname": host})
        assert resp.status == 200
        registered.append(await resp.json())
    return jumpoint_id, registered[0], registered[1], csrf


async def test_the_members_are_listed_with_whether_they_are_connected_since_when_and_their_sessions(
    console: Console,
) -> None:
    jumpoint_id, a, b, _ = await _cluster_of_two(console)
    since = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    console.hub.connected.add(jumpoint_id)
    console.hub.live_members[jumpoint_id] = {a["member_id"]: MemberLive(a["member_id"], "jp-a", since, 3, True)}
    listed = await (await console.client.get(f"/api/v1/jumpoints/{jumpoint_id}/members")).json()
    rows = [
        (m["id"], m["hostname"], m["connected"], m["connected_since"], m["active_sessions"], m["builtin"])
        for m in listed["items"]
    ]
    assert rows == [
        (a["member_id"], "jp-a", True, "2030-01-02T03:04:05Z", 3, False),
        (b["member_id"], "jp-b", False, None, 0, False),
    ]
    assert all(m["registered_at"] for m in listed["items"])
    jumpoint = await (await console.client.get(f"/api/v1/jumpoints/{jumpoint_id}")).json()
    assert (jumpoint["registered"], jumpoint["connected"], jumpoint["members"], jumpoint["members_connected"]) == (
        True,
        True,
        2,
        1,
    )
    everything = await (await console.client.get("/api/v1/jumpoints")).json()
    assert [(j["name"], j["members"]) for j in everything["items"]] == [("LAN-A", 2)]


async def test_revoking_a_member_stops_its_token_and_leaves_the_other_member_alone(console: Console) -> None:
    jumpoint_id, a, b, csrf = await _cluster_of_two(console)
    resp = await console.client.delete(
        f"/api/v1/jumpoints/{jumpoint_id}/members/{b['member_id']}", headers={"X-CSRF-Token": csrf}
    )
    assert resp.status == 204
    assert await repo.authenticate_jumpoint(console.db, b["token"]) is None
    assert await repo.authenticate_jumpoint(console.db, a["token"]) == (jumpoint_id, "LAN-A")
    assert console.hub.revoked == [(jumpoint_id, b["member_id"], "jp-b")]
    listed = await (await console.client.get(f"/api/v1/jumpoints/{jumpoint_id}/members")).json()
    assert [m["hostname"] for m in listed["items"]] == ["jp-a"]
    async with console.db.session() as session:
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "jumpoint.member_revoked"))
    assert event is not None and event.detail["hostname"] == "jp-b" and event.source_address


async def test_a_member_of_another_jumpoint_or_none_at_all_is_not_found(console: Console) -> None:
    jumpoint_id, a, _, csrf = await _cluster_of_two(console)
    headers = {"X-CSRF-Token": csrf}
    other = await (await console.client.post("/api/v1/jumpoints", json={"name": "LAN-B"}, headers=headers)).json()
    resp = await console.client.delete(f"/api/v1/jumpoints/{other['id']}/members/{a['member_id']}", headers=headers)
    assert resp.status == 404
    resp = await console.client.delete(f"/api/v1/jumpoints/{jumpoint_id}/members/99999", headers=headers)
    assert resp.status == 404
    assert (await console.client.get("/api/v1/jumpoints/99999/members")).status == 404
    assert await repo.authenticate_jumpoint(console.db, a["token"]) == (jumpoint_id, "LAN-A")


async def test_only_administrators_see_and_revoke_members(console: Console) -> None:
    jumpoint_id, a, _, _ = await _cluster_of_two(console)
    csrf = await console.login_as("alice")
    assert (await console.client.get(f"/api/v1/jumpoints/{jumpoint_id}/members")).status == 403
    resp = await console.client.delete(
        f"/api/v1/jumpoints/{jumpoint_id}/members/{a['member_id']}", headers={"X-CSRF-Token": csrf}
    )
    assert resp.status == 403
    assert await repo.authenticate_jumpoint(console.db, a["token"]) is not None
