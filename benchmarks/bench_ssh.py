"""Shell Jump benchmarks against a real OpenSSH sshd, with direct asyncssh as the floor.

The console (``openjump serve``) and the Jumpoint (``jumpoint run``) run as separate processes, over TLS, exactly
as deployed; this process plays the browsers through the session WebSocket. CPU and RSS are read from /proc for
the two gateway processes only. Run as root (the sshd fixture creates a test user):

    .venv/bin/python -m benchmarks.bench_ssh [--quick]

Results go to benchmarks/results/ssh.json and a Markdown table on stdout (copy it to docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.harness import (
    BULK_PAIRS,
    ROOT,
    TYPING_GAP,
    DirectTerm,
    Stack,
    Term,
    bulk_pairs,
    echo_both,
    echo_stats,
    jump_to_prompt_ms,
    rss_kib,
    running_stack,
    start_item_stack,
)
from tests.fixtures.sshd import SshServer, start_sshd

BULK_CMD = "head -c 20000000 /dev/zero | base64 -w 100; echo BULK-$((6*7))-DONE"
BULK_MARK = b"BULK-42-DONE"


async def start_stack(work: Path, ssh: SshServer) -> Stack:
    """The gateway stack with an SSH Jump Item (``stack.item_id``) to ``ssh`` whose host key is already trusted."""
    stack = await start_item_stack(work, ssh, "ssh")
    async with aiohttp.ClientSession() as http:
        # trust the host key once, so later Jumps go straight to the prompt
        sess = await Term.jump(http, stack)
        await sess.until_prompt(host_key="save")
        await sess.close()
    return stack


async def run(quick: bool, only: str | None = None) -> dict[str, Any]:
    results: dict[str, Any] = {"quick": quick, "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    with tempfile.TemporaryDirectory(prefix="oj-bench-") as tmp:
        work = Path(tmp)
        ssh = start_sshd(work / "sshd")
        async with running_stack(work, ssh, start_stack(work, ssh)) as stack:
            await measure(results, stack, ssh, quick, only)
    return results


async def measure(results: dict[str, Any], stack: Stack, ssh: SshServer, quick: bool, only: str | None) -> None:
    keys = 50 if quick else 200
    conn = aiohttp.TCPConnector(limit=0, ssl=False)
    async with aiohttp.ClientSession(connector=conn) as http:
        if only == "burst":
            await burst(results, http, stack, 40 if quick else 200)
            return
        if only == "echo":
            await echo(results, http, stack, ssh, keys)
            return
        if only == "bulk":
            results["bulk"] = await bulk(http, stack, ssh, quick)
            return
        # 1. Jump to first prompt (median of 10)
        jump_ms, direct_ms = await jump_to_prompt_ms(http, stack, lambda: DirectTerm.open(ssh), 5 if quick else 10)
        results["jump_to_prompt_ms"] = {
            "gateway_p50": statistics.median(jump_ms),
            "direct_p50": statistics.median(direct_ms),
        }

        # 2. keystroke echo latency
        await echo(results, http, stack, ssh, keys)

        # 3. bulk output
        results["bulk"] = await bulk(http, stack, ssh, quick)

        # 4. 20 sessions x 6 lines every 0.1 s for 20 s
        n, seconds = (5, 5) if quick else (20, 20)
        terms = [await Term.jump(http, stack) for _ in range(n)]
        await asyncio.gather(*(t.until_prompt() for t in terms))
        loop_cmd = (
            f"for i in $(seq {seconds * 10}); do for j in 1 2 3 4 5 6; do "
            'echo "line $i.$j: the quick brown fox jumps over the lazy dog 0123456789"; done; sleep 0.1; '
            "done; echo CHATTY-$((3*3))-DONE\n"
        ).encode()
        c0, j0 = stack.cpu()
        t0 = time.perf_counter()
        await asyncio.gather(*(t.send(loop_cmd) for t in terms))
        await asyncio.gather(*(t.read_until(b"CHATTY-9-DONE", timeout=seconds * 3 + 30) for t in terms))
        wall = time.perf_counter() - t0
        c1, j1 = stack.cpu()
        await asyncio.gather(*(t.close() for t in terms))
        results["chatty"] = {
            "sessions": n,
            "wall_s": wall,
            "console_cpu_s": c1 - c0,
            "jumpoint_cpu_s": j1 - j0,
            "cpu_percent_of_core": (c1 - c0 + j1 - j0) / wall * 100,
        }

        # 5. 50 idle sessions: RSS per session
        await asyncio.sleep(1)
        idle_n = 10 if quick else 50
        r0 = [rss_kib(p) for p in stack.pids]
        terms = [await Term.jump(http, stack) for _ in range(idle_n)]
        await asyncio.gather(*(t.until_prompt() for t in terms))
        await asyncio.sleep(2)
        r1 = [rss_kib(p) for p in stack.pids]
        await asyncio.gather(*(t.close() for t in terms))
        results["idle"] = {
            "sessions": idle_n,
            "console_kib_per_session": (r1[0] - r0[0]) / idle_n,
            "jumpoint_kib_per_session": (r1[1] - r0[1]) / idle_n,
        }

        # 6. 200 Jumps at the same moment
        await asyncio.sleep(1)
        await burst(results, http, stack, 40 if quick else 200)


async def echo(results: dict[str, Any], http: aiohttp.ClientSession, stack: Stack, ssh: SshServer, keys: int) -> None:
    """Keystroke echo latency into ``cat``, direct and through the gateway."""
    direct, via = await echo_both(http, stack, lambda: DirectTerm.open(ssh), keys)
    results["echo_ms"] = {**echo_stats(direct, via), "keys": keys}
    direct, via = await echo_both(http, stack, lambda: DirectTerm.open(ssh), keys, TYPING_GAP)
    results["echo_typing_ms"] = {**echo_stats(direct, via), "keys": keys, "keys_per_second": 1 / TYPING_GAP}


async def burst(results: dict[str, Any], http: aiohttp.ClientSession, stack: Stack, many: int) -> None:
    """Start ``many`` Jumps at the same moment; every one must reach the prompt."""

    async def one() -> float:
        t0 = time.perf_counter()
        term = await Term.jump(http, stack)
        await term.until_prompt(timeout=120)
        elapsed = time.perf_counter() - t0
        await term.close()
        return elapsed

    t0 = time.perf_counter()
    outcomes = await asyncio.gather(*(one() for _ in range(many)), return_exceptions=True)
    ok = [o for o in outcomes if isinstance(o, float)]
    errors = [repr(o) for o in outcomes if not isinstance(o, float)]
    results["burst"] = {
        "jumps": many,
        "reached_prompt": len(ok),
        "failed": len(errors),
        "errors": errors[:5],
        "slowest_s": max(ok) if ok else None,
        "all_done_s": time.perf_counter() - t0,
    }


def echo_typing_row(r: dict[str, Any]) -> list[tuple[str, ...]]:
    """The paced echo's row (20 keys a second), when measured."""
    t = r.get("echo_typing_ms")
    if t is None:
        return []
    return [
        (
            f"Echo latency p50 / p99 (ms), {t['keys']} keys at {t['keys_per_second']:.0f} keys/s",
            f"{t['gateway_p50']:.2f} / {t['gateway_p99']:.2f}",
            f"{t['direct_p50']:.2f} / {t['direct_p99']:.2f}",
            f"added {t['added_p50']:.2f} / {t['added_p99']:.2f} (every process idles between keys)",
            "no penalty for fast typing",
        )
    ]


async def bulk(http: aiohttp.ClientSession, stack: Stack, ssh: SshServer, quick: bool) -> dict[str, Any]:
    """The bulk-output workload: direct and through the gateway, interleaved pairs."""
    return await bulk_pairs(
        http, stack, lambda: DirectTerm.open(ssh), (BULK_CMD + "\n").encode(), BULK_MARK, 1 if quick else BULK_PAIRS
    )


def table(r: dict[str, Any]) -> str:
    if set(r) >= {"burst"} and "echo_ms" not in r:
        s = r["burst"]
        return f"{s['jumps']} simultaneous Jumps: {s['reached_prompt']} reached the prompt, {s['failed']} failed"
    e, b, c, i, j, s = r["echo_ms"], r["bulk"], r["chatty"], r["idle"], r["jump_to_prompt_ms"], r["burst"]
    pairs_ratio = b.get("throughput_ratio_per_pair", b["throughput_ratio"])  # results of before the pairs
    rows = [
        (
            "Echo latency p50 / p99 (ms), 200 keys into cat",
            f"{e['gateway_p50']:.2f} / {e['gateway_p99']:.2f}",
            f"{e['direct_p50']:.2f} / {e['direct_p99']:.2f}",
            f"added {e['added_p50']:.2f} / {e['added_p99']:.2f}",
            "added <= 0.5 / 5",
        ),
        *echo_typing_row(r),
        (
            f"Bulk output, 20 MB base64 (s; MB/s; median of {len(b.get('runs', [0]))})",
            f"{b['gateway_s']:.2f} s; {b['gateway_mb_s']:.1f} MB/s",
            f"{b['direct_s']:.2f} s; {b['direct_mb_s']:.1f} MB/s",
            f"{b['throughput_ratio'] * 100:.0f}% of direct (pairs: {pairs_ratio * 100:.0f}%); "
            f"CPU console {b['console_cpu_s']:.2f} s + Jumpoint "
            f"{b['jumpoint_cpu_s']:.2f} s; bytes {b['gateway_bytes']} vs {b['direct_bytes']}",
            ">= 90%",
        ),
        ("Jump to first prompt (ms, p50)", f"{j['gateway_p50']:.0f}", f"{j['direct_p50']:.0f}", "", "<= 250"),
        (
            f"{c['sessions']} sessions, 6 lines / 0.1 s (CPU % of one core)",
            f"{c['cpu_percent_of_core']:.1f}%",
            "",
            f"console {c['console_cpu_s']:.2f} s + Jumpoint {c['jumpoint_cpu_s']:.2f} s over {c['wall_s']:.1f} s",
            "<= 30%",
        ),
        (
            f"{i['sessions']} idle sessions (RSS KiB per session)",
            f"console {i['console_kib_per_session']:.0f}, Jumpoint {i['jumpoint_kib_per_session']:.0f}",
            "",
            "",
            "<= 250 each",
        ),
        (
            f"{s['jumps']} simultaneous Jumps",
            f"{s['reached_prompt']} reached the prompt, {s['failed']} failed",
            "",
            f"slowest {s['slowest_s']:.1f} s" if s["slowest_s"] else "",
            "0 hangs",
        ),
    ]
    out = ["| Workload | Gateway | Direct asyncssh | Notes | Target |", "|---|---|---|---|---|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller workloads, for a smoke run")
    parser.add_argument("--only", choices=["burst", "bulk", "echo"], help="run one workload only")
    args = parser.parse_args()
    results = asyncio.run(run(args.quick, args.only))
    out = ROOT / "benchmarks" / "results" / ("ssh-quick.json" if args.quick else "ssh.json")
    if args.only and out.exists():  # one workload re-measured: keep the others' figures
        results = json.loads(out.read_text()) | {k: v for k, v in results.items() if k not in ("quick", "when")}
    out.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
