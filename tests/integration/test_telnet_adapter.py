"""The Telnet adapter against real servers on 127.0.0.1: busybox telnetd and GNU inetutils telnetd.

Everything is real (the servers, login(1) and PAM, the encrypted credential store) except the human: a scripted
prompter (``ScriptedRep`` of ``tests/integration/adapters.py``) stands in for the rep answering the browser's dialogs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from credential_store.local import LocalCredentialStore
from jumpoint.core.adapter import AdapterContext, Target
from jumpoint.core.errors import (
    BadRequest,
    Cancelled,
    InternalError,
    TargetAuthFailed,
    TargetClosed,
    TargetProtocolError,
    TargetTimeout,
    TargetUnreachable,
)
from jumpoint.core.events import EchoChanged, Keys, Notice, Output, Resize
from jumpoint.core.output_buffer import OutputBuffer
from jumpoint.core.secret import Secret
from protocols.telnet import TelnetAdapter, TelnetConnection
from protocols.telnet.codec import ECHO, IAC, NOP, WONT
from tests.fixtures.servers import free_port
from tests.fixtures.telnetd import TelnetServer
from tests.integration.adapters import WAIT, ScriptedRep, Shell, adapter_target, make_ctx, typing

SERVERS = ["busybox_telnetd", "inetutils_telnetd"]


@pytest.fixture(params=SERVERS, ids=["busybox", "inetutils"])
def server(request: pytest.FixtureRequest) -> TelnetServer:
    """Each Telnet server in turn."""
    found: TelnetServer = request.getfixturevalue(request.param)
    return found


class TelnetShell(Shell):
    """The shared shell helper, typing Enter the way xterm.js does: a lone CR."""

    enter = "\r"

    @property
    def echo_changes(self) -> list[bool]:
        return [e.echo for e in self.seen if isinstance(e, EchoChanged)]


def target_for(server: TelnetServer, **overrides: object) -> Target:
    return adapter_target("telnet", server, **overrides)


async def open_shell(
    server: TelnetServer, ctx: AdapterContext, adapter: TelnetAdapter | None = None, **target: object
) -> TelnetShell:
    conn = await (adapter or TelnetAdapter()).connect(target_for(server, **target), ctx)
    return TelnetShell(conn)


def store_password(tmp_path: Path, server: TelnetServer, name: str = "lab-login", username: str | None = None) -> None:
    LocalCredentialStore(tmp_path / "state").add(name, "password", username, password=Secret(server.password))


# --- logging in ----------------------------------------------------------------------------------
async def test_a_stored_password_logs_in_unasked_and_a_command_prints_its_output(
    server: TelnetServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rep = ScriptedRep(answer=None)
    store_password(tmp_path, server)
    shell = await open_shell(server, make_ctx(tmp_path, rep), credential_ref="lab-login")
    try:
        assert await shell.run("whoami") == server.username
        assert await shell.run("echo hello") == "hello"
    finally:
        await shell.conn.close()
    assert rep.prompts == []
    first = shell.seen[0]
    assert isinstance(first, Notice)
    assert first.kind == "info"
    assert first.text.startswith("Telnet is not encrypted")
    assert (
        Notice(kind="credential_injected", text="credential 'local:lab-login' injected", subject="local:lab-login")
        in shell.notices
    )
    assert b"login:" in bytes(shell.output)  # the people in the session saw the login happen
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "not encrypted" in r.getMessage()]
    assert len(warnings) == 1


async def test_the_password_never_appears_in_any_event_or_log_record(
    server: TelnetServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    rep = ScriptedRep(answer=typing(server.password))
    shell = await open_shell(server, make_ctx(tmp_path, rep))
    try:
        assert await shell.run("echo done") == "done"
    finally:
        await shell.conn.close()
    secret = server.password
    assert secret.encode() not in bytes(shell.output)
    assert all(secret not in repr(event) for event in shell.seen)
    assert all(secret not in record.getMessage() and secret not in repr(record.args) for record in caplog.records)
    assert secret not in caplog.text


async def test_without_a_credential_the_rep_is_asked_for_the_password(server: TelnetServer, tmp_path: Path) -> None:
    rep = ScriptedRep(answer=typing(server.password))
    shell = await open_shell(server, make_ctx(tmp_path, rep))
    try:
        assert await shell.run("whoami") == server.username
    finally:
        await shell.conn.close()
    assert [(t, i, [(f.text, f.echo) for f in fields]) for t, i, fields in rep.prompts] == [
        (
            "Password",
            f"Log in to {server.host}:{server.port}",
            [(f"Password for {server.username}@{server.host}:", False)],
        )
    ]


async def test_without_a_user_name_the_rep_is_asked_for_it_too(busybox_telnetd: TelnetServer, tmp_path: Path) -> None:
    server = busybox_telnetd
    answers = {"Login as:": server.username, f"Password for {server.username}@{server.host}:": server.password}
    rep = ScriptedRep(answer=lambda field: answers[field.text])
    shell = await open_shell(server, make_ctx(tmp_path, rep), username="")
    try:
        assert await shell.run("whoami") == server.username
    finally:
        await shell.conn.close()
    assert [[(f.text, f.echo) for f in fields] for _, _, fields in rep.prompts] == [
        [("Login as:", True)],
        [(f"Password for {server.username}@{server.host}:", False)],
    ]


async def test_the_user_name_comes_from_the_credential_when_the_item_has_none(
    inetutils_telnetd: TelnetServer, tmp_path: Path
) -> None:
    server = inetutils_telnetd
    store_password(tmp_path, server, username=server.username)
    rep = ScriptedRep(answer=None)
    shell = await open_shell(server, make_ctx(tmp_path, rep), username="", credential_ref="lab-login")
    try:
        assert await shell.run("whoami") == server.username
    finally:
        await shell.conn.close()
    assert rep.prompts == []


async def test_echo_is_reported_off_at_the_password_prompt_and_on_after_it(
    server: TelnetServer, tmp_path: Path
) -> None:
    shell = await open_shell(server, make_ctx(tmp_path, ScriptedRep(answer=typing(server.password))))
    try:
        await shell.run("true")
    finally:
        await shell.conn.close()
    assert shell.echo_changes[:2] == [False, True]
    off = next(i for i, e in enumerate(shell.seen) if e == EchoChanged(False))
    before = shell.seen[off - 1]
    assert isinstance(before, Output)
    assert before.data.rstrip().endswith(b"Password:")


async def test_a_wrong_password_is_an_authentication_failure_within_seconds(
    server: TelnetServer, tmp_path: Path
) -> None:
    rep = ScriptedRep(answer=typing("not-the-password"))
    started = time.monotonic()
    with pytest.raises(TargetAuthFailed, match=f"refused the login for user {server.username}") as caught:
        await TelnetAdapter().connect(target_for(server), make_ctx(tmp_path, rep))
    assert time.monotonic() - started < 8.0
    assert "Login incorrect" in caught.value.message
    assert "credential" in (caught.value.hint or "")


async def test_a_wrong_stored_password_fails_without_asking_the_rep(
    busybox_telnetd: TelnetServer, tmp_path: Path
) -> None:
    rep = ScriptedRep(answer=typing("never used"))
    LocalCredentialStore(tmp_path / "state").add("stale", "password", None, password=Secret("wrong"))
    with pytest.raises(TargetAuthFailed):
        await TelnetAdapter().connect(target_for(busybox_telnetd, credential_ref="stale"), make_ctx(tmp_path, rep))
    assert rep.prompts == []


async def test_a_missing_credential_is_named_in_the_error(busybox_telnetd: TelnetServer, tmp_path: Path) -> None:
    from jumpoint.core.errors import NotFound

    with pytest.raises(NotFound, match="'no-such-cred'"):
        await TelnetAdapter().connect(
            target_for(busybox_telnetd, credential_ref="no-such-cred"), make_ctx(tmp_path, ScriptedRep())
        )


async def test_a_rep_cancelling_the_password_prompt_cancels_the_connection(
    busybox_telnetd: TelnetServer, tmp_path: Path
) -> None:
    with pytest.raises(Cancelled):
        await TelnetAdapter().connect(target_for(busybox_telnetd), make_ctx(tmp_path, ScriptedRep(answer=None)))


# --- a stored password never shows --------------------------------------------------------------
@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every output chunk the adapter queues: what the browser, the recording and the logs could ever see."""
    chunks: list[bytes] = []
    append = OutputBuffer.append

    def spy(self: OutputBuffer, data: bytes) -> None:
        chunks.append(data)
        append(self, data)

    monkeypatch.setattr(OutputBuffer, "append", spy)
    return chunks


async def test_a_stored_password_typed_at_an_echoing_prompt_fails_the_login_and_is_never_queued_or_logged(
    server: TelnetServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, queued: list[bytes]
) -> None:
    caplog.set_level(logging.DEBUG)
    store_password(tmp_path, server)
    # The password pattern points at login(1)'s user name prompt, which echoes what is typed (the reviewer's attack,
    # which a rep can no longer make without stopping the injection; an administrator's mistake still could).
    target = target_for(
        server,
        credential_ref="lab-login",
        password_prompt=r"login:\s*$",
        login_prompt="never-matches-x",
        login_failure="never-matches-y",
    )
    with pytest.raises(TargetProtocolError, match="showed the password of credential 'local:lab-login'") as caught:
        await TelnetAdapter(login_timeout=10).connect(target, make_ctx(tmp_path, ScriptedRep()))
    secret = server.password
    assert b"login: " in b"".join(queued)  # output was queued up to the password
    assert secret.encode() not in b"".join(queued)
    assert secret not in str(caught.value) and secret not in repr(caught.value.to_dict())
    assert secret not in caplog.text


async def test_a_password_the_rep_typed_that_the_server_echoes_fails_the_login_and_is_never_queued_or_logged(
    busybox_telnetd: TelnetServer, tmp_path: Path, caplog: pytest.LogCaptureFixture, queued: list[bytes]
) -> None:
    server = busybox_telnetd
    caplog.set_level(logging.DEBUG)
    # The item's password pattern matches login(1)'s user name prompt, which echoes: the rep's answer would show.
    target = target_for(
        server, password_prompt=r"login:\s*$", login_prompt="never-matches-x", login_failure="never-matches-y"
    )
    with pytest.raises(TargetProtocolError, match="showed the password the rep gave") as caught:
        await TelnetAdapter(login_timeout=10).connect(
            target, make_ctx(tmp_path, ScriptedRep(answer=typing(server.password)))
        )
    secret = server.password
    assert b"login: " in b"".join(queued)
    assert secret.encode() not in b"".join(queued)
    assert secret not in str(caught.value) and secret not in repr(caught.value.to_dict())
    assert secret not in caplog.text


async def test_an_item_user_name_with_a_line_break_is_refused_and_nothing_is_typed(
    busybox_telnetd: TelnetServer, tmp_path: Path
) -> None:
    store_password(tmp_path, busybox_telnetd)
    target = target_for(busybox_telnetd, credential_ref="lab-login", username=f"guest\r{busybox_telnetd.username}")
    with pytest.raises(BadRequest, match="the Jump Item's user name contains a control character"):
        await TelnetAdapter().connect(target, make_ctx(tmp_path, ScriptedRep()))


# --- prompt patterns -----------------------------------------------------------------------------
async def test_custom_prompt_patterns_are_used_for_the_login(busybox_telnetd: TelnetServer, tmp_path: Path) -> None:
    server = busybox_telnetd
    store_password(tmp_path, server)
    shell = await open_shell(
        server,
        make_ctx(tmp_path, ScriptedRep(answer=None)),
        credential_ref="lab-login",
        login_prompt=r"\blogin: $",
        password_prompt=r"(?m)^pass\w+: $",  # (?m): ^ is the start of a line, not of the text watched
        login_failure=r"(?m)^Login incorrect$",
    )
    try:
        assert await shell.run("whoami") == server.username
    finally:
        await shell.conn.close()


async def test_unrecognised_prompts_hand_the_terminal_to_the_rep_with_a_notice(
    busybox_telnetd: TelnetServer, tmp_path: Path
) -> None:
    server = busybox_telnetd
    adapter = TelnetAdapter(login_timeout=1.0, login_settle=0.2)
    rep = ScriptedRep(answer=None)
    started = time.monotonic()
    shell = await open_shell(
        server, make_ctx(tmp_path, rep), adapter, login_prompt=r"Benutzername:", password_prompt=r"Kennwort:"
    )
    try:
        assert time.monotonic() - started < 5.0
        async with asyncio.timeout(WAIT):
            while not (handed := [n for n in shell.notices if "auto-login stopped" in n.text]):
                assert await shell._next()
        assert b"login: " in bytes(shell.output)
        assert "no login prompt was recognised within 1 s; the terminal is yours" in handed[0].text
        # The rep logs in by hand.
        await shell.conn.send(Keys(f"{server.username}\r".encode()))
        await shell.wait_for(b"Password: ")
        start = len(shell.output)
        await shell.conn.send(Keys(f"{server.password}\r".encode()))
        await shell.wait_for(b"$ ", start)  # login(1) flushes what was typed ahead
        assert await shell.run("whoami") == server.username
    finally:
        await shell.conn.close()
    assert rep.prompts == []


async def test_unrecognised_prompts_with_a_credential_fail_naming_what_the_server_said(
    busybox_telnetd: TelnetServer, tmp_path: Path
) -> None:
    server = busybox_telnetd
    store_password(tmp_path, server)
    adapter = TelnetAdapter(login_timeout=1.0, login_settle=0.2)
    with pytest.raises(TargetTimeout, match=r"no login or password prompt within 1 s.*login:") as caught:
        await adapter.connect(
            target_for(server, credential_ref="lab-login", login_prompt=r"Benutzername:"),
            make_ctx(tmp_path, ScriptedRep()),
        )
    assert "pattern" in (caught.value.hint or "")


@pytest.mark.parametrize("pattern", ["(unclosed", "[a-", ".*"])
def test_a_malformed_pattern_is_refused_by_target_validation(pattern: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="login_prompt"):
        Target(protocol="telnet", hostname="127.0.0.1", port=23, login_prompt=pattern)


async def test_an_item_of_another_protocol_is_refused(tmp_path: Path) -> None:
    target = Target(protocol="ssh", hostname="127.0.0.1", port=22)
    with pytest.raises(BadRequest, match="'ssh'"):
        await TelnetAdapter().connect(target, make_ctx(tmp_path, ScriptedRep()))


# --- reaching the target -------------------------------------------------------------------------
async def test_a_refused_port_is_reported_unreachable_naming_host_and_port(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    target = Target(protocol="telnet", hostname="127.0.0.1", port=port)
    with pytest.raises(TargetUnreachable, match=f"127.0.0.1:{port}.*refused") as caught:
        await TelnetAdapter().connect(target, make_ctx(tmp_path, ScriptedRep()))
    assert "port" in (caught.value.hint or "")


async def test_an_unresolvable_host_is_reported_unreachable(tmp_path: Path) -> None:
    target = Target(protocol="telnet", hostname="no-such-host.invalid", port=23)
    with pytest.raises(TargetUnreachable, match=r"no-such-host\.invalid"):
        await TelnetAdapter().connect(target, make_ctx(tmp_path, ScriptedRep()))


async def test_a_connection_whose_set_up_fails_is_an_error_at_once_not_a_hang(
    busybox_telnetd: TelnetServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: object, transport: asyncio.BaseTransport) -> None:
        raise RuntimeError("set-up bug")

    monkeypatch.setattr("protocols.telnet.protocol.TelnetProtocol.connection_made", broken)
    started = time.monotonic()
    with pytest.raises(InternalError, match=r"could not be set up.*Jumpoint's log"):
        await TelnetAdapter().connect(target_for(busybox_telnetd), make_ctx(tmp_path, ScriptedRep()))
    assert time.monotonic() - started < 5


# --- the terminal --------------------------------------------------------------------------------
async def test_stty_size_shows_the_initial_size_and_then_the_resize(server: TelnetServer, tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, ScriptedRep(answer=typing(server.password)))
    shell = await open_shell(server, ctx, cols=90, rows=30)
    try:
        assert await shell.run("stty size") == "30 90"
        await shell.conn.send(Resize(cols=132, rows=43))
        assert await shell.run("stty size") == "43 132"
        # A size with a byte 255 is reported one smaller: busybox would garble it (and type a stray key).
        await shell.conn.send(Resize(cols=255, rows=50))
        assert await shell.run("stty size") == "50 254"
        assert await shell.conn.snapshot() == {"kind": "terminal", "cols": 255, "rows": 50}
    finally:
        await shell.conn.close()


async def test_the_terminal_type_reaches_inetutils_and_busybox_says_xterm(
    busybox_telnetd: TelnetServer, inetutils_telnetd: TelnetServer, tmp_path: Path
) -> None:
    for server, expected in ((inetutils_telnetd, "vt100"), (busybox_telnetd, "xterm")):
        ctx = make_ctx(tmp_path, ScriptedRep(answer=typing(server.password)))
        shell = await open_shell(server, ctx, terminal_type="vt100")
        try:
            assert await shell.run("echo $TERM") == expected, server.kind
        finally:
            await shell.conn.close()


async def test_exit_ends_the_events_normally(server: TelnetServer, tmp_path: Path) -> None:
    shell = await open_shell(server, make_ctx(tmp_path, ScriptedRep(answer=typing(server.password))))
    try:
        await shell.conn.send(Keys(b"exit\r"))
        await shell.drain()
        assert shell.ended
        with pytest.raises(TargetClosed):
            await shell.conn.send(Keys(b"too late\r"))
    finally:
        await shell.conn.close()
        await shell.conn.close()


async def test_a_big_output_arrives_complete_and_in_order(server: TelnetServer, tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, ScriptedRep(answer=typing(server.password)))
    shell = await open_shell(server, ctx)
    try:
        text = await shell.run("seq 1 200000")
        assert re.split(r"\r\n", text) == [str(i) for i in range(1, 200001)]
        sizes = [len(e.data) for e in shell.seen if isinstance(e, Output)]
        assert max(sizes) <= ctx.limits.max_output_chunk
    finally:
        await shell.conn.close()


async def test_bytes_255_and_bare_carriage_returns_survive_both_ways(server: TelnetServer, tmp_path: Path) -> None:
    shell = await open_shell(server, make_ctx(tmp_path, ScriptedRep(answer=typing(server.password))))
    try:
        # Output: a byte 255 (IAC on the wire) and a bare CR (CR NUL on inetutils' wire).
        assert await shell.run(r"printf 'a\377b\rc|' | od -An -c | tr -s ' '") == r" a 377 b \r c |"
        start = len(shell.output)
        await shell.conn.send(Keys(b"printf '\\170\\377\\171\\r\\172|'; echo\r"))  # x 255 y CR z |
        await shell.wait_for(b"z|", start)
        assert b"x\xffy\rz|" in bytes(shell.output[start:])
        # Input: a typed byte 255 reaches the program as one byte 255.
        start = len(shell.output)
        await shell.conn.send(Keys(b"echo '<'READY'>'; head -c 1 | od -An -tu1; echo '<'END'>'\r"))
        await shell.wait_for(b"<READY>", start)
        await shell.conn.send(Keys(b"\xff\r"))
        text = (await shell.wait_for(b"<END>", start)).decode(errors="replace")
        assert text.split("<READY>", 1)[1].split("<END>", 1)[0].split()[-1] == "255"
    finally:
        await shell.conn.close()


async def test_a_reader_that_stops_reading_pauses_the_socket_instead_of_buffering(
    busybox_telnetd: TelnetServer, tmp_path: Path
) -> None:
    server = busybox_telnetd
    shell = await open_shell(server, make_ctx(tmp_path, ScriptedRep(answer=typing(server.password))))
    conn: TelnetConnection = shell.conn  # type: ignore[assignment]
    try:
        assert await shell.run("echo ready") == "ready"
        await conn.send(Keys(b"yes | head -c 50000000; echo '<'DONE'>'\r"))
        await asyncio.sleep(1.0)
        assert 128 * 1024 <= conn.buffered_bytes <= 256 * 1024 + 256 * 1024
        await conn.send(Keys(b"\x03"))
    finally:
        await conn.close()


async def test_events_can_be_read_by_one_reader_only(busybox_telnetd: TelnetServer, tmp_path: Path) -> None:
    server = busybox_telnetd
    shell = await open_shell(server, make_ctx(tmp_path, ScriptedRep(answer=typing(server.password))))
    try:
        await shell.run("true")
        with pytest.raises(BadRequest):
            shell.conn.events()
    finally:
        await shell.conn.close()


async def test_a_timed_out_wait_for_an_event_loses_nothing(busybox_telnetd: TelnetServer, tmp_path: Path) -> None:
    server = busybox_telnetd
    shell = await open_shell(server, make_ctx(tmp_path, ScriptedRep(answer=typing(server.password))))
    try:
        assert await shell.run("echo before") == "before"
        timed_out = False
        for _ in range(50):  # the prompt may still be on its way: read it, then a wait finds nothing and is cancelled
            try:
                await asyncio.wait_for(anext(shell.events), 0.2)
            except TimeoutError:
                timed_out = True
                break
        assert timed_out, "the shell never went quiet"
        assert await shell.run("echo after") == "after"
    finally:
        await shell.conn.close()


# --- hostile and unusual servers (small asyncio servers in the test) -------------------------------
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def small_server(handler: Handler) -> tuple[asyncio.Server, Target]:
    """Serve ``handler`` on 127.0.0.1; a Telnet target for it without a credential."""
    listening = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    return listening, Target(protocol="telnet", hostname="127.0.0.1", port=port)


async def test_a_server_that_floods_bare_commands_is_cut_off_with_a_protocol_error_naming_it(tmp_path: Path) -> None:
    sent = 0

    async def nop_flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        writer.write(b"device> ")
        await writer.drain()
        await asyncio.sleep(0.5)  # the auto-login hands the terminal over first
        chunk = bytes([IAC, NOP]) * 32768
        with contextlib.suppress(OSError):
            while sent < 100 * len(chunk):
                writer.write(chunk)
                await writer.drain()
                sent += len(chunk)
        writer.close()

    listening, target = await small_server(nop_flood)
    adapter = TelnetAdapter(login_timeout=0.3, login_settle=0.1)
    try:
        shell = TelnetShell(await adapter.connect(target, make_ctx(tmp_path, ScriptedRep())))
        started = time.monotonic()

        async def read_to_the_end() -> None:
            async with asyncio.timeout(WAIT):
                while await shell._next():
                    pass

        flood = r"127\.0\.0\.1:\d+ sent more than 64 KiB of Telnet commands without any terminal output"
        with pytest.raises(TargetProtocolError, match=flood) as e:
            await read_to_the_end()
        assert e.value.who == "target"
        assert time.monotonic() - started < 5.0
        assert sent < 100 * 65536  # cut off long before the server was done
        assert b"device> " in bytes(shell.output)
    finally:
        listening.close()


async def test_a_device_that_refuses_to_echo_gets_local_echo_but_never_for_its_password(tmp_path: Path) -> None:
    async def line_device(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A line-mode device: answers our DO ECHO with WONT ECHO (RFC 857's default) and reads whole lines.
        writer.write(bytes([IAC, WONT, ECHO]) + b"Device> ")
        line, asked = b"", False
        while data := await reader.read(100):
            line += data
            while b"\r\0" in line:
                typed, line = line.split(b"\r\0", 1)
                if asked:
                    reply, asked = b"\r\nDevice# ", False
                elif typed.endswith(b"enable"):
                    reply, asked = b"\r\nPassword: ", True
                else:
                    reply = b"\r\nOK\r\nDevice> "
                writer.write(reply)
        writer.close()

    listening, target = await small_server(line_device)
    adapter = TelnetAdapter(login_timeout=0.3, login_settle=0.1)
    try:
        shell = TelnetShell(await adapter.connect(target, make_ctx(tmp_path, ScriptedRep())))
        try:
            await shell.wait_for(b"Device> ")
            for key in b"show version\r":
                await shell.conn.send(Keys(bytes([key])))
            await shell.wait_for(b"OK")
            assert b"Device> show version\r\n\r\nOK\r\n" in bytes(shell.output)
            await shell.conn.send(Keys(b"enable\r"))
            start = len(shell.output)
            await shell.wait_for(b"Password: ", start)
            await shell.conn.send(Keys(b"hunter2\r"))
            await shell.wait_for(b"Device# ", start)
            assert b"hunter2" not in bytes(shell.output)
            assert bytes(shell.output).endswith(b"enable\r\n\r\nPassword: \r\nDevice# ")
        finally:
            await shell.conn.close()
    finally:
        listening.close()
