"""Logging in and out, cookies, CSRF, Origin, API tokens and the login rate limit, as a user sees them."""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from console_web.api.context import LOGIN_LIMITER_KEY
from console_web.auth.ratelimit import SlidingWindowLimiter
from console_web.db.clock import utcnow
from console_web.db.models import AuditEvent, WebSession

Console = Any
ConsoleFactory = Any
ALICE_PASSWORD = "alice-password-1"


def error_of(body: dict[str, Any]) -> str:
    return str(body["error"]["message"])


async def test_login_with_the_right_password_sets_a_strict_http_only_cookie(console: Console) -> None:
    resp = await console.client.post("/api/v1/auth/login", json={"username": "alice", "password": ALICE_PASSWORD})
    assert resp.status == 200
    body = await resp.json()
    assert body["user"]["username"] == "alice"
    assert "password" not in body["user"] and "password_hash" not in body["user"]
    assert len(body["csrf_token"]) >= 32
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("oj_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP in the test; HTTPS uses __Host-oj_session with Secure
    me = await console.client.get("/api/v1/me")
    assert me.status == 200
    assert (await me.json())["csrf_token"] == body["csrf_token"]


async def test_wrong_password_and_unknown_user_get_the_same_answer(console: Console) -> None:
    wrong = await console.client.post("/api/v1/auth/login", json={"username": "alice", "password": "nope-nope"})
    unknown = await console.client.post("/api/v1/auth/login", json={"username": "nobody", "password": "nope-nope"})
    assert wrong.status == unknown.status == 401
    assert error_of(await wrong.json()) == error_of(await unknown.json()) == "wrong username or password"
    assert "Set-Cookie" not in wrong.headers


async def test_too_many_failed_logins_are_refused_with_retry_after(make_console: ConsoleFactory) -> None:
    console = await make_console(login_attempts_per_minute=3)
    for _ in range(3):
        resp = await console.client.post("/api/v1/auth/login", json={"username": "alice", "password": "bad-bad-1"})
        assert resp.status == 401
    resp = await console.client.post("/api/v1/auth/login", json={"username": "alice", "password": ALICE_PASSWORD})
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) >= 1
    body = await resp.json()
    assert body["error"]["code"] == "too_many_requests"
    assert "try again in" in error_of(body)


async def test_parallel_wrong_passwords_are_all_counted(make_console: ConsoleFactory) -> None:
    console = await make_console(login_attempts_per_minute=5)
    answers = await asyncio.gather(
        *(
            console.client.post("/api/v1/auth/login", json={"username": "alice", "password": f"wrong-{i}"})
            for i in range(30)
        )
    )
    statuses = sorted(resp.status for resp in answers)
    assert statuses == [401] * 5 + [429] * 25  # only 5 passwords were checked
    async with console.db.session() as session:
        failed = await session.scalar(select(func.count()).where(AuditEvent.action == "login.failed"))
    assert failed == 5


async def test_failures_for_other_names_from_one_address_do_not_lock_out_a_correct_password(
    make_console: ConsoleFactory,
) -> None:
    console = await make_console(login_attempts_per_minute=5)
    for i in range(5):
        resp = await console.client.post("/api/v1/auth/login", json={"username": "mallory", "password": f"x-{i}"})
        assert resp.status == 401
    mallory = await console.client.post("/api/v1/auth/login", json={"username": "mallory", "password": "x-5"})
    assert mallory.status == 429
    assert error_of(await mallory.json()).startswith("too many failed logins for this username; try again in")
    alice = await console.client.post("/api/v1/auth/login", json={"username": "alice", "password": ALICE_PASSWORD})
    assert alice.status == 200


async def test_one_address_is_refused_after_ten_times_the_per_username_limit(make_console: ConsoleFactory) -> None:
    console = await make_console(login_attempts_per_minute=1)
    for i in range(9):
        resp = await console.client.post("/api/v1/auth/login", json={"username": f"guess{i}", "password": "nope-nope"})
        assert resp.status == 401
    for _ in range(3):  # a successful login gives its slot of the address back
        resp = await console.client.post("/api/v1/auth/login", json={"username": "alice", "password": ALICE_PASSWORD})
        assert resp.status == 200
    resp = await console.client.post("/api/v1/auth/login", json={"username": "guess9", "password": "nope-nope"})
    assert resp.status == 401
    refused = await console.client.post("/api/v1/auth/login", json={"username": "alice", "password": ALICE_PASSWORD})
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert error_of(await refused.json()).startswith("too many failed logins from this address; try again in")


async def audit_details(console: Console, action: str) -> list[dict[str, Any]]:
    async with console.db.session() as session:
        events = (await session.scalars(select(AuditEvent).where(AuditEvent.action == action))).all()
    return [dict(event.detail) for event in events]


async def test_refused_logins_are_audited_once_a_minute_per_limit_reached(
    make_console: ConsoleFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    console = await make_console(login_attempts_per_minute=2)
    limiter = console.client.server.app[LOGIN_LIMITER_KEY]
    now = [1000.0]
    monkeypatch.setattr(limiter, "_clock", lambda: now[0])

    async def attempts(count: int, status: int) -> None:
        for _ in range(count):
            resp = await console.client.post("/api/v1/auth/login", json={"username": "alice", "password": "bad-bad"})
            assert resp.status == status

    await attempts(2, 401)
    await attempts(20, 429)
    assert await audit_details(console, "login.rate_limited") == [
        {
            "username": "alice",
            "limit": "username",
            "note": "further refused attempts against this limit in the next minute are not audited one by one",
        }
    ]
    now[0] += 59.0
    await attempts(5, 429)  # the failures of a minute ago still count
    assert len(await audit_details(console, "login.rate_limited")) == 1
    now[0] += 2.0
    await attempts(2, 401)
    await attempts(5, 429)
    assert len(await audit_details(console, "login.rate_limited")) == 2


async def test_a_failed_login_for_a_name_that_is_no_user_keeps_only_its_length_and_a_tag(
    make_console: ConsoleFactory, caplog: pytest.LogCaptureFixture
) -> None:
    console = await make_console(login_attempts_per_minute=2)
    typed = "correct-horse-battery"  # a password typed into the username field
    caplog.set_level(logging.INFO, logger="console_web.api.auth_routes")
    for name, status in ((typed, 401), (typed.upper(), 401), ("other-name", 401), (typed, 429), ("alice", 401)):
        resp = await console.client.post("/api/v1/auth/login", json={"username": name, "password": "bad-bad"})
        assert resp.status == status
    failed = await audit_details(console, "login.failed")
    unknown = [detail["unknown_user"] for detail in failed[:3]]
    assert [entry["length"] for entry in unknown] == [len(typed), len(typed), len("other-name")]
    assert all(re.fullmatch(r"[0-9a-f]{8}", entry["tag"]) for entry in unknown)
    assert unknown[0]["tag"] == unknown[1]["tag"] != unknown[2]["tag"]  # names are compared as logins compare them
    assert failed[3] == {"username": "alice"}  # a user's name is kept as before
    (limited,) = await audit_details(console, "login.rate_limited")
    assert limited["unknown_user"] == unknown[0]
    assert "username" not in limited and all("username" not in detail for detail in failed[:3])
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert typed not in logged.lower() and "other-name" not in logged
    assert f"failed login for an unknown user name ({len(typed)} characters, tag {unknown[0]['tag']})" in logged
    assert "failed login for 'alice'" in logged


async def test_requests_without_login_are_unauthorized(console: Console) -> None:
    resp = await console.client.get("/api/v1/jump-items")
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "unauthorized"


async def test_unsafe_request_without_csrf_token_is_forbidden(console: Console) -> None:
    csrf = await console.login("alice", ALICE_PASSWORD)
    resp = await console.client.post("/api/v1/tokens", json={"name": "ci"})
    assert resp.status == 403
    assert "CSRF" in error_of(await resp.json())
    ok = await console.client.post("/api/v1/tokens", json={"name": "ci"}, headers={"X-CSRF-Token": csrf})
    assert ok.status == 201


async def test_request_from_a_foreign_origin_is_forbidden(console: Console) -> None:
    csrf = await console.login("alice", ALICE_PASSWORD)
    resp = await console.client.post(
        "/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
    )
    assert resp.status == 403
    assert "evil.example" in error_of(await resp.json())


async def test_logout_ends_the_login_session(console: Console) -> None:
    csrf = await console.login("alice", ALICE_PASSWORD)
    resp = await console.client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert resp.status == 204
    assert (await console.client.get("/api/v1/me")).status == 401


async def test_idle_login_session_expires(console: Console) -> None:
    await console.login("alice", ALICE_PASSWORD)
    async with console.db.session() as session:
        await session.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(hours=5)))
    resp = await console.client.get("/api/v1/me")
    assert resp.status == 401
    assert "expired" in error_of(await resp.json())


async def test_bearer_token_works_without_csrf_and_revoked_token_does_not(console: Console) -> None:
    csrf = await console.login("alice", ALICE_PASSWORD)
    created = await (
        await console.client.post("/api/v1/tokens", json={"name": "script"}, headers={"X-CSRF-Token": csrf})
    ).json()
    token = created["token"]
    assert token.startswith("ojt_")
    console.client.session.cookie_jar.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    me = await console.client.get("/api/v1/me", headers=bearer)
    assert me.status == 200
    assert (await me.json())["username"] == "alice"
    listed = await (await console.client.get("/api/v1/tokens", headers=bearer)).json()
    assert [t["name"] for t in listed["items"]] == ["script"]
    assert "token" not in listed["items"][0]
    deleted = await console.client.delete(f"/api/v1/tokens/{created['id']}", headers=bearer)
    assert deleted.status == 204
    again = await console.client.get("/api/v1/me", headers=bearer)
    assert again.status == 401
    assert "not valid" in error_of(await again.json())


async def test_disabled_user_cannot_log_in_or_use_a_token(console: Console) -> None:
    admin_csrf = await console.login("admin", "admin-password-1")
    resp = await console.client.patch(
        f"/api/v1/users/{console.alice_id}", json={"disabled": True}, headers={"X-CSRF-Token": admin_csrf}
    )
    assert resp.status == 200
    resp = await console.client.post("/api/v1/auth/login", json={"username": "alice", "password": ALICE_PASSWORD})
    assert resp.status == 401
    assert "disabled" in error_of(await resp.json())


def test_sliding_window_forgets_old_events_and_stays_bounded() -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter(window=60, max_keys=3, clock=lambda: now[0])
    for _ in range(2):
        limiter.record("a")
    assert limiter.retry_after("a", 2) == 60
    now[0] = 61
    assert limiter.retry_after("a", 2) is None
    for key in "bcde":
        limiter.record(key)
    assert len(limiter) == 3


def test_a_forgotten_event_no_longer_counts() -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter(window=60, clock=lambda: now[0])
    first = limiter.record("a")
    now[0] = 1
    limiter.record("a")
    limiter.forget("a", first)
    assert limiter.retry_after("a", 2) is None
    assert limiter.retry_after("a", 1) == 60
    limiter.forget("a", first)  # already gone: nothing happens
    assert len(limiter) == 1


def test_cookie_over_https_is_host_prefixed_and_secure() -> None:
    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from console_web.auth.cookies import set_session_cookie

    response = web.Response()
    secure = make_mocked_request("GET", "/", sslcontext=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    set_session_cookie(response, secure, "tok", 3600)
    cookie = response.cookies.output()
    assert "__Host-oj_session=tok" in cookie
    for flag in ("HttpOnly", "Path=/", "SameSite=Strict", "Secure"):
        assert flag in cookie
    assert "Domain" not in cookie
