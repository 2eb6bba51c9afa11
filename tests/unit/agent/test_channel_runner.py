"""One session on the Jumpoint (``jumpoint.agent.channel.ChannelRunner``) against a scripted adapter: what waits for
the target, what the console is told, and how a session ends."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import pytest

from jumpoint.agent.channel import ChannelRunner
from jumpoint.agent.hostkey_store import FileHostKeyStore
from jumpoint.core import wire
from jumpoint.core.adapter import AdapterContext, Connection, PromptField, Target
from jumpoint.core.errors import ProtocolViolation
from jumpoint.core.events import Keys, Output, Resize, TerminalInput, TerminalOutput

log = logging.getLogger(__name__)


class FakeConnection:
    """A terminal whose output the test feeds and whose input it records."""

    kind: Literal["terminal"] = "terminal"

    def __init__(self) -> None:
        self.sent: list[TerminalInput] = []
        self.output: asyncio.Queue[TerminalOutput | None] = asyncio.Queue()
        self.closed = False

    def events(self) -> AsyncIterator[TerminalOutput]:
        return self._events()

    async def _events(self) -> AsyncIterator[TerminalOutput]:
        while (item := await self.output.get()) is not None:
            yield item

    async def send(self, event: TerminalInput) -> None:
        self.sent.append(event)

    async def snapshot(self) -> dict[str, Any]:
        return {}

    async def close(self) -> None:
        self.closed = True
        self.output.put_nowait(None)


class FakeAdapter:
    """Connects once ``gate`` is set (the rep is still answering a prompt until then); ``login`` runs first."""

    name = "ssh"
    kind: Literal["terminal", "desktop"] = "terminal"

    def __init__(self, connection: FakeConnection) -> None:
        self.connection = connection
        self.gate = asyncio.Event()
        self.login: Callable[[AdapterContext], Awaitable[None]] | None = None

    async def connect(self, target: Target, ctx: AdapterContext) -> Connection:
        if self.login is not None:
            await self.login(ctx)
        await self.gate.wait()
        return self.connection


class Console:
    """The frames a runner sends, decoded."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    async def send(self, frame: bytes) -> None:
        self.frames.append(frame)

    def controls(self) -> list[wire.ControlMessage]:
        return [wire.decode_control(f[wire.HEADER.size :]) for f in self.frames if f[0] == wire.FRAME_CONTROL]

    def of(self, kind: type[Any]) -> list[Any]:
        return [m for m in self.controls() if isinstance(m, kind)]


@pytest.fixture
def conn() -> FakeConnection:
    return FakeConnection()


@pytest.fixture
def adapter(conn: FakeConnection) -> FakeAdapter:
    return FakeAdapter(conn)


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def runner(adapter: FakeAdapter, console: Console, tmp_path: Path) -> ChannelRunner:
    target = Target(protocol="ssh", hostname="web.lan", port=22, username="ops")
    return ChannelRunner(
        1,
        wire.Open(session_id="s-1", target=target),
        adapter=adapter,
        send_frame=console.send,
        host_keys=FileHostKeyStore(tmp_path / "known_hosts"),
        credentials=None,
        prompt_timeout=5,
    )


async def until(condition: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_resize_flood_while_connecting_keeps_one_size_and_reaches_the_target_as_one_change(
    runner: ChannelRunner, adapter: FakeAdapter, conn: FakeConnection
) -> None:
    task = asyncio.create_task(runner.run())
    await asyncio.sleep(0)
    for i in range(100_000):
        runner.on_control(wire.ResizeMsg(cols=80 + i % 100, rows=24))
    runner.on_data(b"ls\n")
    assert runner._pending_size == Resize(179, 24)  # one slot, not a queue entry per resize
    adapter.gate.set()
    await until(lambda: len(conn.sent) == 2)
    await asyncio.sleep(0.05)
    assert conn.sent == [Resize(179, 24), Keys(b"ls\n")]
    runner.abort()
    await task


async def test_keys_wait_in_one_buffer_in_order_and_the_console_may_not_send_past_its_window(
    runner: ChannelRunner, adapter: FakeAdapter, conn: FakeConnection, console: Console
) -> None:
    task = asyncio.create_task(runner.run())
    await asyncio.sleep(0)
    typed = b"".join(f"{i};".encode() for i in range(1000))
    for i in range(1000):
        runner.on_data(f"{i};".encode())
    with pytest.raises(ProtocolViolation, match="window"):
        runner.on_data(b"x" * wire.INITIAL_WINDOW)
    assert bytes(runner._pending_keys) == typed  # what overran the window was not kept
    adapter.gate.set()
    await until(lambda: bool(conn.sent))
    assert conn.sent == [Keys(typed)]
    runner.abort()
    await task


async def test_output_and_input_pass_while_connected(
    runner: ChannelRunner, adapter: FakeAdapter, conn: FakeConnection, console: Console
) -> None:
    adapter.gate.set()
    task = asyncio.create_task(runner.run())
    await until(lambda: runner.state == "connected")
    conn.output.put_nowait(Output(b"hello"))
    await until(lambda: any(f[0] == wire.FRAME_DATA for f in console.frames))
    runner.on_data(b"a")
    runner.on_data(b"b")
    await until(lambda: b"".join(e.data for e in conn.sent if isinstance(e, Keys)) == b"ab")
    runner.abort()
    await task


async def test_a_size_the_terminal_applied_is_sent_back_to_the_console(
    runner: ChannelRunner, adapter: FakeAdapter, conn: FakeConnection, console: Console
) -> None:
    adapter.gate.set()
    task = asyncio.create_task(runner.run())
    await until(lambda: runner.state == "connected")
    runner.on_control(wire.ResizeMsg(cols=132, rows=43))
    await until(lambda: bool(console.of(wire.ResizeMsg)))
    assert conn.sent == [Resize(132, 43)]
    assert console.of(wire.ResizeMsg) == [wire.ResizeMsg(cols=132, rows=43)]
    runner.abort()
    await task


async def test_ending_a_session_whose_output_waits_for_credit_is_a_normal_end_without_an_error(
    runner: ChannelRunner, adapter: FakeAdapter, conn: FakeConnection, console: Console
) -> None:
    adapter.gate.set()
    task = asyncio.create_task(runner.run())
    await until(lambda: runner.state == "connected")
    conn.output.put_nowait(Output(b"y\n" * wire.INITIAL_WINDOW))  # twice the window: the browser reads nothing
    await until(lambda: runner._out_window.credit == 0)
    runner.on_control(wire.Close(reason="the owner ended the session"))
    await asyncio.wait_for(task, 5)
    [closed] = console.of(wire.Closed)
    assert (closed.reason, closed.error) == ("the session was ended", None)


async def test_a_window_closed_without_a_close_request_is_still_the_sessions_error(
    runner: ChannelRunner, adapter: FakeAdapter, conn: FakeConnection, console: Console
) -> None:
    adapter.gate.set()
    task = asyncio.create_task(runner.run())
    await until(lambda: runner.state == "connected")
    conn.output.put_nowait(Output(b"y\n" * wire.INITIAL_WINDOW))
    await until(lambda: runner._out_window.credit == 0)
    runner._out_window.close()  # not through abort(): nobody asked for the close
    await asyncio.wait_for(task, 5)
    [closed] = console.of(wire.Closed)
    assert closed.error is not None and closed.error.code == "target_closed"


def ask(fields: list[PromptField], *, title: str = "MFA") -> Callable[[AdapterContext], Awaitable[None]]:
    async def login(ctx: AdapterContext) -> None:
        await ctx.prompter.ask_text(title, "answer all", fields)

    return login


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([PromptField(f"Code {i}: ", echo=False) for i in range(17)], "the server asked 17 questions; at most 16"),
        ([PromptField("\x01" * 1024, echo=False) for _ in range(16)], "take 98.* bytes to relay; at most 65536"),
    ],
    ids=["17 questions", "questions over 64 KiB once escaped"],
)
async def test_too_many_or_too_large_login_questions_are_the_targets_protocol_error(
    runner: ChannelRunner, adapter: FakeAdapter, console: Console, fields: list[PromptField], message: str
) -> None:
    adapter.login = ask(fields)
    await asyncio.wait_for(runner.run(), 5)
    assert console.of(wire.TextPrompt) == []
    [closed] = console.of(wire.Closed)
    assert closed.error is not None
    assert (closed.error.code, closed.error.who) == ("target_protocol_error", "target")
    assert re.search(message, closed.error.message), closed.error.message


async def test_sixteen_login_questions_reach_the_rep(
    runner: ChannelRunner, adapter: FakeAdapter, console: Console
) -> None:
    adapter.login = ask([PromptField(f"Code {i}: ", echo=False) for i in range(16)])
    task = asyncio.create_task(runner.run())
    await until(lambda: bool(console.of(wire.TextPrompt)))
    [prompt] = console.of(wire.TextPrompt)
    assert len(prompt.fields) == 16
    runner.abort()
    await task
