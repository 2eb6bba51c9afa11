"""Helpers the adapter tests share (``test_ssh_adapter``, ``test_telnet_adapter``): the scripted rep, the adapter
context, a target for a test server, and a shell that collects events and runs commands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol

from credential_store.local import LocalCredentialStore
from jumpoint.agent.hostkey_store import FileHostKeyStore
from jumpoint.core.adapter import AdapterContext, Connection, PromptField, Target
from jumpoint.core.errors import Cancelled
from jumpoint.core.events import Keys, Notice, Output, TerminalOutput
from jumpoint.core.hostkeys import HostKey, HostKeyDecision
from jumpoint.core.secret import Secret

WAIT = 15.0


class ScriptedRep:
    """The rep: answers host-key dialogs with ``decision`` and text prompts with ``answer(field)``."""

    def __init__(
        self,
        decision: HostKeyDecision = "save",
        answer: Callable[[PromptField], str] | None = None,
        on_host_key: Callable[[], None] | None = None,
    ) -> None:
        self.decision = decision
        self.answer = answer
        self.on_host_key = on_host_key
        self.host_keys: list[tuple[str, int, HostKey]] = []
        self.prompts: list[tuple[str, str, list[PromptField]]] = []

    async def ask_host_key(
        self, host: str, port: int, key: HostKey, *, known: tuple[HostKey, ...] = ()
    ) -> HostKeyDecision:
        self.host_keys.append((host, port, key))
        if self.on_host_key is not None:
            self.on_host_key()
        return self.decision

    async def ask_text(self, title: str, instruction: str, fields: list[PromptField]) -> list[Secret]:
        self.prompts.append((title, instruction, fields))
        if self.answer is None:
            raise Cancelled("the rep closed the dialog")
        return [Secret(self.answer(field)) for field in fields]


def typing(password: str) -> Callable[[PromptField], str]:
    return lambda field: password


def make_ctx(tmp_path: Path, rep: ScriptedRep, store: FileHostKeyStore | None = None) -> AdapterContext:
    return AdapterContext(
        session_id="s-test",
        host_keys=store or FileHostKeyStore(tmp_path / "known_hosts"),
        prompter=rep,
        credentials=LocalCredentialStore(tmp_path / "state"),
        log=logging.LoggerAdapter(logging.getLogger("test.ssh"), {"session": "s-test"}),
    )


class LoginServer(Protocol):
    """Where a test server listens and who may log in (``SshServer`` and ``TelnetServer`` fit)."""

    host: str
    port: int
    username: str


def adapter_target(protocol: str, server: LoginServer, **overrides: object) -> Target:
    """A validated ``protocol`` Jump target for ``server``'s test user (10 s connect timeout), with ``overrides``."""
    fields: dict[str, object] = {
        "protocol": protocol,
        "hostname": server.host,
        "port": server.port,
        "username": server.username,
        "connect_timeout": 10.0,
    }
    fields.update(overrides)
    return Target.model_validate(fields)


class Shell:
    """A connected shell: collects events, sends lines, waits for output."""

    enter = "\n"
    """What the Enter key sends."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.events: AsyncIterator[TerminalOutput] = conn.events()
        self.seen: list[TerminalOutput] = []
        self.output = bytearray()
        self.ended = False

    @property
    def notices(self) -> list[Notice]:
        return [e for e in self.seen if isinstance(e, Notice)]

    async def _next(self) -> bool:
        try:
            event = await anext(self.events)
        except StopAsyncIteration:
            self.ended = True
            return False
        self.seen.append(event)
        if isinstance(event, Output):
            self.output += event.data
        return True

    async def wait_for(self, pattern: bytes, start: int = 0) -> bytes:
        async with asyncio.timeout(WAIT):
            while pattern not in self.output[start:]:
                if not await self._next():
                    raise AssertionError(f"shell ended before {pattern!r}: {bytes(self.output)!r}")
        return bytes(self.output[start:])

    async def run(self, command: str) -> str:
        """Type ``command`` and return what it printed (between two markers the echo cannot contain)."""
        start = len(self.output)
        await self.conn.send(Keys(f"echo '<'BEGIN'>'; {command}; echo '<'END'>'{self.enter}".encode()))
        text = (await self.wait_for(b"<END>", start)).decode(errors="replace")
        return text.split("<BEGIN>", 1)[1].split("<END>", 1)[0].strip("\r\n")

    async def drain(self) -> None:
        async with asyncio.timeout(WAIT):
            while await self._next():
                pass
