"""Jump Items through the REST API: create, validate, change, delete, search, permissions and Jump."""

from __future__ import annotations

from typing import Any

import pytest

Console = Any


def error_of(body: dict[str, Any]) -> str:
    return str(body["error"]["message"])


@pytest.fixture
async def jumpoint_id(console: Console) -> int:
    csrf = await console.login_as("admin")
    resp = await console.client.post("/api/v1/jumpoints", json={"name": "LAN-1"}, headers={"X-CSRF-Token": csrf})
    assert resp.status == 201, await resp.text()
    await console.client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    return int((await resp.json())["id"])


class Rep:
    """A logged-in user's view of the API."""

    def __init__(self, console: Console, csrf: str) -> None:
        self.client = console.client
        self.headers = {"X-CSRF-Token": csrf}

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        resp = await self.client.request(method, "/api/v1" + path, headers=headers, **kwargs)
        body = await resp.json() if resp.status != 204 else None
        return resp.status, body


@pytest.fixture
async def alice(console: Console, jumpoint_id: int) -> Rep:
    return Rep(console, await console.login_as("alice"))


def item(jumpoint: int, **fields: Any) -> dict[str, Any]:
    return {"name": "web-01", "jumpoint_id": jumpoint, "hostname": "web-01.lan", **fields}


async def test_every_user_has_a_personal_jump_group(alice: Rep) -> None:
    status, body = await alice.call("GET", "/jump-groups")
    assert status == 200
    personal = [g for g in body["items"] if g["personal"]]
    assert len(personal) == 1
    assert personal[0]["name"] == "Personal: alice"


async def test_item_is_created_in_the_personal_group_with_ssh_defaults(alice: Rep, jumpoint_id: int) -> None:
    status, body = await alice.call("POST", "/jump-items", json=item(jumpoint_id))
    assert status == 201, body
    assert body["port"] == 22
    assert body["protocol"] == "ssh"
    assert body["terminal_type"] == "xterm"
    assert body["keepalive_seconds"] == 0
    _, groups = await alice.call("GET", "/jump-groups")
    assert body["group_id"] == next(g["id"] for g in groups["items"] if g["personal"])
    status, fetched = await alice.call("GET", f"/jump-items/{body['id']}")
    assert status == 200 and fetched == body


@pytest.mark.parametrize(
    ("hostname", "host", "port"),
    [
        ("db.lan:2222", "db.lan", 2222),
        ("[::1]:2200", "::1", 2200),
        ("[fe80::1]", "fe80::1", 22),
        ("::1", "::1", 22),
        ("2001:db8::10", "2001:db8::10", 22),
        ("fe80::1%eth0", "fe80::1%eth0", 22),
        ("Ärzte-Server.example", "Ärzte-Server.example", 22),
    ],
)
async def test_hostname_with_a_port_sets_the_port(
    alice: Rep, jumpoint_id: int, hostname: str, host: str, port: int
) -> None:
    status, body = await alice.call("POST", "/jump-items", json=item(jumpoint_id, hostname=hostname))
    assert status == 201, body
    assert (body["hostname"], body["port"]) == (host, port)


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"name": "x" * 129}, 400, "name: String should have at most 128 characters"),
        ({"port": 70000}, 400, "port: Input should be less than or equal to 65535"),
        ({"port": "ssh"}, 400, "port: Input should be a valid integer"),
        ({"hostname": "db.lan:99999"}, 400, "hostname: port '99999' must be a number from 1 to 65535"),
        ({"hostname": "db.lan:\u00b2"}, 400, "hostname: port '\u00b2' must be a number from 1 to 65535"),
        ({"hostname": "db.lan:\u0662\u0662"}, 400, "hostname: port '\u0662\u0662' must be a number from 1 to 65535"),
        ({"hostname": "db.lan:2222", "port": 22}, 400, "hostname says port 2222 but port is 22"),
        ({"hostname": "-oProxyCommand=x"}, 400, "hostname: must be a host name or an IP address"),
        ({"hostname": "a:b:c"}, 400, "hostname: 'a:b:c' is not an IPv6 address; write host:port, or an IPv6 "),
        ({"hostname": ":::"}, 400, "hostname: ':::' is not an IPv6 address"),
        ({"hostname": "1:2:3:4:5:6:7:8:9"}, 400, "hostname: '1:2:3:4:5:6:7:8:9' is not an IPv6 address"),
        (
            {"hostname": "web\x1b[31m"},
            400,
            "hostname: must not contain control or formatting characters (found U+001B)",
        ),
        ({"hostname": "web\x00x"}, 400, "hostname: must not contain control or formatting characters (found U+0000)"),
        ({"hostname": "web\u202e"}, 400, "hostname: must not contain control or formatting characters (found U+202E)"),
        ({"name": "   "}, 400, "name: must not be only spaces"),
        ({"name": "\x1b[2J"}, 400, "name: must not contain control or formatting characters (found U+001B)"),
        ({"name": "a\nb"}, 400, "name: must not contain control or formatting characters (found U+000A)"),
        ({"username": "root\nx"}, 400, "username: must not contain control or formatting characters (found U+000A)"),
        ({"protocol": "spice"}, 400, "protocol: protocol spice is not supported yet; supported: ssh, telnet, vnc, rdp"),
        ({"login_prompt": "(unclosed"}, 400, "login_prompt: not a valid regular expression: missing )"),
        ({"password_prompt": ".*"}, 400, "password_prompt: the pattern matches empty text"),
        ({"terminal_type": "ansi"}, 400, "terminal_type: Input should be 'xterm' or 'vt100'"),
        ({"keepalive_seconds": 3601}, 400, "keepalive_seconds: Input should be less than or equal to 3600"),
        ({"tag": "t" * 65}, 400, "tag: String should have at most 64 characters"),
        ({"comments": "c" * 1025}, 400, "comments: String should have at most 1024 characters"),
        ({"colour": "red"}, 400, "colour: unknown field (allowed: "),
        ({"jumpoint_id": 999}, 400, "Jumpoint 999 does not exist"),
        ({"group_id": 999}, 404, "Jump Group 999 does not exist"),
    ],
)
async def test_invalid_item_is_refused_with_a_message_naming_the_field(
    alice: Rep, jumpoint_id: int, fields: dict[str, Any], status: int, message: str
) -> None:
    got, body = await alice.call("POST", "/jump-items", json=item(jumpoint_id, **fields))
    assert got == status, body
    assert message in error_of(body)


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/jump-items/%C2%B2", "'\u00b2'"),  # superscript two
        ("/jump-items/%D9%A1", "'\u0661'"),  # Arabic-Indic one: int() reads it as 1
        ("/jump-groups/%C2%B2", "'\u00b2'"),
        ("/jumpoints/%E2%91%A0", "'\u2460'"),  # circled one
        ("/jump-items/%EF%BC%91", "'\uff11'"),  # fullwidth one
    ],
)
async def test_an_id_in_other_than_ascii_digits_is_not_found_rather_than_a_crash_or_another_id(
    alice: Rep, jumpoint_id: int, path: str, shown: str
) -> None:
    status, created = await alice.call("POST", "/jump-items", json=item(jumpoint_id))
    assert status == 201 and created["id"] == 1
    status, body = await alice.call("GET", path)
    assert status == 404, body
    assert error_of(body) == f"id {shown} is not a valid id"


async def test_missing_required_field_is_named(alice: Rep) -> None:
    status, body = await alice.call("POST", "/jump-items", json={"name": "x"})
    assert status == 400
    assert "jumpoint_id: Field required" in error_of(body)
    assert "hostname: Field required" in error_of(body)


async def test_invalid_json_is_refused(alice: Rep) -> None:
    status, body = await alice.call(
        "POST", "/jump-items", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert error_of(body) == "body is not valid JSON"


async def test_wrong_content_type_is_refused(alice: Rep) -> None:
    status, body = await alice.call("POST", "/jump-items", data=b"name=x", headers={"Content-Type": "text/plain"})
    assert status == 400
    assert "Content-Type: application/json" in error_of(body)


async def test_body_over_64_kib_is_refused(alice: Rep, jumpoint_id: int) -> None:
    status, body = await alice.call("POST", "/jump-items", json=item(jumpoint_id, comments="c" * 70_000))
    assert status == 413
    assert "64 KiB" in error_of(body)


async def test_item_can_be_changed_and_deleted(alice: Rep, jumpoint_id: int) -> None:
    _, created = await alice.call("POST", "/jump-items", json=item(jumpoint_id, login_prompt="user:"))
    path = f"/jump-items/{created['id']}"
    status, body = await alice.call("PATCH", path, json={"hostname": "web-02.lan:2022", "tag": "prod"})
    assert status == 200, body
    assert (body["hostname"], body["port"], body["tag"]) == ("web-02.lan", 2022, "prod")
    status, body = await alice.call("PATCH", path, json={"login_prompt": None, "name": "web-02"})
    assert status == 200 and body["login_prompt"] is None and body["name"] == "web-02"
    status, body = await alice.call("PATCH", path, json={"name": None})
    assert status == 400 and "name: may not be null" in error_of(body)
    status, body = await alice.call("PATCH", path, json={"protocol": "spice"})
    assert status == 400 and "protocol spice is not supported yet" in error_of(body)
    for fields, message in [
        ({"hostname": "a:b:c"}, "hostname: 'a:b:c' is not an IPv6 address"),
        ({"name": " \t "}, "name: must not be only spaces"),
        ({"username": "root\u202e"}, "username: must not contain control or formatting characters (found U+202E)"),
    ]:
        status, body = await alice.call("PATCH", path, json=fields)
        assert status == 400 and message in error_of(body), body
    assert (await alice.call("DELETE", path))[0] == 204
    status, body = await alice.call("GET", path)
    assert status == 404 and error_of(body) == f"Jump Item {created['id']} does not exist"


async def test_a_telnet_items_prompt_patterns_are_set_and_cleared(alice: Rep, jumpoint_id: int) -> None:
    patterns = {"login_prompt": r"^user:\s*$", "password_prompt": r"pin:\s*$", "login_failure": "denied"}
    status, created = await alice.call("POST", "/jump-items", json=item(jumpoint_id, protocol="telnet", **patterns))
    assert status == 201, created
    assert (created["port"], created["login_prompt"], created["login_failure"]) == (23, r"^user:\s*$", "denied")
    status, body = await alice.call("PATCH", f"/jump-items/{created['id']}", json={"login_prompt": None})
    assert status == 200, body
    assert body["login_prompt"] is None and body["password_prompt"] == r"pin:\s*$"


async def test_other_users_personal_items_are_invisible(console: Console, alice: Rep, jumpoint_id: int) -> None:
    _, created = await alice.call("POST", "/jump-items", json=item(jumpoint_id))
    console.client.session.cookie_jar.clear()
    bob = Rep(console, await console.login_as("bob"))
    status, body = await bob.call("GET", f"/jump-items/{created['id']}")
    assert status == 404
    assert error_of(body) == f"Jump Item {created['id']} does not exist"
    assert (await bob.call("PATCH", f"/jump-items/{created['id']}", json={"name": "mine"}))[0] == 404
    assert (await bob.call("DELETE", f"/jump-items/{created['id']}"))[0] == 404
    _, listed = await bob.call("GET", "/jump-items")
    assert listed["items"] == []
    console.client.session.cookie_jar.clear()
    admin = Rep(console, await console.login_as("admin"))
    assert (await admin.call("GET", f"/jump-items/{created['id']}"))[0] == 404


async def test_members_of_a_shared_group_see_its_items(console: Console, jumpoint_id: int) -> None:
    admin = Rep(console, await console.login_as("admin"))
    status, group = await admin.call("POST", "/jump-groups", json={"name": "Network"})
    assert status == 201
    _, created = await admin.call("POST", "/jump-items", json=item(jumpoint_id, group_id=group["id"]))
    assert (await admin.call("PUT", f"/jump-groups/{group['id']}/members/{console.bob_id}"))[0] == 204
    console.client.session.cookie_jar.clear()
    bob = Rep(console, await console.login_as("bob"))
    assert (await bob.call("GET", f"/jump-items/{created['id']}"))[0] == 200
    console.client.session.cookie_jar.clear()
    alice = Rep(console, await console.login_as("alice"))
    assert (await alice.call("GET", f"/jump-items/{created['id']}"))[0] == 404
    status, body = await alice.call("POST", "/jump-groups", json={"name": "Mine"})
    assert status == 403 and "administrator" in error_of(body)


async def test_search_matches_name_host_tag_and_comments(alice: Rep, jumpoint_id: int) -> None:
    for name, host, tag, comments in [
        ("Alpha", "a.lan", "", ""),
        ("beta", "DB-Main.lan", "", ""),
        ("gamma", "g.lan", "Payments", ""),
        ("delta", "d.lan", "", "Rack 42 in Lyon"),
    ]:
        status, _ = await alice.call(
            "POST", "/jump-items", json=item(jumpoint_id, name=name, hostname=host, tag=tag, comments=comments)
        )
        assert status == 201

    async def names(search: str) -> list[str]:
        status, body = await alice.call("GET", "/jump-items", params={"search": search})
        assert status == 200
        return [i["name"] for i in body["items"]]

    assert await names("alp") == ["Alpha"]
    assert await names("db-main") == ["beta"]
    assert await names("payMENTS") == ["gamma"]
    assert await names("lyon") == ["delta"]
    assert await names(".lan") == ["Alpha", "beta", "delta", "gamma"]
    assert await names("%") == []


async def test_jump_starts_a_session_on_the_hub(console: Console, alice: Rep, jumpoint_id: int) -> None:
    _, created = await alice.call("POST", "/jump-items", json=item(jumpoint_id, username="root", port=2222))
    status, body = await alice.call("POST", f"/jump-items/{created['id']}/jump", json={"cols": 120, "rows": 40})
    assert status == 503
    assert body["error"]["code"] == "jumpoint_unavailable"
    console.hub.connected.add(jumpoint_id)
    status, body = await alice.call("POST", f"/jump-items/{created['id']}/jump", json={"cols": 120, "rows": 40})
    assert status == 201, body
    assert body["url"] == f"/api/v1/sessions/{body['session_id']}/ws"
    target = console.hub.started[0].target
    assert (target.hostname, target.port, target.username, target.cols, target.rows) == (
        "web-01.lan",
        2222,
        "root",
        120,
        40,
    )
    status, listed = await alice.call("GET", "/sessions")
    assert [s["session_id"] for s in listed["items"]] == [body["session_id"]]
    assert (await alice.call("POST", f"/sessions/{body['session_id']}/end"))[0] == 204
    status, _ = await alice.call("GET", f"/sessions/{body['session_id']}")
    assert status == 404
