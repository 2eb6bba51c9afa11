"""VNC client throughput: the project's RFB client (``protocols.vnc``) reading a full-motion desktop from TigerVNC.

Not a test. For each workload an ``Xvnc`` (1280x800, VNC authentication) is started with an xterm running it —
``colour``: a 160x50 grid of random colours redrawn every 20 ms (photo-like content: servers choose JPEG for it);
``text``: ``base64 /dev/urandom`` scrolling (few colours, lossless palettes) — and for each encoding mode this process
connects and consumes every event as fast as it comes for ``--seconds`` (10 by default), as the Jumpoint would
(without encoding anything for a browser). Reported per run: FramebufferUpdates/s, bytes/s read from the socket, the
client's CPU (``time.process_time``, this process only) and the server's, the JPEG and decoded rectangles, and the
cost of a final ``snapshot()`` (which decodes the JPEGs still pending). Run as root (the fixtures' servers)::

    .venv/bin/python -m benchmarks.bench_vnc_client [--quick] [--json FILE]

Prints a Markdown table; ``--json`` also writes the figures to FILE.
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

from benchmarks.harness import cpu_seconds, markdown_table
from jumpoint.core.desktop import FrameEnd, Image, Quality
from jumpoint.core.secret import Secret
from protocols.vnc import RfbClient
from tests.fixtures.vnc import VNC_PASSWORD, colour_animation, launch_vnc

WORKLOADS: dict[str, tuple[tuple[str, ...], str]] = {
    "colour": (colour_animation(cols=80, rows=50, delay=0.02), "160x50+0+0"),
    "text": (("sh", "-c", "base64 /dev/urandom"), "160x50+0+0"),
}
MODES: dict[str, tuple[str, str]] = {  # name: (quality level, preferred encoding)
    "tight-jpeg (video)": ("video", "tight"),
    "tight-jpeg (more_colors)": ("more_colors", "tight"),
    "tight-lossless (full_color)": ("full_color", "tight"),
    "zrle-lossless (full_color)": ("full_color", "zrle"),
}
logging.getLogger("protocols.vnc").setLevel(logging.ERROR)  # the "not encrypted" warning, once per connection


async def measure(host: str, port: int, server_pid: int, quality: str, encoding: str, seconds: float) -> dict[str, Any]:
    """Consume one connection's events for ``seconds``; what it took."""
    client = await RfbClient.connect(
        host,
        port,
        password=Secret(VNC_PASSWORD),
        quality=Quality(quality),  # type: ignore[arg-type]
        preferred_encoding=encoding,  # type: ignore[arg-type]
    )
    try:
        updates = client.updates()
        async with asyncio.timeout(10):  # warm up: the first complete picture
            frame_ends = 0
            while frame_ends < 2:
                frame_ends += isinstance(await anext(updates), FrameEnd)
        start = client.stats
        t0, cpu0, srv0 = time.monotonic(), time.process_time(), cpu_seconds(server_pid)
        jpeg_bytes = 0
        while time.monotonic() - t0 < seconds:
            event = await anext(updates)
            if isinstance(event, Image):
                jpeg_bytes += len(event.data)
        wall = time.monotonic() - t0
        cpu, srv = time.process_time() - cpu0, cpu_seconds(server_pid) - srv0
        end = client.stats
        pending = client.framebuffer.pending
        s0 = time.perf_counter()
        client.snapshot()
        snapshot_ms = (time.perf_counter() - s0) * 1000
    finally:
        await client.close()
    rects, rects0 = end.rectangles, start.rectangles
    return {
        "updates_per_s": (end.updates - start.updates) / wall,
        "bytes_per_s": (end.bytes_read - start.bytes_read) / wall,
        "client_cpu_pct": 100 * cpu / wall,
        "server_cpu_pct": 100 * srv / wall,
        "client_cpu_ms_per_update": 1000 * cpu / max(1, end.updates - start.updates),
        "jpeg_rects": rects.jpeg_rectangles - rects0.jpeg_rectangles,
        "jpeg_bytes": jpeg_bytes,
        "decoded_rects": rects.damage_rectangles - rects0.damage_rectangles,
        "pending_jpegs_at_end": pending,
        "snapshot_ms": snapshot_ms,
        "seconds": wall,
    }


async def run(seconds: float) -> dict[str, Any]:
    """Every workload under every mode."""
    results: dict[str, Any] = {"seconds": seconds, "runs": {}}
    for workload, (command, geometry) in WORKLOADS.items():
        with tempfile.TemporaryDirectory(prefix="oj-bench-vnc-") as tmp:
            server = launch_vnc(Path(tmp), xterm=None)
            try:
                server.start_xterm(*command, geometry=geometry)
                await asyncio.sleep(1.0)
                for mode, (quality, encoding) in MODES.items():
                    figures = await measure(server.host, server.port, server.pid, quality, encoding, seconds)
                    results["runs"][f"{workload} / {mode}"] = figures
                    print(f"{workload} / {mode}: {figures['updates_per_s']:.1f} updates/s", flush=True)
            finally:
                server.stop()
    return results


def table(results: dict[str, Any]) -> str:
    """The figures as a Markdown table."""
    header = ["workload / mode", "updates/s", "MB/s", "client CPU %", "ms CPU/update", "server CPU %"]
    header += ["JPEG rects", "decoded rects", "snapshot ms"]
    rows = [
        [
            name,
            f"{r['updates_per_s']:.1f}",
            f"{r['bytes_per_s'] / 1e6:.2f}",
            f"{r['client_cpu_pct']:.0f}",
            f"{r['client_cpu_ms_per_update']:.2f}",
            f"{r['server_cpu_pct']:.0f}",
            str(r["jpeg_rects"]),
            str(r["decoded_rects"]),
            f"{r['snapshot_ms']:.1f}",
        ]
        for name, r in results["runs"].items()
    ]
    return markdown_table(header, rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="3 s per run instead of 10")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per run")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args()
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    results = asyncio.run(run(seconds))
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()
