"""How long a Jumpoint waits before it reconnects its tunnel (``jumpoint.agent.tunnel.reconnect_delay``), when the
back-off starts again, and what the status says about a tunnel the console closed."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from aiohttp import web

from jumpoint.agent import tunnel
from jumpoint.agent.hostkey_store import FileHostKeyStore
from jumpoint.agent.tunnel import TunnelClient, TunnelSettings, reconnect_delay
from jumpoint.core import wire


@pytest.mark.parametrize(("attempt", "cap"), [(1, 2.0), (2, 4.0), (3, 8.0), (5, 32.0), (6, 60.0), (40, 60.0)])
def test_the_wait_grows_exponentially_up_to_the_maximum_with_full_jitter(attempt: int, cap: float) -> None:
    random.seed(attempt)
    waits = [reconnect_delay(attempt, 1.0, 60.0, console_restarting=False) for _ in range(2000)]
    assert all(0 <= w <= cap for w in waits)
    assert max(waits) > 0.9 * cap  # spread over the whole range, not bunched at the start
    assert min(waits) < 0.1 * cap


def test_while_the_console_restarts_the_wait_stays_short_however_many_attempts_failed() -> None:
    waits = [reconnect_delay(attempt, 1.0, 60.0, console_restarting=True) for attempt in range(1, 40)]
    assert all(0 <= w <= 2.0 for w in waits)


def test_a_maximum_below_the_minimum_still_bounds_the_wait() -> None:
    assert all(reconnect_delay(a, 5.0, 3.0, restarting) <= 3.0 for a in range(1, 10) for restarting in (True, False))


class FakeConsole:
    """A console's tunnel endpoint that reads the hello, then (``welcome``) welcomes the Jumpoint and after
    ``hold`` seconds closes with ``code`` and ``reason``; it counts the connections."""

    def __init__(self, *, welcome: bool, hold: float = 0.0, code: int = 1002, reason: bytes = b"bad hello") -> None:
        self.welcome, self.hold, self.code, self.reason = welcome, hold, code, reason
        self.connections = 0

    async def tunnel(self, request: web.Request) -> web.WebSocketResponse:
        self.connections += 1
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()  # the hello
        if self.welcome:
            await ws.send_bytes(
                wire.encode_control(0, wire.Welcome(version=wire.PROTOCOL_VERSION, jumpoint_id=1, name="LAN"))
            )
        await asyncio.sleep(self.hold)
        await ws.close(code=self.code, message=self.reason)
        return ws


async def run_against(
    console: FakeConsole, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, attempts: int, stable: float = 10.0
) -> tuple[list[int], TunnelClient]:
    """Run a tunnel client against ``console`` until it has reconnected ``attempts`` times; the back-off attempts
    the client asked delays for, and the client."""
    asked: list[int] = []
    done = asyncio.Event()

    def delay(attempt: int, min_seconds: float, max_seconds: float, console_restarting: bool) -> float:
        asked.append(attempt)
        if len(asked) >= attempts:
            done.set()
        return 0.0

    monkeypatch.setattr(tunnel, "reconnect_delay", delay)
    app = web.Application()
    app.router.add_get("/api/v1/jumpoint/tunnel", console.tunnel)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    settings = TunnelSettings(
        console_url=f"http://127.0.0.1:{runner.addresses[0][1]}", token="ojj_test", ssl=False, stable_seconds=stable
    )
    client = TunnelClient(settings, adapters={}, host_keys=FileHostKeyStore(tmp_path / "known_hosts"), credentials=None)
    task = asyncio.create_task(client.run())
    try:
        await asyncio.wait_for(done.wait(), 10)
    finally:
        await client.stop()
        await asyncio.wait_for(task, 10)
        await runner.cleanup()
    return asked, client


async def test_a_console_that_accepts_the_tunnel_and_closes_it_is_retried_with_growing_back_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    asked, client = await run_against(FakeConsole(welcome=False), tmp_path, monkeypatch, attempts=5)
    assert asked[:5] == [1, 2, 3, 4, 5]
    assert client.status.last_error == "the console closed the tunnel (code 1002: bad hello)"
    assert "the console closed the tunnel (code 1002: bad hello)" in caplog.text


async def test_a_tunnel_welcomed_and_closed_at_once_still_backs_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    console = FakeConsole(welcome=True, code=1000, reason=b"replaced by a new connection")
    asked, client = await run_against(console, tmp_path, monkeypatch, attempts=4)
    assert asked[:4] == [1, 2, 3, 4]  # two hosts sharing one token replace each other ever more slowly
    assert client.status.last_error == "the console closed the tunnel (code 1000: replaced by a new connection)"


async def test_a_tunnel_that_stayed_up_after_its_welcome_starts_the_back_off_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    console = FakeConsole(welcome=True, hold=0.3, code=1011, reason=b"")
    asked, client = await run_against(console, tmp_path, monkeypatch, attempts=3, stable=0.2)
    assert asked[:3] == [1, 1, 1]
    assert client.status.last_error == "the console closed the tunnel (code 1011)"
