"""Unified-session benchmarks: fan-out to several participants, and the cost of recording.

Real OpenSSH sshd, real console (``openjump serve``) and built-in Jumpoint as separate processes over TLS (see
``benchmarks/harness.py``); this process plays the browsers with real session WebSockets. Console CPU is read from
/proc (all its threads, so the recording writer threads count).

* Fan-out: one busy terminal (bulk output of ``seq``), watched by 1, 5 and 10 participants: the owner who Jumped,
  plus other admins attached to the same session as observers (each a distinct user, so a seat each, as when
  colleagues open the session panel). Every participant must get every byte. Runs are interleaved (1, 5, 10, then
  10, 5, 1 ...) and the medians reported. Target: each extra participant costs <= 15% of the first one's CPU.
* Recording: the same bulk output through a Jump Item with ``record_session`` true, one with false, and a third
  whose recording only writes the output unencoded to both files (the floor of any recorder that writes them while
  the session runs: ``benchmarks/recording_floor_console.py``, which is what runs the console here), interleaved
  and repeated; medians. Target: recording adds <= 10% CPU.

Run as root (the sshd fixture creates a test user)::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_sessions.py [--quick] [--only fanout|recording] [--deflate]

``--deflate`` makes the sockets offer permessage-deflate, as browsers do. ``--spy DIR`` samples the console with
py-spy (if installed) during each workload and writes collapsed stacks there. Results go to
benchmarks/results/sessions[-quick].json and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks import harness
from benchmarks.harness import ROOT, Credential, Stack, Term, create_item, markdown_table, median, running_stack
from benchmarks.recording_floor_console import FLOOR_PREFIX
from console_web.recording.recorder import SessionRecorder
from jumpoint.core.malloc_tuning import keep_freed_memory
from tests.fixtures.sshd import SshServer, start_sshd

FAN_COUNTS = (1, 5, 10)
DONE_MARK = b"BULK-42-DONE"


def seq_command(count: int) -> bytes:
    """The numbers 1 to ``count``, one a line (text as logs are: about 8.6 bytes a line for a million), then the
    done mark."""
    return f"seq 1 {count}; echo BULK-$((6*7))-DONE\n".encode()


def bulk_command(raw_bytes: int) -> bytes:
    """``raw_bytes`` of zeros as base64 lines of 100 (4/3 as much output), then the done mark."""
    return f"head -c {raw_bytes} /dev/zero | base64 -w 100; echo BULK-$((6*7))-DONE\n".encode()


async def recorder_alone(raw_bytes: int, reps: int, directory: Path) -> list[float]:
    """CPU seconds of :class:`SessionRecorder` recording the workload's output alone (this process, its writer
    threads included): the same bytes as the terminal shows them, in the tunnel's 32 KiB chunks, written to files in
    ``directory``; nothing else runs, so this moves far less than the console's CPU under the whole flow. The
    allocator keeps freed memory as in the console (else every batch faults its buffers in afresh: ~2x the CPU)."""
    keep_freed_memory()
    encoded = base64.b64encode(bytes(raw_bytes))
    shown = b"".join(encoded[i : i + 100] + b"\r\n" for i in range(0, len(encoded), 100))
    chunks = [shown[i : i + 32 * 1024] for i in range(0, len(shown), 32 * 1024)]
    seconds = []
    for rep in range(reps + 1):
        started = time.process_time()
        recorder = SessionRecorder.start(directory, f"alone{rep}", cols=100, rows=30, title="alone", record_input=False)
        for number, chunk in enumerate(chunks):
            recorder.output(chunk)
            if number % 8 == 7:
                await asyncio.sleep(0)  # the console's loop turns between tunnel frames
        recorder.close()
        if rep:  # the first warms the writer threads and their buffers
            seconds.append(time.process_time() - started)
    return seconds


class Spy:
    """py-spy sampling the console during one workload (a no-op without ``--spy``)."""

    def __init__(self, directory: Path | None, pid: int) -> None:
        self.directory, self.pid = directory, pid
        beside = Path(sys.executable).parent / "py-spy"
        self.exe = str(beside) if beside.exists() else shutil.which("py-spy") or "py-spy"

    @asynccontextmanager
    async def sample(self, name: str) -> AsyncIterator[None]:
        """Sample while the block runs; collapsed stacks into ``<dir>/<name>.txt``."""
        if self.directory is None:
            yield
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        out = self.directory / f"{name}.txt"
        proc = subprocess.Popen(
            [self.exe, "record", "--pid", str(self.pid), "--rate", "500", "--threads", "--nonblocking",
             "--format", "raw", "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        await asyncio.sleep(0.5)
        try:
            yield
        finally:
            proc.send_signal(2)
            proc.wait(30)


async def fanout_run(
    http: aiohttp.ClientSession, stack: Stack, item: int, n: int, cmd: bytes, deflate: bool
) -> dict[str, Any]:
    """One session with ``n`` participants; the console CPU and bytes each got for one bulk-output command."""
    owner = await Term.jump(http, stack, item, compress=deflate)
    await owner.until_prompt()
    others = [
        await Term.attach(http, stack, owner.session_id, token=stack.more_tokens[k], compress=deflate)
        for k in range(n - 1)
    ]
    await asyncio.gather(*(t.until_prompt() for t in others))
    await asyncio.sleep(0.3)
    c0 = harness.cpu_seconds(stack.console.pid)
    t0 = time.perf_counter()
    await owner.send(cmd)
    got = await asyncio.gather(*(t.read_until(DONE_MARK, timeout=600) for t in (owner, *others)))
    wall = time.perf_counter() - t0
    cpu = harness.cpu_seconds(stack.console.pid) - c0
    await owner.close()
    for t in others:
        await t.close(end=False)
    # every participant must get every byte: all the same count (the shell's echo of the command may vary by run)
    same = len(set(got)) == 1
    return {"participants": n, "console_cpu_s": cpu, "wall_s": wall, "bytes": list(got), "same_bytes": same}


async def recording_run(http: aiohttp.ClientSession, stack: Stack, item: int, cmd: bytes) -> dict[str, Any]:
    """One session, one bulk-output command: console CPU, time and bytes; the size of the recording it left."""
    term = await Term.jump(http, stack, item)
    await term.until_prompt()
    await asyncio.sleep(0.3)
    u0, s0 = harness.cpu_split(stack.console.pid)
    c0, j0 = harness.cpu_precise(stack.console.pid), harness.cpu_precise(stack.jumpoint.pid)
    m0 = harness.cpu_main_thread(stack.console.pid)
    t0 = time.perf_counter()
    await term.send(cmd)
    got = await term.read_until(DONE_MARK, timeout=600)
    wall = time.perf_counter() - t0
    u1, s1 = harness.cpu_split(stack.console.pid)
    c1, j1 = harness.cpu_precise(stack.console.pid), harness.cpu_precise(stack.jumpoint.pid)
    m1 = harness.cpu_main_thread(stack.console.pid)
    await term.close()
    await asyncio.sleep(0.2)
    cast = stack.work / "console" / "recordings" / f"{term.session_id}.cast"
    return {
        "console_cpu_s": c1 - c0,
        "console_main_thread_cpu_s": m1 - m0,  # the event loop's; the rest is the recording writers' and others'
        "console_user_s": u1 - u0,  # the split in 10 ms ticks
        "console_sys_s": s1 - s0,
        "jumpoint_cpu_s": j1 - j0,
        "wall_s": wall,
        "bytes": got,
        "mb_s": got / wall / 1e6,
        "cast_bytes": cast.stat().st_size if cast.exists() else 0,
    }


async def measure(results: dict[str, Any], stack: Stack, ssh: SshServer, args: argparse.Namespace, spy: Spy) -> None:
    quick = args.quick
    conn = aiohttp.TCPConnector(limit=0, ssl=False)
    async with aiohttp.ClientSession(connector=conn) as http:
        common: dict[str, Any] = {"protocol": "ssh", "hostname": ssh.host, "port": ssh.port, "username": ssh.username}
        shared = await create_item(
            http, stack, **common, credential_ref="bench", name="shared", session_policy="join_existing",
            record_session=False,
        )  # fmt: skip
        rec_on = await create_item(http, stack, **common, credential_ref="bench", name="rec-on", record_session=True)
        rec_off = await create_item(http, stack, **common, credential_ref="bench", name="rec-off", record_session=False)
        rec_floor = await create_item(
            http, stack, **common, credential_ref="bench", name=f"{FLOOR_PREFIX}-rec", record_session=True
        )
        first = await Term.jump(http, stack, rec_off)  # trust the host key once
        await first.until_prompt(host_key="save")
        await first.close()

        if args.only in (None, "fanout"):
            lines = 400_000 if quick else 1_200_000
            reps = 2 if quick else 3
            cmd = seq_command(lines)
            runs: dict[int, list[dict[str, Any]]] = {n: [] for n in FAN_COUNTS}
            for rep in range(reps):
                order = FAN_COUNTS if rep % 2 == 0 else tuple(reversed(FAN_COUNTS))
                for n in order:
                    async with spy.sample(f"fanout-{n}-rep{rep}"):
                        runs[n].append(await fanout_run(http, stack, shared, n, cmd, args.deflate))
            cpu = {n: median(r["console_cpu_s"] for r in runs[n]) for n in FAN_COUNTS}
            lo, hi = FAN_COUNTS[0], FAN_COUNTS[-1]
            marginal = (cpu[hi] - cpu[lo]) / (hi - lo)
            results["fanout"] = {
                "lines": lines,
                "reps": reps,
                "deflate": args.deflate,
                "cpu_s": {str(n): cpu[n] for n in FAN_COUNTS},
                "wall_s": {str(n): median(r["wall_s"] for r in runs[n]) for n in FAN_COUNTS},
                "cpu_per_participant_s": {str(n): cpu[n] / n for n in FAN_COUNTS},
                "bytes_per_participant": {str(n): sorted({b for r in runs[n] for b in r["bytes"]}) for n in FAN_COUNTS},
                "every_participant_got_every_byte": all(r["same_bytes"] for n in FAN_COUNTS for r in runs[n]),
                "marginal_cpu_s": marginal,
                "marginal_ratio": marginal / cpu[lo] if cpu[lo] else None,
                "runs": {str(n): runs[n] for n in FAN_COUNTS},
            }

        if args.only in (None, "recording"):
            raw = 8_000_000 if quick else 20_000_000
            reps = 3 if quick else 9  # the Jumpoint's CPU alone moves by more than the recording costs
            cmd = bulk_command(raw)
            on: list[dict[str, Any]] = []
            off: list[dict[str, Any]] = []
            floor: list[dict[str, Any]] = []
            ways = ((rec_on, on, "on"), (rec_floor, floor, "floor"), (rec_off, off, "off"))
            for rep in range(reps):
                for item, into, label in ways[rep % 3 :] + ways[: rep % 3]:
                    async with spy.sample(f"recording-{label}-rep{rep}"):
                        into.append(await recording_run(http, stack, item, cmd))
            cpu_on, cpu_off = median(r["console_cpu_s"] for r in on), median(r["console_cpu_s"] for r in off)
            alone = await recorder_alone(raw, reps, stack.work / "recorder-alone")
            results["recording"] = {
                "raw_bytes": raw,
                "reps": reps,
                "cpu_on_s": cpu_on,
                "cpu_off_s": cpu_off,
                "overhead": cpu_on / cpu_off - 1 if cpu_off else None,
                "jumpoint_cpu_on_s": median(r["jumpoint_cpu_s"] for r in on),
                "jumpoint_cpu_off_s": median(r["jumpoint_cpu_s"] for r in off),
                "gateway_overhead_per_pair": median(
                    (a["console_cpu_s"] + a["jumpoint_cpu_s"]) / (b["console_cpu_s"] + b["jumpoint_cpu_s"]) - 1
                    for a, b in zip(on, off, strict=True)
                ),
                "mb_s_on": median(r["mb_s"] for r in on),
                "mb_s_off": median(r["mb_s"] for r in off),
                "cast_bytes_on": median(r["cast_bytes"] for r in on),
                "user_on_s": median(r["console_user_s"] for r in on),
                "user_off_s": median(r["console_user_s"] for r in off),
                "sys_on_s": median(r["console_sys_s"] for r in on),
                "sys_off_s": median(r["console_sys_s"] for r in off),
                "overhead_per_pair": median(
                    a["console_cpu_s"] / b["console_cpu_s"] - 1 for a, b in zip(on, off, strict=True)
                ),
                "cpu_floor_s": median(r["console_cpu_s"] for r in floor),
                "floor_overhead_per_pair": median(
                    a["console_cpu_s"] / b["console_cpu_s"] - 1 for a, b in zip(floor, off, strict=True)
                ),
                "gateway_floor_overhead_per_pair": median(
                    (a["console_cpu_s"] + a["jumpoint_cpu_s"]) / (b["console_cpu_s"] + b["jumpoint_cpu_s"]) - 1
                    for a, b in zip(floor, off, strict=True)
                ),
                "main_thread_floor_s": median(r["console_main_thread_cpu_s"] for r in floor),
                "main_thread_on_s": median(r["console_main_thread_cpu_s"] for r in on),
                "main_thread_off_s": median(r["console_main_thread_cpu_s"] for r in off),
                "recorder_alone_cpu_s": median(alone),
                "recorder_alone_runs_s": alone,
                "runs_on": on,
                "runs_off": off,
                "runs_floor": floor,
            }


def table(r: dict[str, Any]) -> str:
    rows: list[tuple[str, ...]] = []
    if "fanout" in r:
        f = r["fanout"]
        cpu = f["cpu_s"]
        counts = list(cpu)
        each = "; ".join(
            f"{n}: {cpu[n]:.2f} s ({f['cpu_per_participant_s'][n]:.3f} s each), "
            f"{'/'.join(str(b) for b in f['bytes_per_participant'][n])} B each"
            for n in counts
        )
        each += "; every participant got every byte" if f.get("every_participant_got_every_byte") else "; BYTES DIFFER"
        ratio = f["marginal_ratio"]
        rows.append(
            (
                f"Fan-out: seq 1 {f['lines']} ({f['bytes_per_participant']['1'][0] / 1e6:.1f} MB) to 1/5/10 seats"
                f"{' (deflate)' if f['deflate'] else ''}, console CPU (median of {f['reps']})",
                each,
                f"marginal {f['marginal_cpu_s']:.3f} s per extra participant = {ratio * 100:.0f}% of CPU(1)"
                if ratio is not None
                else "",
                "<= 15%",
            )
        )
    if "recording" in r:
        g = r["recording"]
        rows.append(
            (
                f"Recording: {g['raw_bytes'] / 1e6:.0f} MB base64, on vs off, console CPU (median of {g['reps']})",
                f"on {g['cpu_on_s']:.2f} s (user {g['user_on_s']:.2f} + sys {g['sys_on_s']:.2f}), "
                f"{g['mb_s_on']:.1f} MB/s; off {g['cpu_off_s']:.2f} s (user {g['user_off_s']:.2f} + sys "
                f"{g['sys_off_s']:.2f}), {g['mb_s_off']:.1f} MB/s",
                f"+{g['overhead'] * 100:.0f}% CPU (median of pairs +{g['overhead_per_pair'] * 100:.0f}%; user "
                f"{(g['user_on_s'] - g['user_off_s']) * 1000:+.0f} ms, "
                f"system {(g['sys_on_s'] - g['sys_off_s']) * 1000:+.0f} ms); cast {g['cast_bytes_on'] / 1e6:.1f} MB; "
                f"console + Jumpoint +{g['gateway_overhead_per_pair'] * 100:.0f}% (Jumpoint "
                f"{g['jumpoint_cpu_off_s']:.2f} s); the console's event loop on/off {g['main_thread_on_s']:.2f} / "
                f"{g['main_thread_off_s']:.2f} s; the recorder alone {g['recorder_alone_cpu_s'] * 1000:.0f} ms. "
                f"Floor (the same batches written unencoded): console {g['cpu_floor_s']:.2f} s, "
                f"{g['floor_overhead_per_pair'] * 100:+.0f}% (pairs); console + Jumpoint "
                f"{g['gateway_floor_overhead_per_pair'] * 100:+.0f}%"
                if g["overhead"] is not None
                else "",
                "<= 10%",
            )
        )
    return markdown_table(("Workload", "Measured", "Result", "Target"), rows)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"quick": args.quick, "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    with tempfile.TemporaryDirectory(prefix="oj-bench-") as tmp:
        work = Path(tmp)
        ssh = start_sshd(work / "sshd")
        starting = harness.start_stack(
            work,
            [Credential("bench", ssh.username, ssh.password)],
            users=max(FAN_COUNTS) - 1,
            console_module="benchmarks.recording_floor_console",  # items named floor... record unencoded
        )
        async with running_stack(work, ssh, starting) as stack:
            spy = Spy(Path(args.spy).resolve() if args.spy else None, stack.console.pid)
            await measure(results, stack, ssh, args, spy)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller workloads, for a smoke run")
    parser.add_argument("--only", choices=["fanout", "recording"], help="run one workload only")
    parser.add_argument("--deflate", action="store_true", help="sockets offer permessage-deflate, as browsers do")
    parser.add_argument("--spy", metavar="DIR", help="sample the console with py-spy into DIR")
    parser.add_argument("--out", metavar="FILE", help="results file (default benchmarks/results/sessions*.json)")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    # a run of one workload (--only) never overwrites the full run's file
    name = f"sessions{'-' + args.only if args.only else ''}{'-quick' if args.quick else ''}.json"
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / name
    out.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
