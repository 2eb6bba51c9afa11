"""SIGHUP's reload, called directly on a daemon that is not connected: what applies at once, what needs a
restart, and a file that does not validate changing nothing."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from jumpoint.agent.config import load_jumpoint_config
from jumpoint.agent.daemon import JumpointDaemon
from jumpoint.agent.metrics import MeteredCredentialProvider
from jumpoint.agent.registration import Registration
from jumpoint.agent.systemd import Notifier


def _daemon(tmp_path: Path, text: str) -> tuple[JumpointDaemon, Path]:
    path = tmp_path / "jumpoint.yaml"
    path.write_text(f"state_dir: {tmp_path / 'state'}\n" + text)
    reg = Registration(console_url="https://console.example:8443", token="ojj_t", jumpoint_id=1, name="LAN")
    daemon = JumpointDaemon(load_jumpoint_config(path), reg, config_path=path, notifier=Notifier({}))
    return daemon, path


async def test_limits_tunnel_timings_and_the_drain_time_apply_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    daemon, path = _daemon(tmp_path, "")
    path.write_text(
        path.read_text() + "limits: {max_sessions: 3, prompt_timeout_seconds: 60}\n"
        "tunnel: {heartbeat_seconds: 5, reconnect_max_seconds: 10}\nshutdown: {drain_seconds: 5}\n"
    )
    with caplog.at_level(logging.INFO):
        daemon.reload()
    settings = daemon.client.settings
    assert (settings.max_sessions, settings.prompt_timeout_seconds) == (3, 60)
    assert (settings.heartbeat_seconds, settings.reconnect_max_seconds) == (5, 10)
    assert daemon.config.shutdown.drain_seconds == 5
    assert "configuration reloaded: applied tunnel, limits, shutdown" in caplog.text
    await daemon.client.stop()


async def test_new_credential_stores_replace_the_old_which_are_closed(tmp_path: Path) -> None:
    daemon, path = _daemon(tmp_path, "credential_stores: {local: {type: local}}\n")
    old = daemon.client.credentials
    assert old is not None
    path.write_text(path.read_text().replace("{local: {type: local}}", "{local: {type: local}, lab: {type: local}}"))
    closed = asyncio.Event()
    original = old.aclose

    async def aclose() -> None:
        await original()
        closed.set()

    old.aclose = aclose  # type: ignore[method-assign]
    daemon.reload()
    new = daemon.client.credentials
    assert new is not None and new is not old and sorted(new.stores) == ["lab", "local"]
    assert all(isinstance(store, MeteredCredentialProvider) for store in new.stores.values())
    await asyncio.wait_for(closed.wait(), 5)  # no session was using the old stores
    await daemon.client.stop()


async def test_a_bad_credential_store_keeps_the_old_ones_and_a_restart_only_key_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    daemon, path = _daemon(tmp_path, "")
    old = daemon.client.credentials
    path.write_text(
        path.read_text() + "credential_stores: {vault: {type: vault, url: 'ftp://nope'}}\n"
        "console_url: https://elsewhere.example\nhealth: {listen: '127.0.0.1:9471'}\n"
    )
    with caplog.at_level(logging.INFO):
        daemon.reload()
    assert daemon.client.credentials is old
    assert "reload: credential_stores not applied, the old settings stay" in caplog.text
    assert "console_url, health changed and need(s) a restart" in caplog.text
    assert daemon.client.settings.console_url == "https://console.example:8443"
    assert daemon.config.console_url is None and daemon.config.health.listen is None
    assert "configuration reloaded: nothing to apply" in caplog.text
    await daemon.client.stop()


async def test_a_file_that_does_not_validate_changes_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    daemon, path = _daemon(tmp_path, "limits: {max_sessions: 5}\n")
    path.write_text("limits: {max_sessions: lots}\n")
    daemon.reload()
    assert "reload failed; the running configuration stays as it was" in caplog.text
    assert daemon.client.settings.max_sessions == 5
    await daemon.client.stop()
