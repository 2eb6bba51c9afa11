"""What SQLite and PostgreSQL do differently, made the same by the storage layer; these run on the database the
console's tests use (SQLite, or PostgreSQL with ``OPENJUMP_TEST_DATABASE=postgresql``, as ``scripts/test`` does).

SQLite's integers have 64 bits, its text may hold NUL, its LIKE ignores case; PostgreSQL's INTEGER has 32, its
text refuses NUL, its LIKE minds case and treats its parameters by their declared types."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from console_web.db.models import AuditEvent

Console = Any
HUGE = 99_999_999_999  # beyond 32 bits


async def call(console: Console, method: str, path: str, csrf: str = "", **kwargs: Any) -> tuple[int, Any]:
    resp = await console.client.request(method, "/api/v1" + path, headers={"X-CSRF-Token": csrf}, **kwargs)
    return resp.status, (await resp.json() if resp.status != 204 else None)


async def test_ids_beyond_32_bits_are_simply_not_found(console: Console) -> None:
    csrf = await console.login_as("admin")
    for path in (f"/users/{HUGE}", f"/jump-items/{HUGE}", f"/jumpoints/{HUGE}"):
        status, body = await call(console, "GET", path)
        assert status == 404, (path, body)
    for path in (f"/audit?user_id={HUGE}", f"/session-history?user_id={HUGE}", f"/jump-items?group_id={HUGE}"):
        status, body = await call(console, "GET", path)
        assert (status, body["items"]) == (200, []), path
    status, body = await call(console, "GET", f"/audit?before_id={HUGE}")
    assert status == 200 and body["items"]
    status, body = await call(
        console, "POST", "/jump-items", csrf, json={"name": "x", "hostname": "h", "jumpoint_id": HUGE, "group_id": HUGE}
    )
    assert status == 404, body


async def test_a_nul_character_is_kept_as_the_replacement_character(console: Console) -> None:
    csrf = await console.login_as("admin")
    status, body = await call(console, "POST", "/jump-groups", csrf, json={"name": "Linux\x00 servers"})
    assert status == 201, body
    _, groups = await call(console, "GET", "/jump-groups")
    assert "Linux\ufffd servers" in [g["name"] for g in groups["items"]]
    for path in ("/audit?q=%00", "/jump-items?search=%00", "/session-history?q=%00", "/audit?session_id=%00"):
        status, body = await call(console, "GET", path)
        assert status == 200, (path, body)
    status, _ = await call(console, "POST", "/auth/login", json={"username": "admin\x00", "password": "x" * 8})
    assert status == 401


async def test_search_ignores_case_and_takes_percent_and_underscore_literally(console: Console) -> None:
    csrf = await console.login_as("admin")
    _, jumpoint = await call(console, "POST", "/jumpoints", csrf, json={"name": "LAN"})
    for name in ("Web_01", "web101", "DB at 50%", "Mail"):
        status, body = await call(
            console,
            "POST",
            "/jump-items",
            csrf,
            json={"name": name, "hostname": "h.lan", "jumpoint_id": jumpoint["id"]},
        )
        assert status == 201, body

    async def names(search: str) -> list[str]:
        _, body = await call(console, "GET", "/jump-items", params={"search": search})
        return [i["name"] for i in body["items"]]

    assert await names("WEB") == ["web101", "Web_01"]  # ordered by name ignoring case, by code point: "1" < "_"
    assert await names("b_") == ["Web_01"]
    assert await names("50%") == ["DB at 50%"]
    assert await names("") == ["DB at 50%", "Mail", "web101", "Web_01"]
    _, audit = await call(console, "GET", "/audit", params={"q": "JUMPPOINT.CREATED"})
    assert audit["items"] == []
    _, audit = await call(console, "GET", "/audit", params={"q": "Jumpoint.Created"})
    assert [e["action"] for e in audit["items"]] == ["jumpoint.created"]


async def test_search_ignores_case_in_every_script_not_only_ascii(console: Console) -> None:
    csrf = await console.login_as("admin")
    _, jumpoint = await call(console, "POST", "/jumpoints", csrf, json={"name": "LAN"})
    for name, host, tag, comments in [
        ("Ärzte-Server", "h1.lan", "", ""),
        ("Serveur-Élysée", "h2.lan", "", ""),
        ("web-ÖSTERREICH", "h3.lan", "", ""),
        ("db", "ΒΆΣΗ.example", "Москва", "Rack in İZMİR"),
    ]:
        item = {"name": name, "hostname": host, "tag": tag, "comments": comments, "jumpoint_id": jumpoint["id"]}
        status, body = await call(console, "POST", "/jump-items", csrf, json=item)
        assert status == 201, body

    async def names(search: str) -> list[str]:
        _, body = await call(console, "GET", "/jump-items", params={"search": search})
        return [i["name"] for i in body["items"]]

    for search in ("Ärzte", "ärzte", "ÄRZTE", "ärzte-server"):  # the last: a Client Scripting link's search string
        assert await names(search) == ["Ärzte-Server"], search
    assert await names("élysée") == await names("ÉLYSÉE") == ["Serveur-Élysée"]
    assert await names("österreich") == await names("Österreich") == ["web-ÖSTERREICH"]
    assert await names("βάση") == await names("москва") == await names("москва".upper()) == ["db"]
    assert await names("zmi") == ["db"]  # ASCII letters still match whatever case
    assert await names("") == ["db", "Serveur-Élysée", "web-ÖSTERREICH", "Ärzte-Server"]  # by lower-cased code point


async def test_times_are_compared_and_returned_in_utc_whatever_zone_they_came_in(console: Console) -> None:
    paris = timezone(timedelta(hours=2))
    async with console.db.session() as session:
        session.add(AuditEvent(action="test.zone", at=datetime(2026, 11, 21, 12, 0, tzinfo=paris), detail={"n": 1}))
        session.add(AuditEvent(action="test.zone", at=datetime(2026, 11, 21, 10, 30, tzinfo=UTC), detail={"n": 2}))
    await console.login_as("admin")

    async def numbers(**params: str) -> list[int]:
        _, body = await call(console, "GET", "/audit", params={"action": "test.zone", **params})
        return [e["detail"]["n"] for e in body["items"]]

    assert await numbers() == [2, 1]
    assert await numbers(since="2026-11-21T10:00:00Z") == [2, 1]
    assert await numbers(since="2026-11-21T10:00:00.000001Z") == [2]
    assert await numbers(until="2026-11-21T12:29:59+02:00") == [1]
    _, body = await call(console, "GET", "/audit", params={"action": "test.zone", "until": "2026-11-21T10:00:01Z"})
    assert body["items"][0]["at"] == "2026-11-21T10:00:00Z"


async def test_json_details_come_back_as_they_were_written(console: Console) -> None:
    detail = {"name": "Zoë", "nested": {"list": [1, True, None, "x"]}, "empty": {}}
    async with console.db.session() as session:
        session.add(AuditEvent(action="test.json", at=datetime.now(UTC), detail=detail))
    await console.login_as("admin")
    _, body = await call(console, "GET", "/audit", params={"action": "test.json"})
    assert body["items"][0]["detail"] == detail
    _, body = await call(console, "GET", "/audit", params={"q": '"list": [1, true'})
    assert [e["action"] for e in body["items"]] == ["test.json"]


async def test_a_paging_cursor_past_the_year_9999_is_refused(console: Console) -> None:
    await console.login_as("admin")
    status, body = await call(console, "GET", "/session-history", params={"before": "999999999999999999.abc"})
    assert status == 400, body
