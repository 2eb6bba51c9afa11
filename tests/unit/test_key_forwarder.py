"""A socket's key backlog: keys reach the session in order, and frames that carry no keys take no room in it."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from console_web.hub.key_forwarder import KeyForwarder
from console_web.hub.participants import Identity, Participant
from jumpoint.core.errors import ProtocolViolation


class FakeSession:
    """What KeyForwarder uses of a LiveSession: a target that takes input only while ``taking`` is set."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.taking = asyncio.Event()
        self.taking.set()

    def takes_input_now(self, nbytes: int) -> bool:
        return self.taking.is_set()

    async def send_keys(self, actor: Participant, data: bytes) -> None:
        await self.taking.wait()
        self.sent.append(data)

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(coro, name=name)


def _forwarder(session: FakeSession) -> KeyForwarder:
    participant = Participant(Identity(name="alice", user_id=1), "owner")

    def refuse(exc: ProtocolViolation) -> None:
        raise AssertionError(exc.message)

    return KeyForwarder(session, participant, refuse)  # type: ignore[arg-type]


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_an_empty_frame_is_neither_sent_nor_queued_when_the_target_takes_input() -> None:
    session = FakeSession()
    keys = _forwarder(session)
    await keys.put(b"")
    await keys.put(b"ls\r")
    await _settle()
    assert session.sent == [b"ls\r"]
    assert keys.queued == 0


async def test_empty_frames_do_not_pile_up_behind_a_target_that_stopped_reading() -> None:
    session = FakeSession()
    session.taking.clear()
    keys = _forwarder(session)
    await keys.put(b"a")  # queued: the target takes nothing now
    for _ in range(10_000):
        await asyncio.wait_for(keys.put(b""), 1)  # never waits, never queues
    await keys.put(b"b")
    session.taking.set()
    await _settle()
    assert session.sent == [b"a", b"b"]
    assert keys.queued == 0
