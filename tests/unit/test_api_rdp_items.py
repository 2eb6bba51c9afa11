"""RDP Jump Items through the REST API: their fields, the messages for bad values, the Target a Jump sends the
Jumpoint (with the viewer's desktop size), and which RDP fields un-approve an administrator's credential."""

from __future__ import annotations

from typing import Any

import pytest

Console = Any


class Rep:
    """A logged-in user calling the API."""

    def __init__(self, console: Console, csrf: str) -> None:
        self.client, self.csrf = console.client, csrf

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        resp = await self.client.request(method, "/api/v1" + path, headers={"X-CSRF-Token": self.csrf}, **kwargs)
        return resp.status, (await resp.json() if resp.status != 204 else None)


def error_of(body: dict[str, Any]) -> str:
    return str(body["error"]["message"])


def rdp_item(jumpoint: int, **fields: Any) -> dict[str, Any]:
    return {"name": "win-01", "jumpoint_id": jumpoint, "hostname": "win-01.corp.lan", "protocol": "rdp", **fields}


@pytest.fixture
async def jumpoint_id(console: Console) -> int:
    csrf = await console.login_as("admin")
    resp = await console.client.post("/api/v1/jumpoints", json={"name": "LAN-1"}, headers={"X-CSRF-Token": csrf})
    assert resp.status == 201, await resp.text()
    await console.client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    jumpoint = int((await resp.json())["id"])
    console.hub.connected.add(jumpoint)
    return jumpoint


async def as_user(console: Console, name: str) -> Rep:
    console.client.session.cookie_jar.clear()
    return Rep(console, await console.login_as(name))


@pytest.fixture
async def alice(console: Console, jumpoint_id: int) -> Rep:
    return await as_user(console, "alice")


async def test_an_rdp_item_gets_port_3389_and_the_rdp_defaults(alice: Rep, jumpoint_id: int) -> None:
    status, body = await alice.call("POST", "/jump-items", json=rdp_item(jumpoint_id))
    assert status == 201, body
    assert (body["protocol"], body["hostname"], body["port"]) == ("rdp", "win-01.corp.lan", 3389)
    assert (body["domain"], body["rdp_security"], body["console_session"], body["ignore_certificate"]) == (
        "",
        "auto",
        False,
        False,
    )
    assert body["quality"] == "full_color"


async def test_an_rdp_hostname_with_a_port_overrides_3389(alice: Rep, jumpoint_id: int) -> None:
    status, body = await alice.call("POST", "/jump-items", json=rdp_item(jumpoint_id, hostname="10.10.24.127:40000"))
    assert status == 201, body
    assert (body["hostname"], body["port"]) == ("10.10.24.127", 40000)


async def test_an_rdp_items_fields_are_saved_changed_and_listed(alice: Rep, jumpoint_id: int) -> None:
    fields = {
        "username": "alice",
        "domain": " CORP ",
        "rdp_security": "nla",
        "console_session": True,
        "ignore_certificate": True,
        "quality": "video",
    }
    status, created = await alice.call("POST", "/jump-items", json=rdp_item(jumpoint_id, **fields))
    assert status == 201, created
    assert {k: created[k] for k in fields} == {**fields, "domain": "CORP"}
    path = f"/jump-items/{created['id']}"
    status, body = await alice.call(
        "PATCH", path, json={"domain": "corp.example.com", "rdp_security": "rdp", "console_session": False}
    )
    assert status == 200, body
    assert (body["domain"], body["rdp_security"], body["console_session"], body["ignore_certificate"]) == (
        "corp.example.com",
        "rdp",
        False,
        True,
    )
    status, listed = await alice.call("GET", "/jump-items", params={"search": "win-01"})
    assert status == 200
    assert [(i["name"], i["protocol"], i["domain"]) for i in listed["items"]] == [("win-01", "rdp", "corp.example.com")]
    status, fetched = await alice.call("GET", path)
    assert status == 200 and fetched == body


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rdp_security": "ssl"}, "rdp_security: Input should be 'auto', 'nla', 'tls' or 'rdp'"),
        ({"domain": "d" * 129}, "domain: String should have at most 128 characters"),
        ({"domain": "CORP\\alice"}, "domain: a Windows domain (CORP or corp.example.com) has no spaces"),
        ({"domain": "alice@corp"}, "put the user name in username"),
        ({"domain": "my corp"}, "domain: a Windows domain"),
        ({"console_session": "maybe"}, "console_session: Input should be a valid boolean"),
        ({"ignore_certificate": None}, "ignore_certificate: Input should be a valid boolean"),
        ({"hostname": "win-01:3389", "port": 3390}, "hostname says port 3389 but port is 3390"),
    ],
)
async def test_an_invalid_rdp_item_is_refused_with_a_message_naming_the_field(
    alice: Rep, jumpoint_id: int, fields: dict[str, Any], message: str
) -> None:
    status, body = await alice.call("POST", "/jump-items", json=rdp_item(jumpoint_id, **fields))
    assert status == 400, body
    assert message in error_of(body)


@pytest.mark.parametrize("field", ["domain", "rdp_security", "console_session", "ignore_certificate"])
async def test_an_rdp_field_may_not_be_changed_to_null(alice: Rep, jumpoint_id: int, field: str) -> None:
    _, created = await alice.call("POST", "/jump-items", json=rdp_item(jumpoint_id))
    status, body = await alice.call("PATCH", f"/jump-items/{created['id']}", json={field: None})
    assert status == 400 and f"{field}: may not be null" in error_of(body)


async def test_the_jump_sends_the_rdp_fields_and_the_viewport_size_to_the_jumpoint(
    console: Console, alice: Rep, jumpoint_id: int
) -> None:
    fields = {"username": "alice", "domain": "CORP", "rdp_security": "tls", "console_session": True}
    _, created = await alice.call(
        "POST", "/jump-items", json=rdp_item(jumpoint_id, ignore_certificate=True, quality="few_colors", **fields)
    )
    status, body = await alice.call(
        "POST", f"/jump-items/{created['id']}/jump", json={"desktop_width": 1600, "desktop_height": 838}
    )
    assert status == 201, body
    target = console.hub.started[-1].target
    assert target.kind == "desktop"
    assert (target.protocol, target.hostname, target.port, target.username, target.domain) == (
        "rdp",
        "win-01.corp.lan",
        3389,
        "alice",
        "CORP",
    )
    assert (target.rdp_security, target.console_session, target.ignore_certificate, target.quality) == (
        "tls",
        True,
        True,
        "few_colors",
    )
    assert (target.desktop_width, target.desktop_height) == (1600, 838)
    assert body["session"]["protocol"] == "rdp"


async def test_a_jump_without_a_viewport_leaves_the_desktop_size_to_the_jumpoint(
    console: Console, alice: Rep, jumpoint_id: int
) -> None:
    _, created = await alice.call("POST", "/jump-items", json=rdp_item(jumpoint_id))
    status, body = await alice.call("POST", f"/jump-items/{created['id']}/jump", json={})
    assert status == 201, body
    target = console.hub.started[-1].target
    assert (target.desktop_width, target.desktop_height, target.rdp_security) == (None, None, "auto")


async def test_a_vnc_jump_carries_the_viewport_and_a_terminal_jump_neither_it_nor_stale_rdp_fields(
    console: Console, alice: Rep, jumpoint_id: int
) -> None:
    viewport = {"desktop_width": 1024, "desktop_height": 700, "cols": 100, "rows": 30}
    _, vnc = await alice.call("POST", "/jump-items", json=rdp_item(jumpoint_id, name="vnc", protocol="vnc"))
    assert vnc["port"] == 5900
    assert (await alice.call("POST", f"/jump-items/{vnc['id']}/jump", json=viewport))[0] == 201
    target = console.hub.started[-1].target
    assert (target.protocol, target.desktop_width, target.desktop_height) == ("vnc", 1024, 700)

    # An item that was RDP keeps its RDP fields (like terminal_type on a desktop), but they stay on the console.
    _, created = await alice.call(
        "POST", "/jump-items", json=rdp_item(jumpoint_id, domain="CORP", console_session=True)
    )
    status, ssh = await alice.call("PATCH", f"/jump-items/{created['id']}", json={"protocol": "ssh", "port": 22})
    assert status == 200 and (ssh["protocol"], ssh["domain"], ssh["console_session"]) == ("ssh", "CORP", True)
    assert (await alice.call("POST", f"/jump-items/{ssh['id']}/jump", json=viewport))[0] == 201
    target = console.hub.started[-1].target
    assert (target.protocol, target.cols, target.rows) == ("ssh", 100, 30)
    assert (target.domain, target.console_session, target.desktop_width, target.desktop_height) == (
        "",
        False,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ({"desktop_width": 199, "desktop_height": 600}, "desktop_width: Input should be greater than or equal to 200"),
        ({"desktop_width": 800, "desktop_height": 8193}, "desktop_height: Input should be less than or equal to 8192"),
        ({"desktop_width": 800}, "desktop_width and desktop_height go together: give both or neither"),
        ({"desktop_width": "wide", "desktop_height": 600}, "desktop_width: Input should be a valid integer"),
    ],
)
async def test_a_jump_with_a_bad_viewport_size_is_refused_with_the_reason(
    console: Console, alice: Rep, jumpoint_id: int, size: dict[str, Any], message: str
) -> None:
    _, created = await alice.call("POST", "/jump-items", json=rdp_item(jumpoint_id))
    status, body = await alice.call("POST", f"/jump-items/{created['id']}/jump", json=size)
    assert status == 400, body
    assert message in error_of(body)
    assert console.hub.started == []


async def admin_rdp_item_with_a_credential(console: Console, jumpoint_id: int) -> str:
    """An RDP item in a group alice uses, saved by an administrator with a credential; returns its path."""
    admin = await as_user(console, "admin")
    status, group = await admin.call("POST", "/jump-groups", json={"name": "Windows"})
    assert status == 201, group
    assert (await admin.call("PUT", f"/jump-groups/{group['id']}/members/{console.alice_id}"))[0] == 204
    status, created = await admin.call(
        "POST",
        "/jump-items",
        json=rdp_item(jumpoint_id, group_id=group["id"], domain="CORP", credential_ref="vault:secret/win"),
    )
    assert status == 201 and created["target_by_admin"] is True, created
    return f"/jump-items/{created['id']}"


@pytest.mark.parametrize(
    "change", [{"domain": "EVIL"}, {"rdp_security": "rdp"}, {"ignore_certificate": True}], ids=lambda c: next(iter(c))
)
async def test_a_rep_changing_where_an_rdp_credential_goes_stops_the_injection(
    console: Console, jumpoint_id: int, change: dict[str, Any]
) -> None:
    path = await admin_rdp_item_with_a_credential(console, jumpoint_id)
    alice = await as_user(console, "alice")
    status, body = await alice.call("PATCH", path, json=change)
    assert status == 200 and body["target_by_admin"] is False, body
    status, body = await alice.call("POST", f"{path}/jump", json={})
    assert status == 403 and "last changed by a rep" in error_of(body)


async def test_a_rep_changing_the_quality_or_console_session_or_saving_the_same_domain_keeps_the_injection(
    console: Console, jumpoint_id: int
) -> None:
    path = await admin_rdp_item_with_a_credential(console, jumpoint_id)
    alice = await as_user(console, "alice")
    same = {"domain": "CORP", "rdp_security": "auto", "ignore_certificate": False}
    status, body = await alice.call("PATCH", path, json={"quality": "video", "console_session": True, **same})
    assert status == 200 and body["target_by_admin"] is True, body
    status, body = await alice.call("POST", f"{path}/jump", json={"desktop_width": 800, "desktop_height": 600})
    assert status == 201, body
    assert console.hub.started[-1].target.credential_ref == "vault:secret/win"


async def test_the_openapi_document_describes_the_rdp_fields_and_the_viewport_size(console: Console) -> None:
    resp = await console.client.get("/api/v1/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    schemas = doc["components"]["schemas"]
    create = schemas["JumpItemCreate"]["properties"]
    assert create["rdp_security"]["enum"] == ["auto", "nla", "tls", "rdp"]
    assert create["rdp_security"]["default"] == "auto"
    assert create["domain"]["maxLength"] == 128
    assert create["console_session"]["type"] == "boolean"
    assert create["ignore_certificate"]["default"] is False
    assert "rdp_security" in schemas["JumpItemUpdate"]["properties"]
    assert {"domain", "rdp_security", "console_session", "ignore_certificate"} <= set(
        schemas["JumpItemOut"]["properties"]
    )
    width = next(s for s in schemas["JumpIn"]["properties"]["desktop_width"]["anyOf"] if s.get("type") == "integer")
    assert (width["minimum"], width["maximum"]) == (200, 8192)
