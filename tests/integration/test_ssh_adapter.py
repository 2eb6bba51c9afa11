"""The SSH adapter against a real OpenSSH server on 127.0.0.1.

Everything is real (sshd, PAM, the host-key file, the encrypted credential store) except the human: a
scripted prompter stands in for the rep answering the browser's dialogs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from credential_store.local import LocalCredentialStore
from jumpoint.core.adapter import AdapterContext, Target
from jumpoint.core.errors import (
    Cancelled,
    HostKeyMismatch,
    HostKeyRejected,
    NotFound,
    TargetAuthFailed,
    TargetClosed,
    TargetUnreachable,
)
from jumpoint.core.events import Keys, Notice, Output, Resize
from jumpoint.core.hostkeys import HostKey
from jumpoint.core.secret import Secret
from protocols.ssh import SshAdapter
from protocols.ssh.connection import SshConnection
from tests.fixtures.sshd import SshServer
from tests.integration.adapters import ScriptedRep, Shell, adapter_target, make_ctx, typing


def target_for(server: SshServer, **overrides: object) -> Target:
    return adapter_target("ssh", server, **overrides)


async def open_shell(server: SshServer, ctx: AdapterContext, **target: object) -> Shell:
    conn = await SshAdapter().connect(target_for(server, **target), ctx)
    return Shell(conn)


def fingerprint(server: SshServer, kind: str = "ed25519") -> str:
    algorithm, blob = server.public_host_key(kind)
    return HostKey(algorithm, blob).fingerprint


# --- logging in ----------------------------------------------------------------------------------
async def test_keyboard_interactive_relays_the_pam_password_prompt_to_the_rep(
    sshd_server: SshServer, tmp_path: Path
) -> None:
    rep = ScriptedRep(answer=typing(sshd_server.password))
    shell = await open_shell(sshd_server, make_ctx(tmp_path, rep))
    try:
        assert await shell.run("whoami") == sshd_server.username
        (title, _instruction, fields) = rep.prompts[0]
        assert len(rep.prompts) == 1
        assert title == f"Log in to {sshd_server.host}:{sshd_server.port}"
        assert [(f.text.strip(), f.echo) for f in fields] == [("Password:", False)]
    finally:
        await shell.conn.close()


async def test_password_login_asks_the_rep_for_the_password_of_user_at_host(
    fresh_sshd: Callable[..., SshServer], tmp_path: Path
) -> None:
    server = fresh_sshd({"KbdInteractiveAuthentication": "no"})
    rep = ScriptedRep(answer=typing(server.password))
    shell = await open_shell(server, make_ctx(tmp_path, rep))
    try:
        assert await shell.run("echo hello") == "hello"
        assert [(t, [(f.text, f.echo) for f in fields]) for t, _, fields in rep.prompts] == [
            ("Password", [(f"Password for {server.username}@{server.host}:", False)])
        ]
    finally:
        await shell.conn.close()


async def test_a_stored_password_logs_in_unasked_and_only_its_name_is_shown_or_logged(
    sshd_server: SshServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rep = ScriptedRep(answer=None)
    ctx = make_ctx(tmp_path, rep)
    store = LocalCredentialStore(tmp_path / "state")
    store.add("lab-login", "password", None, password=Secret(sshd_server.password))
    shell = await open_shell(sshd_server, ctx, credential_ref="lab-login")
    try:
        assert await shell.run("whoami") == sshd_server.username
    finally:
        await shell.conn.close()
    assert rep.prompts == []
    assert (
        Notice(kind="credential_injected", text="credential 'local:lab-login' injected", subject="local:lab-login")
        in shell.notices
    )
    assert sshd_server.password not in caplog.text
    assert all(sshd_server.password not in repr(event) for event in shell.seen)
    assert sshd_server.password.encode() not in bytes(shell.output)


async def test_the_user_name_comes_from_the_credential_when_the_item_has_none(
    sshd_server: SshServer, tmp_path: Path
) -> None:
    ctx = make_ctx(tmp_path, ScriptedRep(answer=None))
    LocalCredentialStore(tmp_path / "state").add(
        "lab-login", "password", sshd_server.username, password=Secret(sshd_server.password)
    )
    shell = await open_shell(sshd_server, ctx, credential_ref="lab-login", username="")
    try:
        assert await shell.run("whoami") == sshd_server.username
    finally:
        await shell.conn.close()


async def test_a_stored_private_key_logs_in(sshd_server: SshServer, tmp_path: Path) -> None:
    rep = ScriptedRep(answer=None)
    ctx = make_ctx(tmp_path, rep)
    LocalCredentialStore(tmp_path / "state").add(
        "lab-key", "private_key", None, private_key=Secret(sshd_server.client_key_text)
    )
    shell = await open_shell(sshd_server, ctx, credential_ref="lab-key")
    try:
        assert await shell.run("whoami") == sshd_server.username
        assert (
            Notice(kind="credential_injected", text="credential 'local:lab-key' injected", subject="local:lab-key")
            in shell.notices
        )
        assert rep.prompts == []
    finally:
        await shell.conn.close()


async def test_a_wrong_password_is_reported_as_the_target_refusing_the_login(
    sshd_server: SshServer, tmp_path: Path
) -> None:
    rep = ScriptedRep(answer=typing("not-the-password"))
    with pytest.raises(TargetAuthFailed, match=f"refused the login for user {sshd_server.username}"):
        await SshAdapter(max_attempts=1).connect(target_for(sshd_server), make_ctx(tmp_path, rep))
    assert len(rep.prompts) == 1


async def test_a_wrong_stored_password_fails_without_asking_the_rep(sshd_server: SshServer, tmp_path: Path) -> None:
    rep = ScriptedRep(answer=typing("never used"))
    ctx = make_ctx(tmp_path, rep)
    LocalCredentialStore(tmp_path / "state").add("stale", "password", None, password=Secret("wrong"))
    with pytest.raises(TargetAuthFailed):
        await SshAdapter().connect(target_for(sshd_server, credential_ref="stale"), ctx)
    assert rep.prompts == []


async def test_a_missing_credential_is_named_in_the_error(sshd_server: SshServer, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="'no-such-cred'"):
        await SshAdapter().connect(
            target_for(sshd_server, credential_ref="no-such-cred"), make_ctx(tmp_path, ScriptedRep())
        )


async def test_a_rep_cancelling_the_password_prompt_cancels_the_connection(
    sshd_server: SshServer, tmp_path: Path
) -> None:
    with pytest.raises(Cancelled):
        await SshAdapter().connect(target_for(sshd_server), make_ctx(tmp_path, ScriptedRep(answer=None)))


# --- host keys -----------------------------------------------------------------------------------
async def test_an_unknown_ed25519_key_saved_by_the_rep_is_cached_and_announced(
    sshd_server: SshServer, tmp_path: Path
) -> None:
    rep = ScriptedRep("save", answer=typing(sshd_server.password))
    ctx = make_ctx(tmp_path, rep)
    shell = await open_shell(sshd_server, ctx)
    await shell.conn.close()
    await shell.drain()
    [(host, port, key)] = rep.host_keys
    assert (host, port, key.algorithm) == (sshd_server.host, sshd_server.port, "ssh-ed25519")
    assert key.fingerprint == fingerprint(sshd_server)
    assert ctx.host_keys.check(host, port, key).status == "valid"
    assert [n.kind for n in shell.notices if n.kind == "host_key_saved"] == ["host_key_saved"]
    assert key.fingerprint in shell.notices[0].text
    # The next connection trusts the cached key without asking.
    again = await open_shell(sshd_server, ctx)
    await again.conn.close()
    assert len(rep.host_keys) == 1


async def test_connect_once_does_not_cache_the_key(sshd_server: SshServer, tmp_path: Path) -> None:
    rep = ScriptedRep("once", answer=typing(sshd_server.password))
    ctx = make_ctx(tmp_path, rep)
    shell = await open_shell(sshd_server, ctx)
    await shell.conn.close()
    [(_, _, key)] = rep.host_keys
    assert ctx.host_keys.check(sshd_server.host, sshd_server.port, key).status == "unknown"
    assert ctx.host_keys.list() == []


async def test_abort_refuses_the_connection_before_any_credential_is_asked(
    sshd_server: SshServer, tmp_path: Path
) -> None:
    rep = ScriptedRep("abort", answer=typing(sshd_server.password))
    with pytest.raises(HostKeyRejected, match=re.escape(fingerprint(sshd_server))):
        await SshAdapter().connect(target_for(sshd_server), make_ctx(tmp_path, rep))
    assert rep.prompts == []


async def test_a_changed_host_key_is_refused_showing_both_fingerprints(
    fresh_sshd: Callable[..., SshServer], tmp_path: Path
) -> None:
    server = fresh_sshd()
    rep = ScriptedRep("save", answer=typing(server.password))
    ctx = make_ctx(tmp_path, rep)
    old = fingerprint(server)
    shell = await open_shell(server, ctx)
    await shell.conn.close()
    server.rotate_host_keys()
    new = fingerprint(server)
    with pytest.raises(HostKeyMismatch) as caught:
        await SshAdapter().connect(target_for(server), ctx)
    message = str(caught.value)
    assert old in message
    assert new in message
    assert "changed" in message
    assert "remove" in (caught.value.hint or "")
    assert len(rep.host_keys) == 1
    assert len(rep.prompts) == 1


async def test_a_server_swapping_its_key_between_check_and_login_is_refused(
    fresh_sshd: Callable[..., SshServer], tmp_path: Path
) -> None:
    server = fresh_sshd()
    rep = ScriptedRep("once", answer=typing(server.password), on_host_key=server.rotate_host_keys)
    with pytest.raises(HostKeyMismatch, match="changed while connecting"):
        await SshAdapter().connect(target_for(server), make_ctx(tmp_path, rep))
    assert rep.prompts == []


# --- reaching the target -------------------------------------------------------------------------
async def test_a_refused_port_is_reported_unreachable_naming_host_and_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    target = Target(protocol="ssh", hostname="127.0.0.1", port=port, username="x")
    with pytest.raises(TargetUnreachable, match=f"127.0.0.1:{port}.*refused"):
        await SshAdapter().connect(target, make_ctx(tmp_path, ScriptedRep()))


async def test_an_unresolvable_host_is_reported_unreachable(tmp_path: Path) -> None:
    target = Target(protocol="ssh", hostname="no-such-host.invalid", port=22, username="x")
    with pytest.raises(TargetUnreachable, match=r"no-such-host\.invalid"):
        await SshAdapter().connect(target, make_ctx(tmp_path, ScriptedRep()))


# --- the shell -----------------------------------------------------------------------------------
async def test_echo_hello_prints_hello_on_an_xterm(sshd_server: SshServer, tmp_path: Path) -> None:
    shell = await open_shell(sshd_server, make_ctx(tmp_path, ScriptedRep(answer=typing(sshd_server.password))))
    try:
        assert await shell.run("echo hello") == "hello"
        assert await shell.run("echo $TERM") == "xterm"
    finally:
        await shell.conn.close()


async def test_a_vt100_item_gets_term_vt100(sshd_server: SshServer, tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, ScriptedRep(answer=typing(sshd_server.password)))
    shell = await open_shell(sshd_server, ctx, terminal_type="vt100")
    try:
        assert await shell.run("echo $TERM") == "vt100"
    finally:
        await shell.conn.close()


async def test_stty_size_shows_the_initial_size_and_then_the_resize(sshd_server: SshServer, tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, ScriptedRep(answer=typing(sshd_server.password)))
    shell = await open_shell(sshd_server, ctx, cols=90, rows=30)
    try:
        assert await shell.run("stty size") == "30 90"
        await shell.conn.send(Resize(cols=132, rows=43))
        assert await shell.run("stty size") == "43 132"
        assert await shell.conn.snapshot() == {"kind": "terminal", "cols": 132, "rows": 43}
    finally:
        await shell.conn.close()


async def test_exit_ends_the_events_normally(sshd_server: SshServer, tmp_path: Path) -> None:
    shell = await open_shell(sshd_server, make_ctx(tmp_path, ScriptedRep(answer=typing(sshd_server.password))))
    try:
        await shell.conn.send(Keys(b"exit\n"))
        await shell.drain()
        assert shell.ended
        with pytest.raises(TargetClosed):
            await shell.conn.send(Keys(b"too late\n"))
    finally:
        await shell.conn.close()
        await shell.conn.close()


async def test_a_dropped_connection_raises_target_closed(fresh_sshd: Callable[..., SshServer], tmp_path: Path) -> None:
    server = fresh_sshd()
    shell = await open_shell(server, make_ctx(tmp_path, ScriptedRep(answer=typing(server.password))))
    try:
        assert await shell.run("echo up") == "up"
        assert server.kill_connections() >= 1
        with pytest.raises(TargetClosed, match=f"{server.host}:{server.port}"):
            await shell.drain()
    finally:
        await shell.conn.close()


class ResettingProxy:
    """A TCP relay to one server that can reset every relayed connection (RST, as a firewall or a crash does)."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def reset_all(self) -> None:
        for writer in self._writers:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()


async def test_a_reset_during_the_session_says_the_connection_was_closed_not_check_the_host_name(
    sshd_server: SshServer, tmp_path: Path
) -> None:
    proxy = ResettingProxy(sshd_server.port)
    await proxy.start()
    via_proxy = target_for(sshd_server).model_copy(update={"port": proxy.port})
    conn = await SshAdapter().connect(via_proxy, make_ctx(tmp_path, ScriptedRep(answer=typing(sshd_server.password))))
    shell = Shell(conn)
    try:
        assert await shell.run("echo up") == "up"
        proxy.reset_all()
        with pytest.raises(TargetClosed) as raised:
            await shell.drain()
        closed_by = f"the connection to 127.0.0.1:{proxy.port} was closed: reset by the server or the network"
        assert raised.value.message == closed_by
    finally:
        await shell.conn.close()
        await proxy.stop()


async def test_one_megabyte_of_output_arrives_complete_and_in_bounded_chunks(
    sshd_server: SshServer, tmp_path: Path
) -> None:
    ctx = make_ctx(tmp_path, ScriptedRep(answer=typing(sshd_server.password)))
    shell = await open_shell(sshd_server, ctx)
    try:
        text = await shell.run("seq 1 150000")
        numbers = re.split(r"\r\n", text)
        assert len(text) > 1_000_000
        assert numbers == [str(i) for i in range(1, 150001)]
        sizes = [len(e.data) for e in shell.seen if isinstance(e, Output)]
        assert max(sizes) <= ctx.limits.max_output_chunk
    finally:
        await shell.conn.close()


async def test_a_reader_that_stops_reading_pauses_the_channel_instead_of_buffering(
    sshd_server: SshServer, tmp_path: Path
) -> None:
    ctx = make_ctx(tmp_path, ScriptedRep(answer=typing(sshd_server.password)))
    shell = await open_shell(sshd_server, ctx)
    try:
        assert await shell.run("echo ready") == "ready"
        await shell.conn.send(Keys(b"yes | head -c 50000000; echo '<'DONE'>'\n"))
        await asyncio.sleep(1.5)
        assert isinstance(shell.conn, SshConnection)
        assert shell.conn.buffered_bytes <= 256 * 1024 + 64 * 1024
        assert shell.conn.buffered_bytes >= 128 * 1024
        await shell.conn.send(Keys(b"\x03"))
    finally:
        await shell.conn.close()


# --- ciphers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server_ciphers", "negotiated"),
    [
        (None, "aes128-gcm@openssh.com"),  # OpenSSH's defaults: AES-GCM, the Jumpoint's first choice
        ("chacha20-poly1305@openssh.com,aes256-ctr", "chacha20-poly1305@openssh.com"),  # no GCM: as before
    ],
)
async def test_the_jumpoint_prefers_aes_gcm_and_takes_what_the_server_offers_otherwise(
    fresh_sshd: Callable[..., SshServer], tmp_path: Path, server_ciphers: str | None, negotiated: str
) -> None:
    server = fresh_sshd({"LogLevel": "DEBUG1", **({"Ciphers": server_ciphers} if server_ciphers else {})})
    shell = await open_shell(server, make_ctx(tmp_path, ScriptedRep("save", answer=typing(server.password))))
    try:
        assert await shell.run("echo ciphered") == "ciphered"
    finally:
        await shell.conn.close()
    log = server.log_path.read_text()
    assert f"kex: client->server cipher: {negotiated}" in log
    assert f"kex: server->client cipher: {negotiated}" in log
