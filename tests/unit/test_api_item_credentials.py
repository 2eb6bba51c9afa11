"""Who may give Jump Items credentials, what a rep may pick at Jump time, and when nothing is injected."""

from __future__ import annotations

from typing import Any

import pytest

Console = Any


class Rep:
    """A logged-in user calling the API."""

    def __init__(self, console: Console, csrf: str) -> None:
        self.client, self.csrf = console.client, csrf

    async def call(self, method: str, path: str, json: Any = None) -> tuple[int, Any]:
        resp = await self.client.request(method, "/api/v1" + path, json=json, headers={"X-CSRF-Token": self.csrf})
        return resp.status, (await resp.json() if resp.status != 204 else None)


def error_of(body: dict[str, Any]) -> str:
    return str(body["error"]["message"])


def item(jumpoint: int, **fields: Any) -> dict[str, Any]:
    return {"name": "web-01", "jumpoint_id": jumpoint, "hostname": "web-01.lan", **fields}


@pytest.fixture
async def jumpoint_id(console: Console) -> int:
    csrf = await console.login_as("admin")
    resp = await console.client.post("/api/v1/jumpoints", json={"name": "LAN-1"}, headers={"X-CSRF-Token": csrf})
    assert resp.status == 201, await resp.text()
    console.hub.connected.add(int((await resp.json())["id"]))
    return int((await resp.json())["id"])


@pytest.fixture
async def admin(console: Console, jumpoint_id: int) -> Rep:
    return Rep(console, await console.login_as("admin"))


async def shared_group(admin: Rep, console: Console, **fields: Any) -> int:
    status, group = await admin.call("POST", "/jump-groups", json={"name": "Linux", **fields})
    assert status == 201, group
    status, body = await admin.call("PUT", f"/jump-groups/{group['id']}/members/{console.alice_id}")
    assert status in (200, 201, 204), body
    return int(group["id"])


async def as_alice(console: Console) -> Rep:
    console.client.session.cookie_jar.clear()
    return Rep(console, await console.login_as("alice"))


async def test_a_rep_may_not_give_an_item_a_credential_or_scopes(console: Console, jumpoint_id: int) -> None:
    alice = await as_alice(console)
    status, body = await alice.call("POST", "/jump-items", json=item(jumpoint_id, credential_ref="vault:secret/a"))
    assert status == 403 and "only an administrator may set credential_ref" in error_of(body)
    _, created = await alice.call("POST", "/jump-items", json=item(jumpoint_id))
    assert created["target_by_admin"] is False
    status, body = await alice.call(
        "PATCH", f"/jump-items/{created['id']}", json={"credential_scopes": ["vault:secret/"]}
    )
    assert status == 403 and "credential_scopes" in error_of(body)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("credential_ref", "vault:secret/linux/", "names a folder"),
        ("credential_ref", "vault:a/../b", "'..'"),
        ("credential_scopes", ["vault:secret/x/?password=pw"], "cannot carry options"),
        ("credential_scopes", ["vault:x/"] * 33, "at most 32"),
    ],
)
async def test_a_malformed_credential_reference_is_refused_with_the_reason(
    admin: Rep, jumpoint_id: int, field: str, value: Any, message: str
) -> None:
    status, body = await admin.call("POST", "/jump-items", json=item(jumpoint_id, **{field: value}))
    assert status == 400 and message in error_of(body), body


async def test_the_jump_injects_the_items_own_credential(console: Console, admin: Rep, jumpoint_id: int) -> None:
    _, created = await admin.call("POST", "/jump-items", json=item(jumpoint_id, credential_ref="vault:secret/a"))
    assert created["target_by_admin"] is True
    status, choices = await admin.call("GET", f"/jump-items/{created['id']}/credentials")
    assert (status, choices["fixed"], choices["credentials"]) == (200, "vault:secret/a", [])
    status, body = await admin.call("POST", f"/jump-items/{created['id']}/jump", json={})
    assert status == 201, body
    assert console.hub.started[-1].target.credential_ref == "vault:secret/a"
    status, body = await admin.call("POST", f"/jump-items/{created['id']}/jump", json={"credential": "vault:secret/b"})
    assert status == 403 and "injects its own credential" in error_of(body)


async def test_a_rep_picks_from_what_the_item_and_group_scopes_allow(
    console: Console, admin: Rep, jumpoint_id: int
) -> None:
    group_id = await shared_group(admin, console, credential_scopes=["vault:secret/linux/"])
    status, created = await admin.call(
        "POST", "/jump-items", json=item(jumpoint_id, group_id=group_id, credential_scopes=["local:db-admin"])
    )
    assert status == 201, created
    console.hub.credential_entries = [
        {"ref": "vault:secret/linux/web01", "kind": None},
        {"ref": "local:db-admin", "kind": "password"},
        {"ref": "vault:secret/windows/dc", "kind": None},  # outside every scope: never offered
        {"store": "other", "error": {"code": "credential_store_unavailable", "message": "Vault is sealed"}},
    ]
    alice = await as_alice(console)
    status, choices = await alice.call("GET", f"/jump-items/{created['id']}/credentials?search=web")
    assert status == 200, choices
    assert choices["fixed"] is None and choices["truncated"] is False
    assert [c["ref"] for c in choices["credentials"]] == ["vault:secret/linux/web01", "local:db-admin"]
    assert choices["problems"] == [
        {"store": "other", "code": "credential_store_unavailable", "message": "Vault is sealed"}
    ]
    _, op, args = console.hub.requests[-1]
    assert op == "credentials.list"
    assert args["scopes"] == ["local:db-admin", "vault:secret/linux/"] and args["search"] == "web"
    assert args["user"] == "alice"

    status, body = await alice.call(
        "POST", f"/jump-items/{created['id']}/jump", json={"credential": "vault:secret/linux/web01"}
    )
    assert status == 201, body
    assert console.hub.started[-1].target.credential_ref == "vault:secret/linux/web01"
    status, body = await alice.call(
        "POST", f"/jump-items/{created['id']}/jump", json={"credential": "vault:secret/windows/dc"}
    )
    assert status == 403 and "is not offered" in error_of(body)


async def test_a_rep_who_moves_the_target_stops_the_injection_until_an_admin_saves_it(
    console: Console, admin: Rep, jumpoint_id: int
) -> None:
    group_id = await shared_group(admin, console)
    _, created = await admin.call(
        "POST", "/jump-items", json=item(jumpoint_id, group_id=group_id, credential_ref="vault:secret/a")
    )
    path = f"/jump-items/{created['id']}"
    alice = await as_alice(console)
    status, body = await alice.call("PATCH", path, json={"tag": "prod"})
    assert status == 200 and body["target_by_admin"] is True
    status, body = await alice.call("PATCH", path, json={"hostname": "my-own-box.example"})
    assert status == 200 and body["target_by_admin"] is False
    status, body = await alice.call("POST", f"{path}/jump", json={})
    assert status == 403 and "last changed by a rep" in error_of(body)
    assert body["error"]["hint"] == "ask an administrator to review the item and save it"

    console.client.session.cookie_jar.clear()
    admin = Rep(console, await console.login_as("admin"))
    status, body = await admin.call("PATCH", path, json={"hostname": "web-01.lan"})
    assert status == 200 and body["target_by_admin"] is True
    assert (await admin.call("POST", f"{path}/jump", json={}))[0] == 201


async def test_only_an_admin_changes_a_groups_credential_scopes(console: Console, admin: Rep) -> None:
    group_id = await shared_group(admin, console, credential_scopes=["vault:secret/linux/"])
    status, body = await admin.call("GET", f"/jump-groups/{group_id}")
    assert body["credential_scopes"] == ["vault:secret/linux/"]
    alice = await as_alice(console)
    _, groups = await alice.call("GET", "/jump-groups")
    personal = next(g["id"] for g in groups["items"] if g["personal"])
    status, body = await alice.call("PATCH", f"/jump-groups/{personal}", json={"credential_scopes": ["vault:*"]})
    assert status == 403 and "credential scopes" in error_of(body)


async def test_an_item_without_credentials_offers_none_and_asks_the_jumpoint_nothing(
    console: Console, admin: Rep, jumpoint_id: int
) -> None:
    _, created = await admin.call("POST", "/jump-items", json=item(jumpoint_id))
    status, choices = await admin.call("GET", f"/jump-items/{created['id']}/credentials")
    assert status == 200
    assert choices == {"fixed": None, "credentials": [], "truncated": False, "problems": []}
    assert console.hub.requests == []


async def test_a_rep_saving_the_same_target_again_keeps_the_injection(
    console: Console, admin: Rep, jumpoint_id: int
) -> None:
    group_id = await shared_group(admin, console)
    _, created = await admin.call(
        "POST", "/jump-items", json=item(jumpoint_id, group_id=group_id, credential_ref="vault:secret/a")
    )
    alice = await as_alice(console)
    same = {"hostname": "web-01.lan", "port": 22, "protocol": "ssh", "jumpoint_id": jumpoint_id, "comments": "x"}
    status, body = await alice.call("PATCH", f"/jump-items/{created['id']}", json=same)
    assert status == 200 and body["target_by_admin"] is True


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", "mallory"),
        ("login_prompt", "never-matches-x"),
        ("password_prompt", r"login:\s*$"),
        ("login_failure", "never-matches-y"),
    ],
)
async def test_a_rep_who_changes_the_user_name_or_a_telnet_login_pattern_stops_the_injection(
    console: Console, admin: Rep, jumpoint_id: int, field: str, value: str
) -> None:
    group_id = await shared_group(admin, console)
    fields = {"protocol": "telnet", "group_id": group_id, "credential_ref": "local:lab-login", "username": "ops"}
    _, created = await admin.call("POST", "/jump-items", json=item(jumpoint_id, **fields))
    assert created["target_by_admin"] is True
    path = f"/jump-items/{created['id']}"
    alice = await as_alice(console)
    status, body = await alice.call("PATCH", path, json={field: value})
    assert status == 200 and body["target_by_admin"] is False
    status, body = await alice.call("POST", f"{path}/jump", json={})
    assert status == 403 and "last changed by a rep" in error_of(body)


async def test_a_rep_saving_the_same_user_name_and_telnet_patterns_again_keeps_the_injection(
    console: Console, admin: Rep, jumpoint_id: int
) -> None:
    group_id = await shared_group(admin, console)
    patterns = {"login_prompt": "login:", "password_prompt": "password:", "login_failure": "incorrect"}
    fields = {"protocol": "telnet", "group_id": group_id, "credential_ref": "local:lab-login", "username": "ops"}
    _, created = await admin.call("POST", "/jump-items", json=item(jumpoint_id, **fields, **patterns))
    alice = await as_alice(console)
    status, body = await alice.call("PATCH", f"/jump-items/{created['id']}", json={"username": "ops", **patterns})
    assert status == 200 and body["target_by_admin"] is True
