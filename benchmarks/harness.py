"""Shared benchmark infrastructure: a real console + Jumpoint stack, browser-like session sockets, /proc probes.

Protocol-neutral: nothing here knows about SSH except :class:`DirectTerm` (the asyncssh floor that several
benchmarks compare against; other floors subclass :class:`DirectClient`). A benchmark script typically does::

    with tempfile.TemporaryDirectory() as tmp:
        stack = await start_stack(Path(tmp), [Credential("bench", "user", "password")])
        try:
            async with aiohttp.ClientSession() as http:
                item = await create_item(http, stack, protocol="telnet", hostname=..., port=..., credential_ref="bench")
                term = await Term.jump(http, stack, item)
                await term.until_prompt()
                ...
        finally:
            stop_stack(stack)

Public names (other benchmark scripts import them; keep them stable): ROOT, CLK, PROMPT_RE, cpu_seconds, cpu_split,
cpu_precise, rss_kib, free_port, pct, median, Credential, Stack, start_stack, stop_stack, dump_logs, headers, api_json,
create_item, Term, LoginServer, DirectClient, DirectTerm, echo_latency, start_cat, type_keys, echo_stats,
jump_to_prompt_ms, echo_both, GatewayBulk, bulk_via_gateway, bulk_direct, bulk_pairs, start_item_stack,
create_server_item, running_stack, markdown_table, isolate_target.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

import aiohttp
import asyncssh

from console_web.db import repo
from console_web.db.api_tokens import create_api_token
from console_web.db.database import Database
from jumpoint.agent.registration import Registration, save_registration
from protocols.ssh.adapter import PREFERRED_ENCRYPTION

ROOT = Path(__file__).resolve().parents[1]
PROMPT_RE = re.compile(rb"[$#] $")
CLK = os.sysconf("SC_CLK_TCK")


# --- /proc probes and statistics ------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def cpu_split(pid: int) -> tuple[float, float]:
    """User and system CPU of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK, int(fields[12]) / CLK


def cpu_precise(pid: int) -> float:
    """CPU time of a process's live threads so far, to the nanosecond (the scheduler's own count; ``cpu_seconds``
    counts in 10 ms ticks, too coarse for differences of a few tens of ms). A thread that exits takes its time
    with it: compare deltas only over spans where the process keeps its threads (the console's and the Jumpoint's
    pools do)."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += _thread_cpu(task)
        except (FileNotFoundError, ProcessLookupError):
            pass  # the thread exited meanwhile
    return total


def cpu_main_thread(pid: int) -> float:
    """CPU time of a process's main thread (its event loop's, in the console and the Jumpoint), to the nanosecond."""
    return _thread_cpu(Path(f"/proc/{pid}/task/{pid}"))


def _thread_cpu(task: Path) -> float:
    """Seconds on the CPU of one thread (``/proc/PID/task/TID``), from the scheduler's nanosecond count."""
    return int((task / "schedstat").read_text().split()[0]) / 1e9


def rss_kib(pid: int) -> int:
    """Resident set size of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def median(values: Iterable[float]) -> float:
    """The median of ``values`` (for medians of repeated runs)."""
    return statistics.median(list(values))


_CPUS_AT_START: Final = sorted(os.sched_getaffinity(0))


def isolate_target(target_pid: int) -> bool:
    """Run the target (``target_pid`` and whatever it starts from now on) on CPU 0, and this process (and whatever it
    starts from now on: console, Jumpoint, relays) on the other CPUs, as if the target had a machine of its own.

    On a shared machine the gateway's CPU is taken from the target's: busybox telnetd is itself CPU-bound, and each
    CPU-second the gateway spends slows the server it reads. A deployed target runs elsewhere. Returns False,
    changing nothing, with fewer than 2 CPUs."""
    cpus = _CPUS_AT_START
    if len(cpus) < 2:
        return False
    os.sched_setaffinity(target_pid, {cpus[0]})
    os.sched_setaffinity(0, set(cpus[1:]))
    return True


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table: ``header`` then one line per row."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(out)


# --- the gateway stack ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Credential:
    """A password credential to put into the Jumpoint's local store under ``name``."""

    name: str
    username: str
    password: str


@dataclass
class Stack:
    """The running gateway: console and Jumpoint processes, an API token and (optionally) a default Jump Item."""

    url: str
    console: subprocess.Popen[bytes]
    jumpoint: subprocess.Popen[bytes]
    token: str
    item_id: int = 0
    jumpoint_id: int = 0
    work: Path = field(default_factory=Path)
    more_tokens: list[str] = field(default_factory=list)
    """API tokens of the extra admin users ``bench1``, ``bench2`` ... (``start_stack(users=N)``)."""

    @property
    def pids(self) -> tuple[int, int]:
        """Console and Jumpoint process ids."""
        return self.console.pid, self.jumpoint.pid

    def cpu(self) -> tuple[float, float]:
        """CPU seconds so far of the console and of the Jumpoint."""
        return cpu_seconds(self.console.pid), cpu_seconds(self.jumpoint.pid)


def headers(stack: Stack, token: str | None = None) -> dict[str, str]:
    """The API authorisation header of the bench admin (or of the user whose API ``token`` is given)."""
    return {"Authorization": f"Bearer {token or stack.token}"}


async def api_json(
    http: aiohttp.ClientSession,
    stack: Stack,
    method: str,
    path: str,
    body: Any = None,
    expect: int | None = None,
    token: str | None = None,
) -> Any:
    """Call the console API as the bench admin (or the user of API ``token``); ``path`` starts with ``/api/v1``.
    Returns the decoded JSON body (the text when it is not JSON); a status other than ``expect`` raises."""
    hdrs = headers(stack, token)
    async with http.request(method, f"{stack.url}{path}", json=body, headers=hdrs, ssl=False) as r:
        if expect is not None and r.status != expect:
            raise RuntimeError(f"{method} {path}: {r.status} {await r.text()}")
        return await r.json() if r.content_type == "application/json" else await r.text()


async def start_stack(
    work: Path,
    credentials: Sequence[Credential] = (),
    console_config: str = "",
    users: int = 0,
    console_module: str = "console_web.cli",
) -> Stack:
    """Start console and Jumpoint (separate processes, TLS) in the empty directory ``work``; wait until connected.

    The console database gets an admin user ``bench`` with an API token; the built-in Jumpoint ``LAN`` gets
    ``credentials`` in its local store. ``console_config`` is appended to console.yaml. ``users`` more admins
    (``bench1`` ...) get API tokens in ``stack.more_tokens`` (distinct people, e.g. observers). ``console_module``
    is what runs the console (a benchmark's variant of ``openjump``'s entry point). Stop with
    :func:`stop_stack`; logs are ``work/console.log`` and ``work/jumpoint.log``.
    """
    port = free_port()
    console_dir, jp_dir = work / "console", work / "jumpoint"
    console_dir.mkdir()
    cfg = work / "console.yaml"
    cfg.write_text(
        f"state_dir: {console_dir}\nlisten: {{host: 127.0.0.1, port: {port}, tls: {{mode: self_signed}}}}\n"
        "log_level: warning\nsessions: {max_sessions_per_jumpoint: 2000}\n" + console_config
    )
    db = await Database.open(f"sqlite+aiosqlite:///{console_dir / 'console.db'}")
    await db.migrate()
    uid = await repo.create_user(db, "bench", "bench-password-1", is_admin=True)
    token = (await create_api_token(db, uid, "bench", expires_at=None)).token
    more_tokens = []
    for n in range(1, users + 1):
        other = await repo.create_user(db, f"bench{n}", "bench-password-1", is_admin=True)
        more_tokens.append((await create_api_token(db, other, f"bench{n}", expires_at=None)).token)
    jp_id, jp_token = await repo.ensure_builtin_jumpoint(db, "LAN")
    await db.close()
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    console_log = (work / "console.log").open("wb")
    console = subprocess.Popen(
        [sys.executable, "-m", console_module, "serve", "--config", str(cfg)],
        stdout=console_log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
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
    save_registration(
        jp_dir, Registration(console_url=url, token=jp_token, jumpoint_id=jp_id, name="LAN", fingerprint=fingerprint)
    )
    jcfg = work / "jumpoint.yaml"
    jcfg.write_text(f"state_dir: {jp_dir}\nlog_level: warning\n")
    for cred in credentials:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "jumpoint.agent.cli",
                "--config",
                str(jcfg),
                "credentials",
                "add",
                cred.name,
                "--username",
                cred.username,
            ],
            input=(cred.password + "\n").encode(),
            check=True,
            cwd=ROOT,
            capture_output=True,
        )
    jumpoint = subprocess.Popen(
        [sys.executable, "-m", "jumpoint.agent.cli", "--config", str(jcfg), "run"],
        stdout=(work / "jumpoint.log").open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
    )
    stack = Stack(url, console, jumpoint, token, jumpoint_id=jp_id, work=work, more_tokens=more_tokens)
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            data = await api_json(http, stack, "GET", "/api/v1/jumpoints")
            items = data["items"] if isinstance(data, dict) else data
            if items and items[0].get("connected"):
                break
            await asyncio.sleep(0.1)
    return stack


def stop_stack(stack: Stack) -> None:
    """Terminate the Jumpoint and the console (kill after 10 s)."""
    for proc in (stack.jumpoint, stack.console):
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def dump_logs(work: Path, tail: int = 3000) -> None:
    """Print the tails of the console and Jumpoint logs to stderr (after a failed measurement)."""
    for name in ("console.log", "jumpoint.log"):
        path = work / name
        if path.exists():
            print(f"--- {name} ---\n" + path.read_text()[-tail:], file=sys.stderr)


async def create_item(
    http: aiohttp.ClientSession,
    stack: Stack,
    *,
    protocol: str,
    hostname: str,
    port: int,
    username: str = "",
    credential_ref: str | None = None,
    name: str = "bench",
    session_policy: str = "start_new",
    record_session: bool = True,
    **extra: Any,
) -> int:
    """Create a Jump Item of any protocol in the bench admin's personal group on the stack's Jumpoint; its id.

    ``extra`` goes into the request body as is (e.g. ``login_prompt`` for telnet, ``record_input``).
    """
    groups = await api_json(http, stack, "GET", "/api/v1/jump-groups")
    groups = groups["items"] if isinstance(groups, dict) else groups
    personal = next(g for g in groups if g.get("personal"))
    body = {
        "group_id": personal["id"],
        "jumpoint_id": stack.jumpoint_id,
        "protocol": protocol,
        "name": name,
        "hostname": hostname,
        "port": port,
        "username": username,
        "credential_ref": credential_ref,
        "session_policy": session_policy,
        "record_session": record_session,
    } | extra
    created = await api_json(http, stack, "POST", "/api/v1/jump-items", body, expect=201)
    return int(created["id"])


# --- browser-like session sockets -----------------------------------------------------------------
class Term:
    """A benchmark 'browser': one session WebSocket (binary frames = terminal output, text frames = JSON)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, session_id: str = "") -> None:
        self.ws = ws
        self.session_id = session_id
        self.buf = bytearray()
        self.msgs: list[dict[str, Any]] = []

    @classmethod
    async def jump(
        cls,
        http: aiohttp.ClientSession,
        stack: Stack,
        item_id: int | None = None,
        cols: int = 120,
        rows: int = 40,
        compress: bool = False,
    ) -> Term:
        """Jump to ``item_id`` (default ``stack.item_id``) and open the session socket (see :meth:`attach`)."""
        item = stack.item_id if item_id is None else item_id
        body = await api_json(
            http, stack, "POST", f"/api/v1/jump-items/{item}/jump", {"cols": cols, "rows": rows}, expect=201
        )
        return await cls.attach(http, stack, str(body["session_id"]), compress=compress)

    @classmethod
    async def attach(
        cls,
        http: aiohttp.ClientSession,
        stack: Stack,
        session_id: str,
        token: str | None = None,
        pos: int | None = None,
        compress: bool = False,
    ) -> Term:
        """Open one more socket on the session ``session_id``, as the bench admin or the user of API ``token``
        (another admin attaches as an observer); ``pos``: resume the stream there (a reconnect); ``compress``:
        offer permessage-deflate, as browsers do (the default, like bench_ssh's figures, does not)."""
        query = "" if pos is None else f"?pos={pos}"
        ws = await http.ws_connect(
            f"{stack.url}/api/v1/sessions/{session_id}/ws{query}",
            headers=headers(stack, token),
            ssl=False,
            max_msg_size=1 << 20,
            compress=15 if compress else 0,
        )
        return cls(ws, session_id)

    async def until_prompt(
        self, host_key: str = "abort", timeout: float = 60, prompt: re.Pattern[bytes] = PROMPT_RE
    ) -> None:
        """Read until the output tail matches ``prompt``; answers a host-key prompt with ``host_key``."""
        try:
            await self._until_prompt(host_key, timeout, prompt)
        except TimeoutError:
            raise RuntimeError(
                f"no prompt in {timeout} s; messages {self.msgs[-4:]}; output tail {bytes(self.buf[-160:])!r}"
            ) from None

    async def _until_prompt(self, host_key: str, timeout: float, prompt: re.Pattern[bytes]) -> None:
        async with asyncio.timeout(timeout):
            while not prompt.search(bytes(self.buf[-200:])):
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
        """Read output until ``mark`` appears; the number of bytes read."""
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
        """Send keystrokes."""
        await self.ws.send_bytes(data)

    async def send_json(self, message: dict[str, Any]) -> None:
        """Send a control message."""
        await self.ws.send_str(json.dumps(message))

    async def recv_some(self) -> bytes:
        """The next output frame (skipping control messages)."""
        while True:
            msg = await self.ws.receive()
            if msg.type == aiohttp.WSMsgType.BINARY:
                return bytes(msg.data)
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"socket closed: {msg}")

    async def close(self, end: bool = True) -> None:
        """Close the socket; with ``end``, ask the console to end the session first."""
        if end:
            await self.ws.send_str('{"t":"end"}')
        await self.ws.close()


# --- direct clients: the floor -------------------------------------------------------------------
class LoginServer(Protocol):
    """A test server and its password login (tests.fixtures' SshServer and TelnetServer fit)."""

    host: str
    port: int
    username: str
    password: str

    def stop(self) -> None:
        """Stop the server."""
        ...


class DirectClient:
    """A terminal straight to the target, without the gateway; a subclass reads output in :meth:`recv_some`."""

    buf: bytearray

    async def send(self, data: bytes) -> None:
        """Send keystrokes."""
        raise NotImplementedError

    async def recv_some(self) -> bytes:
        """The next output chunk."""
        raise NotImplementedError

    async def until_prompt(self) -> None:
        """Read until the shell prompt."""
        while not PROMPT_RE.search(bytes(self.buf[-200:])):
            self.buf += await self.recv_some()

    async def read_until(self, mark: bytes) -> int:
        """Read output until ``mark`` appears; the number of bytes read."""
        total, tail = 0, b""
        while True:
            chunk = await self.recv_some()
            total += len(chunk)
            tail = (tail + chunk)[-64:]
            if mark in tail:
                return total

    async def close(self) -> None:
        """Drop the connection."""
        raise NotImplementedError


class DirectTerm(DirectClient):
    """The same workloads straight to sshd with asyncssh."""

    def __init__(self, conn: asyncssh.SSHClientConnection, proc: Any) -> None:
        self.conn, self.proc = conn, proc
        self.buf = bytearray()

    @classmethod
    async def open(cls, ssh: LoginServer) -> DirectTerm:
        """Log in with the password and start a shell with a 120x40 xterm pty."""
        conn = await asyncssh.connect(
            ssh.host,
            ssh.port,
            username=ssh.username,
            password=ssh.password,
            known_hosts=None,
            client_keys=None,
            agent_path=None,
            preferred_auth="password",
            encryption_algs=PREFERRED_ENCRYPTION,  # the Jumpoint's cipher: the floor differs by the gateway only
        )
        proc = await conn.create_process(term_type="xterm", term_size=(120, 40), encoding=None)
        return cls(conn, proc)

    async def send(self, data: bytes) -> None:
        """Send keystrokes."""
        self.proc.stdin.write(data)

    async def recv_some(self) -> bytes:
        """The next output read."""
        return bytes(await self.proc.stdout.read(65536))

    async def close(self) -> None:
        """Drop the connection."""
        self.conn.close()


TYPING_GAP = 0.05
"""Seconds between keys for the paced echo: 20 keys a second, a fast typist (guacd adds ~10 ms there)."""


async def echo_latency(term: Term | DirectClient, keys: int, gap: float = 0.0) -> list[float]:
    """Per-key echo round trips (ms) of ``keys`` single letters typed into ``cat``, back to back or ``gap`` seconds
    apart (every process on the path then goes idle between keys, as with a person typing)."""
    await start_cat(term)
    samples = await type_keys(term, keys, gap)
    await term.send(b"\x03")
    return samples


async def start_cat(term: Term | DirectClient) -> None:
    """Run ``cat`` in the terminal (control characters echoed as themselves) and drain what came before."""
    await term.send(b"stty -echoctl; cat\n")
    await asyncio.sleep(0.5)
    while True:
        try:
            await asyncio.wait_for(term.recv_some(), 0.3)
        except TimeoutError:
            break


async def type_keys(term: Term | DirectClient, keys: int, gap: float = 0.0) -> list[float]:
    """Echo round trips (ms) of ``keys`` letters typed into a running ``cat``, each awaited before the next."""
    samples = []
    for i in range(keys):
        ch = bytes([97 + i % 26])
        if gap:
            await asyncio.sleep(gap)
        t0 = time.perf_counter()
        await term.send(ch)
        got = b""
        while ch not in got:
            got += await term.recv_some()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


def echo_stats(direct: Sequence[float], via: Sequence[float]) -> dict[str, float]:
    """p50 and p99 of echo round trips direct and through the gateway, and what the gateway adds."""
    return {
        "direct_p50": pct(direct, 50),
        "direct_p99": pct(direct, 99),
        "gateway_p50": pct(via, 50),
        "gateway_p99": pct(via, 99),
        "added_p50": pct(via, 50) - pct(direct, 50),
        "added_p99": pct(via, 99) - pct(direct, 99),
    }


async def jump_to_prompt_ms(
    http: aiohttp.ClientSession, stack: Stack, open_direct: Callable[[], Awaitable[DirectClient]], rounds: int
) -> tuple[list[float], list[float]]:
    """Time (ms) to the first prompt, ``rounds`` times each, through the gateway and direct (alternating)."""
    jump_ms: list[float] = []
    direct_ms: list[float] = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        d = await open_direct()
        await d.until_prompt()
        direct_ms.append((time.perf_counter() - t0) * 1000)
        await d.close()
        t0 = time.perf_counter()
        term = await Term.jump(http, stack)
        await term.until_prompt()
        jump_ms.append((time.perf_counter() - t0) * 1000)
        await term.close()
    return jump_ms, direct_ms


ECHO_BLOCK = 25
"""echo_both alternates between the two sessions every this many keys."""


async def echo_both(
    http: aiohttp.ClientSession,
    stack: Stack,
    open_direct: Callable[[], Awaitable[DirectClient]],
    keys: int,
    gap: float = 0.0,
) -> tuple[list[float], list[float]]:
    """Echo round trips (ms) of ``keys`` keys into ``cat`` (``gap`` seconds apart), direct and through the gateway.

    Both sessions stay open and the typing alternates between them in blocks of ``ECHO_BLOCK`` keys, so drift in
    the machine's state over the run (other load, CPU frequency, the VM's vCPUs) lands on both alike."""
    d = await open_direct()
    await d.until_prompt()
    term = await Term.jump(http, stack)
    await term.until_prompt()
    await start_cat(d)
    await start_cat(term)
    direct: list[float] = []
    via: list[float] = []
    while len(via) < keys:
        block = min(ECHO_BLOCK, keys - len(via))
        direct += await type_keys(d, block, gap)
        via += await type_keys(term, block, gap)
    await d.close()
    await term.close()
    return direct, via


@dataclass(frozen=True)
class GatewayBulk:
    """One bulk-output command through the gateway: bytes, wall time and the two processes' CPU."""

    received: int
    seconds: float
    console_cpu_s: float
    jumpoint_cpu_s: float


async def bulk_via_gateway(http: aiohttp.ClientSession, stack: Stack, command: bytes, mark: bytes) -> GatewayBulk:
    """Jump, wait for the prompt, run ``command`` and read until ``mark``; what it took."""
    term = await Term.jump(http, stack)
    await term.until_prompt()
    c0, j0 = stack.cpu()
    t0 = time.perf_counter()
    await term.send(command)
    got = await term.read_until(mark)
    seconds = time.perf_counter() - t0
    c1, j1 = stack.cpu()
    await term.close()
    return GatewayBulk(got, seconds, c1 - c0, j1 - j0)


async def bulk_direct(client: DirectClient, command: bytes, mark: bytes) -> tuple[int, float, float]:
    """Wait for ``client``'s prompt, run ``command`` and read until ``mark``, then close it: the bytes read, the
    seconds it took and this process's CPU seconds meanwhile."""
    await client.until_prompt()
    t0, p0 = time.perf_counter(), time.process_time()
    await client.send(command)
    received = await client.read_until(mark)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - p0
    await client.close()
    return received, seconds, cpu


BULK_PAIRS: Final = 9
"""Direct and gateway runs of a bulk workload, interleaved: single runs on this shared VM move by 30 %."""


async def bulk_pairs(
    http: aiohttp.ClientSession,
    stack: Stack,
    open_direct: Callable[[], Awaitable[DirectClient]],
    command: bytes,
    mark: bytes,
    pairs: int,
) -> dict[str, Any]:
    """``command`` (ending at ``mark``) run ``pairs`` times direct and through the gateway, interleaved: the medians
    of each figure (single runs move by 30 % on a shared machine), the throughput ratio, and the runs."""
    runs = []
    for _ in range(pairs):
        direct_bytes, direct_s, direct_cpu = await bulk_direct(await open_direct(), command, mark)
        gw = await bulk_via_gateway(http, stack, command, mark)
        runs.append(
            {
                "direct_s": direct_s,
                "direct_bytes": direct_bytes,
                "direct_client_cpu_s": direct_cpu,
                "gateway_s": gw.seconds,
                "gateway_bytes": gw.received,
                "console_cpu_s": gw.console_cpu_s,
                "jumpoint_cpu_s": gw.jumpoint_cpu_s,
            }
        )
    bulk: dict[str, Any] = {k: median(r[k] for r in runs) for k in runs[0]}
    bulk["direct_mb_s"] = bulk["direct_bytes"] / bulk["direct_s"] / 1e6
    bulk["gateway_mb_s"] = bulk["gateway_bytes"] / bulk["gateway_s"] / 1e6
    bulk["throughput_ratio"] = bulk["direct_s"] / bulk["gateway_s"]
    bulk["throughput_ratio_per_pair"] = median(r["direct_s"] / r["gateway_s"] for r in runs)
    bulk["every_byte"] = all(r["gateway_bytes"] >= r["direct_bytes"] for r in runs)
    bulk["runs"] = runs
    return bulk


async def start_item_stack(work: Path, server: LoginServer, protocol: str) -> Stack:
    """The gateway stack with a ``start_new`` Jump Item (``stack.item_id``) of ``protocol`` to ``server``, logging in
    with the server's password stored as the credential ``bench``."""
    stack = await start_stack(work, [Credential("bench", server.username, server.password)])
    async with aiohttp.ClientSession() as http:
        stack.item_id = await create_server_item(http, stack, server, protocol)
    return stack


async def create_server_item(
    http: aiohttp.ClientSession, stack: Stack, server: LoginServer, protocol: str, **options: Any
) -> int:
    """A ``start_new`` Jump Item of ``protocol`` to ``server`` that logs in with the credential ``bench`` (as
    :func:`start_item_stack` stores it); ``options`` as :func:`create_item` takes them."""
    return await create_item(
        http,
        stack,
        protocol=protocol,
        hostname=server.host,
        port=server.port,
        username=server.username,
        credential_ref="bench",
        **{"session_policy": "start_new", **options},
    )


@asynccontextmanager
async def running_stack(work: Path, server: LoginServer, starting: Awaitable[Stack]) -> AsyncIterator[Stack]:
    """The stack ``starting`` gives, stopped after the block; on failure the logs of ``work`` are printed first.
    ``server`` (already running) is stopped last, whatever happens."""
    try:
        stack = await starting
        try:
            yield stack
        except BaseException:
            dump_logs(work)
            raise
        finally:
            stop_stack(stack)
    finally:
        server.stop()
