"""What a browser socket gets when it attaches to a live session, with a real hub and a fake Jumpoint member: the
timeline history in frames a browser (or a relaying console node) takes, and no more sockets per seat than the
limit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMessage

from console_web.auth.principal import Principal
from console_web.db.database import Database
from console_web.hub.browser_messages import MAX_TEXT_FRAME
from console_web.hub.hub import Hub
from console_web.hub.jump import JumpRequest
from console_web.hub.participants import SOCKETS_PER_SEAT, Connection
from console_web.hub.session import LiveSession
from console_web.hub.session_hooks import CLOSE_TOO_MANY_SOCKETS
from console_web.hub.timeline import HISTORY_KEPT, clean_chat_text
from jumpoint.core.adapter import Target
from tests.fixtures.hub_member import JUMPOINT, hub_with_member
from tests.unit.conftest import Console


class FakeBrowser:
    """A browser's socket: keeps what the console sends it."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.closed = False
        self.close_code: int | None = None

    async def send_str(self, data: str, compress: int | None = None) -> None:
        self.texts.append(data)

    async def send_bytes(self, data: bytes, compress: int | None = None) -> None:
        pass

    async def close(self, *, code: int = 1000, message: bytes = b"", drain: bool = True) -> bool:
        self.closed = True
        self.close_code = code
        return True

    def __aiter__(self) -> AsyncIterator[WSMessage]:
        raise NotImplementedError  # the tests attach sockets; nothing reads from them

    def messages(self, t: str) -> list[dict[str, Any]]:
        decoded = [json.loads(text) for text in self.texts]
        return [m for m in decoded if m["t"] == t]


@pytest.fixture
async def hub(db: Database, tmp_path: Path) -> AsyncIterator[Hub]:
    """A hub with one connected, admitted member of Jumpoint 7."""
    async with hub_with_member(db, tmp_path) as real:
        yield real


async def _session(console: Console, hub: Hub) -> LiveSession:
    alice = Principal(user_id=console.alice_id, username="alice", display_name="", is_admin=False, via="session")
    target = Target(protocol="ssh", hostname="db1.example.com", port=22, username="ops")
    info = await hub.start_session(alice, JumpRequest(item_id=11, item_name="db1", jumpoint_id=JUMPOINT, target=target))
    return hub.sessions[info.session_id]


async def _attach(session: LiveSession) -> tuple[FakeBrowser, Connection]:
    """Attach a socket to the owner's seat and let its sender send what attaching queued."""
    ws = FakeBrowser()
    conn = Connection(ws=ws, participant=session.owner)
    session.connect(session.owner, conn, None)
    for _ in range(50):
        await asyncio.sleep(0)
    return ws, conn


async def test_a_huge_timeline_reaches_a_new_socket_in_frames_under_the_limit_newest_entries_kept(
    console: Console, hub: Hub
) -> None:
    session = await _session(console, hub)
    text = clean_chat_text("\U0001f600" * 2048)  # any participant may post these: 5,000 made a 39.5 MiB message
    for _ in range(HISTORY_KEPT):
        newest = session.timeline.add("chat", "guest", text)

    ws, _ = await _attach(session)

    assert ws.texts and all(len(t.encode()) <= MAX_TEXT_FRAME for t in ws.texts)
    first, *rest = ws.messages("timeline")
    assert first["history"] is True and all(m.get("continued") is True for m in rest)
    seqs = [e["seq"] for m in (first, *rest) for e in m["entries"]]
    assert seqs == list(range(first["omitted"] + 1, newest.seq + 1))  # the newest, and how many older were left out


async def test_a_seat_takes_at_most_8_sockets_and_a_further_one_is_refused_with_4005(
    console: Console, hub: Hub
) -> None:
    session = await _session(console, hub)
    attached = [await _attach(session) for _ in range(SOCKETS_PER_SEAT)]
    assert all(ws.messages("hello") and not ws.closed for ws, _ in attached)

    refused, conn = await _attach(session)

    assert refused.closed and refused.close_code == CLOSE_TOO_MANY_SOCKETS == 4005
    [error] = refused.messages("error")
    assert error["error"]["code"] == "conflict" and not refused.messages("hello")
    assert conn not in session.owner.connections and len(session.owner.connections) == SOCKETS_PER_SEAT
    assert not any(ws.closed for ws, _ in attached)  # the seat's other sockets go on

    session.disconnect(attached[0][1])  # one tab closed: the next socket is taken
    again, _ = await _attach(session)
    assert again.messages("hello") and not again.closed
