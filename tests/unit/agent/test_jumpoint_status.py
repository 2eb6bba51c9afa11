"""`jumpoint status` reads the state the running Jumpoint publishes in its state directory, and the publisher
writes that file atomically from a real tunnel client's state."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from jumpoint.agent.cli import main
from jumpoint.agent.registration import Registration, save_registration
from jumpoint.agent.service import build_tunnel_client
from jumpoint.agent.state_file import STATUS_FILE, StatePublisher, iso, read_state, write_atomically


@pytest.fixture
def config(tmp_path: Path) -> Path:
    save_registration(
        tmp_path / "state",
        Registration(console_url="https://console.example:8443", token="ojj_" + "x" * 43, jumpoint_id=7, name="LAN-A"),
    )
    path = tmp_path / "jumpoint.yaml"
    path.write_text(f"state_dir: {tmp_path / 'state'}\n")
    return path


def _publish(config: Path, **fields: Any) -> None:
    data = {
        "version": 1,
        "pid": os.getpid(),
        "state": "connected",
        "console_url": "https://console.example:8443",
        "connected": True,
        "since": iso(time.time() - 300),
        "last_error": None,
        "reconnects": 0,
        "updated_at": iso(time.time()),
        "health": "127.0.0.1:9471",
        "sessions": [
            {"session_id": "s1", "protocol": "ssh", "state": "connected", "since": iso(time.time()), "target": "a:22"},
            {"session_id": "s2", "protocol": "vnc", "state": "connecting", "since": iso(time.time()), "target": "b:1"},
        ],
    } | fields
    write_atomically(config.parent / "state" / STATUS_FILE, data)


def test_a_connected_jumpoint_shows_its_console_since_when_its_sessions_and_host_keys(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _publish(config)
    assert main(["--config", str(config), "status"]) == 0
    out = capsys.readouterr().out
    assert "Jumpoint 'LAN-A' (id 7) registered with https://console.example:8443" in out
    assert f"Service: running (pid {os.getpid()}), connected to https://console.example:8443 since " in out
    assert "(5 min ago)" in out
    assert "Active sessions: 2 (ssh 1, vnc 1)" in out
    assert "s1\tssh\tconnected\ta:22" in out
    assert "Cached host keys: 0" in out
    assert "Health: http://127.0.0.1:9471/readyz" in out


def test_a_running_jumpoint_without_its_tunnel_says_why_and_exits_1(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _publish(config, state="connecting", connected=False, last_error="connection refused", reconnects=4, sessions=[])
    assert main(["--config", str(config), "status"]) == 1
    out = capsys.readouterr().out
    assert "NOT connected to https://console.example:8443 since" in out
    assert "(4 reconnects; last error: connection refused)" in out


def test_a_draining_jumpoint_says_it_is_shutting_down(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _publish(config, state="draining")
    assert main(["--config", str(config), "status"]) == 1
    assert "shutting down: refusing new Jumps" in capsys.readouterr().out


def test_a_stopped_a_vanished_and_a_never_started_jumpoint_are_not_running(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "status"]) == 3
    assert "not running (it never ran with this state directory)" in capsys.readouterr().out
    _publish(config, state="stopped", sessions=[])
    assert main(["--config", str(config), "status"]) == 3
    assert "Service: not running (stopped " in capsys.readouterr().out
    gone = subprocess.Popen(["true"])
    gone.wait()
    _publish(config, pid=gone.pid)
    assert main(["--config", str(config), "status"]) == 3
    out = capsys.readouterr().out
    assert f"process {gone.pid} ended without stopping cleanly" in out
    assert "Active sessions: 0" in out  # a dead process's sessions are not shown as active


def test_status_as_json_is_one_object_without_the_token(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _publish(config)
    assert main(["--config", str(config), "status", "--json"]) == 0
    out = capsys.readouterr().out
    body = json.loads(out)
    assert body["connected"] and body["running"] and body["jumpoint_id"] == 7 and body["host_keys"] == 0
    assert body["service"]["sessions"][0]["session_id"] == "s1"
    assert "ojj_" not in out


async def test_the_publisher_writes_the_clients_state_atomically_with_mode_0600(tmp_path: Path) -> None:
    client = build_tunnel_client(
        state_dir=tmp_path, console_url="https://console.example:8443", token="ojj_t", ssl_param=True
    )
    publisher = StatePublisher(tmp_path, client, health="127.0.0.1:1")
    client.add_listener(publisher.changed)
    publisher.write()
    state = read_state(tmp_path)
    assert state is not None and state.running
    assert state.data["state"] == "connecting" and state.data["console_url"] == "https://console.example:8443"
    assert oct((tmp_path / STATUS_FILE).stat().st_mode & 0o777) == "0o600"
    client.status.draining = True
    publisher.changed()
    publisher.changed()  # coalesced with the first
    publisher.write(stopped=True)  # and dropped: this write wins
    state = read_state(tmp_path)
    assert state is not None and not state.running and state.data["state"] == "stopped"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    await client.stop()
