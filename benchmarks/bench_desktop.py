"""Desktop (VNC) through the whole gateway: console and Jumpoint as separate processes over TLS, a real Xvnc.

Measured as a browser sees it (the session socket's desktop stream, FRAME_END messages counted):

* first complete desktop: from the Jump request to the first FRAME_END after the first KEYFRAME (median of several
  Jumps), against the direct floor (our RFB client alone, connect to first update with pixels);
* full motion: a 1280x800 Xvnc whose xterm redraws random colour cells ~30 times a second: frames/s delivered,
  bytes/s to the browser, console + Jumpoint CPU (% of one core), per quality level;
* scrolling random text in a full-screen xterm (``base64 /dev/urandom``);
* five concurrent desktop sessions on the same animation: frames/s per session and total CPU;
* a window dragged at 60 Hz: an 80x24 xterm (a static page of text) moved by :data:`DRAGGER` (libX11 through
  ctypes, one ``XMoveWindow`` every 1/60 s, 8 px a step, back and forth) on an otherwise empty display, so Xvnc
  sends each move as a CopyRect plus the uncovered background; copy-rects/s are counted besides frames/s.

Issue targets (guacd 1.6.0 measured on the same workloads): first desktop <= 100 ms on loopback; 30 fps video >= 25
frames/s at <= 1.5 MB/s with Jumpoint + console <= 30 % of a core; scrolling text >= 25 frames/s at <= 40 % CPU;
a window dragged at 60 Hz sent as copy-rects >= 50 frames/s (guacd: 37 fps at 48 % CPU).

    .venv/bin/python -m benchmarks.bench_desktop [--quick] [--json FILE] [--only colour,text,drag]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.harness import (
    Credential,
    Stack,
    api_json,
    create_item,
    dump_logs,
    markdown_table,
    start_stack,
    stop_stack,
)
from jumpoint.core import desktop_wire as dw
from jumpoint.core.desktop import FrameEnd
from jumpoint.core.secret import Secret
from protocols.vnc.client import RfbClient
from tests.fixtures.vnc import VncServer, colour_animation, launch_vnc

logging.getLogger("protocols.vnc").setLevel(logging.ERROR)
GEOMETRY = "160x50+0+0"  # the xterm nearly fills the 1280x800 desktop
DRAG_GEOMETRY = "80x24+0+0"
DRAGGER = """
import ctypes, sys, time
x11 = ctypes.CDLL("libX11.so.6")
x11.XOpenDisplay.restype = ctypes.c_void_p
x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
x11.XMoveWindow.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int]
x11.XFlush.argtypes = [ctypes.c_void_p]
display, window = x11.XOpenDisplay(None), int(sys.argv[1])
x = y = 0
dx, dy, step = 8, 4, 1 / 60
tick = time.monotonic()
while True:
    x, y = x + dx, y + dy
    if not 0 <= x <= 760:
        dx, x = -dx, x - 2 * dx
    if not 0 <= y <= 440:
        dy, y = -dy, y - 2 * dy
    x11.XMoveWindow(display, window, x, y)
    x11.XFlush(display)
    tick += step
    time.sleep(max(0.0, tick - time.monotonic()))
"""


class DesktopSocket:
    """A browser-like session socket: counts the desktop stream's frames, keyframes and bytes."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.scanner = dw.HeaderScanner(dw.OUTPUT_TYPES)
        self.frames = 0
        self.keyframes = 0
        self.copies = 0
        self.bytes = 0
        self.first_complete: float | None = None
        self._in_keyframe = False

    @classmethod
    async def jump(cls, http: aiohttp.ClientSession, stack: Stack, item_id: int) -> tuple[DesktopSocket, float]:
        started = time.perf_counter()
        body = await api_json(http, stack, "POST", f"/api/v1/jump-items/{item_id}/jump", {}, expect=201)
        ws = await http.ws_connect(
            f"{stack.url.replace('https', 'wss')}/api/v1/sessions/{body['session_id']}/ws",
            headers={"Authorization": f"Bearer {stack.token}"},
            ssl=False,
            max_msg_size=1 << 24,
        )
        return cls(ws), started

    async def read_for(self, seconds: float) -> None:
        """Read everything that arrives for ``seconds``."""
        deadline = time.perf_counter() + seconds
        while (left := deadline - time.perf_counter()) > 0:
            try:
                msg = await asyncio.wait_for(self.ws.receive(), left)
            except TimeoutError:
                return
            self._take(msg)

    async def until_complete(self, timeout: float = 20) -> float:
        """Read until the first complete picture (keyframe + FRAME_END); when that happened."""
        async with asyncio.timeout(timeout):
            while self.first_complete is None:
                self._take(await self.ws.receive())
        return self.first_complete

    def _take(self, msg: aiohttp.WSMessage) -> None:
        if msg.type == aiohttp.WSMsgType.BINARY:
            self.bytes += len(msg.data)
            for _offset, kind, _length in self.scanner.feed(msg.data):
                if kind == dw.KEYFRAME:
                    self.keyframes += 1
                    self._in_keyframe = True
                elif kind == dw.COPY:
                    self.copies += 1
                elif kind == dw.FRAME_END:
                    self.frames += 1
                    if self._in_keyframe and self.first_complete is None:
                        self.first_complete = time.perf_counter()
                    self._in_keyframe = False
        elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            raise ConnectionError(f"session socket closed: {msg}")

    async def close(self) -> None:
        await self.ws.close()


async def direct_first_desktop_ms(server: VncServer) -> float:
    """The floor: our RFB client alone, connect to the first update with pixels."""
    started = time.perf_counter()
    client = await RfbClient.connect(server.host, server.port, password=Secret(server.password))
    try:
        seen_pixels = False
        async for event in client.updates():
            if isinstance(event, FrameEnd) and seen_pixels:
                return (time.perf_counter() - started) * 1000
            seen_pixels = seen_pixels or type(event).__name__ in ("Damage", "Image", "CopyRect")
    finally:
        await client.close()
    raise RuntimeError("the server closed before the first picture")


async def first_desktop(
    http: aiohttp.ClientSession, stack: Stack, item_id: int, server: VncServer, n: int
) -> dict[str, Any]:
    via, direct = [], []
    for _ in range(n):
        sock, started = await DesktopSocket.jump(http, stack, item_id)
        via.append((await sock.until_complete() - started) * 1000)
        await sock.close()
        direct.append(await direct_first_desktop_ms(server))
        await asyncio.sleep(0.3)
    return {"gateway_ms": statistics.median(via), "direct_ms": statistics.median(direct), "runs": n}


async def motion(
    http: aiohttp.ClientSession, stack: Stack, item_id: int, seconds: float, sessions: int = 1
) -> dict[str, Any]:
    socks = [(await DesktopSocket.jump(http, stack, item_id))[0] for _ in range(sessions)]
    await asyncio.gather(*(s.until_complete() for s in socks))
    frames0 = [s.frames for s in socks]
    bytes0 = [s.bytes for s in socks]
    copies0 = sum(s.copies for s in socks)
    c0, j0 = stack.cpu()
    t0 = time.perf_counter()
    await asyncio.gather(*(s.read_for(seconds) for s in socks))
    elapsed = time.perf_counter() - t0
    c1, j1 = stack.cpu()
    for s in socks:
        await s.close()
    fps = [(s.frames - f0) / elapsed for s, f0 in zip(socks, frames0, strict=True)]
    mbps = [(s.bytes - b0) / elapsed / 1e6 for s, b0 in zip(socks, bytes0, strict=True)]
    return {
        "frames_per_s": statistics.mean(fps),
        "min_frames_per_s": min(fps),
        "mb_per_s": statistics.mean(mbps),
        "console_cpu_pct": (c1 - c0) / elapsed * 100,
        "jumpoint_cpu_pct": (j1 - j0) / elapsed * 100,
        "sessions": sessions,
        "copies_per_s": (sum(s.copies for s in socks) - copies0) / elapsed / sessions,
        "load_1min": round(os.getloadavg()[0], 2),
    }


async def run(quick: bool, only: set[str] | None = None) -> dict[str, Any]:
    seconds = 5.0 if quick else 20.0
    results: dict[str, Any] = {"seconds": seconds}
    workloads = {
        "colour": colour_animation(cols=160, rows=50, delay=0.033),
        "text": ("sh", "-c", "base64 /dev/urandom"),
        "drag": ("sh", "-c", "seq -w 1 2000 | paste -sd ' ' | fold -w 80 | head -24; exec sleep 100000"),
    }
    for name, command in workloads.items():
        if only and name not in only:
            continue
        with tempfile.TemporaryDirectory(prefix="oj-bench-desktop-") as tmp:
            work = Path(tmp)
            (work / "vnc").mkdir()
            (work / "stack").mkdir()
            server = launch_vnc(work / "vnc", xterm=None)
            stack = await start_stack(work / "stack", [Credential("bench", "vnc", server.password)])
            try:
                async with aiohttp.ClientSession() as http:
                    items = {
                        level: await create_item(
                            http,
                            stack,
                            protocol="vnc",
                            hostname=server.host,
                            port=server.port,
                            credential_ref="bench",
                            name=f"{name}-{level}",
                            quality=level,
                            record_session=False,
                        )
                        for level in ("video", "full_color")
                    }
                    if name == "colour":
                        results["first_desktop"] = await first_desktop(
                            http, stack, items["full_color"], server, 3 if quick else 7
                        )
                        print("first desktop:", results["first_desktop"], flush=True)
                    server.start_xterm(*command, geometry=DRAG_GEOMETRY if name == "drag" else GEOMETRY)
                    await asyncio.sleep(1.0)
                    if name == "drag":
                        window = server.x("xdotool", "search", "--onlyvisible", "--class", "xterm").split()[0]
                        server.spawn(sys.executable, "-c", DRAGGER, window)
                        await asyncio.sleep(0.5)
                    for level, item_id in items.items():
                        figures = await motion(http, stack, item_id, seconds)
                        results[f"{name} / {level}"] = figures
                        print(f"{name} / {level}:", figures, flush=True)
                    if name == "colour":
                        figures = await motion(http, stack, items["video"], seconds, sessions=5)
                        results["colour / video x5"] = figures
                        print("colour / video x5:", figures, flush=True)
            except BaseException:
                dump_logs(stack.work)
                raise
            finally:
                stop_stack(stack)
                server.stop()
    return results


def table(results: dict[str, Any]) -> str:
    rows = []
    for name, r in results.items():
        if isinstance(r, dict) and "frames_per_s" in r:
            rows.append(
                [
                    name,
                    f"{r['frames_per_s']:.1f} (min {r['min_frames_per_s']:.1f})",
                    f"{r['mb_per_s']:.2f}",
                    f"{r.get('copies_per_s', 0):.0f}",
                    f"{r['console_cpu_pct'] + r['jumpoint_cpu_pct']:.0f}"
                    f" ({r['console_cpu_pct']:.0f} + {r['jumpoint_cpu_pct']:.0f})",
                    f"{r.get('load_1min', 0):.2f}",
                ]
            )
    first = results.get("first_desktop", {})
    head = (
        f"First complete desktop: {first.get('gateway_ms', 0):.0f} ms via the gateway, "
        f"{first.get('direct_ms', 0):.0f} ms direct\n\n"
    )
    return head + markdown_table(
        ["workload", "frames/s", "MB/s", "copies/s", "CPU % (console + Jumpoint)", "load"], rows
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="5 s per workload instead of 20")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--only", default="", help="comma-separated workloads: colour, text, drag (default: all)")
    args = parser.parse_args()
    results = asyncio.run(run(args.quick, {w for w in args.only.split(",") if w} or None))
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
