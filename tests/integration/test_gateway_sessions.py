"""Shell Jumps through the whole gateway: REST API -> console hub -> tunnel -> Jumpoint -> real sshd."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from console_web.recording.asciicast import read_cast
from jumpoint.core import wire
from tests.fixtures.gateway import Gateway
from tests.fixtures.sshd import SshServer


async def _item(gw: Gateway, ssh: SshServer, **extra: object) -> int:
    # start_new: these tests Jump to one item repeatedly and want independent sessions
    fields: dict[str, object] = {"session_policy": "start_new"} | extra
    item = await gw.create_item(name="lab box", hostname=f"{ssh.host}:{ssh.port}", username=ssh.username, **fields)
    return int(item["id"])


async def test_jump_reaches_a_shell_and_output_comes_back(gateway: Gateway, sshd_server: SshServer) -> None:
    sock = await gateway.jump(await _item(gateway, sshd_server))
    await sock.login(sshd_server.password)
    await sock.send_keys("echo hi-$((6*7))\n")
    assert b"hi-42" in await sock.read_until(b"hi-42")


async def test_unknown_host_key_prompt_shows_the_ed25519_fingerprint(gateway: Gateway, sshd_server: SshServer) -> None:
    sock = await gateway.jump(await _item(gateway, sshd_server))
    prompt = await sock.next_message("prompt_host_key")
    assert prompt["key"]["algorithm"] == "ssh-ed25519"
    assert prompt["key"]["fingerprint"].startswith("SHA256:")
    assert (prompt["host"], prompt["port"]) == (sshd_server.host, sshd_server.port)


async def test_saved_host_key_is_listed_by_the_admin_api(gateway: Gateway, sshd_server: SshServer) -> None:
    sock = await gateway.jump(await _item(gateway, sshd_server))
    await sock.login(sshd_server.password, host_key="save")
    keys = await gateway.api("GET", f"/api/v1/jumpoints/{gateway.jumpoint_id}/host-keys", expect=200)
    listed = keys["items"] if isinstance(keys, dict) else keys
    assert any(k["port"] == sshd_server.port and k["algorithm"] == "ssh-ed25519" for k in listed)


async def test_changed_host_key_is_refused_with_both_fingerprints(
    gateway: Gateway, fresh_sshd: Callable[[], SshServer]
) -> None:
    ssh = fresh_sshd()
    item_id = await _item(gateway, ssh)
    first = await gateway.jump(item_id)
    old = (await first.next_message("prompt_host_key"))["key"]["fingerprint"]
    await first.send_json({"t": "answer_host_key", "id": 1, "decision": "save"})
    await first.login(ssh.password)
    ssh.rotate_host_keys()
    second = await gateway.jump(item_id)
    error = (await second.next_message("error"))["error"]
    assert error["code"] == "host_key_mismatch"
    assert old in error["message"]
    ended = await second.next_message("state")
    while ended["state"] != "ended":
        ended = await second.next_message("state")


async def test_abort_on_host_key_ends_the_session_with_a_clear_message(
    gateway: Gateway, sshd_server: SshServer
) -> None:
    sock = await gateway.jump(await _item(gateway, sshd_server))
    prompt = await sock.next_message("prompt_host_key")
    await sock.send_json({"t": "answer_host_key", "id": prompt["id"], "decision": "abort"})
    error = (await sock.next_message("error"))["error"]
    assert error["code"] == "host_key_rejected"


async def test_wrong_password_reaches_the_rep_as_an_authentication_failure(
    gateway: Gateway, sshd_server: SshServer
) -> None:
    sock = await gateway.jump(await _item(gateway, sshd_server))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        msg = await sock.next_of("prompt_host_key", "prompt_text", "error", timeout=30)
        if msg["t"] == "prompt_host_key":
            await sock.send_json({"t": "answer_host_key", "id": msg["id"], "decision": "once"})
        elif msg["t"] == "prompt_text":
            await sock.send_json({"t": "answer_text", "id": msg["id"], "answers": ["wrong-password"]})
        else:
            assert msg["error"]["code"] == "target_auth_failed"
            assert msg["error"]["who"] == "target"
            return
    pytest.fail("no authentication failure reported")


async def test_refused_port_is_reported_and_other_sessions_keep_running(
    gateway: Gateway, sshd_server: SshServer
) -> None:
    good = await gateway.jump(await _item(gateway, sshd_server))
    await good.login(sshd_server.password)
    bad_item = await gateway.create_item(name="nothing here", hostname="127.0.0.1", port=1, username="x")
    bad = await gateway.jump(bad_item["id"])
    error = (await bad.next_message("error"))["error"]
    assert error["code"] == "target_unreachable" and "127.0.0.1:1" in error["message"]
    await good.send_keys("echo still-$((40+2))\n")
    await good.read_until(b"still-42")


async def test_malformed_browser_message_gets_an_error_and_the_session_goes_on(
    gateway: Gateway, sshd_server: SshServer
) -> None:
    sock = await gateway.jump(await _item(gateway, sshd_server))
    await sock.login(sshd_server.password)
    await sock.ws.send_str('{"t":"resize","cols":0,"rows":24}')
    error = (await sock.next_message("error"))["error"]
    assert error["code"] == "protocol_violation" and "cols" in error["message"]
    await sock.ws.send_str("not json at all")
    assert (await sock.next_message("error"))["error"]["code"] == "protocol_violation"
    await sock.send_keys("echo alive\n")
    await sock.read_until(b"alive\r\n")


async def test_oversized_browser_frame_closes_only_that_socket(gateway: Gateway, sshd_server: SshServer) -> None:
    sock = await gateway.jump(await _item(gateway, sshd_server))
    await sock.login(sshd_server.password)
    await sock.ws.send_bytes(b"x" * (70 * 1024))
    msg = await sock.ws.receive(timeout=10)
    while msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
        msg = await sock.ws.receive(timeout=10)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
    assert gateway.jumpoint.status.connected


async def test_resize_reaches_the_remote_terminal_the_consoles_screen_the_stream_and_the_recording(
    gateway: Gateway, sshd_server: SshServer
) -> None:
    sock = await gateway.jump(await _item(gateway, sshd_server))
    await sock.login(sshd_server.password)
    await sock.send_json({"t": "resize", "cols": 132, "rows": 43})
    while (entry := await sock.next_of("resize")) != {"t": "resize", "cols": 132, "rows": 43, "pos": entry["pos"]}:
        pass  # the size at the start came first
    await sock.send_keys("stty size\n")
    await sock.read_until(b"43 132")
    assert gateway.hub.sessions[sock.session_id].screen.size == (132, 43)
    await sock.send_json({"t": "end"})
    while (await sock.next_of("state"))["state"] != "ended":
        pass
    cast = gateway.hub._config.recordings_dir / f"{sock.session_id}.cast"
    async with asyncio.timeout(10):
        while not any(e[1] == "r" and e[2] == "132x43" for e in read_cast(cast)[1]):
            await asyncio.sleep(0.1)


async def test_a_flood_of_resizes_reaches_the_jumpoint_as_a_few_frames_ending_with_the_last_size(
    gateway: Gateway, sshd_server: SshServer
) -> None:
    sock = await gateway.jump(await _item(gateway, sshd_server))
    await sock.login(sshd_server.password)
    session = gateway.hub.sessions[sock.session_id]
    sizes_sent: list[tuple[int, int]] = []
    send = session.link.send

    async def recording_send(frame: bytes) -> None:
        kind, channel = wire.decode_header(frame)
        if channel == session.channel and kind == wire.FRAME_CONTROL:
            msg = wire.decode_control(frame[wire.HEADER.size :])
            if isinstance(msg, wire.ResizeMsg):
                sizes_sent.append((msg.cols, msg.rows))
        await send(frame)

    session.link.send = recording_send  # type: ignore[method-assign]
    for i in range(2000):
        await sock.send_json({"t": "resize", "cols": 40 + i % 50, "rows": 10 + i % 20})
    await sock.send_json({"t": "resize", "cols": 100, "rows": 30})
    await asyncio.sleep(0.3)
    await sock.send_keys("stty size\n")
    await sock.read_until(b"30 100")
    assert sizes_sent[-1] == (100, 30)
    assert len(sizes_sent) < 100, f"{len(sizes_sent)} resize frames for one flood"


async def test_vt100_item_gets_a_vt100_terminal(gateway: Gateway, sshd_server: SshServer) -> None:
    sock = await gateway.jump(await _item(gateway, sshd_server, terminal_type="vt100"))
    await sock.login(sshd_server.password)
    await sock.send_keys("echo term=$TERM\n")
    await sock.read_until(b"term=vt100")


async def test_bulk_output_arrives_complete_and_in_order(gateway: Gateway, sshd_server: SshServer) -> None:
    sock = await gateway.jump(await _item(gateway, sshd_server))
    await sock.login(sshd_server.password)
    await sock.send_keys("seq 1 200000; echo END-$((1+1))\n")
    out = await sock.read_until(b"END-2", timeout=60)
    out = out.replace(b"\x1b[?2004l\r", b"")  # bash leaving bracketed-paste mode before running the command
    numbers = [int(x) for x in out.split(b"\r\n") if x.isdigit()]
    assert numbers[-1] == 200000 and numbers == sorted(numbers) and len(set(numbers)) == 200000


async def test_stuck_browser_does_not_stall_another_session(gateway: Gateway, sshd_server: SshServer) -> None:
    stuck = await gateway.jump(await _item(gateway, sshd_server))
    await stuck.login(sshd_server.password)
    await stuck.send_keys("yes stuck-viewer-output-line\n")  # never read from here on
    lively = await gateway.jump(await _item(gateway, sshd_server))
    await lively.login(sshd_server.password)
    await asyncio.sleep(1.0)
    started = time.monotonic()
    await lively.send_keys("echo lively-$((2*21))\n")
    await lively.read_until(b"lively-42", timeout=10)
    assert time.monotonic() - started < 2.0
    session = gateway.hub.sessions[stuck.session_id]
    # the stuck session is held back by flow control: what the console keeps of it stays bounded
    assert session.stream.output_total - session._credited_out <= wire.INITIAL_WINDOW
    await stuck.send_keys("\x03")


async def test_owner_ends_the_session_and_sees_it_ended(gateway: Gateway, sshd_server: SshServer) -> None:
    sock = await gateway.jump(await _item(gateway, sshd_server))
    await sock.login(sshd_server.password)
    await sock.send_json({"t": "end"})
    state = await sock.next_message("state")
    while state["state"] != "ended":
        state = await sock.next_message("state")
    listed = await gateway.api("GET", "/api/v1/sessions", expect=200)
    listed = listed["items"] if isinstance(listed, dict) else listed
    assert sock.session_id not in [s["session_id"] for s in listed]


async def _fill_input_until_the_target_stops_taking_it(gw: Gateway, sock: Any) -> None:
    """Run a program that never reads its input, then paste until the console has no input credit left."""
    await sock.send_keys("stty -icanon -echo; sleep 600\n")
    await asyncio.sleep(0.5)
    session = gw.hub.sessions[sock.session_id]
    frame = b"x" * 65536
    async with asyncio.timeout(30):
        while session._in_window.credit > 0:
            await sock.ws.send_bytes(frame)
            await asyncio.sleep(0.05)


async def _until_state(sock: Any, wanted: str, within: float) -> None:
    async with asyncio.timeout(within):
        while (await sock.next_of("state"))["state"] != wanted:
            pass


async def test_end_and_chat_are_read_while_typed_keys_wait_for_a_target_that_does_not_read(
    gateway: Gateway, sshd_server: SshServer
) -> None:
    sock = await gateway.jump(await _item(gateway, sshd_server))
    await sock.login(sshd_server.password)
    await _fill_input_until_the_target_stops_taking_it(gateway, sock)
    await sock.ws.send_bytes(b"y" * 65536)  # waits in the socket's key backlog
    await sock.send_json({"t": "chat", "text": "still here"})
    async with asyncio.timeout(5):
        while not any(e.get("text") == "still here" for e in (await sock.next_of("timeline"))["entries"]):
            pass
    await sock.send_json({"t": "end"})
    await _until_state(sock, "ended", within=10)


async def test_the_end_api_ends_a_session_whose_socket_is_held_by_a_huge_paste(
    gateway: Gateway, sshd_server: SshServer
) -> None:
    sock = await gateway.jump(await _item(gateway, sshd_server))
    await sock.login(sshd_server.password)
    await _fill_input_until_the_target_stops_taking_it(gateway, sock)
    for _ in range(16):  # far past the backlog: the console stops reading this socket
        await sock.ws.send_bytes(b"z" * 65536)
    await gateway.api("POST", f"/api/v1/sessions/{sock.session_id}/end", {}, expect=204)
    await _until_state(sock, "ended", within=10)


async def test_malformed_tunnel_frames_are_dropped_and_sessions_keep_running(
    gateway: Gateway, sshd_server: SshServer
) -> None:
    sock = await gateway.jump(await _item(gateway, sshd_server))
    await sock.login(sshd_server.password)
    for junk in (b"\x01", b"\x09\x00\x00\x00\x01abc", wire.encode_control(0, wire.BellMsg())):
        await gateway.jumpoint._send(junk)
    await sock.send_keys("echo survived\n")
    await sock.read_until(b"survived\r\n")


async def test_jumpoint_reconnects_after_the_tunnel_drops(gateway: Gateway) -> None:
    [link] = gateway.hub.member_links(gateway.jumpoint_id)
    await link.ws.close()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        current = gateway.hub.member_links(gateway.jumpoint_id)
        if current and current[0] is not link:
            return
        await asyncio.sleep(0.05)
    pytest.fail("the Jumpoint did not reconnect")


async def test_after_a_reconnect_new_jumps_get_channels_and_a_lost_tunnels_session_cannot_end_them(
    gateway: Gateway, sshd_server: SshServer
) -> None:
    release = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()  # no SSH banner until released: the Jumpoint stays in the key exchange
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        stuck = await gateway.create_item(name="silent", hostname=f"127.0.0.1:{port}", username="u")
        await gateway.jump(int(stuck["id"]))  # channel 1 of the first tunnel
        await asyncio.sleep(0.3)
        [link] = gateway.hub.member_links(gateway.jumpoint_id)
        await link.ws.close()
        async with asyncio.timeout(15):
            while not (current := gateway.hub.member_links(gateway.jumpoint_id)) or current[0] is link:
                await asyncio.sleep(0.05)
            await current[0].ready.wait()
        # Channel 1 of the new tunnel: the runner still connecting for the lost tunnel does not hold it.
        sock = await gateway.jump(await _item(gateway, sshd_server))
        await sock.login(sshd_server.password)
        release.set()  # the lost tunnel's runner ends now: its "closed" for channel 1 must not reach the new tunnel
        async with asyncio.timeout(10):
            while gateway.jumpoint._retiring:
                await asyncio.sleep(0.05)
        await sock.send_keys("echo still-$((6*7))\n")
        await sock.read_until(b"still-42")
        assert not [m for m in sock.messages if m["t"] == "error"]
    finally:
        release.set()
        server.close()


async def test_tunnel_with_a_bad_token_is_refused(gateway: Gateway) -> None:
    url = gateway.url.replace("http", "ws") + "/api/v1/jumpoint/tunnel"
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await gateway.http.ws_connect(url, headers={"Authorization": "Bearer ojj_not-a-token"})
    assert err.value.status == 401


async def test_session_socket_of_someone_else_is_refused(gateway: Gateway, sshd_server: SshServer) -> None:
    sock = await gateway.jump(await _item(gateway, sshd_server))
    await gateway.api("POST", "/api/v1/users", {"username": "bob", "password": "bob-pw-12345678"}, expect=201)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as bob:
        creds = {"username": "bob", "password": "bob-pw-12345678"}
        login = await bob.post(gateway.url + "/api/v1/auth/login", json=creds)
        assert login.status == 200
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await bob.ws_connect(gateway.url + f"/api/v1/sessions/{sock.session_id}/ws")
        assert err.value.status in (403, 404)


async def test_output_before_the_browser_attaches_is_delivered(gateway: Gateway, sshd_server: SshServer) -> None:
    sock = await gateway.jump(await _item(gateway, sshd_server))
    await sock.login(sshd_server.password)
    await sock.send_keys("sleep 1; echo early-$((5*5))\n")
    await sock.ws.close()  # the rep reloads the page: output meanwhile must wait, not vanish
    await asyncio.sleep(2)
    again = await gateway.http.ws_connect(
        gateway.url + f"/api/v1/sessions/{sock.session_id}/ws", headers=gateway.headers
    )
    from tests.fixtures.gateway import SessionSocket

    await SessionSocket(sock.session_id, again).read_until(b"early-25")


async def test_session_lifecycle_is_in_the_audit_trail_without_secrets(
    gateway: Gateway, sshd_server: SshServer
) -> None:
    from sqlalchemy import select

    from console_web.db.models import AuditEvent

    sock = await gateway.jump(await _item(gateway, sshd_server))
    await sock.login(sshd_server.password, host_key="once")
    await sock.send_json({"t": "end"})
    state = await sock.next_message("state")
    while state["state"] != "ended":
        state = await sock.next_message("state")
    await asyncio.sleep(0.3)  # audit writes are asynchronous
    async with gateway.db.session() as db:
        events = (await db.execute(select(AuditEvent).where(AuditEvent.session_id == sock.session_id))).scalars().all()
    actions = [e.action for e in events]
    assert {"session.host_key_decision", "session.connected", "session.ended"} <= set(actions)
    assert sshd_server.password not in repr([(e.action, e.detail) for e in events])
