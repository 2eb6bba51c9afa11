"""Jumpoints through the REST API: creation, one-time registration keys, the host keys the console holds."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from console_web.db import cluster as cluster_db
from console_web.db import repo
from console_web.db.clock import utcnow
from console_web.db.models import AuditEvent, JumpointRegistrationKey
from jumpoint.core.hostkeys import HostKey

Console = Any


def error_of(body: dict[str, Any]) -> str:
    return str(body["error"]["message"])


async def _jumpoint_and_key(console: Console, **key_body: Any) -> tuple[int, dict[str, Any]]:
    csrf = await console.login_as("admin")
    headers = {"X-CSRF-Token": csrf}
    resp = await console.client.post("/api/v1/jumpoints", json={"name": "Branch office"}, headers=headers)
    assert resp.status == 201
    jumpoint_id = int((await resp.json())["id"])
    resp = await console.client.post(
        f"/api/v1/jumpoints/{jumpoint_id}/registration-keys", json=key_body, headers=headers
    )
    assert resp.status == 201, await resp.text()
    console.client.session.cookie_jar.clear()
    return jumpoint_id, await resp.json()


async def _actions(console: Console) -> list[str]:
    async with console.db.session() as session:
        return list((await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))).all())


async def test_registration_key_gives_the_jumpoint_its_token(console: Console) -> None:
    jumpoint_id, key = await _jumpoint_and_key(console)
    assert key["key"].startswith("ojr_")
    assert key["command"].startswith("jumpoint register --console http://")
    assert key["key"] in key["command"]
    resp = await console.client.post("/api/v1/jumpoint/register", json={"key": key["key"], "hostname": "jp-host"})
    assert resp.status == 200
    body = await resp.json()
    assert (body["jumpoint_id"], body["name"]) == (jumpoint_id, "Branch office")
    assert body["token"].startswith("ojj_")
    assert await repo.authenticate_jumpoint(console.db, body["token"]) == (jumpoint_id, "Branch office")
    assert "registration_key.used" in await _actions(console)


async def test_reused_registration_key_is_refused(console: Console) -> None:
    _, key = await _jumpoint_and_key(console)
    first = await console.client.post("/api/v1/jumpoint/register", json={"key": key["key"], "hostname": "a"})
    assert first.status == 200
    token = (await first.json())["token"]
    again = await console.client.post("/api/v1/jumpoint/register", json={"key": key["key"], "hostname": "b"})
    assert again.status == 409
    assert "already used" in error_of(await again.json())
    assert await repo.authenticate_jumpoint(console.db, token) is not None
    assert "registration_key.refused" in await _actions(console)


async def test_expired_registration_key_is_refused(console: Console) -> None:
    _, key = await _jumpoint_and_key(console, expires_minutes=5)
    async with console.db.session() as session:
        await session.execute(update(JumpointRegistrationKey).values(expires_at=utcnow() - timedelta(minutes=1)))
    resp = await console.client.post("/api/v1/jumpoint/register", json={"key": key["key"], "hostname": "a"})
    assert resp.status == 401
    assert "expired" in error_of(await resp.json())


async def test_unknown_registration_key_is_refused(console: Console) -> None:
    resp = await console.client.post("/api/v1/jumpoint/register", json={"key": "ojr_nope", "hostname": "a"})
    assert resp.status == 401
    assert error_of(await resp.json()) == "this registration key is not valid"


@pytest.mark.parametrize(
    "hostname",
    [
        "h\nINFO console_web.api.auth_routes: user admin logged in",
        "web 01",
        "web/01",
        "admin@web",
        "web\\01",
        "web\x1b[31m",
        "web\x00",
        "web\u202e",
    ],
)
async def test_a_registering_hostname_that_the_jumpoint_itself_would_refuse_is_a_400_before_any_log_or_audit(
    console: Console, hostname: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, key = await _jumpoint_and_key(console)
    before = await _actions(console)
    caplog.clear()  # only what the refused requests log counts
    for sent_key in (key["key"], "ojr_unknown"):
        resp = await console.client.post("/api/v1/jumpoint/register", json={"key": sent_key, "hostname": hostname})
        assert resp.status == 400
        assert error_of(await resp.json()) == (
            "hostname: must be a host name without spaces, '/', '@', '\\' or control characters"
        )
    assert await _actions(console) == before
    assert "registration" not in caplog.text
    resp = await console.client.post("/api/v1/jumpoint/register", json={"key": key["key"], "hostname": "web-01.lan"})
    assert resp.status == 200  # the key was not spent by the refused requests


async def test_registering_again_adds_a_member_and_every_member_keeps_its_token(console: Console) -> None:
    jumpoint_id, key = await _jumpoint_and_key(console)
    first = await (
        await console.client.post("/api/v1/jumpoint/register", json={"key": key["key"], "hostname": "a"})
    ).json()
    csrf = await console.login_as("admin")
    second_key = await (
        await console.client.post(
            f"/api/v1/jumpoints/{jumpoint_id}/registration-keys", json={}, headers={"X-CSRF-Token": csrf}
        )
    ).json()
    second = await (
        await console.client.post("/api/v1/jumpoint/register", json={"key": second_key["key"], "hostname": "b"})
    ).json()
    assert first["member_id"] != second["member_id"]
    assert await repo.authenticate_jumpoint(console.db, first["token"]) == (jumpoint_id, "Branch office")
    assert await repo.authenticate_jumpoint(console.db, second["token"]) == (jumpoint_id, "Branch office")


async def test_only_admins_create_jumpoints_and_users_see_connected(console: Console) -> None:
    jumpoint_id, _ = await _jumpoint_and_key(console)
    console.hub.connected.add(jumpoint_id)
    csrf = await console.login_as("alice")
    resp = await console.client.post("/api/v1/jumpoints", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert resp.status == 403
    listed = await (await console.client.get("/api/v1/jumpoints")).json()
    assert [(j["name"], j["connected"], j["registered"]) for j in listed["items"]] == [("Branch office", True, False)]


async def test_duplicate_jumpoint_name_is_a_conflict(console: Console) -> None:
    await _jumpoint_and_key(console)
    csrf = await console.login_as("admin")
    resp = await console.client.post(
        "/api/v1/jumpoints", json={"name": "Branch office"}, headers={"X-CSRF-Token": csrf}
    )
    assert resp.status == 409
    assert "already exists" in error_of(await resp.json())


async def test_host_keys_are_the_consoles_and_removing_one_tells_the_members(console: Console) -> None:
    jumpoint_id, _ = await _jumpoint_and_key(console)
    key = HostKey("ssh-ed25519", base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519" + bytes(36)).decode())
    await cluster_db.add_cluster_keys(console.db, jumpoint_id, [("DB", 22, key)], added_by="jp-a")
    csrf = await console.login_as("admin")
    # Listed from the console's copy: no member has to be connected.
    listed = await (await console.client.get(f"/api/v1/jumpoints/{jumpoint_id}/host-keys")).json()
    assert [(k["host"], k["port"], k["fingerprint"], k["added_by"]) for k in listed["items"]] == [
        ("db", 22, key.fingerprint, "jp-a")
    ]
    resp = await console.client.delete(
        f"/api/v1/jumpoints/{jumpoint_id}/host-keys",
        params={"host": "db", "port": "22"},
        headers={"X-CSRF-Token": csrf},
    )
    assert resp.status == 200
    assert await resp.json() == {"removed": 1}
    assert console.hub.removals == [(jumpoint_id, "db", 22, None)]
    assert (await (await console.client.get(f"/api/v1/jumpoints/{jumpoint_id}/host-keys")).json())["items"] == []
    missing = await console.client.get("/api/v1/jumpoints/999/host-keys")
    assert missing.status == 404
