"""Telnet Shell Jump benchmarks against busybox telnetd, with the Telnet client used directly as the floor.

The console (``openjump serve``) and the Jumpoint (``jumpoint run``) run as separate processes, over TLS, exactly as
deployed (see ``benchmarks/harness.py``); this process plays the browser through the session WebSocket. The floor
is the same Telnet client the Jumpoint runs (``protocols.telnet``), used in this process straight against the
server: the difference is what the console path (Jumpoint, tunnel, console, WebSocket) adds. The benchmark starts
its own busybox telnetd (``busybox-static``) and logs in as the test user of ``tests/fixtures/sshd.py``; run it as
root::

    .venv/bin/python -m benchmarks.bench_telnet [--quick]

Results go to benchmarks/results/telnet[-quick].json and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.harness import (
    BULK_PAIRS,
    ROOT,
    TYPING_GAP,
    DirectClient,
    Stack,
    bulk_pairs,
    echo_both,
    echo_stats,
    jump_to_prompt_ms,
    markdown_table,
    median,
    running_stack,
    start_item_stack,
)
from jumpoint.core.adapter import AdapterContext, PromptField, Target
from jumpoint.core.errors import Cancelled
from jumpoint.core.events import Keys, Output, TerminalOutput
from jumpoint.core.hostkeys import HostKey, HostKeyDecision
from jumpoint.core.secret import Secret
from protocols.telnet import TelnetAdapter, TelnetConnection
from tests.fixtures.telnetd import TelnetServer, start_busybox_telnetd

BULK_CMD = "head -c 20000000 /dev/zero | base64 -w 100; echo BULK-$((6*7))-DONE"
BULK_MARK = b"BULK-42-DONE"
DIRECT_LOG = logging.getLogger("bench.telnet.direct")
DIRECT_LOG.addHandler(logging.NullHandler())
DIRECT_LOG.propagate = False  # the adapter's "not encrypted" warning would land on stderr once per connection


class _NoRep:
    """The direct client's prompter: the item's credential answers everything, so nobody is ever asked."""

    async def ask_host_key(
        self, host: str, port: int, key: HostKey, *, known: tuple[HostKey, ...] = ()
    ) -> HostKeyDecision:
        return "abort"

    async def ask_text(self, title: str, instruction: str, fields: list[PromptField]) -> list[Secret]:
        raise Cancelled("the benchmark answers no prompts")


class _Password:
    """A credential source holding the test user's password."""

    def __init__(self, server: TelnetServer) -> None:
        self._server = server

    async def fetch(self, ref: str, *, purpose: str, username: str | None = None) -> Any:
        from jumpoint.core.credentials import Credential as StoredCredential

        return StoredCredential(name=ref, kind="password", password=Secret(self._server.password))


class DirectTelnet(DirectClient):
    """The same workloads straight to the Telnet server with the adapter's client (no console path)."""

    def __init__(self, conn: TelnetConnection) -> None:
        self.conn = conn
        self.events = conn.events()
        self.buf = bytearray()

    @classmethod
    async def open(cls, server: TelnetServer) -> DirectTelnet:
        """Log in with the password (auto-login) and wait for nothing more."""
        ctx = AdapterContext(
            session_id="bench-direct",
            host_keys=None,  # type: ignore[arg-type]  # Telnet has no host keys
            prompter=_NoRep(),
            credentials=_Password(server),
            log=logging.LoggerAdapter(DIRECT_LOG, {}),
        )
        target = Target(
            protocol="telnet",
            hostname=server.host,
            port=server.port,
            username=server.username,
            credential_ref="bench",
            cols=120,
            rows=40,
        )
        return cls(await TelnetAdapter().connect(target, ctx))

    async def send(self, data: bytes) -> None:
        """Send keystrokes."""
        await self.conn.send(Keys(data))

    async def recv_some(self) -> bytes:
        """The next output chunk."""
        while True:
            event: TerminalOutput = await anext(self.events)
            if isinstance(event, Output):
                return event.data

    async def close(self) -> None:
        """Close the connection."""
        await self.conn.close()


async def run(quick: bool, only: str | None = None) -> dict[str, Any]:
    results: dict[str, Any] = {"quick": quick, "when": time.strftime("%Y-%m-%d %H:%M:%S"), "server": "busybox"}
    with tempfile.TemporaryDirectory(prefix="oj-bench-telnet-") as tmp:
        work = Path(tmp)
        server = start_busybox_telnetd(work / "telnetd")
        # the Telnet Jump Item logs in with a stored password
        async with running_stack(work, server, start_item_stack(work, server, "telnet")) as stack:
            await measure(results, stack, server, quick, only)
    return results


async def measure(results: dict[str, Any], stack: Stack, server: TelnetServer, quick: bool, only: str | None) -> None:
    keys = 50 if quick else 200
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, ssl=False)) as http:
        if only == "bulk":
            results["bulk"] = await bulk(http, stack, server, quick)
            return
        # 1. Jump to first prompt (auto-login included)
        jump_ms, direct_ms = await jump_to_prompt_ms(http, stack, lambda: DirectTelnet.open(server), 3 if quick else 10)
        results["jump_to_prompt_ms"] = {"gateway_p50": median(jump_ms), "direct_p50": median(direct_ms)}

        # 2. keystroke echo latency into cat
        direct, via = await echo_both(http, stack, lambda: DirectTelnet.open(server), keys)
        results["echo_ms"] = {"keys": keys, **echo_stats(direct, via)}
        direct, via = await echo_both(http, stack, lambda: DirectTelnet.open(server), keys, TYPING_GAP)
        results["echo_typing_ms"] = {"keys": keys, "keys_per_second": 1 / TYPING_GAP, **echo_stats(direct, via)}

        # 3. bulk output: direct and gateway interleaved, medians (single runs move by 30% on a shared machine)
        results["bulk"] = await bulk(http, stack, server, quick)


async def bulk(http: aiohttp.ClientSession, stack: Stack, server: TelnetServer, quick: bool) -> dict[str, Any]:
    """The bulk-output workload: direct and through the gateway, interleaved pairs."""
    command = (BULK_CMD + "\r").encode()
    return await bulk_pairs(
        http, stack, lambda: DirectTelnet.open(server), command, BULK_MARK, 1 if quick else BULK_PAIRS
    )


def table(r: dict[str, Any]) -> str:
    e, b, j = r["echo_ms"], r["bulk"], r["jump_to_prompt_ms"]
    rows = [
        (
            f"Echo latency p50 / p99 (ms), {e['keys']} keys into cat",
            f"{e['gateway_p50']:.2f} / {e['gateway_p99']:.2f}",
            f"{e['direct_p50']:.2f} / {e['direct_p99']:.2f}",
            f"added {e['added_p50']:.2f} / {e['added_p99']:.2f}",
        ),
        *(
            [
                (
                    f"Echo latency p50 / p99 (ms), {t['keys']} keys at {t['keys_per_second']:.0f} keys/s",
                    f"{t['gateway_p50']:.2f} / {t['gateway_p99']:.2f}",
                    f"{t['direct_p50']:.2f} / {t['direct_p99']:.2f}",
                    f"added {t['added_p50']:.2f} / {t['added_p99']:.2f} (every process idles between keys)",
                )
                for t in ([r["echo_typing_ms"]] if "echo_typing_ms" in r else [])
            ]
        ),
        (
            f"Bulk output, 20 MB base64 (s; MB/s; median of {len(b.get('runs', [0]))})",
            f"{b['gateway_s']:.2f} s; {b['gateway_mb_s']:.1f} MB/s",
            f"{b['direct_s']:.2f} s; {b['direct_mb_s']:.1f} MB/s",
            f"{b['throughput_ratio'] * 100:.0f}% of direct (pairs: {b['throughput_ratio_per_pair'] * 100:.0f}%); "
            f"CPU console {b['console_cpu_s']:.2f} s + Jumpoint "
            f"{b['jumpoint_cpu_s']:.2f} s (direct client {b['direct_client_cpu_s']:.2f} s); "
            f"bytes {b['gateway_bytes']} vs {b['direct_bytes']}",
        ),
        (
            "Jump to first prompt, auto-login included (ms, p50)",
            f"{j['gateway_p50']:.0f}",
            f"{j['direct_p50']:.0f}",
            "both include the 0.3 s of quiet that confirms the login",
        ),
    ]
    return markdown_table(["Workload (busybox telnetd)", "Gateway", "Direct Telnet client", "Notes"], rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller workloads, for a smoke run")
    parser.add_argument("--only", choices=["bulk"], help="run one workload only")
    args = parser.parse_args()
    results = asyncio.run(run(args.quick, args.only))
    out = ROOT / "benchmarks" / "results" / ("telnet-quick.json" if args.quick else "telnet.json")
    if args.only and out.exists():  # one workload re-measured: keep the others' figures
        results = json.loads(out.read_text()) | {k: v for k, v in results.items() if k not in ("quick", "when")}
    out.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
