"""A bare relay with the gateway's shape and none of its work: the floor any two-hop Python gateway stands on.

Two processes, like the Jumpoint and the console: an *agent* holds the benchmark's direct client (asyncssh, or the
project's Telnet client) and copies its output to plain TCP; a *relay* copies between the agent and the reader.
No TLS, no WebSocket framing, no flow control, no terminal screen, no recording, no authorisation. What the
gateway's throughput loses against direct that this relay loses too comes from the extra processes and copies on
this machine, not from anything the gateway does.

Used by ``benchmarks/bench_relay_floor.py``; the processes are started as
``python -m benchmarks.bare_relay relay|agent``, the agent reading the target's login from stdin (JSON).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from benchmarks.harness import ROOT, DirectClient, LoginServer, free_port

READ_BYTES = 256 * 1024


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(READ_BYTES):
        writer.write(data)
        await writer.drain()
    writer.close()


async def run_relay(agent_port: int, client_port: int) -> None:
    """The relay process: accept the agent, then one reader at a time, and copy both ways."""
    agent: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
        asyncio.get_running_loop().create_future()
    )

    async def on_agent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        agent.set_result((reader, writer))

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        agent_reader, agent_writer = await agent
        await asyncio.gather(_pump(agent_reader, writer), _pump(reader, agent_writer))

    await asyncio.start_server(on_agent, "127.0.0.1", agent_port)
    await asyncio.start_server(on_client, "127.0.0.1", client_port)
    print("ready", flush=True)
    await asyncio.Event().wait()


async def run_agent(protocol: str, login: dict[str, Any], relay_port: int) -> None:
    """The agent process: open the direct client to the target and copy between it and the relay."""
    client = await open_direct(protocol, _Login(**login))
    reader, writer = await asyncio.open_connection("127.0.0.1", relay_port)

    async def output() -> None:
        while True:
            writer.write(await client.recv_some())

    async def keys() -> None:
        while data := await reader.read(READ_BYTES):
            await client.send(data)

    await asyncio.gather(output(), keys())


@dataclass
class _Login:
    host: str
    port: int
    username: str
    password: str

    def stop(self) -> None:
        """Not ours to stop."""


async def open_direct(protocol: str, server: LoginServer) -> DirectClient:
    """The benchmark's direct client of ``protocol`` (the floor both the gateway and this relay are compared to)."""
    if protocol == "ssh":
        from benchmarks.harness import DirectTerm

        return await DirectTerm.open(server)
    from benchmarks.bench_telnet import DirectTelnet

    return await DirectTelnet.open(server)  # type: ignore[arg-type]


class RelayTerm(DirectClient):
    """The reader's end of the bare relay: a terminal like the direct client's, one hop further."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buf = bytearray()

    async def send(self, data: bytes) -> None:
        """Send keystrokes."""
        self.writer.write(data)
        await self.writer.drain()

    async def recv_some(self) -> bytes:
        """The next output read."""
        data = await self.reader.read(READ_BYTES)
        if not data:
            raise EOFError("the bare relay closed")
        return data

    async def close(self) -> None:
        """Keep the relay's session: it is reused between runs."""


@dataclass
class BareRelay:
    """A running bare relay: its reader's terminal and the two processes (for their CPU)."""

    term: RelayTerm
    agent: subprocess.Popen[bytes]
    relay: subprocess.Popen[bytes]


@asynccontextmanager
async def bare_relay(protocol: str, server: LoginServer) -> AsyncIterator[BareRelay]:
    """Start the relay and the agent for ``server``, connect a reader, wait for the prompt; stop both after."""
    agent_port, client_port = free_port(), free_port()
    module = [sys.executable, "-m", "benchmarks.bare_relay"]
    relay = subprocess.Popen([*module, "relay", str(agent_port), str(client_port)], cwd=ROOT, stdout=subprocess.PIPE)
    agent: subprocess.Popen[bytes] | None = None
    try:
        assert relay.stdout is not None
        if relay.stdout.readline().strip() != b"ready":
            raise RuntimeError("the bare relay did not start")
        agent = subprocess.Popen([*module, "agent", protocol, str(agent_port)], cwd=ROOT, stdin=subprocess.PIPE)
        login = {"host": server.host, "port": server.port, "username": server.username, "password": server.password}
        assert agent.stdin is not None
        agent.stdin.write(json.dumps(login).encode())
        agent.stdin.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", client_port)
        term = RelayTerm(reader, writer)
        await term.send(b"\r")
        await asyncio.wait_for(term.until_prompt(), 30)
        yield BareRelay(term, agent, relay)
        writer.close()
    finally:
        for proc in (agent, relay):
            if proc is not None:
                proc.kill()
                proc.wait()


def main() -> None:
    """``relay AGENT_PORT CLIENT_PORT`` or ``agent ssh|telnet RELAY_PORT`` (the login as JSON on stdin)."""
    import uvloop

    if sys.argv[1] == "relay":
        uvloop.run(run_relay(int(sys.argv[2]), int(sys.argv[3])))
    else:
        login = json.loads(sys.stdin.read())
        uvloop.run(run_agent(sys.argv[2], login, int(sys.argv[3])))


if __name__ == "__main__":
    main()
