"""The session hub itself, with a fake Jumpoint member and a real database: starting and sharing live sessions (the
API's tests here run against this hub, not the fake one)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from console_web.auth.principal import Principal
from console_web.db import repo
from console_web.db.database import Database
from console_web.db.models import AuditEvent, JumpGroup, JumpGroupMember
from console_web.hub import sharing
from console_web.hub.hub import Hub
from console_web.hub.jump import JumpRequest
from console_web.hub.participants import Identity
from jumpoint.core.adapter import Target
from jumpoint.core.errors import InternalError
from tests.fixtures.hub_member import JUMPOINT, hub_with_member
from tests.unit.conftest import Console


@pytest.fixture
async def hub(db: Database, tmp_path: Path) -> AsyncIterator[Hub]:  # the API tests' app holds this real hub
    """A hub with one connected, admitted member of Jumpoint 7."""
    async with hub_with_member(db, tmp_path) as real:
        yield real


def _rep(user_id: int, name: str) -> Principal:
    return Principal(user_id=user_id, username=name, display_name="", is_admin=False, via="session")


def _jump(policy: str = "start_new") -> JumpRequest:
    target = Target(protocol="ssh", hostname="db1.example.com", port=22, username="ops")
    return JumpRequest(item_id=11, item_name="db1", jumpoint_id=JUMPOINT, target=target, session_policy=policy)


async def _audit(hub: Hub, db: Database, action: str) -> list[AuditEvent]:
    await hub.writer.flush()
    async with db.session() as session:
        return list((await session.execute(select(AuditEvent).where(AuditEvent.action == action))).scalars())


async def _shared_group(db: Database, *user_ids: int) -> int:
    async with db.session() as session:
        group = JumpGroup(name="night shift")
        session.add(group)
        await session.flush()
        session.add_all(JumpGroupMember(group_id=group.id, user_id=u) for u in user_ids)
        return group.id


async def _reps(db: Database, *names: str) -> list[int]:
    return [await repo.create_user(db, name, f"{name}-password-1") for name in names]


# --- what the page is told -----------------------------------------------------------------------
@pytest.mark.parametrize("terminal_type", ["vt100", "xterm"])
async def test_the_session_the_page_is_told_about_names_the_items_terminal_type(
    console: Console, hub: Hub, terminal_type: str
) -> None:
    target = Target(protocol="telnet", hostname="switch1", port=23, terminal_type=terminal_type)
    jump = JumpRequest(item_id=12, item_name="switch1", jumpoint_id=JUMPOINT, target=target, session_policy="start_new")
    info = await hub.start_session(_rep(console.alice_id, "alice"), jump)
    described = hub.sessions[info.session_id].describe()
    assert described["terminal_type"] == terminal_type
    assert described["protocol"] == "telnet" and described["item_name"] == "switch1"


# --- invitations ----------------------------------------------------------------------------------
async def test_inviting_a_group_skips_members_who_already_have_an_invitation(
    console: Console, hub: Hub, db: Database
) -> None:
    carol, dave = await _reps(db, "carol", "dave")
    group_id = await _shared_group(db, console.alice_id, console.bob_id, carol, dave)
    info = await hub.start_session(_rep(console.alice_id, "alice"), _jump())
    headers = {"X-CSRF-Token": await console.login_as("alice")}
    url = f"/api/v1/sessions/{info.session_id}/invitations"

    first = await console.client.post(url, json={"user_id": console.bob_id}, headers=headers)
    assert first.status == 201
    resp = await console.client.post(url, json={"group_id": group_id}, headers=headers)

    assert resp.status == 201, await resp.text()
    assert sorted(i["user_id"] for i in (await resp.json())["items"]) == sorted([carol, dave])
    pending = await (await console.client.get(url)).json()
    assert sorted(i["user_id"] for i in pending["items"]) == sorted([console.bob_id, carol, dave])
    assert len(await _audit(hub, db, "session.invited")) == 3
    again = await console.client.post(url, json={"group_id": group_id}, headers=headers)
    assert again.status == 201
    assert (await again.json())["items"] == []


async def test_inviting_one_rep_who_already_has_an_invitation_is_a_conflict(console: Console, hub: Hub) -> None:
    info = await hub.start_session(_rep(console.alice_id, "alice"), _jump())
    headers = {"X-CSRF-Token": await console.login_as("alice")}
    url = f"/api/v1/sessions/{info.session_id}/invitations"

    assert (await console.client.post(url, json={"user_id": console.bob_id}, headers=headers)).status == 201
    resp = await console.client.post(url, json={"user_id": console.bob_id}, headers=headers)

    assert resp.status == 409
    assert "already has an active invitation" in (await resp.json())["error"]["message"]


async def test_a_group_that_would_pass_the_invitation_limit_invites_nobody(
    console: Console, hub: Hub, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sharing, "MAX_PENDING_PER_SESSION", 3)
    carol, dave, erin = await _reps(db, "carol", "dave", "erin")
    group_id = await _shared_group(db, carol, dave, erin)
    info = await hub.start_session(_rep(console.alice_id, "alice"), _jump())
    headers = {"X-CSRF-Token": await console.login_as("alice")}
    url = f"/api/v1/sessions/{info.session_id}/invitations"
    assert (await console.client.post(url, json={"user_id": console.bob_id}, headers=headers)).status == 201

    resp = await console.client.post(url, json={"group_id": group_id}, headers=headers)

    assert resp.status == 409
    assert "nobody was invited" in (await resp.json())["error"]["message"]
    pending = await (await console.client.get(url)).json()
    assert [i["user_id"] for i in pending["items"]] == [console.bob_id]
    assert len(await _audit(hub, db, "session.invited")) == 1


# --- a guest's name -------------------------------------------------------------------------------
async def test_a_guest_name_is_kept_without_the_spaces_around_it(console: Console, hub: Hub, db: Database) -> None:
    info = await hub.start_session(_rep(console.alice_id, "alice"), _jump())
    key, _ = await hub.create_external_key(
        info.session_id, _rep(console.alice_id, "alice"), description="vendor", minutes=10, mode="observer"
    )

    resp = await console.client.post("/api/v1/join", json={"key": key, "display_name": "  Vera Vendor \t"})

    assert resp.status == 200, await resp.text()
    [redeemed] = await _audit(hub, db, "session.external_key_redeemed")
    assert redeemed.detail["guest"] == "Vera Vendor"


# --- ownership passing on -------------------------------------------------------------------------
async def test_ownership_passing_on_when_the_owner_does_not_come_back_is_audited(console: Console, hub: Hub) -> None:
    info = await hub.start_session(_rep(console.alice_id, "alice"), _jump())
    session = hub.sessions[info.session_id]
    session.admit(console.bob_id)
    session.take_seat(Identity(name="bob", user_id=console.bob_id))
    session.owner.released_at_deadline = time.monotonic()  # alice's browser went away, the grace period is over

    session.seats.check_grace(time.monotonic())

    assert session.owner.name == "bob"
    [event] = await _audit(hub, console.db, "session.owner_changed")
    assert event.session_id == info.session_id
    assert event.detail == {"from": "alice", "to": "bob", "reason": "the owner lost the connection"}


# --- a session the database cannot record ---------------------------------------------------------
def _open_files() -> list[str]:
    """The paths of the files this process has open (Linux; an open file already deleted too)."""
    paths = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the descriptor that listed the directory is gone
            paths.append(os.readlink(f"/proc/self/fd/{fd}"))
    return paths


async def test_a_session_the_database_cannot_record_leaves_no_recording_files_and_no_seat(
    console: Console, hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def database_down(*_: Any, **__: Any) -> None:
        await asyncio.sleep(0)
        raise InternalError("the database is not reachable")

    monkeypatch.setattr(repo, "create_session_record", database_down)

    with pytest.raises(InternalError, match="not reachable"):
        await hub.start_session(_rep(console.alice_id, "alice"), _jump())

    recordings = tmp_path / "recordings"
    assert list(recordings.iterdir()) == []
    assert not [f for f in _open_files() if f.startswith(str(recordings))]
    assert hub.sessions == {}
    assert await _audit(hub, console.db, "session.joined") == []


# --- reps who Jump at the same moment -------------------------------------------------------------
async def test_two_reps_who_jump_together_to_a_join_existing_item_share_one_session(console: Console, hub: Hub) -> None:
    alice, bob = _rep(console.alice_id, "alice"), _rep(console.bob_id, "bob")

    first, second = await asyncio.gather(
        hub.start_session(alice, _jump("join_existing")), hub.start_session(bob, _jump("join_existing"))
    )

    assert first.session_id == second.session_id
    assert (first.joined, second.joined) == (False, True)
    assert len(hub.sessions) == 1
