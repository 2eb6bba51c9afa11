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


async def test_file_transfer_permissions_default_to_allowed_and_can_be_limited(console: Console) -> None:
    headers = {"X-CSRF-Token": await console.login_as("admin")}
    resp = await console.client.post(
        "/api/v1/users", json={"username": "erin", "password": "erin-password"}, headers=headers
    )
    erin = await resp.json()
    assert (erin["file_upload"], erin["file_download"], erin["file_roots"]) == (True, True, [])
    resp = await console.client.patch(
        f"/api/v1/users/{erin['id']}",
        json={"file_upload": False, "file_roots": ["/srv/share/", "/home/erin", "/srv/share"]},
        headers=headers,
    )
    changed = await resp.json()
    assert (changed["file_upload"], changed["file_download"]) == (False, True)
    assert changed["file_roots"] == ["/srv/share", "/home/erin"]
    again = await (await console.client.get(f"/api/v1/users/{erin['id']}")).json()
    assert again["file_roots"] == ["/srv/share", "/home/erin"]


async def test_a_file_root_that_is_not_a_clean_absolute_path_is_refused(console: Console) -> None:
    headers = {"X-CSRF-Token": await console.login_as("admin")}
    for roots, message in [
        (["srv"], "file_roots: 'srv' is not an absolute path"),
        (["/srv/../etc"], "file_roots: '/srv/../etc' must not contain NUL, '.' or '..' parts"),
        (["/x"] * 17, "file_roots: List should have at most 16 items"),
    ]:
        resp = await console.client.patch(
            f"/api/v1/users/{console.admin_id}", json={"file_roots": roots}, headers=headers
        )
        assert resp.status == 400
        assert message in error_of(await resp.json())


async def test_only_an_admin_sets_a_groups_recording_policy(console: Console) -> None:
    headers = {"X-CSRF-Token": await console.login_as("admin")}
    resp = await console.client.post(
        "/api/v1/jump-groups", json={"name": "Audited", "recording": "always"}, headers=headers
    )
    assert resp.status == 201
    assert (await resp.json())["recording"] == "always"
    resp = await console.client.post(
        "/api/v1/jump-groups", json={"name": "Bad", "recording": "sometimes"}, headers=headers
    )
    assert resp.status == 400
    assert "recording: Input should be 'per_item', 'always' or 'never'" in error_of(await resp.json())
    headers = {"X-CSRF-Token": await console.login_as("alice")}
    mine = (await (await console.client.get("/api/v1/jump-groups")).json())["items"][0]
    assert mine["personal"] and mine["recording"] == "per_item"
    resp = await console.client.patch(f"/api/v1/jump-groups/{mine['id']}", json={"recording": "never"}, headers=headers)
    assert resp.status == 403
    assert error_of(await resp.json()) == "only an administrator may change a Jump Group's recording policy"
    resp = await console.client.patch(f"/api/v1/jump-groups/{mine['id']}", json={"name": "Mine"}, headers=headers)
    assert (await resp.json())["name"] == "Mine"


def test_a_groups_always_or_never_overrides_the_items_recording_setting() -> None:
    from console_web.api.items import recording_decision

    assert [recording_decision("per_item", v) for v in (True, False)] == [True, False]
    assert [recording_decision("always", v) for v in (True, False)] == [True, True]
    assert [recording_decision("never", v) for v in (True, False)] == [False, False]
