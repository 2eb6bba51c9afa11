"""The audit log through the REST API: reading with filters and paging, the CSV export, who may read it, and
what gets audited (logins and configuration changes, each with the client's address)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from console_web.api import audit as audit_api
from console_web.db import repo
from console_web.db.models import AuditEvent

Console = Any
ConsoleFactory = Any
CLIENT = "127.0.0.1"
BOB_PASSWORD = "bob-password-1"


def error_of(body: dict[str, Any]) -> str:
    return str(body["error"]["message"])


async def add_event(console: Console, action: str, at: datetime, **fields: Any) -> None:
    async with console.db.session() as session:
        session.add(AuditEvent(action=action, at=at, detail=fields.pop("detail", {}), **fields))


async def read(console: Console, query: str = "") -> dict[str, Any]:
    resp = await console.client.get("/api/v1/audit" + query)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


@pytest.fixture
async def admin(console: Console) -> Console:
    await console.login_as("admin")
    return console


async def test_admin_reads_logins_newest_first_with_the_actor_and_client_address(admin: Console) -> None:
    body = await read(admin)
    first = body["items"][0]
    assert first["action"] == "login.ok"
    assert first["actor_user_id"] == admin.admin_id
    assert first["actor_name"] == "admin"
    assert first["source_address"] == CLIENT
    assert first["detail"] == {"username": "admin"}
    ids = [e["id"] for e in body["items"]]
    assert ids == sorted(ids, reverse=True)
    assert body["next_before_id"] is None


async def test_reading_the_audit_log_is_not_itself_audited(admin: Console) -> None:
    before = (await read(admin))["items"]
    after = (await read(admin))["items"]
    assert [e["id"] for e in after] == [e["id"] for e in before]


async def test_action_filter_takes_an_exact_action_or_a_prefix(admin: Console) -> None:
    now = datetime.now(UTC)
    for action in ("session.started", "session.ended", "sessions.other", "jump.started"):
        await add_event(admin, action, now)
    exact = await read(admin, "?action=session.ended")
    assert [e["action"] for e in exact["items"]] == ["session.ended"]
    prefix = await read(admin, "?action=session.")
    assert [e["action"] for e in prefix["items"]] == ["session.ended", "session.started"]
    star = await read(admin, "?action=session*")
    assert [e["action"] for e in star["items"]] == ["sessions.other", "session.ended", "session.started"]


async def test_user_session_and_time_filters_combine(admin: Console) -> None:
    await add_event(admin, "t.old", datetime(2026, 1, 1, 12, 0, tzinfo=UTC), actor_user_id=admin.alice_id)
    await add_event(admin, "t.mid", datetime(2026, 1, 2, 12, 0, tzinfo=UTC), actor_user_id=admin.alice_id)
    await add_event(admin, "t.mid-bob", datetime(2026, 1, 2, 13, 0, tzinfo=UTC), actor_user_id=admin.bob_id)
    await add_event(admin, "t.new", datetime(2026, 1, 3, 12, 0, tzinfo=UTC), session_id="s-42")
    window = await read(admin, "?action=t.&since=2026-01-02T00:00:00Z&until=2026-01-03T00:00:00Z")
    assert [e["action"] for e in window["items"]] == ["t.mid-bob", "t.mid"]
    alices = await read(admin, f"?action=t.&user_id={admin.alice_id}")
    assert [(e["action"], e["actor_name"]) for e in alices["items"]] == [("t.mid", "alice"), ("t.old", "alice")]
    naive_is_utc = await read(admin, "?action=t.&since=2026-01-03T12:00:00")
    assert [e["action"] for e in naive_is_utc["items"]] == ["t.new"]
    by_session = await read(admin, "?session_id=s-42")
    assert [e["action"] for e in by_session["items"]] == ["t.new"]


async def test_text_search_looks_in_the_detail_the_action_and_the_actor_name(admin: Console) -> None:
    now = datetime.now(UTC)
    await add_event(admin, "item.created", now, detail={"name": "Payroll DB"}, actor_user_id=admin.bob_id)
    await add_event(admin, "hostkeys.removed", now, detail={"host": "10.0.0.9"})
    assert [e["action"] for e in (await read(admin, "?q=payroll"))["items"]] == ["item.created"]
    assert [e["action"] for e in (await read(admin, "?q=HOSTKEYS"))["items"]] == ["hostkeys.removed"]
    by_actor = await read(admin, "?q=bob&action=item.")
    assert [(e["actor_name"], e["detail"]) for e in by_actor["items"]] == [("bob", {"name": "Payroll DB"})]
    assert (await read(admin, "?q=100%25"))["items"] == []


async def test_older_pages_follow_next_before_id_without_gaps_or_repeats(admin: Console) -> None:
    now = datetime.now(UTC)
    for n in range(7):
        await add_event(admin, f"page.{n}", now)
    seen: list[str] = []
    query = "?action=page.&limit=3"
    pages = 0
    while True:
        body = await read(admin, query)
        pages += 1
        seen += [e["action"] for e in body["items"]]
        if body["next_before_id"] is None:
            break
        query = f"?action=page.&limit=3&before_id={body['next_before_id']}"
    assert pages == 3
    assert seen == [f"page.{n}" for n in range(6, -1, -1)]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?limit=0", "limit: Input should be greater than or equal to 1"),
        ("?limit=501", "limit: Input should be less than or equal to 500"),
        ("?since=yesterday", "since: Input should be a valid datetime"),
        ("?colour=red", "colour: unknown field"),
    ],
)
async def test_bad_filters_are_refused_naming_the_parameter(admin: Console, query: str, message: str) -> None:
    resp = await admin.client.get("/api/v1/audit" + query)
    assert resp.status == 400
    assert error_of(await resp.json()).startswith(message)


@pytest.mark.parametrize("path", ["/api/v1/audit", "/api/v1/audit.csv"])
async def test_a_non_admin_cannot_read_or_export_the_audit_log(console: Console, path: str) -> None:
    await console.login_as("alice")
    resp = await console.client.get(path)
    assert resp.status == 403
    assert error_of(await resp.json()) == "only an administrator may do this"


async def export(console: Console, query: str = "") -> list[list[str]]:
    resp = await console.client.get("/api/v1/audit.csv" + query)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="openjump-audit-')
    return list(csv.reader(io.StringIO(await resp.text())))


async def test_csv_export_has_a_header_row_and_the_filtered_events(admin: Console) -> None:
    await add_event(
        admin,
        "item.created",
        datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC),
        actor_user_id=admin.alice_id,
        source_address="192.0.2.7",
        session_id="s1",
        detail={"name": "web-01", "item_id": 7},
    )
    rows = await export(admin, "?action=item.created")
    assert rows[0] == list(audit_api.CSV_HEADER)
    assert rows[1][1:] == [
        "2026-02-03T04:05:06+00:00",
        "item.created",
        str(admin.alice_id),
        "alice",
        "",
        "192.0.2.7",
        "s1",
        '{"item_id": 7, "name": "web-01"}',
    ]
    assert len(rows) == 2


async def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_defused(admin: Console) -> None:
    mallory = await repo.create_user(admin.db, "-mallory", "mallory-password-1")
    now = datetime.now(UTC)
    await add_event(admin, "evil.one", now, session_id='=HYPERLINK("http://x")', actor_user_id=mallory)
    await add_event(admin, "evil.two", now, session_id="@SUM(A1)")
    await add_event(admin, "evil.three", now, session_id="+1+1")
    rows = await export(admin, "?action=evil.")
    by_action = {r[2]: r for r in rows[1:]}
    assert by_action["evil.one"][7] == '\'=HYPERLINK("http://x")'
    assert by_action["evil.one"][4] == "'-mallory"
    assert by_action["evil.two"][7] == "'@SUM(A1)"
    assert by_action["evil.three"][7] == "'+1+1"


async def test_csv_export_is_bounded(admin: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_api, "EXPORT_CAP", 3)
    monkeypatch.setattr(audit_api, "EXPORT_BATCH", 2)
    now = datetime.now(UTC)
    for n in range(6):
        await add_event(admin, f"many.{n}", now)
    rows = await export(admin, "?action=many.")
    assert [r[2] for r in rows[1:]] == ["many.5", "many.4", "many.3"]


async def test_every_export_is_audited_with_its_filters(admin: Console) -> None:
    await export(admin, "?action=login.&q=admin")
    body = await read(admin, "?action=audit.exported")
    (event,) = body["items"]
    assert event["actor_name"] == "admin"
    assert event["source_address"] == CLIENT
    assert event["detail"] == {"format": "csv", "filters": {"action": "login.", "q": "admin"}}


async def test_logins_that_succeed_fail_or_are_rate_limited_record_the_client_address(
    make_console: ConsoleFactory,
) -> None:
    console = await make_console(login_attempts_per_minute=2)
    for _ in range(2):
        await console.client.post("/api/v1/auth/login", json={"username": "alice", "password": "wrong-wrong"})
    for _ in range(3):  # refusals are audited once a minute per limit, not once each
        limited = await console.client.post("/api/v1/auth/login", json={"username": "alice", "password": "wrong"})
        assert limited.status == 429
    bob = await console.client.post("/api/v1/auth/login", json={"username": "bob", "password": BOB_PASSWORD})
    assert bob.status == 200  # alice's failures from the same address do not lock bob out
    async with console.db.session() as session:
        events = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
    seen = [(e.action, e.detail.get("username"), e.source_address) for e in events if e.action.startswith("login.")]
    assert seen == [
        ("login.failed", "alice", CLIENT),
        ("login.failed", "alice", CLIENT),
        ("login.rate_limited", "alice", CLIENT),
        ("login.ok", "bob", CLIENT),
    ]


async def test_a_successful_login_records_the_client_address(console: Console) -> None:
    await console.login_as("bob")
    async with console.db.session() as session:
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "login.ok"))
    assert event is not None
    assert (event.actor_user_id, event.source_address) == (console.bob_id, CLIENT)


async def test_configuration_changes_through_the_api_are_audited_with_the_client_address(admin: Console) -> None:
    csrf = await admin.login_as("admin")
    headers = {"X-CSRF-Token": csrf}

    async def call(method: str, path: str, json: Any = None) -> Any:
        resp = await admin.client.request(method, "/api/v1" + path, json=json, headers=headers)
        assert resp.status < 300, await resp.text()
        return await resp.json() if resp.status != 204 else None

    user = await call("POST", "/users", {"username": "dave", "password": "dave-password-1"})
    await call("PATCH", f"/users/{user['id']}", {"display_name": "Dave"})
    group = await call("POST", "/jump-groups", {"name": "Servers"})
    await call("PATCH", f"/jump-groups/{group['id']}", {"name": "All servers"})
    await call("PUT", f"/jump-groups/{group['id']}/members/{user['id']}")
    await call("DELETE", f"/jump-groups/{group['id']}/members/{user['id']}")
    jumpoint = await call("POST", "/jumpoints", {"name": "LAN-A"})
    await call("PATCH", f"/jumpoints/{jumpoint['id']}", {"comments": "rack 4"})
    await call("POST", f"/jumpoints/{jumpoint['id']}/registration-keys", {})
    item = await call("POST", "/jump-items", {"name": "web", "jumpoint_id": jumpoint["id"], "hostname": "web.lan"})
    await call("PATCH", f"/jump-items/{item['id']}", {"tag": "web"})
    await call("DELETE", f"/jump-items/{item['id']}")
    token = await call("POST", "/tokens", {"name": "ci"})
    await call("DELETE", f"/tokens/{token['id']}")
    await call("DELETE", f"/jumpoints/{jumpoint['id']}")
    await call("DELETE", f"/jump-groups/{group['id']}")
    await call("DELETE", f"/users/{user['id']}")

    body = await read(admin, f"?user_id={admin.admin_id}&limit=500")
    changes = [e for e in reversed(body["items"]) if not e["action"].startswith("login.")]
    assert [e["action"] for e in changes] == [
        "user.created",
        "user.updated",
        "group.created",
        "group.updated",
        "group.member_added",
        "group.member_removed",
        "jumpoint.created",
        "jumpoint.updated",
        "registration_key.created",
        "item.created",
        "item.updated",
        "item.deleted",
        "token.created",
        "token.deleted",
        "jumpoint.deleted",
        "group.deleted",
        "user.deleted",
    ]
    assert {e["source_address"] for e in changes} == {CLIENT}
