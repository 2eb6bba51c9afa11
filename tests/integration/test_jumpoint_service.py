"""The Jumpoint as a service: a real ``jumpoint run`` process, registered with a one-time key against a real console
(the gateway fixture's, on loopback), serving SSH Jumps to the real sshd fixture.

The process gets ``NOTIFY_SOCKET`` (a unix datagram socket this test binds) and ``WATCHDOG_USEC`` as systemd would
give them, and ``health.listen`` on a free port; tests read its notifications, its health port, ``jumpoint status``
and its log, and stop it with real signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fixtures.gateway import Gateway, SessionSocket
from tests.fixtures.jumpoint_cli import REPO, jumpoint_cli, jumpoint_env, jumpoint_run
from tests.fixtures.servers import free_port
from tests.fixtures.sshd import SshServer

START_TIMEOUT = 60.0


@dataclass
class ServiceJumpoint:
    """A running ``jumpoint run`` process and what it told systemd."""

    process: asyncio.subprocess.Process
    config: Path
    state_dir: Path
    log_path: Path
    health: str
    jumpoint_id: int
    notifications: list[dict[str, str]] = field(default_factory=list)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def notification(self, key: str, value: str | None = None, timeout: float = START_TIMEOUT) -> dict[str, str]:
        """The first notification (already received or still to come) that sets ``key`` (to ``value``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for note in self.notifications:
                if key in note and (value is None or note[key] == value):
                    return note
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {key}={value} notification: {self.notifications}\n{self.log()}")

    async def get(self, path: str) -> tuple[int, str, str]:
        """``(status, content type, body)`` of ``GET http://health/path``."""
        async with aiohttp.ClientSession() as http, http.get(f"http://{self.health}{path}") as resp:
            return resp.status, resp.headers.get("Content-Type", ""), await resp.text()

    async def metrics(self) -> dict[str, float]:
        """Every sample of ``/metrics`` by its ``name{labels}``."""
        status, _, text = await self.get("/metrics")
        assert status == 200
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)
        return samples

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send ``sig`` and wait for the exit status."""
        self.process.send_signal(sig)
        return await asyncio.wait_for(self.process.wait(), timeout)


StartJumpoint = Callable[..., Awaitable[ServiceJumpoint]]


@pytest.fixture
async def start_jumpoint(gateway: Gateway, request: pytest.FixtureRequest) -> AsyncIterator[StartJumpoint]:
    """A factory: create a Jumpoint on the console, register a fresh state directory with a one-time key, and start
    ``jumpoint run`` on it with a notify socket and a watchdog; every process is killed at the end."""
    started: list[ServiceJumpoint] = []
    sockets: list[socket.socket] = []
    readers: list[asyncio.Task[None]] = []
    short_dir = Path(tempfile.mkdtemp(prefix="ojsvc-"))  # unix socket paths must stay short

    async def start(*, drain_seconds: float = 30, extra_config: str = "", name: str = "LAN-A") -> ServiceJumpoint:
        created = await gateway.api("POST", "/api/v1/jumpoints", {"name": name}, expect=201)
        key = await gateway.api("POST", f"/api/v1/jumpoints/{created['id']}/registration-keys", {}, expect=201)
        work = gateway.state_dir / f"service-{name}"
        work.mkdir()
        state_dir = work / "state"
        port = free_port()
        config = work / "jumpoint.yaml"
        config.write_text(
            f"state_dir: {state_dir}\n"
            "tunnel: {reconnect_min_seconds: 0.1, reconnect_max_seconds: 1}\n"
            f"shutdown: {{drain_seconds: {drain_seconds}}}\n"
            f"health: {{listen: '127.0.0.1:{port}'}}\n"
            "logging: {level: debug, format: json}\n" + extra_config
        )
        code, out, err = await jumpoint_cli(config, "register", "--console", gateway.url, "--key", key["key"])
        assert code == 0, (out, err)
        notify_path = short_dir / f"notify-{len(sockets)}.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(notify_path))
        sock.setblocking(False)
        sockets.append(sock)
        log_path = work / "jumpoint.log"
        process = await jumpoint_run(config, log_path, NOTIFY_SOCKET=str(notify_path), WATCHDOG_USEC="1000000")
        service = ServiceJumpoint(process, config, state_dir, log_path, f"127.0.0.1:{port}", int(created["id"]))
        readers.append(asyncio.create_task(_read_notifications(sock, service.notifications)))
        started.append(service)
        await service.notification("READY", "1")
        return service

    try:
        yield start
    finally:
        for reader in readers:
            reader.cancel()
        for service in started:
            if service.process.returncode is None:
                service.process.kill()
                await service.process.wait()
            report = getattr(request.node, "rep_call", None)
            if report is None or report.failed:
                print(f"----- jumpoint log -----\n{service.log()}", file=sys.stderr)
        for sock in sockets:
            sock.close()
        shutil.rmtree(short_dir, ignore_errors=True)


async def _read_notifications(sock: socket.socket, into: list[dict[str, str]]) -> None:
    loop = asyncio.get_running_loop()
    while True:
        data = await loop.sock_recv(sock, 65536)
        into.append(dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line))


async def _ssh_item(gateway: Gateway, jumpoint_id: int, ssh: SshServer, **extra: Any) -> int:
    item = await gateway.create_item(
        name="lab box",
        hostname=f"{ssh.host}:{ssh.port}",
        username=ssh.username,
        jumpoint_id=jumpoint_id,
        session_policy="start_new",
        **extra,
    )
    return int(item["id"])


async def _until_ended(sock: SessionSocket, timeout: float = 30) -> dict[str, Any]:
    while True:
        msg = await sock.next_of("state", timeout=timeout)
        if msg["state"] == "ended":
            return msg


async def _timeline_until(sock: SessionSocket, needle: str, timeout: float = 30) -> str:
    """The session's timeline texts read until one contains ``needle``."""
    seen: list[str] = []
    async with asyncio.timeout(timeout):
        while not any(needle in text for text in seen):
            msg = await sock.next_of("timeline", timeout=timeout)
            seen += [entry["text"] for entry in msg["entries"]]
    return "\n".join(seen)


async def test_the_service_says_ready_once_connected_and_pings_the_watchdog_from_its_loop(
    start_jumpoint: StartJumpoint,
) -> None:
    jp = await start_jumpoint()
    ready = await jp.notification("READY", "1")
    assert ready["STATUS"].startswith("Connected to http://127.0.0.1:") and "'LAN-A'" in ready["STATUS"]
    await asyncio.sleep(1.6)  # WATCHDOG_USEC is 1 s: a ping every 0.5 s
    pings = [n for n in jp.notifications if n.get("WATCHDOG") == "1"]
    assert len(pings) >= 3, jp.notifications
    assert await jp.stop() == 0
    stopping = await jp.notification("STOPPING", "1")
    assert int(stopping["EXTEND_TIMEOUT_USEC"]) >= 30_000_000  # the drain time and a margin


async def test_healthz_readyz_and_metrics_answer_on_the_local_port_and_the_metrics_count_a_jump(
    start_jumpoint: StartJumpoint, gateway: Gateway, sshd_server: SshServer
) -> None:
    jp = await start_jumpoint()
    assert await jp.get("/healthz") == (200, "application/json; charset=utf-8", '{"status": "ok"}')
    status, _, body = await jp.get("/readyz")
    ready = json.loads(body)
    assert status == 200 and ready["ready"] and ready["connected"] and not ready["draining"]
    assert ready["console"] == gateway.url
    status, content_type, _ = await jp.get("/metrics")
    assert status == 200 and content_type == "text/plain; version=0.0.4; charset=utf-8"
    before = await jp.metrics()
    assert before["openjump_jumpoint_tunnel_connected"] == 1
    assert before['openjump_jumpoint_sessions{protocol="ssh",state="connected"}'] == 0
    assert 'openjump_jumpoint_jumps_total{protocol="ssh",result="connected"}' not in before

    code, out, err = await jumpoint_cli(
        jp.config, "credentials", "add", "lab/ssh", "--username", sshd_server.username, stdin=sshd_server.password
    )
    assert code == 0, (out, err)
    sock = await gateway.jump(await _ssh_item(gateway, jp.jumpoint_id, sshd_server, credential_ref="local:lab/ssh"))
    await sock.login("unused: the credential is injected")
    await sock.send_keys("echo metered-$((6*7))\n")
    await sock.read_until(b"metered-42")

    after = await jp.metrics()
    assert after['openjump_jumpoint_sessions{protocol="ssh",state="connected"}'] == 1
    assert after['openjump_jumpoint_jumps_total{protocol="ssh",result="connected"}'] == 1
    assert after['openjump_jumpoint_jump_duration_seconds_count{protocol="ssh"}'] == 1
    assert after['openjump_jumpoint_jump_duration_seconds_bucket{protocol="ssh",le="+Inf"}'] == 1
    assert after['openjump_jumpoint_session_bytes_total{protocol="ssh",direction="from_target"}'] > 0
    assert after['openjump_jumpoint_session_bytes_total{protocol="ssh",direction="to_target"}'] >= len("echo metered")
    assert (
        after['openjump_jumpoint_tunnel_bytes_total{direction="received"}']
        > before['openjump_jumpoint_tunnel_bytes_total{direction="received"}']
    )
    assert after['openjump_jumpoint_host_key_decisions_total{decision="save"}'] == 1
    assert after['openjump_jumpoint_credential_store_duration_seconds_count{store="local",operation="fetch"}'] == 1
    assert after["openjump_jumpoint_tunnel_reconnects_total"] == 0


async def test_status_says_connected_to_which_console_since_when_with_its_sessions_and_host_keys(
    start_jumpoint: StartJumpoint, gateway: Gateway, sshd_server: SshServer
) -> None:
    jp = await start_jumpoint()
    sock = await gateway.jump(await _ssh_item(gateway, jp.jumpoint_id, sshd_server))
    await sock.login(sshd_server.password)
    code, out, err = await jumpoint_cli(jp.config, "status")
    assert code == 0, (out, err)
    assert f"Jumpoint 'LAN-A' (id {jp.jumpoint_id}) registered with {gateway.url}" in out
    assert re.search(rf"connected to {re.escape(gateway.url)} since \d{{4}}-\d\d-\d\dT[\d:]+\+00:00 \(\d+ s ago\)", out)
    assert "Active sessions: 1 (ssh 1)" in out
    assert sock.session_id in out
    assert "Cached host keys: 1" in out
    assert f"Health: http://{jp.health}/readyz" in out
    code, out, _ = await jumpoint_cli(jp.config, "status", "--json")
    assert code == 0 and json.loads(out)["service"]["sessions"][0]["state"] == "connected"
    await sock.send_keys("exit\n")
    await _until_ended(sock)
    assert await jp.stop() == 0
    code, out, _ = await jumpoint_cli(jp.config, "status")
    assert code == 3
    assert "Service: not running (stopped" in out and "Active sessions: 0" in out


async def test_sigterm_tells_participants_refuses_new_jumps_and_waits_for_the_session_to_end(
    start_jumpoint: StartJumpoint, gateway: Gateway, sshd_server: SshServer
) -> None:
    jp = await start_jumpoint(drain_seconds=60)
    item_id = await _ssh_item(gateway, jp.jumpoint_id, sshd_server)
    sock = await gateway.jump(item_id)
    await sock.login(sshd_server.password)
    jp.process.send_signal(signal.SIGTERM)
    timeline = await _timeline_until(sock, "shutting down")
    assert "will be closed in 60 seconds unless it ends first" in timeline
    status, _, body = await jp.get("/readyz")
    assert status == 503 and json.loads(body)["reason"] == "the Jumpoint is shutting down"
    assert (await jp.get("/healthz"))[0] == 200

    refused = await gateway.api("POST", f"/api/v1/jump-items/{item_id}/jump", {"cols": 80, "rows": 24}, expect=503)
    assert refused["error"]["code"] == "jumpoint_unavailable"  # the console knows: the Jump never reaches it
    assert refused["error"]["message"] == "Jumpoint 'LAN-A' is shutting down and takes no new Jumps"

    await sock.send_keys("echo still-here-$((40+2))\n")  # the running session goes on while draining
    await sock.read_until(b"still-here-42")
    started = time.monotonic()
    await sock.send_keys("exit\n")
    await _until_ended(sock)
    assert await asyncio.wait_for(jp.process.wait(), 20) == 0
    assert time.monotonic() - started < 20  # it did not wait out the 60 s drain
    assert (await jp.notification("STOPPING", "1"))["STATUS"].startswith("Shutting down: 1 session")


async def test_a_session_still_running_after_the_drain_time_is_closed_and_the_jumpoint_exits(
    start_jumpoint: StartJumpoint, gateway: Gateway, sshd_server: SshServer
) -> None:
    jp = await start_jumpoint(drain_seconds=2)
    sock = await gateway.jump(await _ssh_item(gateway, jp.jumpoint_id, sshd_server))
    await sock.login(sshd_server.password)
    started = time.monotonic()
    jp.process.send_signal(signal.SIGTERM)
    timeline = await _timeline_until(sock, "The session ended")
    assert 1.5 < time.monotonic() - started < 15
    assert "will be closed in 2 seconds" in timeline
    assert "The session ended: the Jumpoint is shutting down: the session was closed after its 2 s drain time" in (
        timeline
    )
    assert await asyncio.wait_for(jp.process.wait(), 15) == 0


async def test_sighup_applies_the_log_level_and_limits_and_says_what_needs_a_restart(
    start_jumpoint: StartJumpoint, gateway: Gateway, sshd_server: SshServer
) -> None:
    jp = await start_jumpoint()
    text = jp.config.read_text()
    new_port = free_port()
    jp.config.write_text(
        text.replace("level: debug", "level: warning").replace(jp.health, f"127.0.0.1:{new_port}")
        + "limits: {max_sessions: 1}\n"
    )
    jp.process.send_signal(signal.SIGHUP)
    reloading = await jp.notification("RELOADING", "1", timeout=20)
    assert int(reloading["MONOTONIC_USEC"]) > 0
    async with asyncio.timeout(20):
        while len([n for n in jp.notifications if n.get("READY") == "1"]) < 2:
            await asyncio.sleep(0.05)
    log = jp.log()
    assert "health changed and need(s) a restart" in log
    assert "configuration reloaded: applied limits, logging" in log
    assert (await jp.get("/readyz"))[0] == 200  # still on the old port
    lines_before = len(log.splitlines())
    item_id = await _ssh_item(gateway, jp.jumpoint_id, sshd_server)
    first = await gateway.jump(item_id)
    await first.login(sshd_server.password)
    second = await gateway.jump(item_id)  # max_sessions is 1 now
    assert (await second.next_message("error"))["error"]["code"] == "busy"
    new_lines = jp.log().splitlines()[lines_before:]
    assert all(json.loads(line)["level"] in ("warning", "error") for line in new_lines)
    assert "connected in" not in "\n".join(new_lines)  # at info, the first session would have said so
    jp.config.write_text("state_dir: [not, a, path]\n")
    jp.process.send_signal(signal.SIGHUP)
    async with asyncio.timeout(20):
        while "reload failed; the running configuration stays as it was" not in jp.log():
            await asyncio.sleep(0.05)


async def test_the_json_log_carries_the_jumpoint_and_session_ids_and_never_the_token_or_the_key(
    start_jumpoint: StartJumpoint, gateway: Gateway, sshd_server: SshServer
) -> None:
    jp = await start_jumpoint()
    sock = await gateway.jump(await _ssh_item(gateway, jp.jumpoint_id, sshd_server))
    await sock.login(sshd_server.password)
    await sock.send_keys("exit\n")
    await _until_ended(sock)
    assert await jp.stop() == 0
    records = [json.loads(line) for line in jp.log().splitlines()]
    assert records and all(r["jumpoint_id"] == str(jp.jumpoint_id) and r["jumpoint"] == "LAN-A" for r in records)
    assert any(r.get("session_id") == sock.session_id and r["message"].startswith("connected in") for r in records)
    token = json.loads((jp.state_dir / "registration.json").read_text())["token"]
    assert token not in jp.log() and sshd_server.password not in jp.log()


def test_install_service_dry_run_prints_a_unit_that_systemd_analyze_accepts(tmp_path: Path) -> None:
    import subprocess

    config = tmp_path / "jumpoint.yaml"
    config.write_text("state_dir: /var/lib/openjump-jumpoint\nshutdown: {drain_seconds: 90}\n")
    done = subprocess.run(
        [sys.executable, "-m", "jumpoint.agent.cli", "install-service", "--config", str(config), "--dry-run"],
        capture_output=True,
        text=True,
        env=jumpoint_env(),
        cwd=REPO,
        timeout=60,
        check=True,
    )
    unit = done.stdout
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    command = exec_start.removeprefix("ExecStart=").split(" --config ")[0]
    assert Path(command.split(" ")[0]).exists()
    assert exec_start.endswith(f"--config {config} run")
    assert "Type=notify" in unit and "WatchdogSec=30" in unit and "TimeoutStopSec=120" in unit
    for hardening in ("ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectHome=yes"):
        assert hardening in unit.splitlines()
    assert "CapabilityBoundingSet=" in unit.splitlines() and "StateDirectory=openjump-jumpoint" in unit
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        sections = re.findall(r"^\[(\w+)\]$", unit, re.MULTILINE)
        assert sections == ["Unit", "Service", "Install"]
        return
    path = tmp_path / "openjump-jumpoint.service"
    path.write_text(unit)
    with contextlib.suppress(subprocess.TimeoutExpired):
        verify = subprocess.run([analyze, "verify", str(path)], capture_output=True, text=True, timeout=60)
        assert verify.returncode == 0, verify.stderr
        assert verify.stderr.strip() == "", verify.stderr
