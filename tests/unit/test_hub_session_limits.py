"""What a Jumpoint or a session's owner can repeat at will is limited, because each costs history writes that stay:
a Jumpoint's notices (per session), the owner's roster actions (per participant), and everything of the kind while
the console's history writer is behind its database. Nothing refused goes unrecorded: a refused action changes
nothing, and dropped notices are counted in an audit event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from console_web.auth.principal import Principal
from console_web.db import repo
from console_web.db.database import Database
from console_web.db.models import AuditEvent, TimelineEntry
from console_web.hub import notices, records, seats
from console_web.hub.hub import Hub
from console_web.hub.jump import JumpRequest
from console_web.hub.participants import Identity
from console_web.hub.session import LiveSession
from jumpoint.core import wire
from jumpoint.core.adapter import Target
from jumpoint.core.errors import Busy, TooManyRequests
from tests.fixtures.hub_member import JUMPOINT, hub_with_member


@pytest.fixture
async def hub(db: Database, tmp_path: Path) -> AsyncIterator[Hub]:
    """A hub with one connected, admitted member of Jumpoint 7."""
    async with hub_with_member(db, tmp_path) as real:
        yield real


async def start(hub: Hub, db: Database) -> tuple[LiveSession, int]:
    """A session owned by alice, with bob (a peer) seated; bob's user id."""
    alice = await repo.create_user(db, "alice", "alice-password-1")
    bob = await repo.create_user(db, "bob", "bob-password-1")
    owner = Principal(user_id=alice, username="alice", display_name="", is_admin=False, via="session")
    target = Target(protocol="ssh", hostname="db1.example.com", port=22, username="ops")
    jump = JumpRequest(item_id=11, item_name="db1", jumpoint_id=JUMPOINT, target=target, session_policy="start_new")
    info = await hub.start_session(owner, jump)
    session = hub.sessions[info.session_id]
    session.admit(bob)
    session.take_seat(Identity(name="bob", user_id=bob))
    return session, bob


async def audited(hub: Hub, db: Database, session: LiveSession) -> list[AuditEvent]:
    await hub.writer.flush()
    async with db.session() as s:
        query = select(AuditEvent).where(AuditEvent.session_id == session.session_id).order_by(AuditEvent.id)
        return list((await s.execute(query)).scalars())


async def timeline(hub: Hub, db: Database, session: LiveSession) -> list[str]:
    await hub.writer.flush()
    async with db.session() as s:
        query = select(TimelineEntry).where(TimelineEntry.session_id == session.session_id).order_by(TimelineEntry.seq)
        return [row.text for row in (await s.execute(query)).scalars()]


def notice(kind: str = "info", text: str = "a banner", subject: str | None = None) -> wire.NoticeMsg:
    return wire.NoticeMsg(kind=kind, text=text, subject=subject)


# --- the audit action of a notice -------------------------------------------------------------------
def test_a_notice_kind_that_names_its_audit_action_fits_the_action_column() -> None:
    column = AuditEvent.__table__.c.action.type.length  # type: ignore[attr-defined]
    assert len(notices.notice_action("k" * notices.NOTICE_KIND_MAX)) == column
    assert notices.notice_action("k" * (notices.NOTICE_KIND_MAX + 1)) == "session.notice.other"


async def test_a_notice_kind_too_long_for_the_audit_action_is_audited_as_other_with_the_kind_in_the_detail(
    hub: Hub, db: Database
) -> None:
    session, _ = await start(hub, db)
    # 61 characters, as the wire allows: session.notice.<kind> would be cut at the column's 64, losing the kind's end
    long_kind = "vendor_adapter_reports_a_certificate_renewal_with_a_long_name"

    session.on_control(notice(long_kind, "the certificate was renewed"))
    session.on_control(notice("info", "a banner"))
    session.on_control(notice("Odd Kind!", "from a third-party adapter"))

    rows = [(e.action, e.detail) for e in await audited(hub, db, session) if e.action.startswith("session.notice")]
    assert rows == [
        ("session.notice.other", {"kind": long_kind, "text": "the certificate was renewed"}),
        ("session.notice.info", {"kind": "info", "text": "a banner"}),
        ("session.notice.other", {"kind": "Odd Kind!", "text": "from a third-party adapter"}),
    ]


# --- notices from the Jumpoint --------------------------------------------------------------------
async def test_past_the_burst_a_sessions_notices_are_dropped_and_counted_in_one_audited_summary(
    hub: Hub, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notices, "NOTICE_WINDOW_SECONDS", 0.2)
    session, _ = await start(hub, db)

    for n in range(100):
        session.on_control(notice(text=f"banner {n}"))

    await asyncio.sleep(0.3)  # the window that dropped them is over
    events = await audited(hub, db, session)
    assert len([e for e in events if e.action == "session.notice.info"]) == notices.NOTICE_BURST
    [summary] = [e.detail for e in events if e.action == "session.notices_dropped"]
    assert summary == {"count": 80, "kinds": {"info": 80}, "why": ["more than 20 in 0.2 s"]}
    texts = await timeline(hub, db, session)
    assert [t for t in texts if t.startswith("banner")] == [f"banner {n}" for n in range(notices.NOTICE_BURST)]
    assert "80 notices from the Jumpoint dropped (more than 20 in 0.2 s)" in texts

    session.on_control(notice(text="a later banner"))  # a new window: taken again
    assert "a later banner" in await timeline(hub, db, session)


async def test_a_flood_of_other_notices_does_not_keep_a_credentials_use_out_of_the_audit_trail(
    hub: Hub, db: Database
) -> None:
    session, _ = await start(hub, db)

    for _ in range(50):
        session.on_control(notice(text="noise"))
    session.on_control(notice("credential_injected", "vault/db1 injected", subject="vault:kv/db1"))

    [injected] = [e for e in await audited(hub, db, session) if e.action == "credential.injected"]
    assert injected.detail == {"credential": "vault:kv/db1", "item_id": 11, "item_name": "db1"}


# --- the owner's roster actions --------------------------------------------------------------------
async def test_an_owner_making_more_roster_changes_than_the_burst_is_told_to_wait_and_nothing_changes(
    hub: Hub, db: Database
) -> None:
    session, bob_id = await start(hub, db)
    bob = session.seat_of(Identity(name="bob", user_id=bob_id))
    assert bob is not None

    for n in range(seats.ROSTER_BURST):
        session.set_mode(session.owner, bob.id, "observer" if n % 2 == 0 else "peer")
    with pytest.raises(TooManyRequests, match="at most 20 mode changes, transfers and removals in 10 seconds"):
        session.set_mode(session.owner, bob.id, "observer")
    with pytest.raises(TooManyRequests):
        session.remove(session.owner, bob.id)

    assert bob.mode == "peer" and session.seated(bob)
    changes = [e for e in await audited(hub, db, session) if e.action == "session.mode_changed"]
    assert len(changes) == seats.ROSTER_BURST


# --- the history writer behind its database ---------------------------------------------------------
async def test_while_the_history_writer_is_behind_roster_actions_are_refused_and_notices_counted(
    hub: Hub, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notices, "NOTICE_WINDOW_SECONDS", 0.2)
    session, bob_id = await start(hub, db)
    bob = session.seat_of(Identity(name="bob", user_id=bob_id))
    assert bob is not None
    monkeypatch.setattr(records, "QUEUE_LIMIT", 0)  # behind, whatever is waiting

    with pytest.raises(Busy, match=r"the console cannot transfer ownership now: .* history writes are waiting"):
        session.transfer(session.owner, bob.id)
    session.on_control(notice(text="a banner"))

    assert session.owner.name == "alice" and bob.mode == "peer"
    monkeypatch.setattr(records, "QUEUE_LIMIT", 100_000)  # caught up
    await asyncio.sleep(0.3)
    events = await audited(hub, db, session)
    assert [e for e in events if e.action in ("session.transferred", "session.notice.info")] == []
    [summary] = [e.detail for e in events if e.action == "session.notices_dropped"]
    assert summary["count"] == 1 and summary["why"] == ["the console's history writes were behind its database"]
