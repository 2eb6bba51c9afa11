"""Administrators manage users through the REST API."""

from __future__ import annotations

from typing import Any

Console = Any


def error_of(body: dict[str, Any]) -> str:
    return str(body["error"]["message"])


async def test_admin_creates_changes_and_deletes_a_user(console: Console) -> None:
    headers = {"X-CSRF-Token": await console.login_as("admin")}
    resp = await console.client.post(
        "/api/v1/users", json={"username": "dave", "password": "dave-password"}, headers=headers
    )
    assert resp.status == 201
    dave = await resp.json()
    assert "password" not in dave
    resp = await console.client.patch(f"/api/v1/users/{dave['id']}", json={"display_name": "Dave D"}, headers=headers)
    assert (await resp.json())["display_name"] == "Dave D"
    resp = await console.client.post(
        "/api/v1/users", json={"username": "dave", "password": "dave-password"}, headers=headers
    )
    assert resp.status == 409
    resp = await console.client.post(
        "/api/v1/users", json={"username": "Dave Smith", "password": "dave-password"}, headers=headers
    )
    assert resp.status == 400
    assert error_of(await resp.json()).startswith("username: String should match pattern")
    assert (await console.client.delete(f"/api/v1/users/{dave['id']}", headers=headers)).status == 204
    assert (await console.client.get(f"/api/v1/users/{dave['id']}")).status == 404


async def test_admin_cannot_delete_or_demote_themselves(console: Console) -> None:
    headers = {"X-CSRF-Token": await console.login_as("admin")}
    resp = await console.client.delete(f"/api/v1/users/{console.admin_id}", headers=headers)
    assert resp.status == 409
    resp = await console.client.patch(f"/api/v1/users/{console.admin_id}", json={"is_admin": False}, headers=headers)
    assert resp.status == 409


async def test_non_admin_cannot_list_users(console: Console) -> None:
    await console.login_as("alice")
    resp = await console.client.get("/api/v1/users")
    assert resp.status == 403
    assert error_of(await resp.json()) == "only an administrator may do this"
