"""Telnet Shell Jump through the whole gateway (console, tunnel, built-in Jumpoint) against real telnet servers:
auto-login with a stored credential, resize, a wrong password, and what reaches the participants and the
recording."""

from __future__ import annotations

import re

import pytest

from console_web.recording.asciicast import read_cast
from credential_store.local import LocalCredentialStore
from jumpoint.core.secret import Secret
from tests.fixtures.gateway import Gateway, SessionSocket
from tests.fixtures.telnetd import TelnetServer


async def _telnet_session(gateway: Gateway, server: TelnetServer, credential: str, **extra: object) -> SessionSocket:
    item = await gateway.create_item(
        name=f"telnet {server.kind}",
        protocol="telnet",
        hostname=server.host,
        port=server.port,
        credential_ref=credential,
        **extra,
    )
    return await gateway.jump(item["id"], cols=100, rows=30)


def _store(gateway: Gateway, name: str, username: str, password: str) -> None:
    LocalCredentialStore(gateway.state_dir / "jumpoint").add(
        name, "password", username, password=Secret(password), replace=True
    )


@pytest.mark.parametrize("server_name", ["busybox_telnetd", "inetutils_telnetd"])
async def test_a_stored_credential_logs_in_and_the_shell_follows_the_panel_size(
    gateway: Gateway, server_name: str, request: pytest.FixtureRequest
) -> None:
    server: TelnetServer = request.getfixturevalue(server_name)
    _store(gateway, "lab", server.username, server.password)
    sock = await _telnet_session(gateway, server, "lab")
    assert (await sock.next_of("state"))["state"] in ("connecting", "connected")
    await sock.read_until(b"$ ", timeout=30)
    await sock.send_keys("stty size; echo TELNET-$((6*7))\r")
    seen = await sock.read_until(b"TELNET-42\r\n")
    assert b"30 100" in seen
    await sock.send_json({"t": "resize", "cols": 120, "rows": 40})
    await sock.send_keys("stty size\r")
    assert re.search(rb"40 120", await sock.read_until(b"40 120"))
    timeline = " ".join(e["text"] for m in sock.messages if m["t"] == "timeline" for e in m["entries"])
    assert "credential 'local:lab' injected" in timeline
    assert server.password.encode() not in sock.output
    await gateway.api("POST", f"/api/v1/sessions/{sock.session_id}/end", expect=204)
    await sock.close()
    cast = gateway.state_dir / "console" / "recordings" / f"{sock.session_id}.cast"
    header, events = read_cast(cast)
    assert header["width"] == 100
    output = "".join(str(e[2]) for e in events if e[1] == "o")
    assert "TELNET-42" in output and server.password not in output


async def test_a_wrong_stored_password_ends_the_session_with_an_authentication_failure(
    gateway: Gateway, busybox_telnetd: TelnetServer
) -> None:
    _store(gateway, "stale", busybox_telnetd.username, "not-the-password")
    sock = await _telnet_session(gateway, busybox_telnetd, "stale")
    while True:
        msg = await sock.next_of("state", "error", timeout=30)
        if msg["t"] == "error":
            error = msg["error"]
            break
    assert error["code"] == "target_auth_failed"
    assert f"refused the login for user {busybox_telnetd.username}" in error["message"]
    assert (await sock.next_of("state"))["state"] == "ended"
