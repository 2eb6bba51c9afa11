"""Deciding about an SSH server's host key (``protocols.ssh.hostkeys.verify``) when two Jumps to one new host ask
their reps at the same time: only the first Save is kept, the other connection is refused showing both keys."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import asyncssh
import pytest

from jumpoint.agent.hostkey_store import FileHostKeyStore
from jumpoint.core.adapter import AdapterContext, PromptField
from jumpoint.core.errors import HostKeyMismatch
from jumpoint.core.hostkeys import HostKey, HostKeyDecision
from jumpoint.core.secret import Secret
from protocols.ssh.hostkeys import to_host_key, verify


class SlowRep:
    """Keeps the host-key dialog open until ``answer`` is set, then saves."""

    def __init__(self, answer: asyncio.Event) -> None:
        self.answer = answer

    async def ask_host_key(
        self, host: str, port: int, key: HostKey, *, known: tuple[HostKey, ...] = ()
    ) -> HostKeyDecision:
        await self.answer.wait()
        return "save"

    async def ask_text(self, title: str, instruction: str, fields: list[PromptField]) -> list[Secret]:
        raise AssertionError("no text prompt expected")


async def test_two_dialogs_for_one_new_host_save_only_the_first_key_and_refuse_the_other(tmp_path: Path) -> None:
    store = FileHostKeyStore(tmp_path / "known_hosts")
    answer = asyncio.Event()

    def ctx() -> AdapterContext:
        log = logging.LoggerAdapter(logging.getLogger("test.verify"), {})
        return AdapterContext("s", store, SlowRep(answer), None, log)

    real = asyncssh.generate_private_key("ssh-ed25519").convert_to_public()
    intercepted = asyncssh.generate_private_key("ssh-ed25519").convert_to_public()
    first = asyncio.create_task(verify("db01", 22, real, ctx()))
    second = asyncio.create_task(verify("db01", 22, intercepted, ctx()))
    await asyncio.sleep(0.05)  # both dialogs are open: each Jump saw the host as unknown
    answer.set()
    assert [n.kind for n in await first] == ["host_key_saved"]
    with pytest.raises(HostKeyMismatch) as refused:
        await second
    real_key, other_key = to_host_key(real), to_host_key(intercepted)
    assert refused.value.details == {
        "target": "db01:22",
        "cached": [real_key.fingerprint],
        "presented": other_key.fingerprint,
    }
    assert real_key.fingerprint in refused.value.message and other_key.fingerprint in refused.value.message
    assert [k.key for k in store.list()] == [real_key]
    assert store.check("db01", 22, other_key).status == "mismatch"
