"""A server that sends any number of banners before the login (an asyncssh server in the test: OpenSSH sends at
most one): the rep's session timeline gets the first few and one line saying more were left out, not thousands."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import asyncssh
import pytest

from jumpoint.core.events import Notice
from protocols.ssh import SshAdapter
from protocols.ssh.auth import MAX_SERVER_NOTICES
from tests.integration.adapters import ScriptedRep, adapter_target, make_ctx, typing

BANNERS = 500


class ChattyServer(asyncssh.SSHServer):
    """Sends ``BANNERS`` login banners, then takes any password."""

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn

    def begin_auth(self, username: str) -> bool:
        for n in range(BANNERS):
            self._conn.send_auth_banner(f"notice {n}: authorised use only\n")
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return True


@dataclasses.dataclass
class Listening:
    host: str
    port: int
    username: str = "ann"


@pytest.fixture
async def chatty_server() -> AsyncIterator[Listening]:
    server = await asyncssh.create_server(
        ChattyServer,
        "127.0.0.1",
        0,
        server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
        process_factory=lambda process: process.exit(0),
    )
    try:
        yield Listening("127.0.0.1", server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def test_a_server_sending_hundreds_of_banners_shows_the_first_few_and_says_more_were_left_out(
    chatty_server: Listening, tmp_path: Path
) -> None:
    ctx = make_ctx(tmp_path, ScriptedRep("save", typing("any")))
    conn = await SshAdapter().connect(adapter_target("ssh", chatty_server), ctx)
    try:
        events = [e async for e in conn.events()]
    finally:
        await conn.close()
    banners = [e.text for e in events if isinstance(e, Notice) and e.kind == "info"]
    assert banners == [
        *(f"server banner: notice {n}: authorised use only" for n in range(MAX_SERVER_NOTICES)),
        "the server sent more login messages; they are not shown",
    ]
