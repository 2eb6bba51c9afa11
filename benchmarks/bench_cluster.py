"""Console scale-out benchmarks: tunnel reconnect after a console restart, Jump and echo latency through a second
console node, and how many sessions one Jumpoint holds before the Jump latency target is missed.

Everything is a real process: PostgreSQL (``tests/fixtures/postgres.py``), redis-server (``tests/fixtures/redis.py``),
OpenSSH sshd (``tests/fixtures/sshd.py``), console nodes as ``openjump serve`` with their own configuration files
(TLS, self-signed) and Jumpoints as ``jumpoint run``. This process plays the browsers over the session WebSocket
(``benchmarks/harness.py``); the sessions held open for the capacity sweep live in a child process of this script
(``--hold``), so their traffic does not delay the event loop that times the probe Jumps.

Two deployments run side by side on one PostgreSQL server and one sshd:

* **single**: one console process, no cluster (``cluster`` not configured), its own database and its own Jumpoint;
* **cluster**: nodes A and B sharing a database, a recordings directory and Redis; one Jumpoint whose tunnel lands on
  A. A rep on A is served directly; a rep on B is relayed to A through Redis.

Workloads:

1. Reconnect: SIGTERM node A, start it again, and time (from the restart command, and from the moment A accepts TCP
   connections again) until the Jumpoint is connected and admitted again and a Jump through A reaches the prompt.
   The Jumpoint runs with its default back-off (``reconnect_min_seconds`` 1, ``reconnect_max_seconds`` 60, full
   jitter).
2. Jump to prompt (the Jump API call to the shell prompt on the session socket) on single, cluster-A and cluster-B,
   interleaved; keystroke echo (letters into ``cat``) on the same three, plus direct asyncssh as the floor.
3. Capacity: N sessions held open on the cluster's Jumpoint through node A (idle at the prompt, or busy printing 6
   lines every 0.1 s), N growing until the p50 of the probe Jumps through A exceeds 250 ms or the cap.

Run as root (the sshd fixture creates a test user; PostgreSQL runs as ``postgres``)::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_cluster.py [--quick] [--only reconnect|latency|capacity]

Results go to benchmarks/results/cluster[-quick].json and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import aiohttp
import asyncssh

from benchmarks.harness import (
    ROOT,
    DirectTerm,
    Stack,
    Term,
    api_json,
    cpu_seconds,
    create_item,
    echo_latency,
    free_port,
    markdown_table,
    median,
    pct,
    rss_kib,
)
from console_web.db import repo
from console_web.db.api_tokens import create_api_token
from console_web.db.database import Database
from jumpoint.agent.registration import Registration, save_registration
from tests.fixtures.postgres import PostgresServer, start_postgres
from tests.fixtures.redis import RedisServer, start_redis
from tests.fixtures.sshd import SshServer, start_sshd

TARGET_MS = 250.0
GATEWAY_BUDGET_MS = 84.0
"""The gateway's share of the target: 250 ms less sshd's own password login to the prompt with nothing else
running (166 ms direct, benchmarks/results/ssh.json). A load-independent criterion: the probe Jump's p50 less the
direct login's p50 measured at the same moment."""
GIVE_UP_MS = 500.0  # a step whose probe p50 is past this ends the sweep whatever the floor
RECONNECT_MIN_S = 1.0  # the Jumpoint's defaults (jumpoint/agent/config.py, config/jumpoint.example.yaml)
RECONNECT_MAX_S = 60.0
BUSY_BYTES_S = 3900  # what BUSY_COMMAND prints a second in a pty (6 lines of 65 bytes, 9.8 times a second)
BUSY_COMMAND = (
    # 6 lines every 0.1 s as bench_ssh's chatty workload, but waiting with bash's own `read -t` on a pipe that never
    # has data instead of forking `sleep` ten times a second per session: the target shares the 2 cores here
    "exec 9<> <(:); while :; do for j in 1 2 3 4 5 6; do "
    'echo "line $j: the quick brown fox jumps over the lazy dog 0123456789"; done; read -t 0.1 -u 9; done\n'
)


# --- machine facts -------------------------------------------------------------------------------
def load() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded."""
    return [round(x, 2) for x in os.getloadavg()]


def _first_line(command: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=10, check=False)
    except OSError as exc:
        return f"unavailable: {exc}"
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr).strip() else ""


def machine(pg: PostgresServer) -> dict[str, Any]:
    """CPU counts, memory, versions of what runs, the commit, and the limits that bound the capacity sweep."""
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line)
    commit = _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain"], capture_output=True, text=True).stdout
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": next(
            (
                ln.split(":", 1)[1].strip()
                for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if "model name" in ln
            ),
            "",
        ),
        "mem_total": meminfo.get("MemTotal", "").strip(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "aiohttp": version("aiohttp"),
        "asyncssh": version("asyncssh"),
        "redis_py": version("redis"),
        "asyncpg": version("asyncpg"),
        "openssh": _first_line(["ssh", "-V"]),
        "postgresql": _first_line([str(pg.bin_dir / "postgres"), "--version"]),
        "redis_server": _first_line(["redis-server", "--version"]),
        "commit": commit + (" (work tree has uncommitted changes of others)" if dirty.strip() else ""),
        "limits": {
            "open_files": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
            "pty_max": int(Path("/proc/sys/kernel/pty/max").read_text()),
            "pid_max": int(Path("/proc/sys/kernel/pid_max").read_text()),
            "sshd_MaxStartups": SSHD_EXTRA["MaxStartups"],
            "sshd_MaxSessions": "20 (per connection; every Jump is its own connection)",
            "console_max_sessions_per_jumpoint": 2000,
            "jumpoint_max_sessions": 2000,
        },
    }


SSHD_EXTRA = {"MaxStartups": "200"}  # the fixture's own value, named here so the JSON says it


# --- processes -----------------------------------------------------------------------------------
@dataclass
class ConsoleProcess:
    """One ``openjump serve`` process with its own configuration file; restartable in place."""

    name: str
    work: Path
    port: int
    config_text: str
    proc: subprocess.Popen[bytes] | None = None
    fingerprint: str = ""

    @property
    def url(self) -> str:
        """Where the node listens."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """The process's output (appended on each start)."""
        return self.work / f"{self.name}.log"

    def launch(self) -> None:
        """Start the process (returns at once)."""
        cfg = self.work / f"{self.name}.yaml"
        cfg.write_text(self.config_text)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "console_web.cli", "serve", "--config", str(cfg)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=os.environ | {"PYTHONUNBUFFERED": "1"},
                cwd=ROOT,
            )

    async def wait_fingerprint(self, timeout: float = 60) -> str:
        """Wait for the start-up lines; the certificate fingerprint the console printed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"console {self.name} exited:\n{self.log_path.read_text()[-3000:]}")
            for line in self.log_path.read_text(errors="replace").splitlines():
                if "fingerprint:" in line:
                    self.fingerprint = line.split("fingerprint:")[1].strip()
                    return self.fingerprint
            await asyncio.sleep(0.05)
        raise RuntimeError(f"console {self.name} did not start in {timeout} s")

    def terminate(self, timeout: float = 30) -> None:
        """SIGTERM and wait (SIGKILL after ``timeout``)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def console_config(work: Path, port: int, db_url: str, *, node: str | None, redis_url: str, shared: Path) -> str:
    """The YAML of one console (JSON strings are YAML strings, so odd characters in the URL are safe)."""
    text = (
        f"state_dir: {json.dumps(str(work))}\n"
        f"listen: {{host: 127.0.0.1, port: {port}, tls: {{mode: self_signed}}}}\n"
        "log_level: warning\n"
        f"database: {{url: {json.dumps(db_url)}, pool_size: 20, max_overflow: 20}}\n"
        "sessions: {max_sessions_per_jumpoint: 2000}\n"
        f"recordings: {{directory: {json.dumps(str(shared))}}}\n"
    )
    if node is not None:
        text += f"cluster: {{node_id: {node}, redis_url: {json.dumps(redis_url)}}}\n"
    return text


@dataclass
class Deployment:
    """Console process(es), a Jumpoint connected to the first, and one :class:`Stack` per console (for the harness's
    clients: same token, item and Jumpoint, different URL)."""

    label: str
    consoles: list[ConsoleProcess]
    jumpoint: subprocess.Popen[bytes]
    jumpoint_dir: Path
    token: str
    jumpoint_id: int
    stacks: list[Stack] = field(default_factory=list)

    def stack(self, index: int = 0) -> Stack:
        """The harness stack of console ``index`` (its ``console`` process kept current across restarts)."""
        s = self.stacks[index]
        proc = self.consoles[index].proc
        assert proc is not None
        s.console = proc
        return s

    def stop(self) -> None:
        """Stop the Jumpoint, then the consoles."""
        self.jumpoint.terminate()
        try:
            self.jumpoint.wait(15)
        except subprocess.TimeoutExpired:
            self.jumpoint.kill()
        for c in self.consoles:
            c.terminate()


async def seed(db_url: str) -> tuple[str, int, str]:
    """Admin ``bench`` with an API token and the Jumpoint ``LAN`` in a migrated database: token, id, Jumpoint token."""
    db = await Database.open(db_url)
    try:
        await db.migrate()
        uid = await repo.create_user(db, "bench", "bench-password-1", is_admin=True)
        token = (await create_api_token(db, uid, "bench", expires_at=None)).token
        jp_id, jp_token = await repo.ensure_builtin_jumpoint(db, "LAN")
    finally:
        await db.close()
    return token, jp_id, jp_token


async def wait_admitted(http: aiohttp.ClientSession, stack: Stack, timeout: float = 60) -> None:
    """Until the stack's console reports a ready (admitted) member of the Jumpoint."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError, RuntimeError, OSError):
            data = await api_json(http, stack, "GET", "/api/v1/jumpoints", expect=200)
            if any(j.get("members_connected", 0) > 0 for j in data["items"]):
                return
        await asyncio.sleep(0.02)
    raise RuntimeError(f"the Jumpoint did not connect to {stack.url} in {timeout} s")


async def start_deployment(
    work: Path, label: str, db_url: str, ssh: SshServer, *, nodes: Sequence[str | None], redis_url: str, shared: Path
) -> Deployment:
    """Start the consoles of ``nodes`` (None: not a cluster) on ``db_url`` and a Jumpoint connected to the first;
    an SSH Jump Item to ``ssh`` whose host key is trusted."""
    work.mkdir(parents=True)
    token, jp_id, jp_token = await seed(db_url)
    consoles = []
    for n, node in enumerate(nodes):
        name = f"console-{node or 'single'}"
        c = ConsoleProcess(name, work, free_port(), "")
        (work / name).mkdir()
        c.config_text = console_config(work / name, c.port, db_url, node=node, redis_url=redis_url, shared=shared)
        c.launch()
        await c.wait_fingerprint()
        consoles.append(c)
        del n
    first = consoles[0]
    jp_dir = work / "jumpoint"
    save_registration(
        jp_dir,
        Registration(
            console_url=first.url, token=jp_token, jumpoint_id=jp_id, name="LAN", fingerprint=first.fingerprint
        ),
    )
    jcfg = work / "jumpoint.yaml"
    jcfg.write_text(
        f"state_dir: {json.dumps(str(jp_dir))}\nlogging: {{level: info}}\nlimits: {{max_sessions: 2000}}\n"
        f"tunnel: {{reconnect_min_seconds: {RECONNECT_MIN_S}, reconnect_max_seconds: {RECONNECT_MAX_S}}}\n"
    )
    cli = [sys.executable, "-m", "jumpoint.agent.cli", "--config", str(jcfg)]
    subprocess.run(
        [*cli, "credentials", "add", "bench", "--username", ssh.username],
        input=(ssh.password + "\n").encode(),
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    jp = subprocess.Popen(
        [*cli, "run"],
        stdout=(work / "jumpoint.log").open("ab"),
        stderr=subprocess.STDOUT,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
        cwd=ROOT,
    )
    dep = Deployment(label, consoles, jp, jp_dir, token, jp_id)
    assert all(c.proc is not None for c in consoles)
    dep.stacks = [Stack(c.url, c.proc, jp, token, jumpoint_id=jp_id, work=work) for c in consoles if c.proc]
    conn = aiohttp.TCPConnector(limit=0, ssl=False)
    async with aiohttp.ClientSession(connector=conn) as http:
        await wait_admitted(http, dep.stack(0))
        item = await create_item(
            http, dep.stack(0), protocol="ssh", hostname=ssh.host, port=ssh.port, username=ssh.username,
            credential_ref="bench",
        )  # fmt: skip
        for s in dep.stacks:
            s.item_id = item
        for s in dep.stacks[1:]:
            await wait_admitted(http, s)
        term = await Term.jump(http, dep.stack(0))  # trust the host key once
        await term.until_prompt(host_key="save")
        await term.close()
    return dep


# --- measurements --------------------------------------------------------------------------------
SPURIOUS = {"jumpoint_unavailable": 0}
"""Jump calls answered 503 ``jumpoint_unavailable`` while the Jumpoint was connected, and retried (see the report:
a race in ``ClusterNode.broadcast``)."""


async def start_jump(http: aiohttp.ClientSession, stack: Stack, counter: dict[str, int] = SPURIOUS) -> str:
    """The Jump API call (retried up to 3 times on a spurious ``jumpoint_unavailable``); the session id."""
    for attempt in range(4):
        try:
            body = await api_json(
                http, stack, "POST", f"/api/v1/jump-items/{stack.item_id}/jump", {"cols": 120, "rows": 40}, expect=201
            )
            return str(body["session_id"])
        except RuntimeError as exc:
            if "jumpoint_unavailable" not in str(exc) or attempt == 3:
                raise
            counter["jumpoint_unavailable"] += 1
    raise AssertionError("unreachable")


async def timed_jump(
    http: aiohttp.ClientSession, stack: Stack, timeout: float = 60, retry: bool = True
) -> tuple[float, float]:
    """One Jump: (ms for the Jump API call, ms from the call to the shell prompt on the session socket). A spurious
    503 is retried (``retry``) and the retry counted in :data:`SPURIOUS`; the time includes it."""
    t0 = time.perf_counter()
    if retry:
        session_id = await start_jump(http, stack)
    else:
        body = await api_json(
            http, stack, "POST", f"/api/v1/jump-items/{stack.item_id}/jump", {"cols": 120, "rows": 40}, expect=201
        )
        session_id = str(body["session_id"])
    t1 = time.perf_counter()
    term = await Term.attach(http, stack, session_id)
    try:
        await term.until_prompt(timeout=timeout)
        t2 = time.perf_counter()
    finally:
        await term.close()
    return (t1 - t0) * 1000, (t2 - t0) * 1000


async def direct_login_ms(ssh: SshServer) -> float:
    """The floor of a Jump: ms for asyncssh to log in to sshd with the password and see the shell prompt."""
    t0 = time.perf_counter()
    term = await DirectTerm.open(ssh)
    try:
        await term.until_prompt()
        return (time.perf_counter() - t0) * 1000
    finally:
        await term.close()


async def until_tcp(port: int, timeout: float = 120) -> float:
    """Poll a TCP connect to 127.0.0.1:``port`` every 5 ms; the ``time.monotonic()`` of the first that succeeds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1)
        except (OSError, TimeoutError):
            await asyncio.sleep(0.005)
            continue
        at = time.monotonic()
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return at
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


def reconnect_delays(log: Path, since_bytes: int) -> list[float]:
    """The back-off delays the Jumpoint chose (its ``reconnecting in X s`` lines) after byte ``since_bytes``."""
    with log.open("rb") as fh:
        fh.seek(since_bytes)
        text = fh.read().decode(errors="replace")
    out = []
    for line in text.splitlines():
        if "reconnecting in" in line:
            with contextlib.suppress(ValueError, IndexError):
                out.append(float(line.split("reconnecting in")[1].split()[0]))
    return out


async def reconnect(dep: Deployment, reps: int) -> dict[str, Any]:
    """Restart node A ``reps`` times; how long until the Jumpoint is back and a Jump through A reaches the prompt."""
    a = dep.consoles[0]
    jp_log = dep.stack(0).work / "jumpoint.log"
    runs: list[dict[str, Any]] = []
    conn = aiohttp.TCPConnector(limit=0, ssl=False)
    async with aiohttp.ClientSession(connector=conn) as http:
        for _ in range(reps):
            await asyncio.sleep(2)
            load_before = load()
            log_mark = jp_log.stat().st_size
            t_cmd = time.monotonic()
            assert a.proc is not None
            a.proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(a.proc.wait, 60)
            t_exit = time.monotonic()
            a.launch()
            t_listen = await until_tcp(a.port)
            await wait_admitted(http, dep.stack(0), timeout=180)
            t_admitted = time.monotonic()
            attempts, errors = 0, []
            while True:
                attempts += 1
                try:
                    _, jump_ms = await timed_jump(http, dep.stack(0), retry=False)
                    break
                except (RuntimeError, aiohttp.ClientError) as exc:
                    errors.append(str(exc)[:200])
                    if attempts > 200:
                        raise
                    await asyncio.sleep(0.02)
            t_ok = time.monotonic()
            runs.append(
                {
                    "stop_s": t_exit - t_cmd,
                    "listening_after_restart_s": t_listen - t_cmd,
                    "admitted_after_listening_s": t_admitted - t_listen,
                    "prompt_after_listening_s": t_ok - t_listen,
                    "prompt_after_restart_s": t_ok - t_cmd,
                    "jump_ms": jump_ms,
                    "jump_attempts": attempts,
                    "failed_attempts": errors[:3],
                    "backoff_delays_s": reconnect_delays(jp_log, log_mark),
                    "load": load_before,
                }
            )
            print(f"  reconnect: {runs[-1]}", file=sys.stderr)
    keys = ("stop_s", "listening_after_restart_s", "admitted_after_listening_s", "prompt_after_listening_s",
            "prompt_after_restart_s")  # fmt: skip
    return {
        "reps": reps,
        "jumpoint_backoff": {
            "reconnect_min_seconds": RECONNECT_MIN_S,
            "reconnect_max_seconds": RECONNECT_MAX_S,
            "rule": "attempt k (1 after a lost tunnel, +1 per failure) waits uniform(0, min(max, min * 2**k)) s",
        },
        "median": {k: median(r[k] for r in runs) for k in keys},
        "max": {k: max(r[k] for r in runs) for k in keys},
        "runs": runs,
    }


async def latency(single: Deployment, cluster: Deployment, ssh: SshServer, rounds: int, keys: int) -> dict[str, Any]:
    """Jump to prompt and keystroke echo on the single console, on cluster node A (direct) and node B (relayed)."""
    paths: dict[str, Stack] = {"single": single.stack(0), "cluster_a": cluster.stack(0), "cluster_b": cluster.stack(1)}
    names = list(paths)
    api: dict[str, list[float]] = {n: [] for n in names}
    total: dict[str, list[float]] = {n: [] for n in [*names, "direct"]}
    loads: list[list[float]] = []
    conn = aiohttp.TCPConnector(limit=0, ssl=False)
    async with aiohttp.ClientSession(connector=conn) as http:
        for n in names:  # warm each path once (connection pools, first-use imports)
            await timed_jump(http, paths[n])
        for r in range(rounds):
            order = names[r % 3 :] + names[: r % 3]
            for n in order if r % 2 == 0 else reversed(order):
                a_ms, t_ms = await timed_jump(http, paths[n])
                api[n].append(a_ms)
                total[n].append(t_ms)
            total["direct"].append(await direct_login_ms(ssh))
            if r % 10 == 0:
                loads.append(load())
        jumps = {
            n: {
                "p50_ms": pct(total[n], 50),
                "p90_ms": pct(total[n], 90),
                "max_ms": max(total[n]),
                "api_p50_ms": pct(api[n], 50),
                "socket_to_prompt_p50_ms": pct([t - a for t, a in zip(total[n], api[n], strict=True)], 50),
                "samples": [round(x, 1) for x in total[n]],
            }
            for n in names
        }
        jumps["direct"] = {
            "p50_ms": pct(total["direct"], 50),
            "p90_ms": pct(total["direct"], 90),
            "max_ms": max(total["direct"]),
            "samples": [round(x, 1) for x in total["direct"]],
        }
        loads.append(load())

        echo_samples: dict[str, list[float]] = {n: [] for n in [*names, "direct"]}
        echo_loads = []
        for r in range(2):
            order2 = [*names, "direct"]
            for n in order2 if r == 0 else reversed(order2):
                term: Term | DirectTerm
                if n == "direct":
                    term = await DirectTerm.open(ssh)
                else:
                    term = await Term.attach(http, paths[n], await start_jump(http, paths[n]))
                await term.until_prompt()
                echo_samples[n] += await echo_latency(term, keys)
                await term.close()
            echo_loads.append(load())
    echo = {n: {"p50_ms": pct(v, 50), "p99_ms": pct(v, 99), "samples": len(v)} for n, v in echo_samples.items()}
    return {"rounds": rounds, "jump": jumps, "jump_loads": loads, "echo": echo, "echo_keys_per_run": keys,
            "echo_runs": 2, "echo_loads": echo_loads}  # fmt: skip


# --- the session holder (a child process) --------------------------------------------------------
class Holder:
    """The parent's handle on ``bench_cluster.py --hold``: sessions held open in another process."""

    def __init__(self, stack: Stack, mode: str) -> None:
        hold = {"url": stack.url, "token": stack.token, "item": stack.item_id}
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--hold", mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=os.environ | {"PYTHONPATH": str(ROOT), "OJ_HOLD": json.dumps(hold)},
            cwd=ROOT,
        )

    async def ask(self, line: str, timeout: float = 900) -> dict[str, Any]:
        """Send one command line; its JSON answer."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()
        answer = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), timeout)
        if not answer:
            raise RuntimeError(f"the holder exited ({self.proc.poll()}) on {line!r}")
        result: dict[str, Any] = json.loads(answer)
        return result

    def stop(self) -> None:
        """End the holder (it ends its sessions on ``close``)."""
        with contextlib.suppress(BrokenPipeError, OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def hold_main(mode: str) -> None:
    """The holder: ``open K`` opens K more sessions (busy ones start printing), ``stats`` reports bytes received,
    ``close`` ends them all; one JSON line answers each command."""
    cfg = json.loads(os.environ["OJ_HOLD"])
    stack = Stack(cfg["url"], None, None, cfg["token"], item_id=int(cfg["item"]))  # type: ignore[arg-type]
    terms: list[Term] = []
    readers: list[asyncio.Task[None]] = []
    per_term: dict[int, int] = {}
    last_seen: dict[int, int] = {}

    async def drain(term: Term) -> None:
        key = id(term)
        per_term[key] = 0
        with contextlib.suppress(Exception):
            while True:
                per_term[key] += len(await term.recv_some())

    spurious = {"jumpoint_unavailable": 0}

    async def open_one(http: aiohttp.ClientSession) -> None:
        term = await Term.attach(http, stack, await start_jump(http, stack, spurious))
        await term.until_prompt(timeout=120)
        terms.append(term)
        if mode == "busy":
            await term.send(BUSY_COMMAND.encode())
        readers.append(asyncio.create_task(drain(term)))

    sem = asyncio.Semaphore(8)  # Jumps opened at once

    async def guarded(http: aiohttp.ClientSession) -> None:
        async with sem:
            await open_one(http)

    loop = asyncio.get_running_loop()
    conn = aiohttp.TCPConnector(limit=0, ssl=False)
    async with aiohttp.ClientSession(connector=conn) as http:
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
            if not line or line == "close":
                break
            if line == "stats":
                active = sum(1 for k, v in per_term.items() if v > last_seen.get(k, 0))
                last_seen.update(per_term)
                reply: dict[str, Any] = {"bytes": sum(per_term.values()), "active": active, "at": time.monotonic()}
            else:
                count = int(line.split()[1])
                t0 = time.monotonic()
                outcomes = await asyncio.gather(*(guarded(http) for _ in range(count)), return_exceptions=True)
                errors = [repr(o)[:300] for o in outcomes if isinstance(o, BaseException)]
                reply = {
                    "open": len(terms),
                    "failed": len(errors),
                    "errors": errors[:5],
                    "s": time.monotonic() - t0,
                    "spurious_unavailable": spurious["jumpoint_unavailable"],
                }
            print(json.dumps(reply), flush=True)
        for t in readers:
            t.cancel()
        for term in terms:
            with contextlib.suppress(Exception):
                await term.close()
        print(json.dumps({"closed": len(terms)}), flush=True)


# --- capacity ------------------------------------------------------------------------------------
def fd_count(pid: int) -> int:
    """Open file descriptors of a process."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def sshd_processes(ssh: SshServer) -> int:
    """Processes under the test sshd (its connections and their shells)."""
    count, todo = 0, [ssh.pid]
    while todo:
        parent = todo.pop()
        path = Path(f"/proc/{parent}/task/{parent}/children")
        found = [int(p) for p in path.read_text().split()] if path.exists() else []
        count += len(found)
        todo += found
    return count


async def capacity(
    dep: Deployment, ssh: SshServer, mode: str, steps: Sequence[int], probes: int, deadline: float
) -> dict[str, Any]:
    """Hold ``steps`` sessions in turn (``mode`` idle or busy) through node A and time ``probes`` new Jumps at each."""
    stack = dep.stack(0)
    a_pid, jp_pid = stack.console.pid, dep.jumpoint.pid
    b_pid = dep.consoles[1].proc.pid if len(dep.consoles) > 1 and dep.consoles[1].proc else None
    rows: list[dict[str, Any]] = []
    ended_by = f"cap of {steps[-1]} sessions reached"
    holder = Holder(stack, mode)
    conn = aiohttp.TCPConnector(limit=0, ssl=False)
    try:
        async with aiohttp.ClientSession(connector=conn) as http:
            held = 0
            for n in steps:
                if time.monotonic() > deadline:
                    ended_by = f"time budget (next step {n} not run)"
                    break
                opened = await holder.ask(f"open {n - held}")
                held = opened["open"]
                if opened["failed"]:
                    ended_by = f"{opened['failed']} Jumps failed opening {n} sessions: {opened['errors'][:2]}"
                    rows.append({"sessions": held, "open_failed": opened["failed"], "errors": opened["errors"]})
                    break
                await asyncio.sleep(2)
                s0 = await holder.ask("stats")
                c0 = {p: cpu_seconds(p) for p in (a_pid, jp_pid) if p}
                t0 = time.monotonic()
                await asyncio.sleep(3)
                s1 = await holder.ask("stats")
                window = time.monotonic() - t0
                cpu = {p: (cpu_seconds(p) - c0[p]) / window * 100 for p in c0}
                ms: list[float] = []
                floor: list[float] = []
                errors: list[str] = []
                for k in range(probes):
                    try:
                        ms.append((await timed_jump(http, stack))[1])
                    except (RuntimeError, aiohttp.ClientError) as exc:
                        errors.append(str(exc)[:200])
                    if k % 2 == 0:
                        with contextlib.suppress(OSError, asyncssh.Error):
                            floor.append(await direct_login_ms(ssh))
                row = {
                    "sessions": held,
                    "probe_p50_ms": pct(ms, 50) if ms else None,
                    "probe_p90_ms": pct(ms, 90) if ms else None,
                    "direct_login_p50_ms": pct(floor, 50) if floor else None,
                    "probe_failed": len(errors),
                    "probe_errors": errors[:3],
                    "open_s": round(opened["s"], 1),
                    "output_kb_s": round((s1["bytes"] - s0["bytes"]) / (s1["at"] - s0["at"]) / 1000, 1),
                    "sessions_with_output": s1["active"],
                    "expected_output_kb_s": round(held * BUSY_BYTES_S / 1000, 1) if mode == "busy" else 0,
                    "console_a_cpu_pct": round(cpu[a_pid], 1),
                    "jumpoint_cpu_pct": round(cpu[jp_pid], 1),
                    "console_a_rss_mib": round(rss_kib(a_pid) / 1024, 1),
                    "console_b_rss_mib": round(rss_kib(b_pid) / 1024, 1) if b_pid else None,
                    "jumpoint_rss_mib": round(rss_kib(jp_pid) / 1024, 1),
                    "console_a_fds": fd_count(a_pid),
                    "jumpoint_fds": fd_count(jp_pid),
                    "sshd_processes": sshd_processes(ssh),
                    "load": load(),
                }
                row["spurious_unavailable_opening"] = opened["spurious_unavailable"]
                rows.append(row)
                print(f"  capacity {mode}: {row}", file=sys.stderr)
                if errors:
                    ended_by = f"probe Jumps failed at {held} sessions: {errors[:2]}"
                    break
                p50, floor_p50 = row["probe_p50_ms"], row["direct_login_p50_ms"]
                row["added_p50_ms"] = p50 - floor_p50 if p50 is not None and floor_p50 is not None else None
                if p50 is not None and p50 > GIVE_UP_MS:
                    ended_by = f"latency: probe p50 {p50:.0f} ms > {GIVE_UP_MS:.0f} ms"
                    break
                added = row["added_p50_ms"]
                if p50 is not None and p50 > TARGET_MS and added is not None and added > GATEWAY_BUDGET_MS:
                    ended_by = (
                        f"latency: probe p50 {p50:.0f} ms > {TARGET_MS:.0f} ms and {added:.0f} ms over the direct "
                        f"login > {GATEWAY_BUDGET_MS:.0f} ms"
                    )
                    break
            await holder.ask("close", timeout=600)
    finally:
        holder.stop()
    return {
        "mode": mode,
        "steps": list(steps),
        "probes_per_step": probes,
        "target_ms": TARGET_MS,
        "gateway_budget_ms": GATEWAY_BUDGET_MS,
        "largest_n_meeting_target": largest(rows, lambda r: r["probe_p50_ms"] <= TARGET_MS),
        "largest_n_within_gateway_budget": largest(rows, lambda r: r["added_p50_ms"] <= GATEWAY_BUDGET_MS),
        "ended_by": ended_by,
        "workload": BUSY_COMMAND.strip() if mode == "busy" else "shell at its prompt",
        "rows": rows,
    }


def largest(rows: Sequence[dict[str, Any]], ok: Callable[[dict[str, Any]], bool]) -> int:
    """The largest N of the steps from the first on that all meet ``ok`` (0: the first step missed)."""
    best = 0
    for row in rows:
        if row.get("probe_p50_ms") is None or row.get("added_p50_ms") is None or not ok(row):
            break
        best = row["sessions"]
    return best


async def settle(pid: int, ssh: SshServer, timeout: float = 120) -> None:
    """Wait until the test sshd has no sessions left (the previous sweep's sessions have ended)."""
    deadline = time.monotonic() + timeout
    while sshd_processes(ssh) > 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    del pid
    await asyncio.sleep(2)


# --- the run -------------------------------------------------------------------------------------
@asynccontextmanager
async def infrastructure(work: Path) -> AsyncIterator[tuple[PostgresServer, RedisServer, SshServer]]:
    """PostgreSQL, redis-server and sshd, stopped after the block."""
    pg = start_postgres()
    try:
        redis = start_redis()
        try:
            ssh = start_sshd(work / "sshd", SSHD_EXTRA)
            try:
                yield pg, redis, ssh
            finally:
                ssh.stop()
        finally:
            redis.stop()
            shutil.rmtree(redis.workdir, ignore_errors=True)
    finally:
        pg.stop()
        shutil.rmtree(pg.workdir, ignore_errors=True)


def dump(work: Path) -> None:
    """Tails of every log under ``work`` to stderr."""
    for path in sorted(work.rglob("*.log")):
        print(f"--- {path.name} ---\n{path.read_text(errors='replace')[-2500:]}", file=sys.stderr)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every workload (or ``--only`` one) on fresh infrastructure."""
    quick = args.quick
    t_start = time.monotonic()
    results: dict[str, Any] = {"quick": quick, "when": time.strftime("%Y-%m-%d %H:%M:%S"), "load_at_start": load()}
    with contextlib.ExitStack() as cleanup:
        if args.workdir:
            work = Path(args.workdir)
            work.mkdir(parents=True)
        else:
            work = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="oj-bench-cluster-")))
        os.chmod(work, 0o755)  # noqa: S103 - the sshd test user reads authorized_keys below it
        async with infrastructure(work) as (pg, redis, ssh):
            results["machine"] = machine(pg)
            shared = work / "shared-recordings"
            shared.mkdir()
            deps: list[Deployment] = []
            try:
                single = await start_deployment(
                    work / "single", "single", pg.create_database(migrated=True).url, ssh,
                    nodes=[None], redis_url=redis.url, shared=work / "single-recordings",
                )  # fmt: skip
                deps.append(single)
                cluster = await start_deployment(
                    work / "cluster", "cluster", pg.create_database(migrated=True).url, ssh,
                    nodes=["a", "b"], redis_url=redis.url, shared=shared,
                )  # fmt: skip
                deps.append(cluster)
                results["setup_s"] = round(time.monotonic() - t_start, 1)
                if args.only in (None, "latency"):
                    print("latency ...", file=sys.stderr)
                    results["latency"] = await latency(
                        single, cluster, ssh, rounds=10 if quick else 30, keys=50 if quick else 200
                    )
                if args.only in (None, "reconnect"):
                    print("reconnect ...", file=sys.stderr)
                    results["reconnect"] = await reconnect(cluster, reps=2 if quick else 5)
                single.stop()  # only the cluster's Jumpoint from here on
                if args.only in (None, "capacity"):
                    budget = (150 if quick else 840) - (time.monotonic() - t_start)
                    steps = (10, 25, 50) if quick else (25, 50, 100, 200, 400, 800)
                    probes = 5 if quick else 10
                    results["capacity"] = {}
                    for k, mode in enumerate(("idle", "busy")):
                        print(f"capacity {mode} ...", file=sys.stderr)
                        await settle(cluster.jumpoint.pid, ssh)
                        left = t_start + (150 if quick else 840) - time.monotonic()
                        deadline = time.monotonic() + (left if k else max(left * 0.55, budget * 0.4))
                        results["capacity"][mode] = await capacity(cluster, ssh, mode, steps, probes, deadline)
            except BaseException:
                dump(work)
                raise
            finally:
                for d in reversed(deps):
                    d.stop()
    results["spurious_jumpoint_unavailable_retried"] = SPURIOUS["jumpoint_unavailable"]
    results["total_s"] = round(time.monotonic() - t_start, 1)
    results["load_at_end"] = load()
    return results


# --- report --------------------------------------------------------------------------------------
def table(r: dict[str, Any]) -> str:
    """The figures as a Markdown table."""
    rows: list[tuple[str, str, str]] = []
    if "reconnect" in r:
        rc = r["reconnect"]
        med, mx = rc["median"], rc["max"]
        loads = ", ".join(f"{run['load'][0]:.1f}" for run in rc["runs"])
        rows += [
            (
                f"Reconnect after SIGTERM + restart of node A ({rc['reps']} runs; median / max)",
                f"prompt {med['prompt_after_listening_s']:.2f} / {mx['prompt_after_listening_s']:.2f} s after A "
                f"listens again; {med['prompt_after_restart_s']:.2f} / {mx['prompt_after_restart_s']:.2f} s after "
                "the restart command",
                f"stop {med['stop_s']:.2f} s, listening {med['listening_after_restart_s']:.2f} s after the command, "
                f"admitted {med['admitted_after_listening_s']:.2f} s after listening; back-off "
                f"{rc['jumpoint_backoff']['reconnect_min_seconds']:g}/{rc['jumpoint_backoff']['reconnect_max_seconds']:g}"
                f" s; load {loads}",
            )
        ]
    if "latency" in r:
        lat = r["latency"]
        j = lat["jump"]
        label = {"single": "1 node (no cluster)", "cluster_a": "2 nodes, rep on A", "cluster_b": "2 nodes, rep on B"}
        rows.append(
            (
                f"Floor: asyncssh password login to prompt, no gateway ({lat['rounds']}, interleaved)",
                f"p50 {j['direct']['p50_ms']:.0f} ms, p90 {j['direct']['p90_ms']:.0f} ms",
                "sshd's own login (PAM) is most of every Jump",
            )
        )
        for n in ("single", "cluster_a", "cluster_b"):
            rows.append(
                (
                    f"Jump to prompt, {label[n]} ({lat['rounds']} Jumps, interleaved)",
                    f"p50 {j[n]['p50_ms']:.0f} ms, p90 {j[n]['p90_ms']:.0f} ms",
                    f"API call p50 {j[n]['api_p50_ms']:.0f} ms + socket to prompt "
                    f"{j[n]['socket_to_prompt_p50_ms']:.0f} ms; load {lat['jump_loads'][0][0]:.1f}-"
                    f"{lat['jump_loads'][-1][0]:.1f}",
                )
            )
        e = lat["echo"]
        label["direct"] = "direct asyncssh (floor)"
        for n in ("direct", "single", "cluster_a", "cluster_b"):
            rows.append(
                (
                    f"Echo, {label[n]} ({e[n]['samples']} keys into cat)",
                    f"p50 {e[n]['p50_ms']:.2f} ms, p99 {e[n]['p99_ms']:.2f} ms",
                    f"added over direct p50 {e[n]['p50_ms'] - e['direct']['p50_ms']:.2f} ms"
                    f"; load {lat['echo_loads'][-1][0]:.1f}"
                    if n != "direct"
                    else "",
                )
            )
    for mode, c in r.get("capacity", {}).items():
        steps = "; ".join(
            f"{row['sessions']}: {row['probe_p50_ms']:.0f}/{row['probe_p90_ms']:.0f} ms (floor "
            f"{row['direct_login_p50_ms'] or 0:.0f} ms, load {row['load'][0]:.1f}, "
            f"A {row['console_a_cpu_pct']:.0f}% + JP {row['jumpoint_cpu_pct']:.0f}% CPU, JP "
            f"{row['jumpoint_rss_mib']:.0f} MiB)"
            for row in c["rows"]
            if row.get("probe_p50_ms") is not None
        )
        rows.append(
            (
                f"Sessions per Jumpoint, {mode} (p50/p90 of {c['probes_per_step']} new Jumps at N held)",
                f"largest N with p50 <= {TARGET_MS:.0f} ms: {c['largest_n_meeting_target']}; with p50 less the "
                f"direct login <= {GATEWAY_BUDGET_MS:.0f} ms: {c['largest_n_within_gateway_budget']}",
                f"{steps}; ended by: {c['ended_by']}",
            )
        )
    return markdown_table(("Workload", "Result", "Detail"), rows)


def main() -> None:
    """Parse arguments, run, write the JSON, print the table (or serve as the session holder with ``--hold``)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and smaller sweeps (under ~3 min)")
    parser.add_argument("--only", choices=["reconnect", "latency", "capacity"], help="run one workload only")
    parser.add_argument("--out", metavar="FILE", help="results file (default benchmarks/results/cluster*.json)")
    parser.add_argument("--workdir", metavar="DIR", help="keep configurations and logs in DIR (a new directory)")
    parser.add_argument("--hold", choices=["idle", "busy"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.hold:
        asyncio.run(hold_main(args.hold))
        return
    results = asyncio.run(run(args))
    name = "cluster-quick.json" if args.quick else "cluster.json"
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / name
    if args.only and out.exists():  # one workload re-measured: keep the others' figures (and say when each ran)
        before = json.loads(out.read_text())
        before.setdefault("runs", {"earlier": {k: before.get(k) for k in ("when", "load_at_start", "total_s")}})
        before["runs"][args.only] = {k: results.get(k) for k in ("when", "load_at_start", "total_s")}
        results = before | {k: v for k, v in results.items() if k not in ("when", "load_at_start", "total_s", "runs")}
    out.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
