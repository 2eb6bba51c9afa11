"""``POST /jumpoint/register`` is public: refused attempts are rate limited per address and audited without
flooding, and the host name a caller sends cannot forge a log line."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from sqlalchemy import func, select

from console_web.auth.ratelimit import SlidingWindowLimiter
from console_web.db.database import Database
from console_web.db.models import AuditEvent
from console_web.db.registration import REGISTRATIONS_PER_MINUTE, create_registration_key, register_jumpoint
from console_web.db.repo import create_jumpoint_in
from jumpoint.core.errors import TooManyRequests, Unauthorized

Console = Any
REGISTER = "/api/v1/jumpoint/register"


def error_of(body: dict[str, Any]) -> str:
    return str(body["error"]["message"])


async def audit_count(db: Database, action: str) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).where(AuditEvent.action == action)) or 0)


async def new_key(db: Database) -> str:
    async with db.session() as session:
        jumpoint = await create_jumpoint_in(session, "Branch office", "")
        jumpoint_id = jumpoint.id
    return (await create_registration_key(db, jumpoint_id, minutes=5, created_by=None)).key


async def test_refused_registrations_from_one_address_are_throttled_with_one_audit_row(console: Console) -> None:
    for _ in range(REGISTRATIONS_PER_MINUTE):
        resp = await console.client.post(REGISTER, json={"key": "ojr_nope", "hostname": "jp1"})
        assert resp.status == 401
    for _ in range(5):
        resp = await console.client.post(REGISTER, json={"key": "ojr_nope", "hostname": "jp1"})
        assert resp.status == 429
        assert int(resp.headers["Retry-After"]) >= 1
        assert error_of(await resp.json()).startswith("too many registration attempts from this address; try again in")
    assert await audit_count(console.db, "registration_key.refused") == REGISTRATIONS_PER_MINUTE
    assert await audit_count(console.db, "registration_key.throttled") == 1


async def test_parallel_refused_registrations_are_all_counted(console: Console) -> None:
    answers = await asyncio.gather(
        *(console.client.post(REGISTER, json={"key": f"ojr_nope{i}", "hostname": "jp1"}) for i in range(30))
    )
    statuses = sorted(resp.status for resp in answers)
    assert statuses == [401] * REGISTRATIONS_PER_MINUTE + [429] * (30 - REGISTRATIONS_PER_MINUTE)
    assert await audit_count(console.db, "registration_key.refused") == REGISTRATIONS_PER_MINUTE
    assert await audit_count(console.db, "registration_key.throttled") == 1


async def test_a_successful_registration_does_not_count_against_the_address(db: Database) -> None:
    limiter = SlidingWindowLimiter()
    for _ in range(REGISTRATIONS_PER_MINUTE - 1):
        with pytest.raises(Unauthorized):
            await register_jumpoint(db, "ojr_nope", "jp1", source_address="203.0.113.9", limiter=limiter)
    registered = await register_jumpoint(db, await new_key(db), "jp1", source_address="203.0.113.9", limiter=limiter)
    assert registered.name == "Branch office"
    with pytest.raises(Unauthorized):
        await register_jumpoint(db, "ojr_nope", "jp1", source_address="203.0.113.9", limiter=limiter)
    with pytest.raises(TooManyRequests):
        await register_jumpoint(db, "ojr_nope", "jp1", source_address="203.0.113.9", limiter=limiter)
    # another address has its own count
    with pytest.raises(Unauthorized):
        await register_jumpoint(db, "ojr_nope", "jp1", source_address="198.51.100.7", limiter=limiter)


async def test_a_line_break_in_the_hostname_cannot_forge_a_log_line(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="console_web.db.registration")
    forged = "h\nINFO console_web.api.auth_routes: user admin logged in"
    with pytest.raises(Unauthorized):
        await register_jumpoint(db, "ojr_nope", forged, source_address="203.0.113.9")
    await register_jumpoint(db, await new_key(db), "jp\r\nINFO forged", source_address="203.0.113.9")
    messages = [record.getMessage() for record in caplog.records]
    assert any("refused (unknown key) from host 'h\\nINFO console_web" in m for m in messages), messages
    assert any("registered a member from host 'jp\\r\\nINFO forged'" in m for m in messages), messages
    assert not any("\n" in m or "\r" in m for m in messages)
