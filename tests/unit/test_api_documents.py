"""The OpenAPI document, the Client Scripting URL and the shape of errors."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from console_web.api.routing import ROUTES

Console = Any


def error_of(body: dict[str, Any]) -> str:
    return str(body["error"]["message"])


async def test_openapi_document_lists_every_route_with_schemas(console: Console) -> None:
    resp = await console.client.get("/api/v1/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    listed = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    expected = {
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/logout"),
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/users"),
        ("POST", "/api/v1/users"),
        ("GET", "/api/v1/users/{id}"),
        ("PATCH", "/api/v1/users/{id}"),
        ("DELETE", "/api/v1/users/{id}"),
        ("GET", "/api/v1/tokens"),
        ("POST", "/api/v1/tokens"),
        ("DELETE", "/api/v1/tokens/{id}"),
        ("GET", "/api/v1/jump-groups"),
        ("POST", "/api/v1/jump-groups"),
        ("GET", "/api/v1/jump-groups/{id}"),
        ("PATCH", "/api/v1/jump-groups/{id}"),
        ("DELETE", "/api/v1/jump-groups/{id}"),
        ("PUT", "/api/v1/jump-groups/{id}/members/{user_id}"),
        ("DELETE", "/api/v1/jump-groups/{id}/members/{user_id}"),
        ("GET", "/api/v1/jumpoints"),
        ("POST", "/api/v1/jumpoints"),
        ("GET", "/api/v1/jumpoints/{id}"),
        ("PATCH", "/api/v1/jumpoints/{id}"),
        ("DELETE", "/api/v1/jumpoints/{id}"),
        ("POST", "/api/v1/jumpoints/{id}/registration-keys"),
        ("POST", "/api/v1/jumpoint/register"),
        ("GET", "/api/v1/jumpoints/{id}/host-keys"),
        ("DELETE", "/api/v1/jumpoints/{id}/host-keys"),
        ("GET", "/api/v1/jumpoints/{id}/members"),
        ("DELETE", "/api/v1/jumpoints/{id}/members/{member_id}"),
        ("GET", "/api/v1/jump-items"),
        ("POST", "/api/v1/jump-items"),
        ("GET", "/api/v1/jump-items/{id}"),
        ("PATCH", "/api/v1/jump-items/{id}"),
        ("DELETE", "/api/v1/jump-items/{id}"),
        ("POST", "/api/v1/jump-items/{id}/jump"),
        ("GET", "/api/v1/sessions"),
        ("GET", "/api/v1/sessions/{id}"),
        ("POST", "/api/v1/sessions/{id}/end"),
        ("GET", "/api/v1/sessions/{session_id}/ws"),
        ("GET", "/api/v1/jumpoint/tunnel"),
        ("GET", "/api/client_script"),
        ("GET", "/api/v1/openapi.json"),
    }
    assert expected <= listed
    assert len(listed) == len(ROUTES)
    create = doc["paths"]["/api/v1/jump-items"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert schema["properties"]["name"]["maxLength"] == 128
    assert schema["additionalProperties"] is False
    assert doc["paths"]["/api/v1/sessions/{session_id}/ws"]["get"]["x-websocket"] is True
    for ops in doc["paths"].values():
        for op in ops.values():
            for r in op["responses"].values():
                for media in r.get("content", {}).values():
                    target = media["schema"].get("$ref")
                    if target:
                        assert target.rsplit("/", 1)[1] in doc["components"]["schemas"]


async def test_client_script_sends_a_logged_out_user_to_login_first(console: Console) -> None:
    url = "/api/client_script?type=web_console&operation=execute&action=start_jump_item_session&search_string=ABC"
    resp = await console.client.get(url, allow_redirects=False)
    assert resp.status == 302
    location = urlsplit(resp.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [url]


async def test_client_script_sends_a_logged_in_user_to_the_console_search(console: Console) -> None:
    await console.login_as("alice")
    url = "/api/client_script?type=web_console&operation=execute&action=start_jump_item_session&search_string=db%201"
    resp = await console.client.get(url, allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == "/console?jump_search=db%201"


async def test_client_script_with_an_unsupported_action_is_refused(console: Console) -> None:
    resp = await console.client.get(
        "/api/client_script?type=rep&operation=execute&action=start_jump_item_session&search_string=x",
        allow_redirects=False,
    )
    assert resp.status == 400
    assert "type: Input should be 'web_console'" in error_of(await resp.json())


async def test_unknown_api_route_gets_a_json_404(console: Console) -> None:
    resp = await console.client.get("/api/v1/nothing-here")
    assert resp.status == 404
    assert error_of(await resp.json()) == "there is no API route GET /api/v1/nothing-here"


async def test_unexpected_failure_is_a_500_without_the_traceback(console: Console) -> None:
    async def boom(request: web.Request) -> web.StreamResponse:
        raise RuntimeError("secret internals")

    app = web.Application()
    from console_web.api import auth_middlewares

    app.middlewares.extend(auth_middlewares())
    app.router.add_get("/api/v1/boom", boom)
    from aiohttp.test_utils import TestClient, TestServer

    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/api/v1/boom")
        assert resp.status == 500
        body = await resp.json()
        assert body["error"]["code"] == "internal"
        assert "secret internals" not in await resp.text()


def _offers_null(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "null" or any(_offers_null(s) for s in schema.get("anyOf", []))


async def test_every_patch_refuses_null_exactly_where_the_openapi_document_does_not_offer_it(console: Console) -> None:
    csrf = await console.login_as("admin")
    headers = {"X-CSRF-Token": csrf}
    doc = await (await console.client.get("/api/v1/openapi.json")).json()
    jumpoint = await (await console.client.post("/api/v1/jumpoints", json={"name": "LAN"}, headers=headers)).json()
    group = await (await console.client.post("/api/v1/jump-groups", json={"name": "Ops"}, headers=headers)).json()
    item = await (
        await console.client.post(
            "/api/v1/jump-items",
            json={"name": "web", "hostname": "web.lan", "jumpoint_id": jumpoint["id"]},
            headers=headers,
        )
    ).json()
    ids = {
        "/api/v1/users/{id}": console.alice_id,
        "/api/v1/jump-groups/{id}": group["id"],
        "/api/v1/jumpoints/{id}": jumpoint["id"],
        "/api/v1/jump-items/{id}": item["id"],
    }
    patches = {path: ops["patch"] for path, ops in doc["paths"].items() if "patch" in ops}
    assert set(patches) == set(ids)
    nullable: dict[str, set[str]] = {}
    for path, op in patches.items():
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        properties = doc["components"]["schemas"][ref]["properties"]
        nullable[ref] = {name for name, schema in properties.items() if _offers_null(schema)}
        url = path.replace("{id}", str(ids[path]))
        for name, schema in properties.items():
            if name in nullable[ref]:
                continue
            assert "default" not in schema, (ref, name)
            resp = await console.client.patch(url, json={name: None}, headers=headers)
            assert resp.status == 400, (url, name, await resp.text())
            assert error_of(await resp.json()) == f"{name}: may not be null (leave it out to keep the current value)"
    assert nullable == {
        "UserUpdate": set(),
        "GroupUpdate": set(),
        "JumpointUpdate": set(),
        "JumpItemUpdate": {"credential_ref", "login_prompt", "password_prompt", "login_failure"},
    }
    resp = await console.client.patch(f"/api/v1/jump-items/{item['id']}", json={"login_prompt": None}, headers=headers)
    assert resp.status == 200, await resp.text()
    for path in ids:  # nothing was changed by the refused requests
        resp = await console.client.get(path.replace("{id}", str(ids[path])), headers=headers)
        assert resp.status == 200
    assert (await (await console.client.get(f"/api/v1/jump-groups/{group['id']}")).json())["name"] == "Ops"
    assert (await (await console.client.get(f"/api/v1/jumpoints/{jumpoint['id']}")).json())["name"] == "LAN"
