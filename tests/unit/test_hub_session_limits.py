"""What a Jumpoint's notices leave in a session's history: an audit event whose action fits its column, whatever the
notice's kind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from console_web.auth.principal import Principal
from console_web.config import ConsoleConfig
from console_web.db import repo
from console_web.db.database import Database
from console_web.db.models import AuditEvent
from console_web.hub import notices
from console_web.hub.hub import Hub
from console_web.hub.jump import JumpRequest
from console_web.hub.link import JumpointLink
from console_web.hub.participants import Identity
from console_web.hub.session import LiveSession
from jumpoint.core import wire
from jumpoint.core.adapter import Target

JUMPOINT = 7


class FakeTunnel:
    """The WebSocket of a connected Jumpoint member: takes every frame, never answers."""

    closed = False

    async def send_bytes(self, data: bytes) -> None:
        await asyncio.sleep(0)

    async def close(self, **_: Any) -> None:
        self.closed = True


@pytest.fixture
async def hub(db: Database, tmp_path: Path) -> AsyncIterator[Hub]:
    """A hub with one connected, admitted member of Jumpoint 7."""
    real = Hub(ConsoleConfig(state_dir=tmp_path), db)
    link = JumpointLink(JUMPOINT, "LAN-A", "jp-a", FakeTunnel(), member_id=1)  # type: ignore[arg-type]
    real.clusters.attach(link)
    link.ready.set()
    yield real
    await real.shutdown()


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
