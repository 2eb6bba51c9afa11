"""Names that must be unique (users, Jumpoints, shared Jump Groups) stay unique when requests race, and a clash is a
409 naming the field, never an internal error; on the database the console's tests use (SQLite, or PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from console_web.db import repo
from console_web.db.clock import utcnow
from console_web.db.database import Database
from console_web.db.models import JumpGroup, Jumpoint, User
from jumpoint.core.errors import Conflict

Console = Any
PARALLEL = 8


async def _admin_headers(console: Console) -> dict[str, str]:
    return {"X-CSRF-Token": await console.login_as("admin")}


async def _post_together(console: Console, path: str, body: dict[str, Any]) -> list[tuple[int, Any]]:
    headers = await _admin_headers(console)
    responses = await asyncio.gather(
        *(console.client.post("/api/v1" + path, json=body, headers=headers) for _ in range(PARALLEL))
    )
    return [(r.status, await r.json()) for r in responses]


@pytest.mark.parametrize(
    ("path", "body", "field", "message"),
    [
        (
            "/users",
            {"username": "carol", "password": "carol-password"},
            "username",
            "a user named 'carol' already exists",
        ),
        ("/jumpoints", {"name": "Same"}, "name", "a Jumpoint named 'Same' already exists"),
        ("/jump-groups", {"name": "G"}, "name", "a shared Jump Group named 'G' already exists"),
    ],
)
async def test_the_same_name_created_by_parallel_requests_is_one_201_and_the_rest_409_naming_the_field(
    console: Console, path: str, body: dict[str, Any], field: str, message: str
) -> None:
    results = await _post_together(console, path, body)
    assert Counter(status for status, _ in results) == {201: 1, 409: PARALLEL - 1}, results
    for status, answer in results:
        if status == 409:
            assert answer["error"]["message"] == message
            assert answer["error"]["details"] == {"field": field}
    listed = await (await console.client.get("/api/v1" + path)).json()
    key = "username" if path == "/users" else "name"
    assert [entry[key] for entry in listed["items"]].count(body[key]) == 1


async def _race(db: Database, create: Callable[[AsyncSession], Awaitable[object]]) -> Conflict:
    """``create`` in two transactions: the second checks the name while the first holds it uncommitted, so it only
    learns of the clash from the database's unique constraint."""

    async def in_second_transaction() -> None:
        async with db.session() as session:
            await create(session)

    async with db.session() as session:
        await create(session)
        second = asyncio.create_task(in_second_transaction())
        await asyncio.sleep(0.5)  # it has checked the name, and its INSERT waits for this transaction
    with pytest.raises(Conflict) as err:
        await second
    return err.value


async def test_a_user_created_twice_at_the_same_moment_is_a_conflict_not_an_integrity_error(db: Database) -> None:
    err = await _race(db, lambda session: repo.create_user_in(session, "carol", "hash"))
    assert (err.message, err.details) == ("a user named 'carol' already exists", {"field": "username"})
    async with db.session() as session:
        assert len((await session.scalars(select(User).where(User.username == "carol"))).all()) == 1


async def test_a_jumpoint_created_twice_at_the_same_moment_is_a_conflict_not_an_integrity_error(db: Database) -> None:
    err = await _race(db, lambda session: repo.create_jumpoint_in(session, "LAN"))
    assert (err.message, err.details) == ("a Jumpoint named 'LAN' already exists", {"field": "name"})
    async with db.session() as session:
        assert len((await session.scalars(select(Jumpoint).where(Jumpoint.name == "LAN"))).all()) == 1


async def test_the_database_refuses_a_second_shared_group_of_a_name_but_not_personal_groups_of_one(
    db: Database,
) -> None:
    alice = await repo.create_user(db, "alice", "alice-password")
    bob = await repo.create_user(db, "bob", "bob-password1")
    async with db.session() as session:
        await session.execute(update(JumpGroup).where(JumpGroup.personal_owner_id.in_([alice, bob])).values(name="Ops"))
        session.add(JumpGroup(name="Ops", personal_owner_id=None, created_at=utcnow()))
    with pytest.raises(IntegrityError, match=r"uq_jump_groups_shared_name|jump_groups\.name"):
        async with db.session() as session:
            session.add(JumpGroup(name="Ops", personal_owner_id=None, created_at=utcnow()))
    async with db.session() as session:
        names = (await session.scalars(select(JumpGroup.name).where(JumpGroup.name == "Ops"))).all()
    assert len(names) == 3


async def test_renaming_a_shared_group_to_another_shared_groups_name_is_409(console: Console) -> None:
    headers = await _admin_headers(console)
    for name in ("Ops", "Dev"):
        resp = await console.client.post("/api/v1/jump-groups", json={"name": name}, headers=headers)
        assert resp.status == 201
        dev = await resp.json()
    resp = await console.client.patch(f"/api/v1/jump-groups/{dev['id']}", json={"name": "Ops"}, headers=headers)
    assert resp.status == 409
    assert (await resp.json())["error"] == {
        "code": "conflict",
        "who": "user",
        "message": "a shared Jump Group named 'Ops' already exists",
        "details": {"field": "name"},
    }
    groups = await (await console.client.get("/api/v1/jump-groups")).json()
    assert sorted(g["name"] for g in groups["items"] if not g["personal"]) == ["Dev", "Ops"]
    resp = await console.client.patch(f"/api/v1/jump-groups/{dev['id']}", json={"name": "Dev"}, headers=headers)
    assert resp.status == 200  # its own name again is no clash
    personal = next(g for g in groups["items"] if g["personal"])
    resp = await console.client.patch(f"/api/v1/jump-groups/{personal['id']}", json={"name": "Ops"}, headers=headers)
    assert resp.status == 200  # a personal group's name may repeat a shared one's


async def test_renaming_a_jumpoint_to_another_jumpoints_name_is_409_naming_the_field(console: Console) -> None:
    headers = await _admin_headers(console)
    for name in ("LAN", "DMZ"):
        resp = await console.client.post("/api/v1/jumpoints", json={"name": name}, headers=headers)
        dmz = await resp.json()
    resp = await console.client.patch(f"/api/v1/jumpoints/{dmz['id']}", json={"name": "LAN"}, headers=headers)
    assert resp.status == 409
    error = (await resp.json())["error"]
    assert (error["message"], error["details"]) == ("a Jumpoint named 'LAN' already exists", {"field": "name"})
