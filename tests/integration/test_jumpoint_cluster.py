"""Jumpoint clusters with real peers: a console (the gateway fixture's, on loopback), TWO real ``jumpoint run``
processes registered under one Jumpoint name with one-time keys (``jumpoint register``), and the real sshd fixture
as the target.

What a cluster promises: Jumps are spread by least active sessions; a member that dies ends its own sessions with
a message naming it while the other member's go on and take the next Jumps; a host key saved through one member is
trusted by the other without a question, and an administrator removing it on the console makes both ask again; a
revoked member's token is refused. Which member runs what is read from the console's members API and from each
member's own cache (``jumpoint hostkeys list``).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import update

from console_web.db.models import JumpointMember
from jumpoint.agent.hostkey_store import FileHostKeyStore
from jumpoint.core.hostkeys import HostKey
from tests.fixtures.gateway import Gateway, SessionSocket
from tests.fixtures.jumpoint_cli import jumpoint_cli, jumpoint_run
from tests.fixtures.sshd import SshServer

NAME = "LAN-C"
START_TIMEOUT = 60.0


@dataclass
class Member:
    """One ``jumpoint run`` process, a member of the cluster."""

    hostname: str
    member_id: int
    config: Path
    state_dir: Path
    log_path: Path
    process: asyncio.subprocess.Process

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def token(self) -> str:
        return str(json.loads((self.state_dir / "registration.json").read_text())["token"])

    async def cached_fingerprints(self) -> set[str]:
        """The fingerprints in the member's own known_hosts (what ``jumpoint hostkeys list`` prints)."""
        code, out, err = await jumpoint_cli(self.config, "hostkeys", "list")
        assert code == 0, (out, err)
        return {line.split("\t")[2] for line in out.splitlines() if line.strip()}


@dataclass
class Cluster:
    """The Jumpoint ``LAN-C`` on the gateway's console and its started members."""

    gateway: Gateway
    jumpoint_id: int
    members: list[Member]

    async def members_api(self) -> dict[str, dict[str, Any]]:
        """``GET /jumpoints/{id}/members`` by host name."""
        listed = await self.gateway.api("GET", f"/api/v1/jumpoints/{self.jumpoint_id}/members", expect=200)
        return {m["hostname"]: m for m in listed["items"]}

    async def sessions_by_member(self) -> dict[str, int]:
        return {host: m["active_sessions"] for host, m in (await self.members_api()).items()}

    async def until(self, check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await check():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting until {what}: {await self.members_api()}")


AddMember = Callable[[str], Awaitable[Member]]


@pytest.fixture
async def cluster(gateway: Gateway) -> AsyncIterator[tuple[Cluster, AddMember]]:
    """The Jumpoint ``LAN-C`` and a factory that registers and starts a member of it (killed at the end)."""
    created = await gateway.api("POST", "/api/v1/jumpoints", {"name": NAME}, expect=201)
    state = Cluster(gateway, int(created["id"]), [])

    async def add_member(hostname: str) -> Member:
        key = await gateway.api("POST", f"/api/v1/jumpoints/{state.jumpoint_id}/registration-keys", {}, expect=201)
        work = gateway.state_dir / f"member-{hostname}"
        work.mkdir()
        config = work / "jumpoint.yaml"
        config.write_text(
            f"state_dir: {work / 'state'}\n"
            f"hostname: {hostname}\n"
            "tunnel: {reconnect_min_seconds: 0.1, reconnect_max_seconds: 1}\n"
            "shutdown: {drain_seconds: 0}\n"
            "logging: {level: debug}\n"
        )
        code, out, err = await jumpoint_cli(config, "register", "--console", gateway.url, "--key", key["key"])
        assert code == 0, (out, err)
        assert f"Registered {hostname!r} as a member of Jumpoint {NAME!r}" in out
        log_path = work / "jumpoint.log"
        process = await jumpoint_run(config, log_path)
        listed = await state.members_api()
        member = Member(hostname, int(listed[hostname]["id"]), config, work / "state", log_path, process)
        state.members.append(member)

        async def connected() -> bool:
            return bool((await state.members_api())[hostname]["connected"])

        await state.until(connected, f"{hostname} is connected", timeout=START_TIMEOUT)
        return member

    try:
        yield state, add_member
    finally:
        for member in state.members:
            if member.process.returncode is None:
                member.process.kill()
                await member.process.wait()
            print(f"----- {member.hostname} log -----\n{member.log()}", file=sys.stderr)


async def _item(gateway: Gateway, cluster: Cluster, ssh: SshServer) -> int:
    item = await gateway.create_item(
        name="lab box",
        hostname=f"{ssh.host}:{ssh.port}",
        username=ssh.username,
        jumpoint_id=cluster.jumpoint_id,
        session_policy="start_new",
    )
    return int(item["id"])


async def _login(sock: SessionSocket, password: str, *, host_key: str | None) -> bool:
    """Answer the prompts until connected; ``host_key`` is the answer to a host-key question (None: a question
    fails the test). Returns whether a host-key question came."""
    asked = False
    while True:
        msg = await sock.next_of("prompt_host_key", "prompt_text", "state", timeout=30)
        if msg["t"] == "prompt_host_key":
            assert host_key is not None, f"unexpected host-key question: {msg}"
            asked = True
            await sock.send_json({"t": "answer_host_key", "id": msg["id"], "decision": host_key})
        elif msg["t"] == "prompt_text":
            await sock.send_json({"t": "answer_text", "id": msg["id"], "answers": [password]})
        elif msg["state"] == "connected":
            await sock.read_until_prompt()
            return asked
        elif msg["state"] == "ended":
            raise AssertionError(f"session ended: {sock.messages}")


async def _echo(sock: SessionSocket, word: str) -> None:
    await sock.send_keys(f"echo {word}-$((40+2))\n")
    await sock.read_until(f"{word}-42".encode())


async def test_jumps_are_spread_by_least_sessions_and_a_key_saved_on_one_member_is_trusted_by_the_other(
    cluster: tuple[Cluster, AddMember], gateway: Gateway, sshd_server: SshServer
) -> None:
    state, add_member = cluster
    a, b = await add_member("member-a"), await add_member("member-b")
    item_id = await _item(gateway, state, sshd_server)

    first = await gateway.jump(item_id)
    assert await _login(first, sshd_server.password, host_key="save")
    counts = await state.sessions_by_member()
    assert sorted(counts.values()) == [0, 1]
    saver = a if counts["member-a"] == 1 else b
    other = b if saver is a else a

    # The second Jump goes to the member without a session, which trusts the key the first member's rep saved.
    second = await gateway.jump(item_id)
    assert not await _login(second, sshd_server.password, host_key=None)
    assert await state.sessions_by_member() == {"member-a": 1, "member-b": 1}
    await _echo(first, "first")
    await _echo(second, "second")

    keys = await gateway.api("GET", f"/api/v1/jumpoints/{state.jumpoint_id}/host-keys", expect=200)
    assert [(k["host"], k["port"], k["added_by"]) for k in keys["items"]] == [
        (sshd_server.host, sshd_server.port, saver.hostname)
    ]
    fingerprint = keys["items"][0]["fingerprint"]
    assert await saver.cached_fingerprints() == {fingerprint}
    assert await other.cached_fingerprints() == {fingerprint}

    # An administrator removes the key on the console: every member forgets it, and both ask again.
    removed = await gateway.api(
        "DELETE",
        f"/api/v1/jumpoints/{state.jumpoint_id}/host-keys?host={sshd_server.host}&port={sshd_server.port}",
        expect=200,
    )
    assert removed == {"removed": 1}
    deadline = time.monotonic() + 20
    while await a.cached_fingerprints() or await b.cached_fingerprints():
        assert time.monotonic() < deadline, "the members still cache the removed key"
        await asyncio.sleep(0.2)
    third = await gateway.jump(item_id)
    assert await _login(third, sshd_server.password, host_key="once")
    fourth = await gateway.jump(item_id)
    assert await _login(fourth, sshd_server.password, host_key="once")
    assert await state.sessions_by_member() == {"member-a": 2, "member-b": 2}


async def test_a_member_that_dies_ends_its_own_sessions_naming_itself_and_the_survivor_takes_the_next_jump(
    cluster: tuple[Cluster, AddMember], gateway: Gateway, sshd_server: SshServer
) -> None:
    state, add_member = cluster
    a, b = await add_member("member-a"), await add_member("member-b")
    item_id = await _item(gateway, state, sshd_server)
    socks = [await gateway.jump(item_id)]
    await _login(socks[0], sshd_server.password, host_key="save")
    socks.append(await gateway.jump(item_id))
    await _login(socks[1], sshd_server.password, host_key=None)
    on_a = await _session_on(state, socks, "member-a")
    on_b = socks[1] if on_a is socks[0] else socks[0]

    a.process.send_signal(signal.SIGKILL)
    await a.process.wait()
    error = (await on_a.next_of("error", timeout=20))["error"]
    assert error["code"] == "jumpoint_unavailable"
    assert error["message"] == f"the Jumpoint member member-a of {NAME} disconnected"
    assert "other members" in error["hint"]
    assert (await on_a.next_of("state"))["state"] == "ended"

    await _echo(on_b, "survivor")  # the other member's session keeps working

    async def a_gone() -> bool:
        members = await state.members_api()
        return not members["member-a"]["connected"] and members["member-b"]["connected"]

    await state.until(a_gone, "member-a shows as disconnected")
    jumpoint = await gateway.api("GET", f"/api/v1/jumpoints/{state.jumpoint_id}", expect=200)
    assert (jumpoint["connected"], jumpoint["members"], jumpoint["members_connected"]) == (True, 2, 1)
    nxt = await gateway.jump(item_id)
    await _login(nxt, sshd_server.password, host_key=None)
    assert await state.sessions_by_member() == {"member-a": 0, "member-b": 2}
    await _echo(nxt, "next")

    # With no member left, Jumps fail with the Jumpoint-unavailable error.
    b.process.send_signal(signal.SIGKILL)
    await b.process.wait()

    async def none_left() -> bool:
        return not (await gateway.api("GET", f"/api/v1/jumpoints/{state.jumpoint_id}", expect=200))["connected"]

    await state.until(none_left, "no member is connected")
    refused = await gateway.api("POST", f"/api/v1/jump-items/{item_id}/jump", {"cols": 80, "rows": 24}, expect=503)
    assert refused["error"]["code"] == "jumpoint_unavailable"


async def test_a_member_shutting_down_gets_no_new_jumps_while_its_session_finishes(
    cluster: tuple[Cluster, AddMember], gateway: Gateway, sshd_server: SshServer
) -> None:
    state, add_member = cluster
    a = await add_member("member-a")
    item_id = await _item(gateway, state, sshd_server)
    first = await gateway.jump(item_id)
    await _login(first, sshd_server.password, host_key="save")
    await add_member("member-b")
    a.config.write_text(a.config.read_text().replace("drain_seconds: 0", "drain_seconds: 60"))
    a.process.send_signal(signal.SIGHUP)  # a 60 s drain, so member-a is still draining below
    await state.until(lambda: _logged(a, "configuration reloaded"), "member-a reloaded its configuration")
    a.process.send_signal(signal.SIGTERM)
    await state.until(lambda: _logged(a, "shutting down: refusing new Jumps"), "member-a drains")

    for _ in range(3):  # member-a has fewer sessions than none, but it is shutting down: every Jump goes to b
        sock = await gateway.jump(item_id)
        await _login(sock, sshd_server.password, host_key=None)
    assert await state.sessions_by_member() == {"member-a": 1, "member-b": 3}
    await _echo(first, "still-on-a")  # the draining member's session goes on

    await first.send_keys("exit\n")
    assert await asyncio.wait_for(a.process.wait(), 20) == 0


async def _logged(member: Member, text: str) -> bool:
    return text in member.log()


async def _session_on(state: Cluster, socks: list[SessionSocket], hostname: str) -> SessionSocket:
    """Which of two sessions runs on ``hostname``: end-to-end, by its member's own list of sessions."""
    member = next(m for m in state.members if m.hostname == hostname)
    code, out, err = await jumpoint_cli(member.config, "status", "--json")
    assert code == 0, (out, err)
    ids = {s["session_id"] for s in json.loads(out)["service"]["sessions"]}
    [sock] = [s for s in socks if s.session_id in ids]
    return sock


async def test_a_revoked_member_is_disconnected_its_token_refused_and_the_other_member_serves_on(
    cluster: tuple[Cluster, AddMember], gateway: Gateway, sshd_server: SshServer
) -> None:
    state, add_member = cluster
    await add_member("member-a")
    await add_member("member-b")
    item_id = await _item(gateway, state, sshd_server)
    sock = await gateway.jump(item_id)
    await _login(sock, sshd_server.password, host_key="save")
    counts = await state.sessions_by_member()
    revoked = next(m for m in state.members if counts[m.hostname] == 1)
    kept = next(m for m in state.members if m is not revoked)

    await gateway.api("DELETE", f"/api/v1/jumpoints/{state.jumpoint_id}/members/{revoked.member_id}", expect=204)
    error = (await sock.next_of("error", timeout=20))["error"]
    assert error["message"] == f"the Jumpoint member {revoked.hostname} of {NAME} was revoked by an administrator"
    assert set(await state.members_api()) == {kept.hostname}

    url = gateway.url.replace("http", "ws", 1) + "/api/v1/jumpoint/tunnel"
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await gateway.http.ws_connect(url, headers={"Authorization": f"Bearer {revoked.token()}"})
    assert refused.value.status == 401
    deadline = time.monotonic() + 20
    while "the console refused this Jumpoint's token" not in revoked.log():
        assert time.monotonic() < deadline, revoked.log()
        await asyncio.sleep(0.1)

    nxt = await gateway.jump(item_id)
    assert not await _login(nxt, sshd_server.password, host_key=None)
    assert await state.sessions_by_member() == {kept.hostname: 1}
    assert kept.process.returncode is None


async def test_a_member_from_before_clusters_hands_its_cached_keys_to_the_cluster_once(gateway: Gateway) -> None:
    """The gateway's in-process Jumpoint as a member migrated from a single-agent Jumpoint (``adopt_host_keys``):
    when it connects again, the keys its host cached become the cluster's."""
    blob = "AAAAC3NzaC1lZDI1NTE5AAAAIGFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh"
    key = HostKey("ssh-ed25519", blob)
    FileHostKeyStore(gateway.state_dir / "jumpoint" / "known_hosts").trust("Legacy.LAN", 2222, key)
    async with gateway.db.session() as session:
        await session.execute(update(JumpointMember).values(adopt_host_keys=True))
    [link] = gateway.hub.member_links(gateway.jumpoint_id)
    await link.ws.close()
    deadline = time.monotonic() + 20
    while True:
        keys = await gateway.api("GET", f"/api/v1/jumpoints/{gateway.jumpoint_id}/host-keys", expect=200)
        if keys["items"]:
            break
        assert time.monotonic() < deadline, "the member's cached key was not adopted"
        await asyncio.sleep(0.1)
    assert [(k["host"], k["port"], k["fingerprint"]) for k in keys["items"]] == [("legacy.lan", 2222, key.fingerprint)]
    async with gateway.db.session() as session:
        member = await session.get(JumpointMember, link.member_id)
        assert member is not None and not member.adopt_host_keys
