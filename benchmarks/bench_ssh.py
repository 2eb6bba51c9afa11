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
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncssh

from console_web.db import repo
from console_web.db.api_tokens import create_api_token
from console_web.db.database import Database
from jumpoint.agent.registration import Registration, save_registration
from tests.fixtures.sshd import SshServer, start_sshd

ROOT = Path(__file__).resolve().parents[1]
BULK_CMD = "head -c 20000000 /dev/zero | base64 -w 100; echo BULK-$((6*7))-DONE"
BULK_MARK = b"BULK-42-DONE"
PROMPT_RE = re.compile(rb"[$#] $")
CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def rss_kib(pid: int) -> int:
    """Resident set size of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    """The running gateway: console and Jumpoint processes, an API token and a Jump Item."""

    url: str
    console: subprocess.Popen[bytes]
    jumpoint: subprocess.Popen[bytes]
    token: str
    item_id: int = 0

    @property
    def pids(self) -> tuple[int, int]:
        return self.console.pid, self.jumpoint.pid

    def cpu(self) -> tuple[float, float]:
        return cpu_seconds(self.console.pid), cpu_seconds(self.jumpoint.pid)


async def start_stack(work: Path, ssh: SshServer) -> Stack:
    port = free_port()
    console_dir, jp_dir = work / "console", work / "jumpoint"
    console_dir.mkdir()
    cfg = work / "console.yaml"
    cfg.write_text(
        f"state_dir: {console_dir}\nlisten: {{host: 127.0.0.1, port: {port}, tls: {{mode: self_signed}}}}\n"
        "log_level: warning\nsessions: {max_sessions_per_jumpoint: 2000}\n"
    )
    db = await Database.open(f"sqlite+aiosqlite:///{console_dir / 'console.db'}")
    await db.migrate()
    uid = await repo.create_user(db, "bench", "bench-password-1", is_admin=True)
    token = (await create_api_token(db, uid, "bench", expires_at=None)).token
    jp_id, jp_token = await repo.ensure_builtin_jumpoint(db, "LAN")
    await db.close()
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    console_log = (work / "console.log").open("wb")
    console = subprocess.Popen(
        [sys.executable, "-m", "console_web.cli", "serve", "--config", str(cfg)],
        stdout=console_log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
    )
    fingerprint = None
    deadline = time.monotonic() + 30
    while fingerprint is None and time.monotonic() < deadline:
        if console.poll() is not None:
            raise RuntimeError("console exited during start-up:\n" + (work / "console.log").read_text())
        for line in (work / "console.log").read_text().splitlines():
            if "fingerprint:" in line:
                fingerprint = line.split("fingerprint:")[1].strip()
        await asyncio.sleep(0.1)
    url = f"https://127.0.0.1:{port}"
    save_registration(jp_dir, Registration(console_url=url, token=jp_token, jumpoint_id=jp_id, name="LAN",
                                           fingerprint=fingerprint))
    jcfg = work / "jumpoint.yaml"
    jcfg.write_text(f"state_dir: {jp_dir}\nlog_level: warning\n")
    subprocess.run(
        [sys.executable, "-m", "jumpoint.agent.cli", "--config", str(jcfg), "credentials", "add", "bench",
         "--username", ssh.username],
        input=(ssh.password + "\n").encode(), check=True, cwd=ROOT, capture_output=True,
    )
    jumpoint = subprocess.Popen(
        [sys.executable, "-m", "jumpoint.agent.cli", "--config", str(jcfg), "run"],
        stdout=(work / "jumpoint.log").open("wb"), stderr=subprocess.STDOUT, env=env, cwd=ROOT,
    )
    stack = Stack(url, console, jumpoint, token)
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            async with http.get(f"{url}/api/v1/jumpoints", headers=_h(stack), ssl=False) as r:
                data = await r.json()
                items = data["items"] if isinstance(data, dict) else data
                if items and items[0].get("connected"):
                    break
            await asyncio.sleep(0.1)
        groups = await (await http.get(f"{url}/api/v1/jump-groups", headers=_h(stack), ssl=False)).json()
        groups = groups["items"] if isinstance(groups, dict) else groups
        personal = next(g for g in groups if g.get("personal"))
        body = {"group_id": personal["id"], "jumpoint_id": jp_id, "protocol": "ssh", "name": "bench",
                "hostname": ssh.host, "port": ssh.port, "username": ssh.username, "credential_ref": "bench",
                "session_policy": "start_new"}
        async with http.post(f"{url}/api/v1/jump-items", json=body, headers=_h(stack), ssl=False) as r:
            assert r.status == 201, await r.text()
            stack.item_id = (await r.json())["id"]
        # trust the host key once, so later Jumps go straight to the prompt
        sess = await Term.jump(http, stack)
        await sess.until_prompt(host_key="save")
        await sess.close()
    return stack


def _h(stack: Stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.token}"}


class Term:
    """A benchmark 'browser': one session WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.buf = bytearray()
        self.msgs: list[dict[str, Any]] = []

    @classmethod
    async def jump(cls, http: aiohttp.ClientSession, stack: Stack) -> Term:
        async with http.post(f"{stack.url}/api/v1/jump-items/{stack.item_id}/jump", json={"cols": 120, "rows": 40},
                             headers=_h(stack), ssl=False) as r:
            assert r.status == 201, await r.text()
            sid = (await r.json())["session_id"]
        ws = await http.ws_connect(f"{stack.url}/api/v1/sessions/{sid}/ws", headers=_h(stack), ssl=False,
                                   max_msg_size=1 << 20)
        return cls(ws)

    async def until_prompt(self, host_key: str = "abort", timeout: float = 60) -> None:
        try:
            await self._until_prompt(host_key, timeout)
        except TimeoutError:
            raise RuntimeError(f"no prompt in {timeout} s; messages {self.msgs[-4:]}; output tail "
                               f"{bytes(self.buf[-160:])!r}") from None

    async def _until_prompt(self, host_key: str, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not PROMPT_RE.search(bytes(self.buf[-200:])):
                msg = await self.ws.receive()
                if msg.type == aiohttp.WSMsgType.BINARY:
                    self.buf += msg.data
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    m = json.loads(msg.data)
                    self.msgs.append(m)
                    if m["t"] == "prompt_host_key":
                        answer = {"t": "answer_host_key", "id": m["id"], "decision": host_key}
                        await self.ws.send_str(json.dumps(answer))
                    elif m["t"] == "error":
                        raise RuntimeError(m["error"]["message"])
                else:
                    raise RuntimeError(f"socket closed: {msg}")

    async def read_until(self, mark: bytes, timeout: float = 120) -> int:
        total = 0
        tail = b""
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.ws.receive()
                if msg.type != aiohttp.WSMsgType.BINARY:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        continue
                    raise RuntimeError(f"socket closed: {msg}")
                total += len(msg.data)
                tail = (tail + msg.data)[-64:]
                if mark in tail:
                    return total

    async def send(self, data: bytes) -> None:
        await self.ws.send_bytes(data)

    async def recv_some(self) -> bytes:
        while True:
            msg = await self.ws.receive()
            if msg.type == aiohttp.WSMsgType.BINARY:
                return bytes(msg.data)
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"socket closed: {msg}")

    async def close(self) -> None:
        await self.ws.send_str('{"t":"end"}')
        await self.ws.close()


# --- direct asyncssh: the floor ------------------------------------------------------------------
class DirectTerm:
    """The same workloads straight to sshd with asyncssh."""

    def __init__(self, conn: asyncssh.SSHClientConnection, proc: Any) -> None:
        self.conn, self.proc = conn, proc
        self.buf = bytearray()

    @classmethod
    async def open(cls, ssh: SshServer) -> DirectTerm:
        conn = await asyncssh.connect(ssh.host, ssh.port, username=ssh.username, password=ssh.password,
                                      known_hosts=None, client_keys=None, agent_path=None,
                                      preferred_auth="password")
        proc = await conn.create_process(term_type="xterm", term_size=(120, 40), encoding=None)
        return cls(conn, proc)

    async def until_prompt(self) -> None:
        while not PROMPT_RE.search(bytes(self.buf[-200:])):
            self.buf += await self.proc.stdout.read(65536)

    async def send(self, data: bytes) -> None:
        self.proc.stdin.write(data)

    async def recv_some(self) -> bytes:
        return bytes(await self.proc.stdout.read(65536))

    async def read_until(self, mark: bytes) -> int:
        total, tail = 0, b""
        while True:
            chunk = await self.proc.stdout.read(65536)
            total += len(chunk)
            tail = (tail + chunk)[-64:]
            if mark in tail:
                return total

    async def close(self) -> None:
        self.conn.close()


async def echo_latency(term: Term | DirectTerm, keys: int) -> list[float]:
    await term.send(b"stty -echoctl; cat\n")
    await asyncio.sleep(0.5)
    while True:  # drain
        try:
            await asyncio.wait_for(term.recv_some(), 0.3)
        except TimeoutError:
            break
    samples = []
    for i in range(keys):
        ch = bytes([97 + i % 26])
        t0 = time.perf_counter()
        await term.send(ch)
        got = b""
        while ch not in got:
            got += await term.recv_some()
        samples.append((time.perf_counter() - t0) * 1000)
    await term.send(b"\x03")
    return samples


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def run(quick: bool, only: str | None = None) -> dict[str, Any]:
    results: dict[str, Any] = {"quick": quick, "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    with tempfile.TemporaryDirectory(prefix="oj-bench-") as tmp:
        work = Path(tmp)
        ssh = start_sshd(work / "sshd")
        try:
            stack = await start_stack(work, ssh)
            try:
                await measure(results, stack, ssh, quick, only)
            except BaseException:
                for name in ("console.log", "jumpoint.log"):
                    print(f"--- {name} ---\n" + (work / name).read_text()[-3000:], file=sys.stderr)
                raise
            finally:
                for proc in (stack.jumpoint, stack.console):
                    proc.terminate()
                    try:
                        proc.wait(10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
        finally:
            ssh.stop()
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
        # 1. Jump to first prompt (median of 10)
        jump_ms, direct_ms = [], []
        for _ in range(5 if quick else 10):
            t0 = time.perf_counter()
            d = await DirectTerm.open(ssh)
            await d.until_prompt()
            direct_ms.append((time.perf_counter() - t0) * 1000)
            await d.close()
            t0 = time.perf_counter()
            term = await Term.jump(http, stack)
            await term.until_prompt()
            jump_ms.append((time.perf_counter() - t0) * 1000)
            await term.close()
        results["jump_to_prompt_ms"] = {"gateway_p50": statistics.median(jump_ms),
                                        "direct_p50": statistics.median(direct_ms)}

        # 2. keystroke echo latency
        await echo(results, http, stack, ssh, keys)

        # 3. bulk output
        d = await DirectTerm.open(ssh)
        # 3. bulk output
        d = await DirectTerm.open(ssh)
        await d.until_prompt()
        t0 = time.perf_counter()
        await d.send((BULK_CMD + "\n").encode())
        direct_bytes = await d.read_until(BULK_MARK)
        direct_s = time.perf_counter() - t0
        await d.close()
        term = await Term.jump(http, stack)
        await term.until_prompt()
        c0, j0 = stack.cpu()
        t0 = time.perf_counter()
        await term.send((BULK_CMD + "\n").encode())
        via_bytes = await term.read_until(BULK_MARK)
        via_s = time.perf_counter() - t0
        c1, j1 = stack.cpu()
        await term.close()
        results["bulk"] = {
            "direct_s": direct_s, "direct_bytes": direct_bytes, "gateway_s": via_s, "gateway_bytes": via_bytes,
            "gateway_mb_s": via_bytes / via_s / 1e6, "direct_mb_s": direct_bytes / direct_s / 1e6,
            "throughput_ratio": direct_s / via_s,
            "console_cpu_s": c1 - c0, "jumpoint_cpu_s": j1 - j0,
        }

        # 4. 20 sessions x 6 lines every 0.1 s for 20 s
        n, seconds = (5, 5) if quick else (20, 20)
        terms = [await Term.jump(http, stack) for _ in range(n)]
        await asyncio.gather(*(t.until_prompt() for t in terms))
        loop_cmd = (f"for i in $(seq {seconds * 10}); do for j in 1 2 3 4 5 6; do "
                    "echo \"line $i.$j: the quick brown fox jumps over the lazy dog 0123456789\"; done; sleep 0.1; "
                    "done; echo CHATTY-$((3*3))-DONE\n").encode()
        c0, j0 = stack.cpu()
        t0 = time.perf_counter()
        await asyncio.gather(*(t.send(loop_cmd) for t in terms))
        await asyncio.gather(*(t.read_until(b"CHATTY-9-DONE", timeout=seconds * 3 + 30) for t in terms))
        wall = time.perf_counter() - t0
        c1, j1 = stack.cpu()
        await asyncio.gather(*(t.close() for t in terms))
        results["chatty"] = {"sessions": n, "wall_s": wall, "console_cpu_s": c1 - c0, "jumpoint_cpu_s": j1 - j0,
                             "cpu_percent_of_core": (c1 - c0 + j1 - j0) / wall * 100}

        # 5. 50 idle sessions: RSS per session
        await asyncio.sleep(1)
        idle_n = 10 if quick else 50
        r0 = [rss_kib(p) for p in stack.pids]
        terms = [await Term.jump(http, stack) for _ in range(idle_n)]
        await asyncio.gather(*(t.until_prompt() for t in terms))
        await asyncio.sleep(2)
        r1 = [rss_kib(p) for p in stack.pids]
        await asyncio.gather(*(t.close() for t in terms))
        results["idle"] = {"sessions": idle_n, "console_kib_per_session": (r1[0] - r0[0]) / idle_n,
                           "jumpoint_kib_per_session": (r1[1] - r0[1]) / idle_n}

        # 6. 200 Jumps at the same moment
        await asyncio.sleep(1)
        await burst(results, http, stack, 40 if quick else 200)


async def echo(results: dict[str, Any], http: aiohttp.ClientSession, stack: Stack, ssh: SshServer, keys: int) -> None:
    """Keystroke echo latency into ``cat``, direct and through the gateway."""
    d = await DirectTerm.open(ssh)
    await d.until_prompt()
    direct = await echo_latency(d, keys)
    await d.close()
    term = await Term.jump(http, stack)
    await term.until_prompt()
    via = await echo_latency(term, keys)
    await term.close()
    results["echo_ms"] = {
        "direct_p50": pct(direct, 50), "direct_p99": pct(direct, 99),
        "gateway_p50": pct(via, 50), "gateway_p99": pct(via, 99),
        "added_p50": pct(via, 50) - pct(direct, 50), "added_p99": pct(via, 99) - pct(direct, 99),
        "keys": keys,
    }


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
    results["burst"] = {"jumps": many, "reached_prompt": len(ok), "failed": len(errors),
                        "errors": errors[:5], "slowest_s": max(ok) if ok else None,
                        "all_done_s": time.perf_counter() - t0}


def table(r: dict[str, Any]) -> str:
    if set(r) >= {"burst"} and "echo_ms" not in r:
        s = r["burst"]
        return f"{s['jumps']} simultaneous Jumps: {s['reached_prompt']} reached the prompt, {s['failed']} failed"
    e, b, c, i, j, s = r["echo_ms"], r["bulk"], r["chatty"], r["idle"], r["jump_to_prompt_ms"], r["burst"]
    rows = [
        ("Echo latency p50 / p99 (ms), 200 keys into cat",
         f"{e['gateway_p50']:.2f} / {e['gateway_p99']:.2f}", f"{e['direct_p50']:.2f} / {e['direct_p99']:.2f}",
         f"added {e['added_p50']:.2f} / {e['added_p99']:.2f}", "added <= 0.5 / 5"),
        ("Bulk output, 20 MB base64 (s; MB/s)", f"{b['gateway_s']:.2f} s; {b['gateway_mb_s']:.1f} MB/s",
         f"{b['direct_s']:.2f} s; {b['direct_mb_s']:.1f} MB/s",
         f"{b['throughput_ratio'] * 100:.0f}% of direct; CPU console {b['console_cpu_s']:.2f} s + Jumpoint "
         f"{b['jumpoint_cpu_s']:.2f} s; bytes {b['gateway_bytes']} vs {b['direct_bytes']}", ">= 90%"),
        ("Jump to first prompt (ms, p50)", f"{j['gateway_p50']:.0f}", f"{j['direct_p50']:.0f}", "", "<= 250"),
        (f"{c['sessions']} sessions, 6 lines / 0.1 s (CPU % of one core)", f"{c['cpu_percent_of_core']:.1f}%", "",
         f"console {c['console_cpu_s']:.2f} s + Jumpoint {c['jumpoint_cpu_s']:.2f} s over {c['wall_s']:.1f} s",
         "<= 30%"),
        (f"{i['sessions']} idle sessions (RSS KiB per session)",
         f"console {i['console_kib_per_session']:.0f}, Jumpoint {i['jumpoint_kib_per_session']:.0f}", "", "",
         "<= 250 each"),
        (f"{s['jumps']} simultaneous Jumps", f"{s['reached_prompt']} reached the prompt, {s['failed']} failed", "",
         f"slowest {s['slowest_s']:.1f} s" if s["slowest_s"] else "", "0 hangs"),
    ]
    out = ["| Workload | Gateway | Direct asyncssh | Notes | Target |", "|---|---|---|---|---|"]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller workloads, for a smoke run")
    parser.add_argument("--only", choices=["burst", "echo"], help="run one workload only")
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
