"""Two console nodes behind one (imagined) load balancer: PostgreSQL, Redis and a recordings directory shared, a
real sshd, and one Jumpoint whose tunnel landed on node A. Reps reach either node; a session lives on A."""

from __future__ import annotations

import asyncio
import hashlib
import os
import pwd
import shutil
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from console_web.appkeys import CLUSTER_NODE_KEY
from tests.fixtures.console_cluster import *  # noqa: F403
from tests.fixtures.console_cluster import ConsoleCluster
from tests.fixtures.gateway import SessionSocket, SocketClosed
from tests.fixtures.redis import *  # noqa: F403
from tests.fixtures.sshd import SshServer
from tests.integration.test_shared_sessions import _shared_item

MiB = 1 << 20


async def _timeline_text(sock: SessionSocket, needle: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            msg = await sock.next_of("timeline")
            for entry in msg["entries"]:
                if needle in entry["text"]:
                    return dict(entry)


async def _until_ended(sock: SessionSocket) -> None:
    while (await sock.next_of("state"))["state"] != "ended":
        pass


async def test_a_rep_on_node_b_joins_the_session_a_rep_started_on_node_a(
    console_cluster: ConsoleCluster, sshd_server: SshServer
) -> None:
    a, b = console_cluster.a, console_cluster.b
    ann_id, ann = await a.create_rep("ann")
    bob_id, bob = await a.create_rep("bob")
    item_id = await _shared_item(a, sshd_server, [ann_id, bob_id])
    owner = await a.jump(item_id, token=ann)
    await owner.login(sshd_server.password)
    await owner.send_keys("echo before-$((40+2))\n")
    await owner.read_until(b"before-42")

    started = await b.api_as(bob, "POST", f"/api/v1/jump-items/{item_id}/jump", {}, expect=201)
    assert started["joined"] is True
    assert started["session_id"] == owner.session_id
    joiner = await b.attach(owner.session_id, token=bob)
    assert (await joiner.next_of("hello"))["you"]["mode"] == "peer"
    await joiner.read_until(b"before-42")  # the late joiner sees what was on the screen
    await _timeline_text(owner, "Bob joined the session")

    await joiner.send_keys("echo from-b-$((20+22))\n")
    await owner.read_until(b"from-b-42")
    await joiner.read_until(b"from-b-42")
    await joiner.send_json({"t": "chat", "text": "hello from node B ✓"})
    assert (await _timeline_text(owner, "hello from node B ✓"))["kind"] == "chat"

    listed = await b.api_as(bob, "GET", "/api/v1/sessions", expect=200)
    assert [s["session_id"] for s in listed["items"]] == [owner.session_id]


async def test_a_jump_on_node_b_runs_through_the_jumpoint_connected_to_node_a(
    console_cluster: ConsoleCluster, sshd_server: SshServer
) -> None:
    a, b = console_cluster.a, console_cluster.b
    item_id = await _shared_item(b, sshd_server, [])
    jumpoints = await b.api("GET", "/api/v1/jumpoints", expect=200)
    assert [j["connected"] for j in jumpoints["items"]] == [True]
    sock = await b.jump(item_id)
    await sock.login(sshd_server.password)
    await sock.send_keys("stty size\n")
    await sock.read_until(b"24 80")
    assert sock.session_id.startswith(next(iter(console_cluster.nodes)) + "_")  # it lives on node A

    seen_on_a = await a.api("GET", f"/api/v1/sessions/{sock.session_id}", expect=200)
    assert seen_on_a["state"] == "connected"
    await a.api("POST", f"/api/v1/sessions/{sock.session_id}/end", expect=204)
    await _until_ended(sock)


async def test_an_invitation_made_on_one_node_is_accepted_on_the_other(
    console_cluster: ConsoleCluster, sshd_server: SshServer
) -> None:
    a, b = console_cluster.a, console_cluster.b
    carol_id, carol = await a.create_rep("carol")
    item_id = await _shared_item(a, sshd_server, [], session_policy="start_new")
    owner = await a.jump(item_id)
    await owner.login(sshd_server.password)
    made = await b.api("POST", f"/api/v1/sessions/{owner.session_id}/invitations", {"user_id": carol_id}, expect=201)
    mine = await b.api_as(carol, "GET", "/api/v1/invitations", expect=200)
    assert [i["id"] for i in mine["items"]] == [made["items"][0]["id"]]
    accepted = await b.api_as(carol, "POST", f"/api/v1/invitations/{made['items'][0]['id']}/accept", expect=200)
    assert accepted["session_id"] == owner.session_id
    guest_of_b = await b.attach(owner.session_id, token=carol)
    assert (await guest_of_b.next_of("hello"))["you"]["name"] == "Carol"
    assert await a.api_as(carol, "GET", "/api/v1/invitations", expect=200) == {"items": []}


async def test_an_external_guest_joins_through_the_other_node(
    console_cluster: ConsoleCluster, sshd_server: SshServer
) -> None:
    a, b = console_cluster.a, console_cluster.b
    item_id = await _shared_item(a, sshd_server, [])
    owner = await a.jump(item_id)
    await owner.login(sshd_server.password)
    created = await a.api(
        "POST", f"/api/v1/sessions/{owner.session_id}/external-keys", {"description": "vendor"}, expect=201
    )
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as guest_http:
        async with guest_http.post(
            b.url + "/api/v1/join", json={"key": created["key"], "display_name": "Vera"}
        ) as resp:
            assert resp.status == 200, await resp.text()
        async with guest_http.get(b.url + f"/sessions/{owner.session_id}", allow_redirects=False) as page:
            assert page.status == 200  # the guest's cookie is known on node B too
        guest = await b.attach(owner.session_id, cookies=guest_http.cookie_jar.filter_cookies(URL(b.url)))
        hello = await guest.next_of("hello")
        assert hello["you"] == {**hello["you"], "external": True, "mode": "observer", "name": "Vera"}
        await guest.send_keys("echo GUEST-$((1+1))\n")  # an observer's keys are ignored on node A
        await owner.send_keys("echo OWNER-$((2+2))\n")
        assert b"GUEST-2" not in await guest.read_until(b"OWNER-4")
        await guest.close()


async def test_a_session_recorded_on_node_a_plays_back_from_node_b(
    console_cluster: ConsoleCluster, sshd_server: SshServer
) -> None:
    a, b = console_cluster.a, console_cluster.b
    item_id = await _shared_item(a, sshd_server, [])
    sock = await a.jump(item_id)
    await sock.login(sshd_server.password)
    await sock.send_keys("echo recorded-$((20+5))\n")
    await sock.read_until(b"recorded-25")
    await b.api("POST", f"/api/v1/sessions/{sock.session_id}/end", expect=204)
    await _until_ended(sock)
    async with asyncio.timeout(10):
        while True:
            async with b.http.get(
                b.url + f"/api/v1/session-history/{sock.session_id}/transcript.txt", headers=b.headers
            ) as resp:
                if resp.status == 200 and "recorded-25" in await resp.text():
                    break
            await asyncio.sleep(0.2)


async def _owner_on_a_watched_from_b(cluster: ConsoleCluster, ssh: SshServer) -> tuple[SessionSocket, SessionSocket]:
    """The admin's session started on node A, and a second socket of theirs attached to it through node B."""
    owner = await cluster.a.jump(await _shared_item(cluster.a, ssh, []))
    await owner.login(ssh.password)
    relayed = await cluster.b.attach(owner.session_id)
    await relayed.next_of("hello")
    return owner, relayed


async def _closed_code(sock: SessionSocket) -> int | None:
    """Read until the socket closes; the close code the server sent."""
    async with asyncio.timeout(15):
        while True:
            try:
                await sock.next_of("never")
            except SocketClosed as closed:
                return closed.code


async def test_when_the_sessions_node_stops_the_browser_on_the_other_node_sees_the_session_end(
    console_cluster: ConsoleCluster, sshd_server: SshServer
) -> None:
    b = console_cluster.b
    owner, relayed = await _owner_on_a_watched_from_b(console_cluster, sshd_server)
    await console_cluster.nodes[owner.session_id.split("_")[0]].stop()
    assert await _closed_code(relayed) == 1000
    assert {
        "t": "error",
        "error": {"code": "jumpoint_unavailable", "who": "us", "message": "the console is shutting down"},
    } in relayed.messages
    async with b.http.get(b.url + f"/api/v1/sessions/{owner.session_id}", headers=b.headers) as resp:
        assert resp.status == 404


async def test_when_the_sessions_node_vanishes_the_browser_on_the_other_node_is_told_to_reconnect(
    console_cluster: ConsoleCluster, sshd_server: SshServer
) -> None:
    owner, relayed = await _owner_on_a_watched_from_b(console_cluster, sshd_server)
    node_a = console_cluster.nodes[owner.session_id.split("_")[0]]
    await node_a.runner.app[CLUSTER_NODE_KEY].bus.close()  # as if its process died: it leaves Redis silently
    assert await _closed_code(relayed) == 1012  # "service restart": the page reconnects


async def test_a_socket_for_a_session_of_a_node_that_is_not_running_is_refused(
    console_cluster: ConsoleCluster,
) -> None:
    b = console_cluster.b
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await b.attach("zz9_notasessionatall")
    assert refused.value.status == 404


async def test_files_of_a_session_on_node_a_go_up_and_down_through_node_b_intact(
    console_cluster: ConsoleCluster, sshd_server: SshServer, tmp_path: Path
) -> None:
    a, b = console_cluster.a, console_cluster.b
    item_id = await _shared_item(a, sshd_server, [])
    sock = await a.jump(item_id)
    await sock.login(sshd_server.password)
    account = pwd.getpwnam(sshd_server.username)
    remote = Path(account.pw_dir) / f"relayed-{uuid.uuid4().hex[:8]}"
    remote.mkdir()
    os.chown(remote, account.pw_uid, account.pw_gid)
    try:
        payload = os.urandom(MiB) * 12 + b"tail"  # bigger than a pipe's window many times over
        files = b.url + f"/api/v1/sessions/{sock.session_id}/files"
        async with b.http.put(
            files + "/upload", params={"path": f"{remote}/up.bin"}, data=payload, headers=b.headers
        ) as resp:
            assert resp.status == 201, await resp.text()
        assert hashlib.sha256((remote / "up.bin").read_bytes()).digest() == hashlib.sha256(payload).digest()

        async with b.http.get(files + "/download", params={"path": f"{remote}/up.bin"}, headers=b.headers) as resp:
            assert resp.status == 200
            assert await resp.read() == payload

        listing = await b.api("GET", f"/api/v1/sessions/{sock.session_id}/files?path={remote}", expect=200)
        assert [(e["name"], e["size"]) for e in listing["entries"]] == [("up.bin", len(payload))]
        await b.api(
            "POST",
            f"/api/v1/sessions/{sock.session_id}/files/rename",
            {"from": f"{remote}/up.bin", "to": f"{remote}/moved.bin"},
            expect=200,
        )
        missing = await b.api("DELETE", f"/api/v1/sessions/{sock.session_id}/files?path={remote}/nothing", expect=404)
        assert missing["error"]["message"] == f"{remote}/nothing does not exist on the target"
        await b.api("DELETE", f"/api/v1/sessions/{sock.session_id}/files?path={remote}/moved.bin", expect=204)
        assert list(remote.iterdir()) == []
        assert (await _timeline_text(sock, "admin deleted"))["text"] == f"admin deleted {remote}/moved.bin"
    finally:
        shutil.rmtree(remote, ignore_errors=True)


async def test_one_node_a_time_sweeps_the_shared_recordings_sparing_every_nodes_live_sessions(
    console_cluster: ConsoleCluster, sshd_server: SshServer
) -> None:
    a = console_cluster.a
    sock = await a.jump(await _shared_item(a, sshd_server, []))
    await sock.login(sshd_server.password)
    node_a, node_b = (node.runner.app[CLUSTER_NODE_KEY] for node in console_cluster.nodes.values())
    assert sock.session_id in await node_b.live_session_ids()
    claim = f"retention:{console_cluster.recordings}-{uuid.uuid4().hex}"
    assert await node_b.bus.claim(claim, seconds=60) is True
    assert await node_a.bus.claim(claim, seconds=60) is False
