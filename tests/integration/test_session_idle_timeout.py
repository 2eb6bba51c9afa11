"""Idle timeout: participants are warned, then a session without input ends (with a shortened timeout)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.fixtures.gateway import Gateway
from tests.fixtures.sshd import SshServer


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    return {"sessions": {"idle_timeout_seconds": 9}}


async def test_an_idle_session_warns_three_times_then_ends(gateway: Gateway, sshd_server: SshServer) -> None:
    item = await gateway.create_item(
        name="idle box", hostname=f"{sshd_server.host}:{sshd_server.port}", username=sshd_server.username
    )
    sock = await gateway.jump(int(item["id"]))
    await sock.login(sshd_server.password)
    await sock.send_keys("true\n")
    typed_at = time.monotonic()
    warnings: list[int] = []
    async with asyncio.timeout(20):
        while len(warnings) < 3:
            left = (await sock.next_of("idle"))["seconds_left"]
            if left is not None:  # None: someone typed, the warning is withdrawn
                warnings.append(left)
        ended = await sock.next_of("state")
        while ended["state"] != "ended":
            ended = await sock.next_of("state")
    assert warnings == sorted(warnings, reverse=True)
    assert all(0 < left < 9 for left in warnings)
    assert "no input for 9 seconds" in ended["reason"]
    assert time.monotonic() - typed_at >= 8.5


async def test_typing_resets_the_idle_timer(gateway: Gateway, sshd_server: SshServer) -> None:
    item = await gateway.create_item(
        name="busy box", hostname=f"{sshd_server.host}:{sshd_server.port}", username=sshd_server.username
    )
    sock = await gateway.jump(int(item["id"]))
    await sock.login(sshd_server.password)
    for _ in range(5):
        await sock.send_keys("true\n")
        await asyncio.sleep(1.5)
    assert not any(m["t"] == "state" and m["state"] == "ended" for m in sock.messages)
    await sock.send_keys("echo alive-$((4*4))\n")
    await sock.read_until(b"alive-16")
