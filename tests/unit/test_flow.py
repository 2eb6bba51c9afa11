"""Credit windows bound what a peer may send and release a blocked sender."""

from __future__ import annotations

import asyncio

import pytest

from jumpoint.core.errors import ProtocolViolation, TargetClosed
from jumpoint.core.flow import ReceiveWindow, SendWindow


async def test_sender_waits_when_the_window_is_spent_and_resumes_on_credit() -> None:
    window = SendWindow(10)
    assert await window.acquire(25) == 10
    waiter = asyncio.create_task(window.acquire(5))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    window.grant(3)
    assert await asyncio.wait_for(waiter, 1) == 3


async def test_closing_the_window_wakes_a_blocked_sender_with_an_error() -> None:
    window = SendWindow(0)
    waiter = asyncio.create_task(window.acquire(1))
    await asyncio.sleep(0.01)
    window.close()
    with pytest.raises(TargetClosed):
        await waiter


def test_peer_overrunning_the_window_is_a_protocol_violation() -> None:
    window = ReceiveWindow(100)
    window.received(100)
    with pytest.raises(ProtocolViolation, match="101 bytes into a 100-byte window"):
        window.received(1)


def test_credit_is_granted_back_in_quarter_window_batches() -> None:
    window = ReceiveWindow(100)
    window.received(100)
    assert window.consumed(10) == 0
    assert window.consumed(15) == 25
    window.received(25)  # the full window is available again
