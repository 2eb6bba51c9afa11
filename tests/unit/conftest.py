"""Fixtures for the console's storage, auth and API tests: a temporary database, a fake hub, a client.

The database is SQLite in a temporary directory, or with ``OPENJUMP_TEST_DATABASE=postgresql`` a fresh database on
the test PostgreSQL server (``tests/fixtures/postgres.py``, through ``tests/conftest.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from console_web.api import setup_api
from console_web.api.hubapi import HubApi
from console_web.appkeys import CONFIG_KEY, DB_KEY, HUB_API_KEY
from console_web.auth.passwords import configure_hasher
from console_web.auth.principal import Principal
from console_web.config import ConsoleConfig, ListenSettings, SecuritySettings
from console_web.db import repo
from console_web.db.database import Database
from console_web.hub.clusters import JumpointLive, MemberLive
from console_web.hub.jump import JumpRequest, SessionInfo
from jumpoint.core.errors import Forbidden, JumpointUnavailable, NotFound

ADMIN_PASSWORD = "admin-password-1"
ALICE_PASSWORD = "alice-password-1"
BOB_PASSWORD = "bob-password-1"


@pytest.fixture(autouse=True)
def cheap_password_hashing() -> None:
    """argon2 with tiny parameters: the tests exercise the logic, not the cost."""
    configure_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
async def db(tmp_path: Path, console_database_url: str | None) -> AsyncIterator[Database]:
    """A migrated database: SQLite in a temporary directory, or a fresh PostgreSQL database (see the docstring)."""
    database = await Database.open(console_database_url or f"sqlite+aiosqlite:///{tmp_path / 'console.db'}")
    await database.migrate()
    yield database
    await database.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database (no migration run) on each backend: SQLite, and the test PostgreSQL server."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'console.db'}"
    else:
        make: Callable[..., Any] = request.getfixturevalue("postgres_database")
        url = make().url
    database = await Database.open(url)
    try:
        yield database
    finally:
        await database.close()


@dataclass
class FakeHub:
    """Implements the hub interface the API uses; records what it was asked."""

    connected: set[int] = field(default_factory=set)
    started: list[JumpRequest] = field(default_factory=list)
    sessions: dict[str, SessionInfo] = field(default_factory=dict)
    host_keys: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    credential_entries: list[dict[str, Any]] = field(default_factory=list)
    live_members: dict[int, dict[int, MemberLive]] = field(default_factory=dict)
    removals: list[tuple[int, str, int, str | None]] = field(default_factory=list)
    revoked: list[tuple[int, int, str]] = field(default_factory=list)

    async def jumpoints_live(self, jumpoint_ids: Sequence[int]) -> dict[int, JumpointLive]:
        return {j: JumpointLive(j in self.connected, self.live_members.get(j, {})) for j in jumpoint_ids}

    async def host_keys_removed(self, jumpoint_id: int, host: str, port: int, fingerprint: str | None) -> int:
        self.removals.append((jumpoint_id, host, port, fingerprint))
        return len(self.live_members.get(jumpoint_id, {}))

    async def member_revoked(self, jumpoint_id: int, member_id: int, hostname: str) -> None:
        self.revoked.append((jumpoint_id, member_id, hostname))
        self.live_members.get(jumpoint_id, {}).pop(member_id, None)

    async def start_session(self, principal: Principal, jump: JumpRequest) -> SessionInfo:
        if jump.jumpoint_id not in self.connected:
            raise JumpointUnavailable(f"Jumpoint {jump.jumpoint_id} is not connected")
        self.started.append(jump)
        info = SessionInfo(
            session_id=f"s{len(self.started)}",
            item_id=jump.item_id,
            item_name=jump.item_name,
            owner_user_id=principal.user_id,
            jumpoint_id=jump.jumpoint_id,
            protocol=jump.target.protocol,
            state="connecting",
            started_at="2030-01-01T00:00:00+00:00",
        )
        self.sessions[info.session_id] = info
        return info

    async def list_sessions(self, principal: Principal) -> list[SessionInfo]:
        return [s for s in self.sessions.values() if principal.is_admin or s.owner_user_id == principal.user_id]

    async def get_session(self, session_id: str, principal: Principal) -> SessionInfo:
        info = self.sessions.get(session_id)
        if info is None:
            raise NotFound("this session does not exist or has ended")
        if not principal.is_admin and info.owner_user_id != principal.user_id:
            raise Forbidden("this session belongs to someone else")
        return info

    async def end_session(self, session_id: str, principal: Principal) -> None:
        await self.get_session(session_id, principal)
        del self.sessions[session_id]

    async def jumpoint_request(self, jumpoint_id: int, op: str, args: dict[str, Any]) -> Any:
        self.requests.append((jumpoint_id, op, args))
        if op == "hostkeys.list":
            return self.host_keys
        if op == "hostkeys.remove":
            before = len(self.host_keys)
            self.host_keys = [k for k in self.host_keys if k["host"] != args["host"] or k["port"] != args["port"]]
            return {"removed": before - len(self.host_keys)}
        if op == "credentials.list":
            if jumpoint_id not in self.connected:
                raise JumpointUnavailable("the Jumpoint is not connected")
            return self.credential_entries
        raise NotFound(f"unknown op {op}")


@pytest.fixture
def hub() -> FakeHub:
    """The fake hub the test app holds."""
    return FakeHub()


@dataclass
class Console:
    """A running test console: its client, database, fake hub and the ids of the seeded users."""

    client: TestClient[web.Request, web.Application]
    db: Database
    hub: FakeHub
    admin_id: int
    alice_id: int
    bob_id: int
    passwords: dict[str, str] = field(
        default_factory=lambda: {"admin": ADMIN_PASSWORD, "alice": ALICE_PASSWORD, "bob": BOB_PASSWORD}
    )

    async def login_as(self, username: str) -> str:
        """Log in as one of the seeded users; returns the CSRF token."""
        return await self.login(username, self.passwords[username])

    async def login(self, username: str, password: str) -> str:
        """Log in on this client's cookie jar and return the CSRF token."""
        resp = await self.client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["csrf_token"])


ConsoleFactory = Callable[..., Awaitable[Console]]


@pytest.fixture
async def make_console(db: Database, hub: FakeHub, tmp_path: Path) -> AsyncIterator[ConsoleFactory]:
    """Build a console app (optionally with other security settings, or ``listen=`` settings) with users admin,
    alice and bob."""
    clients: list[TestClient[web.Request, web.Application]] = []

    async def build(*, listen: ListenSettings | None = None, **security: Any) -> Console:
        config = ConsoleConfig(
            state_dir=tmp_path, security=SecuritySettings(**security), listen=listen or ListenSettings()
        )
        app = web.Application()
        app[CONFIG_KEY] = config
        app[DB_KEY] = db
        app[HUB_API_KEY] = cast(HubApi, hub)  # implements what these tests call
        setup_api(app)
        client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        ids = {}
        for name, password, admin in (
            ("admin", ADMIN_PASSWORD, True),
            ("alice", ALICE_PASSWORD, False),
            ("bob", BOB_PASSWORD, False),
        ):
            existing = await repo.find_user_by_name(db, name)
            ids[name] = existing.id if existing else await repo.create_user(db, name, password, is_admin=admin)
        return Console(client, db, hub, ids["admin"], ids["alice"], ids["bob"])

    yield build
    for client in clients:
        await client.close()


@pytest.fixture
async def console(make_console: ConsoleFactory) -> Console:
    """A console with default security settings."""
    return await make_console(login_attempts_per_minute=50)


def error_of(body: dict[str, Any]) -> str:
    """The message of an API error body."""
    return str(body["error"]["message"])
