"""How far the bulk-output target is this machine's and how far the gateway's: direct, a bare relay, the gateway.

The bulk workload of ``bench_ssh`` and ``bench_telnet`` (``head -c 20000000 /dev/zero | base64 -w 100``, 27.2 MB on
the terminal) is run three ways, interleaved in a rotating order so each sees the same state of this shared VM:

* **direct**: the benchmark's direct client (asyncssh; the project's Telnet client), the floor of the targets;
* **bare relay**: the same client in an agent process, copying to a relay process, copying to this one over plain
  TCP (``benchmarks/bare_relay.py``): the gateway's two extra processes with none of its work;
* **gateway, not recording**: a Jump through the Jumpoint and the console to an item whose policy is not to record
  (the gateway as issue 2 built it, and as guacd was measured);
* **gateway**: the same to an item that records (the default policy), as in the other benchmarks.

The throughput of each against direct is reported (median of the runs, and median of the per-run ratios), with the
CPU of the two relaying processes and of the gateway's. Run as root (the fixtures create a test user)::

    .venv/bin/python -m benchmarks.bench_relay_floor [--quick] [--only ssh|telnet]

Results go to benchmarks/results/relay-floor[-quick].json and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks import bench_ssh, bench_telnet
from benchmarks.bare_relay import BareRelay, bare_relay, open_direct
from benchmarks.harness import (
    BULK_PAIRS,
    ROOT,
    LoginServer,
    Stack,
    bulk_direct,
    bulk_via_gateway,
    cpu_precise,
    create_server_item,
    isolate_target,
    markdown_table,
    median,
    running_stack,
    start_item_stack,
)
from tests.fixtures.sshd import SshServer, start_sshd
from tests.fixtures.telnetd import TelnetServer, start_busybox_telnetd

WAYS = ("direct", "relay", "gateway_unrecorded", "gateway")


async def run(quick: bool, only: str | None, isolate: bool) -> dict[str, Any]:
    results: dict[str, Any] = {
        "quick": quick,
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "target_isolated": isolate,
    }
    for protocol in ("ssh", "telnet"):
        if only in (None, protocol):
            results[protocol] = await one_protocol(protocol, 1 if quick else BULK_PAIRS, isolate)
    return results


async def one_protocol(protocol: str, runs: int, isolate: bool) -> dict[str, Any]:
    """``runs`` rounds of the four ways against a fresh server and stack (``isolate``: see :func:`isolate_target`)."""
    with tempfile.TemporaryDirectory(prefix=f"oj-bench-floor-{protocol}-") as tmp:
        work = Path(tmp)
        server: SshServer | TelnetServer
        server = start_sshd(work / "sshd") if protocol == "ssh" else start_busybox_telnetd(work / "telnetd")
        if isolate and not isolate_target(server.pid):
            server.stop()
            raise SystemExit("--isolate-target needs at least 2 CPUs")
        if isinstance(server, SshServer):
            starting = bench_ssh.start_stack(work, server)
            command = (bench_ssh.BULK_CMD + "\n").encode()
        else:
            starting = start_item_stack(work, server, "telnet")
            command = (bench_telnet.BULK_CMD + "\r").encode()
        mark = bench_ssh.BULK_MARK
        connector = aiohttp.TCPConnector(limit=0, ssl=False)
        async with (
            running_stack(work, server, starting) as stack,
            bare_relay(protocol, server) as relay,
            aiohttp.ClientSession(connector=connector) as http,
        ):
            recorded = stack.item_id
            unrecorded = await create_server_item(
                http, stack, server, protocol, name="unrecorded", record_session=False
            )
            assert recorded is not None
            items = {"gateway": recorded, "gateway_unrecorded": unrecorded}
            rounds = []
            for n in range(runs):
                order = WAYS[n % len(WAYS) :] + WAYS[: n % len(WAYS)]
                round_ = {}
                for way in order:
                    round_[way] = await one_run(way, protocol, server, stack, items, relay, http, command, mark)
                rounds.append(round_)
    return summary(rounds)


async def one_run(
    way: str,
    protocol: str,
    server: LoginServer,
    stack: Stack,
    items: dict[str, int],
    relay: BareRelay,
    http: aiohttp.ClientSession,
    command: bytes,
    mark: bytes,
) -> dict[str, float]:
    """One bulk run ``way``: seconds, bytes and the CPU of the processes between target and reader."""
    if way in items:
        stack.item_id = items[way]
        gw = await bulk_via_gateway(http, stack, command, mark)
        return {"seconds": gw.seconds, "bytes": gw.received, "cpu_s": gw.console_cpu_s + gw.jumpoint_cpu_s}
    if way == "direct":
        received, seconds, cpu = await bulk_direct(await open_direct(protocol, server), command, mark)
        return {"seconds": seconds, "bytes": received, "cpu_s": cpu}
    pids = (relay.agent.pid, relay.relay.pid)
    c0 = sum(cpu_precise(pid) for pid in pids)
    t0 = time.perf_counter()
    await relay.term.send(command)
    received = await relay.term.read_until(mark)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "bytes": received, "cpu_s": sum(cpu_precise(pid) for pid in pids) - c0}


def summary(rounds: list[dict[str, dict[str, float]]]) -> dict[str, Any]:
    """Medians per way, and each way's throughput against direct (of the medians, and the median of the rounds)."""
    out: dict[str, Any] = {"rounds": rounds}
    for way in WAYS:
        out[way] = {key: median([r[way][key] for r in rounds]) for key in ("seconds", "bytes", "cpu_s")}
    for way in WAYS[1:]:
        out[f"{way}_ratio"] = out["direct"]["seconds"] / out[way]["seconds"]
        out[f"{way}_ratio_per_round"] = median([r["direct"]["seconds"] / r[way]["seconds"] for r in rounds])
    return out


def table(results: dict[str, Any]) -> str:
    rows = []
    for protocol in ("ssh", "telnet"):
        if protocol not in results:
            continue
        r = results[protocol]
        rows.append(
            (
                f"{protocol.upper()} bulk, 20 MB base64 (median of {len(r['rounds'])})",
                f"{r['direct']['seconds']:.2f} s",
                *(
                    f"{r[way]['seconds']:.2f} s: {r[way + '_ratio'] * 100:.0f}% of direct "
                    f"(rounds: {r[way + '_ratio_per_round'] * 100:.0f}%); CPU {r[way]['cpu_s']:.2f} s"
                    for way in WAYS[1:]
                ),
            )
        )
    header = ("Workload", "Direct", "Bare relay (2 processes, plain TCP)", "Gateway, not recording", "Gateway")
    return markdown_table(header, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round per protocol")
    parser.add_argument("--only", choices=("ssh", "telnet"))
    parser.add_argument(
        "--isolate-target", action="store_true", help="the target on CPU 0, everything else on the others"
    )
    args = parser.parse_args()
    results = asyncio.run(run(args.quick, args.only, args.isolate_target))
    name = f"relay-floor{'-isolated' if args.isolate_target else ''}{'-quick' if args.quick else ''}.json"
    out = ROOT / "benchmarks" / "results" / name
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
