"""The sd_notify datagram protocol and the watchdog, against real unix datagram sockets bound by the test."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from jumpoint.agent.systemd import Notifier, notify_address, watchdog_interval, watchdog_loop


@pytest.fixture
def receiver() -> Iterator[tuple[socket.socket, str]]:
    """A bound datagram socket at a short path, and that path."""
    path = f"/tmp/ojn-{secrets.token_hex(4)}.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    yield sock, path
    sock.close()
    os.unlink(path)


def _fields(data: bytes) -> dict[str, str]:
    return dict(line.split("=", 1) for line in data.decode().split("\n"))


def test_ready_and_status_arrive_as_one_datagram_on_a_socket_path(receiver: tuple[socket.socket, str]) -> None:
    sock, path = receiver
    notifier = Notifier({"NOTIFY_SOCKET": path})
    notifier.mark_ready("Connected to https://console as 'LAN'")
    assert _fields(sock.recv(4096)) == {"READY": "1", "STATUS": "Connected to https://console as 'LAN'"}
    notifier.mark_ready("again")  # READY=1 is sent once; later calls only update the status
    assert sock.recv(4096) == b"STATUS=again"
    notifier.close()


def test_an_abstract_socket_name_starting_with_at_is_reached_through_a_nul_byte() -> None:
    name = f"ojtest-{secrets.token_hex(6)}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5)
    try:
        assert notify_address({"NOTIFY_SOCKET": "@" + name}) == b"\0" + name.encode()
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.send(STATUS="multi\nline")
        assert sock.recv(4096) == b"STATUS=multi line"
        notifier.close()
    finally:
        sock.close()


def test_without_notify_socket_every_notification_is_a_silent_no_op() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert not notifier.send(READY=1)
    notifier.stopping("bye", extend_seconds=10)
    assert notify_address({"NOTIFY_SOCKET": "vsock:2:1234"}) is None


def test_a_vanished_socket_is_not_an_error(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert notifier.enabled and not notifier.send(READY=1)


def test_stopping_asks_for_the_drain_time_and_reload_is_framed_by_reloading_and_ready(
    receiver: tuple[socket.socket, str],
) -> None:
    sock, path = receiver
    notifier = Notifier({"NOTIFY_SOCKET": path})
    notifier.reloading()  # not ready yet: nothing to frame
    notifier.mark_ready("up")
    sock.recv(4096)
    notifier.reloading()
    reloading = _fields(sock.recv(4096))
    assert reloading["RELOADING"] == "1" and int(reloading["MONOTONIC_USEC"]) > 0
    notifier.reloaded("up again")
    assert _fields(sock.recv(4096)) == {"READY": "1", "STATUS": "up again"}
    notifier.stopping("Shutting down", extend_seconds=45.5)
    assert _fields(sock.recv(4096)) == {"STOPPING": "1", "STATUS": "Shutting down", "EXTEND_TIMEOUT_USEC": "45500000"}


def test_the_watchdog_interval_comes_from_watchdog_usec_for_this_process_only() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 30.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, pid=2) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "\u00b2"}) is None  # a digit to str.isdigit, not to int()
    assert watchdog_interval({}) is None


async def test_the_watchdog_pings_at_half_the_interval_from_the_event_loop(
    receiver: tuple[socket.socket, str],
) -> None:
    sock, path = receiver
    sock.setblocking(False)
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"})
    task = asyncio.create_task(watchdog_loop(notifier))
    await asyncio.sleep(0.45)  # pings at 0, 0.1, 0.2, 0.3, 0.4 s
    task.cancel()
    pings = []
    while True:
        try:
            pings.append(sock.recv(4096))
        except BlockingIOError:
            break
    assert 3 <= len(pings) <= 6 and set(pings) == {b"WATCHDOG=1"}


async def test_without_a_watchdog_the_loop_returns_at_once() -> None:
    await asyncio.wait_for(watchdog_loop(Notifier({"NOTIFY_SOCKET": "/nonexistent"})), 1)
