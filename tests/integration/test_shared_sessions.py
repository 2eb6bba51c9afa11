"""Shared sessions through the whole gateway against a real sshd: join, modes, transfer, removal, guests, chat,
late joiners, reconnects, idle timeout and recordings."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pyghostty import Terminal  # type: ignore[import-untyped]
from yarl import URL

from console_web.hub import browser_socket as browser_socket_module
from console_web.hub.session import CHAT_BURST
from console_web.recording.asciicast import read_cast
from tests.fixtures.gateway import Gateway, SessionSocket, SocketClosed
from tests.fixtures.sshd import SshServer


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    # A small stream buffer makes late joiners get a screen snapshot after modest output; a short idle timeout
    # keeps that test quick (the other tests type often enough).
    return {"sessions": {"stream_buffer_kib": 2048, "idle_timeout_seconds": 0, "reconnect_grace_seconds": 3}}


async def _shared_item(gw: Gateway, ssh: SshServer, members: list[int], **extra: Any) -> int:
    group = await gw.api("POST", "/api/v1/jump-groups", {"name": f"team {len(members)}"}, expect=201)
    for user_id in members:
        await gw.api("PUT", f"/api/v1/jump-groups/{group['id']}/members/{user_id}", expect=204)
    item = await gw.api(
        "POST",
        "/api/v1/jump-items",
        {
            "name": "shared box",
            "group_id": group["id"],
            "jumpoint_id": gw.jumpoint_id,
            "hostname": f"{ssh.host}:{ssh.port}",
            "username": ssh.username,
            "protocol": "ssh",
        }
        | extra,
        expect=201,
    )
    return int(item["id"])


async def _owner_session(gw: Gateway, ssh: SshServer, members: list[int], **extra: Any) -> tuple[int, SessionSocket]:
    """Ann (a rep, not an admin) jumps to a shared item and logs in."""
    ann_id, ann = await gw.create_rep("ann")
    item_id = await _shared_item(gw, ssh, [ann_id, *members], **extra)
    owner = await gw.jump(item_id, token=ann)
    await owner.login(ssh.password)
    return item_id, owner


async def _timeline_text(sock: SessionSocket, needle: str, timeout: float = 10.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            msg = await sock.next_of("timeline")
            for entry in msg["entries"]:
                if needle in entry["text"]:
                    return dict(entry)


async def _roster_with(sock: SessionSocket, name: str, mode: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            roster = await sock.next_of("roster")
            if any(p["name"] == name and p["mode"] == mode for p in roster["participants"]):
                return roster


def _participant(roster: dict[str, Any], name: str) -> str:
    return str(next(p["id"] for p in roster["participants"] if p["name"] == name))


async def test_a_second_rep_joins_the_running_session_and_the_owner_is_told(
    gateway: Gateway, sshd_server: SshServer
) -> None:
    bob_id, bob = await gateway.create_rep("bob")
    item_id, owner = await _owner_session(gateway, sshd_server, [bob_id])
    started = await gateway.api_as(bob, "POST", f"/api/v1/jump-items/{item_id}/jump", {}, expect=201)
    assert started["joined"] is True
    assert started["session_id"] == owner.session_id
    peer = await gateway.attach(owner.session_id, token=bob)
    hello = await peer.next_of("hello")
    assert hello["you"]["mode"] == "peer"
    notice = await _timeline_text(owner, "Bob joined the session")
    assert notice["kind"] == "system"
    await peer.send_keys("echo from-$((20+22))\n")
    await owner.read_until(b"from-42")


async def test_start_new_items_give_each_rep_an_independent_session(gateway: Gateway, sshd_server: SshServer) -> None:
    bob_id, bob = await gateway.create_rep("bob")
    item_id, owner = await _owner_session(gateway, sshd_server, [bob_id], session_policy="start_new")
    started = await gateway.api_as(bob, "POST", f"/api/v1/jump-items/{item_id}/jump", {}, expect=201)
    assert started["joined"] is False
    assert started["session_id"] != owner.session_id


async def test_observer_input_is_ignored(gateway: Gateway, sshd_server: SshServer) -> None:
    bob_id, bob = await gateway.create_rep("bob")
    item_id, owner = await _owner_session(gateway, sshd_server, [bob_id])
    await gateway.api_as(bob, "POST", f"/api/v1/jump-items/{item_id}/jump", {}, expect=201)
    watcher = await gateway.attach(owner.session_id, token=bob)
    roster = await _roster_with(owner, "Bob", "peer")
    await owner.send_json({"t": "set_mode", "participant": _participant(roster, "Bob"), "mode": "observer"})
    assert (await watcher.next_of("you"))["mode"] == "observer"
    await watcher.send_keys("echo OBSERVER-$((1+1))\n")
    await owner.send_keys("echo OWNER-$((2+2))\n")
    seen = await watcher.read_until(b"OWNER-4")
    assert b"OBSERVER-2" not in seen
    assert b"OBSERVER-2" not in owner.output


async def test_the_owner_transfers_ownership_and_becomes_a_peer(gateway: Gateway, sshd_server: SshServer) -> None:
    bob_id, bob = await gateway.create_rep("bob")
    item_id, owner = await _owner_session(gateway, sshd_server, [bob_id])
    await gateway.api_as(bob, "POST", f"/api/v1/jump-items/{item_id}/jump", {}, expect=201)
    heir = await gateway.attach(owner.session_id, token=bob)
    roster = await _roster_with(owner, "Bob", "peer")
    await owner.send_json({"t": "transfer", "participant": _participant(roster, "Bob")})
    assert (await heir.next_of("you"))["mode"] == "owner"
    assert (await owner.next_of("you"))["mode"] == "peer"
    await _timeline_text(heir, "transferred ownership to Bob")
    # the former owner may no longer end the session for everyone
    await owner.send_json({"t": "end"})
    assert (await owner.next_of("error"))["error"]["code"] == "forbidden"


async def test_a_removed_participant_is_disconnected_and_cannot_come_back(
    gateway: Gateway, sshd_server: SshServer
) -> None:
    bob_id, bob = await gateway.create_rep("bob")
    item_id, owner = await _owner_session(gateway, sshd_server, [bob_id], session_policy="join_existing")
    await gateway.api_as(bob, "POST", f"/api/v1/jump-items/{item_id}/jump", {}, expect=201)
    removed = await gateway.attach(owner.session_id, token=bob)
    roster = await _roster_with(owner, "Bob", "peer")
    await owner.send_json({"t": "remove", "participant": _participant(roster, "Bob")})
    with pytest.raises(SocketClosed) as closed:
        await removed.read_until(b"never")
    assert closed.value.code == 4001
    await _timeline_text(owner, "removed Bob")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await gateway.attach(owner.session_id, token=bob)
    assert refused.value.status == 404


async def test_a_seat_released_while_its_socket_opens_gets_that_socket_closed_and_no_keys_through(
    gateway: Gateway, sshd_server: SshServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    bob_id, bob = await gateway.create_rep("bob")
    item_id, owner = await _owner_session(gateway, sshd_server, [bob_id], session_policy="join_existing")
    await gateway.api_as(bob, "POST", f"/api/v1/jump-items/{item_id}/jump", {}, expect=201)
    session = gateway.hub.sessions[owner.session_id]

    class RemovedWhileOpening(web.WebSocketResponse):
        async def prepare(self, request: web.BaseRequest) -> Any:
            seat = next(p for p in session.participants.values() if p.identity.user_id == bob_id)
            session.remove(session.owner, seat.id)  # the owner removes Bob while his socket opens
            return await super().prepare(request)

    monkeypatch.setattr(browser_socket_module, "browser_socket", lambda hub: RemovedWhileOpening())
    late = await gateway.attach(owner.session_id, token=bob)
    await late.send_keys("echo SHOULD-NOT-RUN\n")
    with pytest.raises(SocketClosed) as closed:
        await late.read_until(b"never")
    assert closed.value.code == 4002
    await owner.send_keys("echo OWNER-$((6*7))\n")
    seen = await owner.read_until(b"OWNER-42")
    assert b"SHOULD-NOT-RUN" not in seen


async def test_every_session_audit_event_with_an_actor_says_where_the_actor_acted_from(
    gateway: Gateway, sshd_server: SshServer
) -> None:
    bob_id, bob = await gateway.create_rep("bob")
    item_id, owner = await _owner_session(gateway, sshd_server, [bob_id], session_policy="join_existing")
    await gateway.api_as(bob, "POST", f"/api/v1/jump-items/{item_id}/jump", {}, expect=201)
    await gateway.attach(owner.session_id, token=bob)
    roster = await _roster_with(owner, "Bob", "peer")
    await owner.send_json({"t": "set_mode", "participant": _participant(roster, "Bob"), "mode": "observer"})
    await owner.send_json({"t": "remove", "participant": _participant(roster, "Bob")})
    await _timeline_text(owner, "removed Bob")
    await gateway.api("POST", f"/api/v1/sessions/{owner.session_id}/end", expect=204)
    async with asyncio.timeout(10):
        while True:
            page = await gateway.api("GET", f"/api/v1/audit?session_id={owner.session_id}&limit=200", expect=200)
            events = page["items"]
            actions = {e["action"] for e in events}
            if {"session.joined", "session.mode_changed", "session.removed", "session.end_requested"} <= actions:
                break
            await asyncio.sleep(0.2)
    with_actor = [e for e in events if e.get("actor_user_id") is not None]
    assert with_actor
    assert {e["action"]: e["source_address"] for e in with_actor} == {e["action"]: "127.0.0.1" for e in with_actor}


async def test_an_external_key_works_once_and_not_after_it_expires(gateway: Gateway, sshd_server: SshServer) -> None:
    _, owner = await _owner_session(gateway, sshd_server, [])
    created = await gateway.api(
        "POST",
        f"/api/v1/sessions/{owner.session_id}/external-keys",
        {"description": "vendor engineer", "expires_minutes": 30},
        expect=201,
    )
    assert created["url"].endswith(f"/join/{created['key']}")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as guest_http:
        async with guest_http.post(
            gateway.url + "/api/v1/join", json={"key": created["key"], "display_name": "Vera Vendor"}
        ) as resp:
            assert resp.status == 200, await resp.text()
            joined = await resp.json()
        assert joined["session_id"] == owner.session_id
        guest = await gateway.attach(owner.session_id, cookies=guest_http.cookie_jar.filter_cookies(URL(gateway.url)))
        hello = await guest.next_of("hello")
        assert hello["you"] == {**hello["you"], "external": True, "mode": "observer", "name": "Vera Vendor"}
        await _timeline_text(owner, "Vera Vendor joined the session (an external invitee)")
        async with guest_http.post(
            gateway.url + "/api/v1/join", json={"key": created["key"], "display_name": "Again"}
        ) as again:
            assert again.status == 404
            assert "already used" in (await again.json())["error"]["message"]
    expiring = await gateway.api(
        "POST", f"/api/v1/sessions/{owner.session_id}/external-keys", {"description": "late"}, expect=201
    )
    keys = gateway.hub.invitations._keys  # age the key: waiting a real minute would slow the suite
    for key_hash, record in list(keys.items()):
        if record.id == expiring["id"]:
            keys[key_hash] = dataclasses.replace(record, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    async with (
        aiohttp.ClientSession() as late_http,
        late_http.post(gateway.url + "/api/v1/join", json={"key": expiring["key"], "display_name": "Late"}) as late,
    ):
        assert late.status == 404


async def test_a_late_joiner_gets_the_whole_chat_history(gateway: Gateway, sshd_server: SshServer) -> None:
    bob_id, bob = await gateway.create_rep("bob")
    item_id, owner = await _owner_session(gateway, sshd_server, [bob_id])
    for text in ("first", "zweite Nachricht ✓", "see https://example.com/kb/42"):
        await owner.send_json({"t": "chat", "text": text})
    await _timeline_text(owner, "https://example.com/kb/42")
    await gateway.api_as(bob, "POST", f"/api/v1/jump-items/{item_id}/jump", {}, expect=201)
    late = await gateway.attach(owner.session_id, token=bob)
    history = await late.next_of("timeline")
    assert history["history"] is True
    chats = [(e["author"], e["text"]) for e in history["entries"] if e["kind"] == "chat"]
    assert chats == [("Ann", "first"), ("Ann", "zweite Nachricht ✓"), ("Ann", "see https://example.com/kb/42")]


async def test_empty_and_oversized_chat_messages_are_refused(gateway: Gateway, sshd_server: SshServer) -> None:
    _, owner = await _owner_session(gateway, sshd_server, [])
    await owner.send_json({"t": "chat", "text": "   "})
    assert "cannot be empty" in (await owner.next_of("error"))["error"]["message"]
    await owner.send_json({"t": "chat", "text": "x" * 2049})
    assert (await owner.next_of("error"))["error"]["code"] == "protocol_violation"
    await owner.send_keys("echo still-$((3*3))\n")
    await owner.read_until(b"still-9")


async def test_a_chat_flood_is_refused_past_the_burst_and_the_session_goes_on(
    gateway: Gateway, sshd_server: SshServer
) -> None:
    _, owner = await _owner_session(gateway, sshd_server, [])
    for n in range(CHAT_BURST + 1):
        await owner.send_json({"t": "chat", "text": f"message {n}"})
    error = (await owner.next_of("error"))["error"]
    assert error["code"] == "too_many_requests"
    assert f"at most {CHAT_BURST} chat messages" in error["message"]
    await _timeline_text(owner, f"message {CHAT_BURST - 1}")
    await owner.send_keys("echo still-$((3*3))\n")
    await owner.read_until(b"still-9")


async def test_a_late_joiner_sees_exactly_the_owners_screen(gateway: Gateway, sshd_server: SshServer) -> None:
    bob_id, bob = await gateway.create_rep("bob")
    item_id, owner = await _owner_session(gateway, sshd_server, [bob_id])
    # more output than the 2 MiB stream buffer, so the joiner cannot replay it and gets a snapshot
    await owner.send_keys("seq 1 400000; printf '\\033[1;31mRED\\033[0m done\\n'\n")
    await owner.read_until(b"RED\x1b[0m done")
    await owner.read_until_prompt()
    await gateway.api_as(bob, "POST", f"/api/v1/jump-items/{item_id}/jump", {}, expect=201)
    late = await gateway.attach(owner.session_id, token=bob)
    screen = await late.next_of("screen")
    async with asyncio.timeout(10):
        while late.snapshot is None:
            await late._read_one()
    with Terminal(screen["cols"], screen["rows"]) as seen_by_owner, Terminal(screen["cols"], screen["rows"]) as joiner:
        seen_by_owner.feed(bytes(owner.output))
        joiner.feed(late.snapshot)
        assert joiner.text() == seen_by_owner.text()
        assert joiner.cursor == seen_by_owner.cursor
        assert "400000" in joiner.text()


async def test_a_brief_disconnect_resumes_without_losing_output(gateway: Gateway, sshd_server: SshServer) -> None:
    _, owner = await _owner_session(gateway, sshd_server, [])
    await owner.send_keys("for i in $(seq 1 30); do echo tick-$i; sleep 0.05; done; echo ALL-DONE\n")
    await owner.read_until(b"tick-3")
    before, pos = bytes(owner.output), owner.pos
    await owner.close()
    await asyncio.sleep(0.5)
    resumed = await gateway.attach(owner.session_id, pos=pos, token=owner.token)
    start = await resumed.next_of("stream", "screen")
    assert start == {"t": "stream", "pos": pos}
    after = await resumed.read_until(b"ALL-DONE")
    combined = before + after
    for i in range(1, 31):
        assert combined.count(f"tick-{i}\r\n".encode()) == 1, i


async def test_the_session_is_recorded_as_asciicast_while_it_runs(gateway: Gateway, sshd_server: SshServer) -> None:
    _, owner = await _owner_session(gateway, sshd_server, [])
    await owner.send_keys("echo recorded-$((5*5))\n")
    await owner.read_until(b"recorded-25")
    await owner.send_json({"t": "end"})
    await owner.next_of("state")
    cast = gateway.hub._config.recordings_dir / f"{owner.session_id}.cast"
    async with asyncio.timeout(10):
        while True:
            header, events = read_cast(cast)
            if any("recorded-25" in str(e[2]) for e in events if e[1] == "o"):
                break
            await asyncio.sleep(0.2)
    assert header["version"] == 2
    transcript = (gateway.hub._config.recordings_dir / f"{owner.session_id}.txt").read_text()
    assert "recorded-25" in transcript
