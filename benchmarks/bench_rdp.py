"""RDP desktops on the Jumpoint: our RDP client (``protocols.rdp``) and the desktop stream (``DesktopStream`` with its
``FrameEncoder``) against real servers on loopback, measured in this process: what the Jumpoint runs for an RDP
session. The console's share (it only scans headers and fans bytes out, 2-6 % in ``bench_desktop.py``) is left out.

Servers from ``tests/fixtures/rdp.py``: xrdp 0.9 (Xorg backend, TLS) at 1024x768 and FreeRDP 2's shadow server
(NLA) sharing a 1280x800 Xvfb display. A Jump is ``RdpAdapter.connect`` (credential from the local store, the
certificate already in the known-hosts cache) plus a ``DesktopStream`` whose output is read as fast as it comes (an
infinitely fast browser).

* first complete desktop: from the Jump to the first KEYFRAME out of the desktop stream, and to the first frame
  after which the picture equals the settled desktop (what the rep sees once the server has drawn everything; the
  figure held against the issue's 0.8 s); for xrdp with a new session (sessions ended before each Jump) and
  reconnecting to the existing one, for the shadow server with NLA. The first Jump of the process (FreeRDP's
  primitives benchmark on the first decode, ~0.3 s of CPU; for xrdp also the session's start) is reported apart.
  ``xfreerdp`` (FreeRDP 2.11, on its own Xvfb, ``/log-level:DEBUG`` read line by line through a pipe, timed by
  this process' clock): process start to the connection being active, and to the end of its first picture (the
  first surface frame marker End, else the end of the first burst of update PDUs); run against the same servers
  the same way.
* workloads in a full-screen xterm (font 6x13): ``text``, random text scrolling as fast as xterm goes
  (``base64 -w 0 /dev/urandom``: one endless line, so the whole width scrolls, where ``bench_desktop.py``'s
  ``base64`` fills 76 columns), and ``colour``, the full-colour cell animation of ``tests/fixtures/vnc.py`` (about 30
  redraws a second: video-like), at Full Color (32 bpp) and Video Optimized (16 bpp). Each run is cut into windows
  (4 of 5 s; ``--quick``: 2 of 2.5 s) and each figure is the median over the windows: frames/s and frames with
  pixels/s out of the desktop stream, bytes/s out of it (to the browser) and in from the server (TCP_INFO
  ``bytes_received``, so TLS included), bitmap updates/s from the server, Mpx/s decoded (the server's bitmap
  rectangles) and re-encoded (the damage the encoder was given), this process' CPU % of one core (process CPU
  time) and its CPU ms per Mpx decoded and per Mpx re-encoded, and the server side's CPU % (RDP server, X server,
  the workload's xterm and generator), and how long a batch of changes takes from ``Screen.take`` handing it on to
  its frame coming out of the desktop stream (p50 / p90: encoding plus waiting for the event loop). Load average
  (1 min) with every figure: the machine has 2 cores shared with other work.
* ``--profile DIR``: one more Jump per workload and quality under ``py-spy`` (100 Hz, this process,
  non-blocking); the samples are split by where they are (see :data:`PROFILE_RULES`) and the raw files are kept.

    .venv/bin/python -m benchmarks.bench_rdp [--quick] [--json FILE] [--profile DIR] [--servers xrdp,shadow]
        [--no-xfreerdp]

Prints Markdown tables; the project keeps ``--json`` output in ``benchmarks/results/rdp.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import re
import select
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from benchmarks.harness import cpu_seconds, markdown_table
from credential_store.local import LocalCredentialStore
from jumpoint.agent.desktop_stream import DesktopStream
from jumpoint.agent.hostkey_store import FileHostKeyStore
from jumpoint.core import desktop_wire as dw
from jumpoint.core.adapter import AdapterContext, DesktopQuality, PromptField, Target
from jumpoint.core.desktop import Damage, DesktopInput, DesktopOutput
from jumpoint.core.events import Notice, Output
from jumpoint.core.hostkeys import HostKey, HostKeyDecision, certificate_host_key
from jumpoint.core.secret import Secret
from protocols.rdp.adapter import RdpAdapter, RdpDesktop
from protocols.rdp.client import RdpClient
from tests.fixtures.rdp import RdpServer, ShadowServer, XrdpServer, launch_rdp_shadow, launch_xrdp
from tests.fixtures.vnc import colour_animation

logging.getLogger("protocols.rdp").setLevel(logging.WARNING)
LOG = logging.LoggerAdapter(logging.getLogger("bench.rdp"), {})
LOG.logger.setLevel(logging.WARNING)

SIZES = {"xrdp": (1024, 768), "shadow": (1280, 800)}
FONT = ("6x13", 6, 13)  # xterm's default "fixed" font, as bench_desktop.py's xterm uses
QUALITIES: tuple[DesktopQuality, ...] = ("full_color", "video")
SETTLE_S = 0.7  # a first desktop is settled once no frame changed the picture for this long
TCP_INFO_BYTES_RECEIVED = 128  # offset of tcpi_bytes_received (u64) in Linux's struct tcp_info

Mode = Literal["new", "reconnect", "shadow"]


def load() -> float:
    """The 1-minute load average (2 cores here)."""
    return round(os.getloadavg()[0], 2)


# --- a Jump as the Jumpoint makes it ---------------------------------------------------------------------------
class _Rep:
    """Never asked: the certificate is cached and the password comes from the store."""

    async def ask_host_key(
        self, host: str, port: int, key: HostKey, *, known: tuple[HostKey, ...] = ()
    ) -> HostKeyDecision:
        raise RuntimeError(f"unexpected certificate question for {host}:{port}")

    async def ask_text(self, title: str, instruction: str, fields: list[PromptField]) -> list[Secret]:
        raise RuntimeError(f"unexpected prompt: {title}")


@dataclass
class Rig:
    """One running server and how to Jump to it."""

    name: Literal["xrdp", "shadow"]
    server: XrdpServer | ShadowServer
    ctx: AdapterContext
    width: int
    height: int

    @classmethod
    def make(cls, name: Literal["xrdp", "shadow"], server: XrdpServer | ShadowServer, work: Path) -> Rig:
        store = LocalCredentialStore(work / "state")
        store.add("bench", "password", server.username, password=Secret(server.password), replace=True)
        known = FileHostKeyStore(work / "known_hosts")
        assert server.certificate_sha256 is not None
        known.trust(server.host, server.port, certificate_host_key(server.certificate_sha256))
        ctx = AdapterContext(session_id="bench", host_keys=known, prompter=_Rep(), credentials=store, log=LOG)
        width, height = SIZES[name]
        return cls(name, server, ctx, width, height)

    def target(self, quality: DesktopQuality) -> Target:
        return Target.model_validate(
            {
                "protocol": "rdp",
                "hostname": self.server.host,
                "port": self.server.port,
                "username": self.server.username,
                "credential_ref": "bench",
                "desktop_width": self.width,
                "desktop_height": self.height,
                "quality": quality,
                "connect_timeout": 20.0,
            }
        )


@dataclass
class Counts:
    """What the client decoded (patched onto its screen and update handler: benchmark-only instrumentation)."""

    decoded_px: int = 0
    bitmap_updates: int = 0
    reencoded_px: int = 0
    taken_at: float | None = None
    """When the screen last handed a batch of changes on (``Screen.take`` returned)."""


def instrument(client: RdpClient, counts: Counts) -> None:
    """Count the pixels the client decodes into its screen and the updates (bitmap or surface) it takes, and note
    when the screen hands a batch on, by wrapping bound methods on these instances (nothing in ``protocols.rdp``
    changes)."""
    damage = client.screen.damage
    bitmaps = client.updates.bitmaps
    surfaces = client.updates.surface_commands
    take = client.screen.take

    def counting_damage(x: int, y: int, width: int, height: int) -> None:
        counts.decoded_px += width * height
        damage(x, y, width, height)

    def counting_bitmaps(data: bytes) -> None:
        counts.bitmap_updates += 1
        bitmaps(data)

    def counting_surfaces(data: bytes) -> None:
        counts.bitmap_updates += 1  # one surface-commands update (NSCodec bits, frame markers) as one update
        surfaces(data)

    async def noting_take() -> list[DesktopOutput | Notice] | None:
        batch = await take()
        counts.taken_at = time.perf_counter()
        return batch

    setattr(client.screen, "damage", counting_damage)  # noqa: B010 - instance patch, mypy forbids assigning a method
    setattr(client.updates, "bitmaps", counting_bitmaps)  # noqa: B010
    setattr(client.updates, "surface_commands", counting_surfaces)  # noqa: B010
    setattr(client.screen, "take", noting_take)  # noqa: B010


class CountingDesktop:
    """The RDP desktop as the desktop stream sees it, counting the damage handed to the encoder."""

    def __init__(self, inner: RdpDesktop, counts: Counts) -> None:
        self.inner = inner
        self.counts = counts

    @property
    def kind(self) -> Literal["desktop"]:
        return "desktop"

    async def events(self) -> AsyncIterator[DesktopOutput | Notice]:
        async for event in self.inner.events():
            if isinstance(event, Damage):
                self.counts.reencoded_px += event.width * event.height
            yield event

    def pixels(self, x: int, y: int, width: int, height: int) -> bytes:
        return self.inner.pixels(x, y, width, height)

    async def send(self, event: DesktopInput) -> None:
        await self.inner.send(event)

    async def close(self) -> None:
        await self.inner.close()


def tcp_bytes_received(client: RdpClient) -> int:
    """Bytes the kernel received on the client's TCP connection (TLS records included); 0 once it is gone."""
    writer = client._writer
    sock = writer.get_extra_info("socket") if writer is not None else None
    if sock is None:
        return 0
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    except OSError:
        return 0
    return int(struct.unpack_from("<Q", info, TCP_INFO_BYTES_RECEIVED)[0]) if len(info) >= 136 else 0


class Viewer:
    """One Jump's desktop stream, read as fast as it comes: frames, pixels, keyframes and bytes."""

    def __init__(self, desktop: RdpDesktop, quality: DesktopQuality, started: float, track: bool = False) -> None:
        self.desktop = desktop
        self.counts = Counts()
        instrument(desktop.client, self.counts)
        self.stream = DesktopStream(CountingDesktop(desktop, self.counts), quality)
        self.started = started
        self.track = track
        self.scanner = dw.HeaderScanner(dw.OUTPUT_TYPES)
        self.frames = 0
        self.pixel_frames = 0
        self.bytes_out = 0
        self.first_keyframe: float | None = None
        self.pictures: list[tuple[float, int]] = []  # (when, CRC of the whole framebuffer) after each frame
        self.batch_ms: list[float] = []  # from Screen.take handing a batch on to its frame coming out, per frame
        self._in_keyframe = False
        self._has_pixels = False
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for event in self.stream.events():
            if isinstance(event, Output):
                self._take(event.data)

    def _take(self, data: bytes) -> None:
        now = time.perf_counter()
        self.bytes_out += len(data)
        for _offset, kind, _length in self.scanner.feed(data):
            if kind == dw.KEYFRAME:
                self._in_keyframe = True
            elif kind in (dw.IMAGE, dw.COPY):
                self._has_pixels = True
            elif kind == dw.FRAME_END:
                self.frames += 1
                self.pixel_frames += self._has_pixels
                if self._in_keyframe and self.first_keyframe is None:
                    self.first_keyframe = now
                if self.counts.taken_at is not None:
                    self.batch_ms.append(1000 * (now - self.counts.taken_at))
                    self.counts.taken_at = None
                self._in_keyframe = self._has_pixels = False
                if self.track:
                    self.pictures.append((now, zlib.crc32(self.desktop.client.screen.pixels.data)))

    async def until_keyframe(self, timeout: float = 30) -> float:
        async with asyncio.timeout(timeout):
            while self.first_keyframe is None:
                if self.task.done():
                    self.task.result()
                    raise RuntimeError("the desktop stream ended before a keyframe")
                await asyncio.sleep(0.005)
        return self.first_keyframe

    async def until_settled(self, quiet: float = SETTLE_S, timeout: float = 8) -> None:
        """Wait until no frame came for ``quiet`` seconds (or ``timeout``)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            last = self.pictures[-1][0] if self.pictures else self.started
            if time.perf_counter() - last >= quiet:
                return
            await asyncio.sleep(0.02)

    def complete_at(self) -> float:
        """When the picture first equalled the settled one (at or after the first keyframe)."""
        assert self.first_keyframe is not None and self.pictures
        final = self.pictures[-1][1]
        return next(t for t, crc in self.pictures if t >= self.first_keyframe and crc == final)

    async def close(self) -> None:
        await self.stream.close()
        self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task


async def jump(rig: Rig, quality: DesktopQuality, track: bool = False) -> tuple[Viewer, float]:
    """Jump (RdpAdapter.connect) and start the desktop stream; the viewer and when the session became active."""
    started = time.perf_counter()
    desktop = await RdpAdapter().connect(rig.target(quality), rig.ctx)
    active = time.perf_counter()
    assert isinstance(desktop, RdpDesktop)
    return Viewer(desktop, quality, started, track), active


# --- first complete desktop --------------------------------------------------------------------------------------
async def one_first_desktop(rig: Rig) -> dict[str, float]:
    cpu0 = time.process_time()
    viewer, active = await jump(rig, "full_color", track=True)
    try:
        keyframe = await viewer.until_keyframe()
        await viewer.until_settled()
        complete = viewer.complete_at()
    finally:
        await viewer.close()
    cpu = time.process_time() - cpu0
    ms = 1000.0
    return {
        "active_ms": (active - viewer.started) * ms,
        "keyframe_ms": (keyframe - viewer.started) * ms,
        "complete_ms": (complete - viewer.started) * ms,
        "jumpoint_cpu_ms": cpu * ms,  # the whole Jump, the settling wait included (idle)
        "load": load(),
    }


def summarise(runs: list[dict[str, float]]) -> dict[str, Any]:
    keys = [k for k in runs[0] if k != "load"]
    out: dict[str, Any] = {k: round(statistics.median(r[k] for r in runs), 1) for k in keys}
    out |= {"max_complete_ms": round(max(r["complete_ms"] for r in runs), 1), "runs": len(runs)}
    out["load"] = [r["load"] for r in runs]
    out["each_complete_ms"] = [round(r["complete_ms"]) for r in runs]
    return out


async def first_desktops(rig: Rig, mode: Mode, n: int) -> dict[str, Any]:
    runs = []
    for _ in range(n):
        if mode == "new":
            assert isinstance(rig.server, XrdpServer)
            await asyncio.to_thread(rig.server.end_sessions)
            await asyncio.sleep(0.3)
        runs.append(await one_first_desktop(rig))
        await asyncio.sleep(0.3)
    return summarise(runs)


# --- xfreerdp, for comparison --------------------------------------------------------------------------------------
_UPDATE_LINE = re.compile(r"recv Update Data PDU|SurfaceFrameMarker: action: End|[Ff]ast-?[Pp]ath.*[Uu]pdate")


@dataclass
class Xvfb:
    """A bare Xvfb for xfreerdp's window."""

    display: int
    proc: subprocess.Popen[bytes]

    @classmethod
    def start(cls) -> Xvfb:
        display = next(
            n
            for n in range(700, 900)
            if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists()
        )
        proc = subprocess.Popen(
            ["Xvfb", f":{display}", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{display}").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Xvfb for xfreerdp did not start")
            time.sleep(0.05)
        return cls(display, proc)

    def stop(self) -> None:
        stop_process(self.proc)


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, grace: float = 5.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def xfreerdp_once(server: RdpServer, size: tuple[int, int], xvfb: Xvfb, home: Path) -> dict[str, float]:
    """Start xfreerdp and read its DEBUG log as it comes; ms from process start to active and to its first picture."""
    env = os.environ | {"DISPLAY": f":{xvfb.display}", "HOME": str(home)}
    command = ["stdbuf", "-oL", "-eL", "xfreerdp", f"/v:{server.host}:{server.port}", f"/u:{server.username}"]
    command += [f"/p:{server.password}", "/cert:ignore", f"/size:{size[0]}x{size[1]}", "/log-level:DEBUG"]
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    active = marker = burst_end = None
    pending = b""
    try:
        deadline = started + 20
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.02)
            now = time.perf_counter()
            if burst_end is not None and now - burst_end > 0.15:
                break  # the first burst of updates is over
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            pending += proc.stdout.read() or b""
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                line = raw.decode(errors="replace")
                if active is None and "--> CONNECTION_STATE_ACTIVE" in line:
                    active = now
                elif active is not None and _UPDATE_LINE.search(line):
                    if "SurfaceFrameMarker" in line and marker is None:
                        marker = now
                    burst_end = now
            if marker is not None:
                break
    finally:
        stop_process(proc)
    first = marker or burst_end
    if active is None or first is None:
        raise RuntimeError("xfreerdp did not show a first picture (no update in its DEBUG log)")
    return {"active_ms": (active - started) * 1000, "first_picture_ms": (first - started) * 1000, "load": load()}


async def xfreerdp_first(rig: Rig, mode: Mode, n: int, xvfb: Xvfb, home: Path) -> dict[str, Any]:
    runs = []
    for _ in range(n):
        if mode == "new":
            assert isinstance(rig.server, XrdpServer)
            await asyncio.to_thread(rig.server.end_sessions)
            await asyncio.sleep(0.3)
        runs.append(await asyncio.to_thread(xfreerdp_once, rig.server, (rig.width, rig.height), xvfb, home))
        await asyncio.sleep(0.5)
    return {
        "active_ms": round(statistics.median(r["active_ms"] for r in runs), 1),
        "first_picture_ms": round(statistics.median(r["first_picture_ms"] for r in runs), 1),
        "each_first_picture_ms": [round(r["first_picture_ms"]) for r in runs],
        "runs": n,
        "load": [r["load"] for r in runs],
    }


# --- workloads -----------------------------------------------------------------------------------------------------
def children(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(p) for p in (task / "children").read_text().split()]
    return found


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def pids_of(pattern: str) -> list[int]:
    """Processes whose command line matches ``pattern``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if re.search(pattern, (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")):
                    found.append(int(entry.name))
    return found


class Workload:
    """A full-screen xterm running the workload on the server's display, and the server side's processes."""

    def __init__(self, rig: Rig, name: str) -> None:
        self.rig = rig
        self.name = name
        cols, rows = rig.width // FONT[1], rig.height // FONT[2]
        if name == "text":
            command: tuple[str, ...] = ("sh", "-c", "base64 -w 0 /dev/urandom")
        else:
            command = colour_animation(cols=cols // 2, rows=rows, delay=0.033)
        server = rig.server
        env = server.session_env() if isinstance(server, XrdpServer) else server.env
        args = ["xterm", "-geometry", f"{cols}x{rows}+0+0", "-fn", FONT[0], "-xrm", "XTerm*scrollBar: false"]
        self.proc = subprocess.Popen(
            ["setpriv", "--pdeathsig", "TERM", *args, "-e", *command],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def groups(self) -> dict[str, list[int]]:
        """Server-side processes by role: the RDP server, the X server, the workload (xterm and generator)."""
        server = self.rig.server
        workload = children(self.proc.pid)
        if isinstance(server, XrdpServer):
            inside = server.namespace_pids()
            rdp = [p for p in inside if comm(p) == "xrdp"]
            x = [p for p in inside if comm(p) == "Xorg"]
        else:
            rdp = [server.pid]
            x = pids_of(rf"^Xvfb :{server.display} ")
        return {"rdp_server": rdp, "x_server": x, "workload": workload}

    def stop(self) -> None:
        stop_process(self.proc)


@dataclass
class Snapshot:
    when: float
    cpu: float
    frames: int
    pixel_frames: int
    bytes_out: int
    bytes_in: int
    decoded_px: int
    reencoded_px: int
    bitmap_updates: int
    batches: int
    server_cpu: dict[str, dict[int, float]] = field(default_factory=dict)

    @classmethod
    def take(cls, viewer: Viewer, groups: dict[str, list[int]]) -> Snapshot:
        server_cpu: dict[str, dict[int, float]] = {}
        for role, pids in groups.items():
            server_cpu[role] = {}
            for pid in pids:
                with contextlib.suppress(OSError):
                    server_cpu[role][pid] = cpu_seconds(pid)
        return cls(
            time.perf_counter(),
            time.process_time(),
            viewer.frames,
            viewer.pixel_frames,
            viewer.bytes_out,
            tcp_bytes_received(viewer.desktop.client),
            viewer.counts.decoded_px,
            viewer.counts.reencoded_px,
            viewer.counts.bitmap_updates,
            len(viewer.batch_ms),
            server_cpu,
        )


def window_figures(a: Snapshot, b: Snapshot, batch_ms: list[float]) -> dict[str, float]:
    s = b.when - a.when
    batches = sorted(batch_ms[a.batches : b.batches]) or [float("nan")]
    cpu = b.cpu - a.cpu
    decoded = (b.decoded_px - a.decoded_px) / 1e6
    reencoded = (b.reencoded_px - a.reencoded_px) / 1e6
    out = {
        "frames_per_s": (b.frames - a.frames) / s,
        "pixel_frames_per_s": (b.pixel_frames - a.pixel_frames) / s,
        "out_mb_per_s": (b.bytes_out - a.bytes_out) / s / 1e6,
        "in_mb_per_s": (b.bytes_in - a.bytes_in) / s / 1e6,
        "server_updates_per_s": (b.bitmap_updates - a.bitmap_updates) / s,
        "decoded_mpx_per_s": decoded / s,
        "reencoded_mpx_per_s": reencoded / s,
        "jumpoint_cpu_pct": 100 * cpu / s,
        "ms_per_mpx_decoded": 1000 * cpu / decoded if decoded else float("nan"),
        "ms_per_mpx_reencoded": 1000 * cpu / reencoded if reencoded else float("nan"),
        "batch_to_frame_ms_p50": batches[len(batches) // 2],
        "batch_to_frame_ms_p90": batches[int(len(batches) * 0.9)],
    }
    for role, before in a.server_cpu.items():
        after = b.server_cpu.get(role, {})
        used = sum(after[pid] - before[pid] for pid in before if pid in after)
        out[f"{role}_cpu_pct"] = 100 * used / s
    return out


async def measure(
    rig: Rig, workload: Workload, quality: DesktopQuality, seconds: float, windows: int, warm: float
) -> dict[str, Any]:
    """One Jump at ``quality`` while the workload runs: per-window figures and their medians."""
    viewer, _active = await jump(rig, quality)
    try:
        await viewer.until_keyframe()
        await asyncio.sleep(warm)
        groups = workload.groups()
        per: list[dict[str, float]] = []
        loads = []
        before = Snapshot.take(viewer, groups)
        for _ in range(windows):
            await asyncio.sleep(seconds / windows)
            if viewer.task.done():
                viewer.task.result()
                raise RuntimeError("the desktop stream ended during the workload")
            after = Snapshot.take(viewer, groups)
            per.append(window_figures(before, after, viewer.batch_ms))
            loads.append(load())
            before = after
    finally:
        await viewer.close()
    figures: dict[str, Any] = {k: round(statistics.median(w[k] for w in per), 3) for k in per[0]}
    figures["windows"] = len(per)
    figures["window_s"] = seconds / windows
    figures["load"] = loads
    figures["frames_per_s_each_window"] = [round(w["frames_per_s"], 1) for w in per]
    figures["jumpoint_cpu_pct_each_window"] = [round(w["jumpoint_cpu_pct"], 1) for w in per]
    return figures


async def start_workload(rig: Rig, name: str, quality: DesktopQuality) -> Workload:
    """The workload's xterm on the server's display; for xrdp in a fresh session at ``quality``'s colour depth (a
    reconnection at another depth would get another session), made by a Jump that is then closed."""
    if isinstance(rig.server, XrdpServer):
        await asyncio.to_thread(rig.server.end_sessions)
        viewer, _active = await jump(rig, quality)
        try:
            await viewer.until_keyframe()
            await asyncio.to_thread(rig.server.wait_session_ready)
        finally:
            await viewer.close()
    workload = Workload(rig, name)
    await asyncio.sleep(1.5)
    if workload.proc.poll() is not None:
        raise RuntimeError(f"the {name} workload's xterm exited ({workload.proc.returncode})")
    return workload


# --- profile -------------------------------------------------------------------------------------------------------
PROFILE_RULES: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("reading the framebuffer for the encoder (RdpDesktop.pixels)", lambda f: f.startswith("RdpDesktop.pixels (")),
    ("FrameEncoder: PNG/WebP/JPEG (Pillow)", lambda f: "jumpoint/desktop/codecs.py" in f),
    ("FrameEncoder: classify (getcolors, neighbours)", lambda f: "jumpoint/desktop/classify.py" in f),
    ("FrameEncoder: damage, policy, bookkeeping", lambda f: "jumpoint/desktop/" in f),
    ("keyframe / wire messages (desktop_stream, desktop_wire)", lambda f: "desktop_stream.py" in f),
    ("bitmap decode: FreeRDP (ctypes)", lambda f: f.startswith(("BitmapDecoder._decode", "_decode_"))),
    ("bitmap decode: to RGBA (numpy)", lambda f: f.startswith("_to_rgba (")),
    ("bitmap decode: checks, buffers", lambda f: "protocols/rdp/codecs/bitmap.py" in f),
    ("bulk decompression (FreeRDP)", lambda f: "protocols/rdp/codecs/bulk.py" in f),
    ("pointer shapes", lambda f: "protocols/rdp/codecs/pointer.py" in f),
    ("screen damage / take (protocols/rdp/screen.py)", lambda f: "protocols/rdp/screen.py" in f),
    ("RDP parsing (updates, fast-path, x224, client)", lambda f: "protocols/rdp/" in f),
    ("TLS (ssl, asyncio sslproto)", lambda f: "/ssl.py" in f or "sslproto.py" in f),
    ("asyncio event loop and streams", lambda f: "/asyncio/" in f),
    ("this benchmark's counting (bench_rdp.py)", lambda f: "benchmarks/bench_rdp.py" in f),
)
"""A sample goes to the rule matching the innermost frame any rule matches (the first such rule in this order);
py-spy raw frames read ``function (file:line)``. Samples matching none (py-spy, not pausing the process, sometimes
gets only the innermost frames of a stack) go by :data:`PROFILE_FALLBACK`."""
PROFILE_FALLBACK: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("FrameEncoder: PNG/WebP/JPEG (Pillow)", lambda f: "ImagePlugin.py" in f or "ImageFile.py" in f),
)


def classify_profile(raw: Path) -> dict[str, Any]:
    """Split py-spy raw samples (``frame;frame;... count``) by :data:`PROFILE_RULES`; percent of the samples."""
    totals: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        totals["all"] += count
        label = next(
            (
                name
                for rules in (PROFILE_RULES, PROFILE_FALLBACK)
                for frame in reversed(frames)
                for name, rule in rules
                if rule(frame)
            ),
            "other",
        )
        totals[label] += count
        leaf[frames[-1].split(" (")[0] + " " + frames[-1].rsplit("/", 1)[-1]] += count
    all_samples = totals.pop("all") or 1
    shares: dict[str, Any] = {k: round(100 * v / all_samples, 1) for k, v in totals.most_common()}
    shares["samples"] = all_samples
    top = {k: round(100 * v / all_samples, 1) for k, v in leaf.most_common(12)}
    return {**shares, "top_leaf_functions": top}


async def profiled(rig: Rig, workload: Workload, quality: DesktopQuality, seconds: float, out: Path) -> dict[str, Any]:
    """One more Jump under py-spy (this process, non-blocking) while the workload runs."""
    viewer, _active = await jump(rig, quality)
    try:
        await viewer.until_keyframe()
        await asyncio.sleep(1.0)
        command = [
            str(Path(sys.executable).parent / "py-spy"),
            "record", "--pid", str(os.getpid()), "--duration", str(int(seconds)), "--rate", "100",
            "--format", "raw", "--full-filenames", "--nonblocking", "-o", str(out),
        ]  # fmt: skip
        cpu0, t0 = time.process_time(), time.perf_counter()
        spy = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        await spy.wait()
        cpu_pct = 100 * (time.process_time() - cpu0) / (time.perf_counter() - t0)
    finally:
        await viewer.close()
    result = classify_profile(out) if out.exists() else {"error": "py-spy wrote nothing"}
    return {"jumpoint_cpu_pct": round(cpu_pct, 1), "breakdown_pct": result, "raw": str(out)}


# --- the run ---------------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def running(name: Literal["xrdp", "shadow"]) -> Iterator[Rig]:
    with tempfile.TemporaryDirectory(prefix=f"oj-bench-rdp-{name}-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # xrdp's session (the test user) works in a subdirectory
        server: XrdpServer | ShadowServer
        if name == "xrdp":
            server = launch_xrdp(work)
        else:
            width, height = SIZES["shadow"]
            server = launch_rdp_shadow(work, security="nla", width=width, height=height)
        try:
            yield Rig.make(name, server, work)
        finally:
            server.stop()


async def bench_server(
    name: Literal["xrdp", "shadow"], args: argparse.Namespace, xvfb: Xvfb | None, results: dict[str, Any]
) -> None:
    quick = args.quick
    n = 3 if quick else 7
    seconds, windows = (5.0, 2) if quick else (20.0, 4)
    with running(name) as rig:
        first: dict[str, Any] = {}
        # The first Jump of the process pays for imports and loading libfreerdp; for xrdp it also starts the session.
        label = "first Jump of the process" if not results.get("cold_done") else "first Jump to this server"
        first[label] = await one_first_desktop(rig)
        results["cold_done"] = True
        modes: tuple[Mode, ...] = ("new", "reconnect") if name == "xrdp" else ("shadow",)
        for mode in modes:
            label = {"new": "new session", "reconnect": "reconnect", "shadow": "NLA"}[mode]
            first[label] = await first_desktops(rig, mode, n)
            print(f"{name} first desktop, {label}: {first[label]}", flush=True)
            if xvfb is not None:
                with tempfile.TemporaryDirectory(prefix="oj-bench-xfreerdp-") as home:
                    first[f"xfreerdp {label}"] = await xfreerdp_first(rig, mode, n, xvfb, Path(home))
                print(f"{name} xfreerdp, {label}: {first[f'xfreerdp {label}']}", flush=True)
        results[f"{name} first desktop"] = first
        for workload_name in ("text", "colour"):
            for quality in QUALITIES:
                workload = await start_workload(rig, workload_name, quality)
                try:
                    figures = await measure(rig, workload, quality, seconds, windows, warm=1.0)
                    figures["size"] = f"{rig.width}x{rig.height}"
                    key = f"{name} {workload_name} / {quality}"
                    results[key] = figures
                    print(f"{key}: {figures}", flush=True)
                    if args.profile is not None:
                        out = args.profile / f"rdp-{name}-{workload_name}-{quality}.txt"
                        profile = await profiled(rig, workload, quality, 10.0 if quick else 15.0, out)
                        results.setdefault("profiles", {})[key] = profile
                        print(f"profile {key}: {profile}", flush=True)
                finally:
                    workload.stop()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "quick": args.quick,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores shared with other work",
        "load_at_start": load(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    xvfb = Xvfb.start() if args.xfreerdp else None
    try:
        for name in args.servers:
            await bench_server(name, args, xvfb, results)
    finally:
        if xvfb is not None:
            xvfb.stop()
    results.pop("cold_done", None)
    results["load_at_end"] = load()
    return results


# --- report --------------------------------------------------------------------------------------------------------
def table(results: dict[str, Any]) -> str:
    out = []
    first_rows = []
    for name in ("xrdp", "shadow"):
        first = results.get(f"{name} first desktop")
        if not first:
            continue
        for label, r in first.items():
            if label.startswith("xfreerdp"):
                first_rows.append(
                    [f"{name} {label}", f"{r['active_ms']:.0f}", "", f"{r['first_picture_ms']:.0f}", "", _loads(r)]
                )
            else:
                first_rows.append(
                    [
                        f"{name} {label}",
                        f"{r['active_ms']:.0f}",
                        f"{r['keyframe_ms']:.0f}",
                        f"{r['complete_ms']:.0f}"
                        + (f" (max {r['max_complete_ms']:.0f})" if "max_complete_ms" in r else ""),
                        f"{r['jumpoint_cpu_ms']:.0f}",
                        _loads(r),
                    ]
                )
    if first_rows:
        out.append(
            markdown_table(
                ["first desktop (ms, median)", "active", "first keyframe", "complete picture", "Jumpoint CPU", "load"],
                first_rows,
            )
        )
    rows = []
    for key, r in results.items():
        if isinstance(r, dict) and "frames_per_s" in r:
            rows.append(
                [
                    f"{key} ({r['size']})",
                    f"{r['frames_per_s']:.1f} ({r['pixel_frames_per_s']:.1f})",
                    f"{r['server_updates_per_s']:.1f}",
                    f"{r['out_mb_per_s']:.2f}",
                    f"{r['in_mb_per_s']:.2f}",
                    f"{r['decoded_mpx_per_s']:.1f} / {r['reencoded_mpx_per_s']:.1f}",
                    f"{r['jumpoint_cpu_pct']:.0f}",
                    f"{r['ms_per_mpx_decoded']:.1f} / {r['ms_per_mpx_reencoded']:.1f}",
                    f"{r['rdp_server_cpu_pct']:.0f} + {r['x_server_cpu_pct']:.0f} + {r['workload_cpu_pct']:.0f}",
                    f"{r['batch_to_frame_ms_p50']:.0f} / {r['batch_to_frame_ms_p90']:.0f}",
                    _loads(r),
                ]
            )
    if rows:
        out.append(
            markdown_table(
                [
                    "workload",
                    "frames/s (with pixels)",
                    "server updates/s",
                    "MB/s out",
                    "MB/s in",
                    "Mpx/s decoded / re-encoded",
                    "Jumpoint CPU %",
                    "CPU ms per Mpx dec. / re-enc.",
                    "server CPU % (RDP + X + workload)",
                    "batch to frame ms p50 / p90",
                    "load",
                ],
                rows,
            )
        )
    for key, profile in results.get("profiles", {}).items():
        shares = profile["breakdown_pct"]
        parts = ", ".join(f"{k} {v}" for k, v in shares.items() if isinstance(v, float))
        out.append(f"profile {key} ({profile['jumpoint_cpu_pct']} % CPU): {parts}")
    return "\n\n".join(out)


def _loads(r: dict[str, Any]) -> str:
    loads = r.get("load", [])
    return f"{min(loads):.1f}-{max(loads):.1f}" if isinstance(loads, list) and loads else str(loads)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="3 Jumps per figure and 5 s workloads (else 7 and 20 s)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--profile", type=Path, default=None, help="profile each shadow workload into this directory")
    parser.add_argument("--servers", default="xrdp,shadow", help="comma-separated: xrdp, shadow")
    parser.add_argument("--no-xfreerdp", dest="xfreerdp", action="store_false", help="skip the xfreerdp comparison")
    args = parser.parse_args()
    args.servers = [s for s in args.servers.split(",") if s]
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(run(args))
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()
