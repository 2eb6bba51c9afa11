"""The Telnet socket side (output backpressure, events in stream order, keep-alive, bounded control writes) and
the auto-login driving it (timing and edge cases that real servers do not produce on demand).

The transport is a stand-in recording what the protocol asks of it; the servers themselves are exercised in
tests/integration/test_telnet_adapter.py.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from jumpoint.core.adapter import AdapterContext, PromptField, Target
from jumpoint.core.credentials import Credential
from jumpoint.core.errors import BadRequest, TargetAuthFailed, TargetClosed, TargetProtocolError
from jumpoint.core.events import EchoChanged, Keys, Notice, Output
from jumpoint.core.secret import Secret
from protocols.telnet import codec
from protocols.telnet.autologin import AutoLogin, Outcome
from protocols.telnet.codec import ECHO, IAC, NAWS, NOP, WILL, WONT
from protocols.telnet.connection import TelnetConnection
from protocols.telnet.echo import EchoTracker, typed_echo
from protocols.telnet.login import LoginPatterns
from protocols.telnet.options import Negotiator
from protocols.telnet.protocol import CONTROL_WRITE_LIMIT, TelnetProtocol

LOG = logging.LoggerAdapter(logging.getLogger("test.telnet"), {"session": "s-unit"})


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.reading = True
        self.pauses = 0
        self.backlog = 0
        self.closing = False
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def pause_reading(self) -> None:
        self.reading = False
        self.pauses += 1

    def resume_reading(self) -> None:
        self.reading = True

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return self.backlog

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True
        self.aborted = True


def make(limit: int = 4096, keepalive: float = 0.0) -> tuple[TelnetProtocol, FakeTransport]:
    neg = Negotiator(terminal_type="xterm", cols=80, rows=24)
    proto = TelnetProtocol(
        neg, EchoTracker(), LOG, buffer_limit=limit, keepalive=keepalive, initial=(Notice("info", "first"),)
    )
    transport = FakeTransport()
    proto.connection_made(transport)
    return proto, transport


def drain(proto: TelnetProtocol, limit: int = 1 << 20) -> list[object]:
    out: list[object] = []
    while (item := proto.output.take(limit)) is not None:
        out.append(item)
    return out


async def test_the_opening_requests_are_sent_on_connect() -> None:
    _, transport = make()
    assert bytes(transport.written) == bytes([IAC, codec.DO, codec.SGA, IAC, codec.DO, ECHO, IAC, WILL, NAWS])


async def test_reading_pauses_past_the_buffer_limit_and_resumes_when_half_drained() -> None:
    proto, transport = make(limit=4096)
    drain(proto)
    for _ in range(5):
        proto.data_received(b"x" * 1000)
    assert not transport.reading
    assert proto.buffered == 5000
    assert proto.output.take(1500) == b"x" * 1000
    assert not transport.reading  # 4000 still waiting: above half the limit
    proto.output.take(1500)
    proto.output.take(1500)
    assert transport.reading
    assert transport.pauses == 1


async def test_output_is_joined_up_to_the_limit_and_split_beyond_it() -> None:
    proto, _ = make(limit=1 << 20)
    drain(proto)
    proto.data_received(b"a" * 10)
    proto.data_received(b"b" * 10)
    proto.data_received(b"c" * 30)
    assert proto.output.take(25) == b"a" * 10 + b"b" * 10
    assert proto.output.take(25) == b"c" * 25
    assert proto.output.take(25) == b"c" * 5
    assert proto.buffered == 0


async def test_echo_changes_keep_their_place_among_the_output() -> None:
    proto, _ = make()
    proto.data_received(bytes([IAC, WILL, ECHO]) + b"login: ojtest\r\nPassword: ")
    proto.data_received(b"\r\n")
    proto.data_received(b"motd" + bytes([IAC, WONT, ECHO]) + b"more")
    assert drain(proto) == [
        Notice("info", "first"),
        b"login: ojtest\r\nPassword: ",
        EchoChanged(False),
        b"\r\n",
        EchoChanged(True),
        b"motd",
        EchoChanged(False),
        b"more",
    ]


async def test_a_flood_of_echo_flips_from_a_server_queues_one_event_and_bounded_memory() -> None:
    proto, transport = make(limit=4096)
    transport.backlog = 10**9  # the server never reads our answers: they are dropped, the state still flips
    chunk = bytes([IAC, WILL, ECHO, IAC, WONT, ECHO]) * 1000
    for _ in range(10):  # 60 KB of nothing but negotiation (within the command budget), the reader stalled
        proto.data_received(chunk)
    assert proto.error is None
    assert len(proto.output._items) <= 2  # the first notice and the latest echo state
    assert drain(proto) == [Notice("info", "first"), EchoChanged(False)]


async def test_echo_flips_between_output_bytes_pause_reading_like_output_does() -> None:
    proto, transport = make(limit=4096)
    transport.backlog = 10**9
    chunk = (b"a" + bytes([IAC, WILL, ECHO]) + b"b" + bytes([IAC, WONT, ECHO])) * 1000
    proto.data_received(chunk)
    assert not transport.reading
    drain(proto)
    assert transport.reading


async def test_a_server_sending_only_commands_is_cut_off_and_the_reader_gets_a_protocol_error() -> None:
    proto, transport = make()
    proto.data_received(b"$ ")
    for _ in range(10):
        proto.data_received(bytes([IAC, NOP]) * 8192)  # 16 KiB of commands a read
        if transport.aborted:
            break
    assert transport.aborted
    assert isinstance(proto.error, codec.CommandFlood)
    proto.data_received(b"more")  # a read already under way when the connection was aborted is ignored
    proto.connection_lost(None)
    assert isinstance(proto.error, codec.CommandFlood)
    conn = TelnetConnection(proto, where="dev:23", max_output_chunk=1024)
    events = conn.events()
    assert await anext(events) == Notice("info", "first")
    assert await anext(events) == Output(b"$ ")
    with pytest.raises(TargetProtocolError, match=r"dev:23 sent more than 64 KiB of Telnet commands without any"):
        await anext(events)


async def test_the_command_budget_comes_back_with_time_so_slow_keepalives_from_the_server_go_on() -> None:
    proto, transport = make()
    for _ in range(100):
        proto.data_received(bytes([IAC, NOP]) * 16_000)  # 32 KB of commands...
        proto._fed_at -= 32.0  # ...every 32 s: the budget given back meanwhile covers them
    assert not transport.aborted and proto.error is None


async def test_keepalive_sends_iac_nop_periodically() -> None:
    _, transport = make(keepalive=0.02)
    transport.written.clear()
    await asyncio.sleep(0.11)
    nops = bytes(transport.written).count(bytes([IAC, NOP]))
    assert nops >= 3
    assert bytes(transport.written) == bytes([IAC, NOP]) * nops


async def test_no_keepalive_when_disabled_or_after_the_connection_ended() -> None:
    proto, transport = make(keepalive=0.02)
    proto.connection_lost(None)
    transport.written.clear()
    await asyncio.sleep(0.06)
    assert transport.written == b""
    _, quiet = make(keepalive=0.0)
    quiet.written.clear()
    await asyncio.sleep(0.03)
    assert quiet.written == b""


async def test_negotiation_answers_stop_when_a_server_does_not_read() -> None:
    proto, transport = make()
    transport.written.clear()
    transport.backlog = CONTROL_WRITE_LIMIT + 1
    proto.data_received(bytes([IAC, codec.DO, 99]) * 100)
    assert transport.written == b""
    transport.backlog = 0
    proto.data_received(bytes([IAC, codec.DO, 99]))
    assert bytes(transport.written) == bytes([IAC, WONT, 99])


# --- the auto-login driver -----------------------------------------------------------------------
class Store:
    def __init__(self, credential: Credential) -> None:
        self.credential = credential
        self.purposes: list[str] = []

    async def fetch(self, ref: str, *, purpose: str, username: str | None = None) -> Credential:
        self.purposes.append(purpose)
        return self.credential


class Rep:
    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.asked: list[list[PromptField]] = []

    async def ask_host_key(self, *args: object, **kwargs: object) -> str:
        raise AssertionError("no host keys in Telnet")

    async def ask_text(self, title: str, instruction: str, fields: list[PromptField]) -> list[Secret]:
        self.asked.append(fields)
        return [Secret(self.answers.pop(0)) for _ in fields]


def login_setup(
    credential: Credential | None = None, rep: Rep | None = None, timeout: float = 1.0, **target: object
) -> tuple[TelnetProtocol, FakeTransport, AutoLogin]:
    fields: dict[str, object] = {"protocol": "telnet", "hostname": "dev", "port": 23, **target}
    if credential is not None:
        fields["credential_ref"] = credential.name
    item = Target.model_validate(fields)
    ctx = AdapterContext(
        session_id="s-unit",
        host_keys=None,  # type: ignore[arg-type]
        prompter=rep or Rep(),  # type: ignore[arg-type]
        credentials=Store(credential) if credential is not None else None,
        log=LOG,
    )
    proto, transport = make(limit=1 << 20)
    login = AutoLogin(proto, item, ctx, LoginPatterns.from_target(item), timeout=timeout, settle=0.05)
    transport.written.clear()
    return proto, transport, login


STORED = Credential(name="dev-pw", kind="password", username="admin", password=Secret("s3cret"))


async def test_a_prompt_printed_before_the_login_starts_is_answered() -> None:
    proto, transport, login = login_setup(STORED)
    proto.data_received(b"Password: ")  # before run(): the server was quicker than the connect call
    task = asyncio.create_task(login.run())
    await asyncio.sleep(0.01)
    assert bytes(transport.written) == b"s3cret\r\0"
    proto.data_received(b"\r\nWelcome\r\n# ")
    assert await asyncio.wait_for(task, 1) is Outcome.LOGGED_IN
    assert Notice("credential_injected", "credential 'dev-pw' injected", subject="dev-pw") in drain(proto)


async def test_user_name_and_password_are_typed_with_enter_as_cr_nul() -> None:
    proto, transport, login = login_setup(STORED)
    task = asyncio.create_task(login.run())
    proto.data_received(b"\r\nrouter login: ")
    await asyncio.sleep(0.01)
    assert bytes(transport.written) == b"admin\r\0"
    proto.data_received(b"admin\r\nPassword: ")
    await asyncio.sleep(0.01)
    assert bytes(transport.written) == b"admin\r\0s3cret\r\0"
    proto.data_received(b"\r\n$ ")
    assert await asyncio.wait_for(task, 1) is Outcome.LOGGED_IN


async def test_a_server_hanging_up_after_the_password_refused_the_login() -> None:
    proto, _, login = login_setup(STORED)
    task = asyncio.create_task(login.run())
    proto.data_received(b"Password: ")
    await asyncio.sleep(0.01)
    proto.connection_lost(None)
    with pytest.raises(TargetAuthFailed, match="closed the connection after the password"):
        await asyncio.wait_for(task, 1)


async def test_a_server_hanging_up_before_any_prompt_is_a_closed_target() -> None:
    proto, _, login = login_setup(STORED)
    task = asyncio.create_task(login.run())
    proto.connection_lost(None)
    with pytest.raises(TargetClosed, match="hung up during the login"):
        await asyncio.wait_for(task, 1)


async def test_the_password_prompt_coming_back_refuses_the_login_once_the_server_is_quiet() -> None:
    proto, _, login = login_setup(STORED)
    task = asyncio.create_task(login.run())
    proto.data_received(b"Password: ")
    await asyncio.sleep(0.01)
    proto.data_received(b"\r\nPassword: ")
    with pytest.raises(TargetAuthFailed, match="password prompt came back"):
        await asyncio.wait_for(task, 1)


async def test_a_stored_password_with_a_line_break_is_refused_before_anything_is_typed() -> None:
    bad = Credential(name="bad", kind="password", password=Secret("pw\rrm -rf ~"))
    proto, transport, login = login_setup(bad)
    task = asyncio.create_task(login.run())
    proto.data_received(b"Password: ")
    with pytest.raises(BadRequest, match="line break"):
        await asyncio.wait_for(task, 1)
    assert transport.written == b""


async def test_a_key_credential_cannot_log_in_over_telnet() -> None:
    key = Credential(name="a-key", kind="private_key", private_key=Secret("-----BEGIN..."))
    proto, _, login = login_setup(key)
    task = asyncio.create_task(login.run())
    proto.data_received(b"Password: ")
    with pytest.raises(BadRequest, match="holds no password"):
        await asyncio.wait_for(task, 1)


async def test_silence_without_a_credential_hands_the_terminal_over() -> None:
    proto, _, login = login_setup(rep=Rep())
    proto.data_received(b"Welcome to the console port\r\n> ")
    assert await asyncio.wait_for(login.run(), 5) is Outcome.HANDED_OVER
    notices = [e for e in drain(proto) if isinstance(e, Notice) and "auto-login stopped" in e.text]
    assert len(notices) == 1
    assert proto.observer is None


async def test_the_time_the_rep_takes_to_answer_does_not_count_against_the_login_timeout() -> None:
    class SlowRep(Rep):
        async def ask_text(self, title: str, instruction: str, fields: list[PromptField]) -> list[Secret]:
            await asyncio.sleep(1.3)  # longer than the 1 s login timeout
            return await super().ask_text(title, instruction, fields)

    proto, transport, login = login_setup(rep=SlowRep("pw"), username="ann")
    task = asyncio.create_task(login.run())
    proto.data_received(b"Password: ")
    await asyncio.sleep(1.4)
    assert bytes(transport.written) == b"pw\r\0"
    proto.data_received(b"\r\n$ ")
    assert await asyncio.wait_for(task, 1) is Outcome.LOGGED_IN


def shown(proto: TelnetProtocol) -> bytes:
    """Every output byte queued for the reader so far (taken)."""
    return b"".join(item for item in drain(proto) if isinstance(item, bytes))


async def test_a_stored_password_shown_back_fails_the_login_and_none_of_it_reaches_the_reader(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # the password pattern matches the login prompt, which echoes what is typed
    proto, transport, login = login_setup(STORED, password_prompt=r"login:\s*$", login_prompt="never-matches-x")
    task = asyncio.create_task(login.run())
    proto.data_received(b"router login: ")
    await asyncio.sleep(0.01)
    assert bytes(transport.written) == b"s3cret\r\0"
    proto.data_received(b"s3c")  # the echo, split across reads
    proto.data_received(b"ret\r\nPassword: ")
    with pytest.raises(TargetProtocolError, match="showed the password of credential 'dev-pw'") as raised:
        await asyncio.wait_for(task, 1)
    proto.data_received(b"\r\nsh: s3cret: not found\r\n$ ")  # nothing after it is shown either
    assert "s3cret" not in str(raised.value) and "s3cret" not in repr(raised.value.to_dict())
    out = shown(proto)
    assert out == b"router login: "
    assert "s3cret" not in caplog.text


async def test_output_held_back_because_it_began_like_the_password_is_shown_once_the_login_succeeded() -> None:
    proto, _, login = login_setup(STORED)
    task = asyncio.create_task(login.run())
    proto.data_received(b"Password: ")
    await asyncio.sleep(0.01)
    proto.data_received(b"\r\nWelcome\r\n$ s3")
    assert await asyncio.wait_for(task, 1) is Outcome.LOGGED_IN
    assert shown(proto) == b"Password: \r\nWelcome\r\n$ s3"


async def test_a_password_the_rep_typed_is_not_guarded() -> None:
    proto, _, login = login_setup(rep=Rep("hunter2"), username="ann")
    task = asyncio.create_task(login.run())
    proto.data_received(b"Password: ")
    await asyncio.sleep(0.01)
    proto.data_received(b"\r\n$ ")
    assert await asyncio.wait_for(task, 1) is Outcome.LOGGED_IN
    assert not proto.secret_shown


async def test_an_item_user_name_with_a_line_break_is_refused_before_anything_is_typed() -> None:
    proto, transport, login = login_setup(STORED, username="guest\rguest")
    task = asyncio.create_task(login.run())
    proto.data_received(b"router login: ")
    with pytest.raises(BadRequest, match="the Jump Item's user name contains a control character"):
        await asyncio.wait_for(task, 1)
    assert transport.written == b""


@pytest.mark.parametrize("name", ["ad\nmin", "ad\0min", "ad\x1b[min", "ad\x85min"])
async def test_a_credential_user_name_with_a_control_character_is_refused_before_anything_is_typed(name: str) -> None:
    odd = Credential(name="odd", kind="password", username=name, password=Secret("s3cret"))
    proto, transport, login = login_setup(odd)
    task = asyncio.create_task(login.run())
    proto.data_received(b"router login: ")
    with pytest.raises(BadRequest, match="the user name of credential 'odd' contains a control character"):
        await asyncio.wait_for(task, 1)
    assert transport.written == b""


async def test_a_command_flood_during_the_login_fails_it_as_a_protocol_error_not_a_hang_up() -> None:
    proto, transport, login = login_setup(STORED)
    task = asyncio.create_task(login.run())
    proto.data_received(bytes([IAC, NOP]) * 40_000)
    assert transport.aborted
    proto.connection_lost(None)
    with pytest.raises(TargetProtocolError, match="dev:23 sent more than 64 KiB of Telnet commands"):
        await asyncio.wait_for(task, 1)


# --- local echo ----------------------------------------------------------------------------------
async def typed(proto: TelnetProtocol, *keys: bytes) -> bytes:
    """Type ``keys`` one event each; return what the reader gets to show meanwhile (output only)."""
    drain(proto)
    conn = TelnetConnection(proto, where="dev:23", max_output_chunk=1 << 20)
    for data in keys:
        await conn.send(Keys(data))
    return shown(proto)


async def test_typed_keys_are_echoed_locally_once_the_server_refused_to_echo() -> None:
    proto, transport = make()
    proto.data_received(bytes([IAC, WONT, ECHO]) + b"Device> ")
    assert await typed(proto, b"show ", b"version", b"\r") == b"show version\r\n"
    assert transport.written.endswith(b"show version\r\0")


async def test_no_local_echo_while_the_server_has_not_answered_or_echoes_itself() -> None:
    proto, _ = make()
    assert await typed(proto, b"ls\r") == b""  # DO ECHO not answered yet
    proto.data_received(bytes([IAC, WILL, ECHO]))
    assert await typed(proto, b"ls\r") == b""


async def test_no_local_echo_while_a_password_prompt_shows_and_again_after_it() -> None:
    proto, _ = make()
    proto.data_received(bytes([IAC, WONT, ECHO]) + b"\r\nPassword: ")
    assert await typed(proto, b"s3cret", b"\r") == b""
    proto.data_received(b"\r\nDevice> ")
    assert await typed(proto, b"show\r") == b"show\r\n"


async def test_no_local_echo_after_the_server_stopped_echoing_as_it_does_to_hide_input() -> None:
    proto, _ = make()
    proto.data_received(bytes([IAC, WILL, ECHO]) + b"$ " + bytes([IAC, WONT, ECHO]))
    assert await typed(proto, b"hidden\r") == b""


@pytest.mark.parametrize(
    ("keys", "echo"),
    [
        (b"abc", b"abc"),
        (b"\r", b"\r\n"),
        (b"line\r\n", b"line\r\n"),
        ("grüße".encode(), "grüße".encode()),
        (b"\x1b[A\x1b[1;5C\x1bOP\x1bOA\x1b[15~", b""),  # cursor and function keys
        (b"\x1b[200~pasted\x1b[201~", b"pasted"),  # bracketed paste markers
        (b"\x03\x04\x7f\x08\t\x1b\n", b""),  # control keys, a lone Esc, a lone LF
    ],
)
def test_local_echo_shows_printable_keys_and_enter_only(keys: bytes, echo: bytes) -> None:
    assert typed_echo(keys) == echo
