"""Browser encoder throughput: ``RfbClient`` + ``FrameEncoder`` (``jumpoint.desktop``) on TigerVNC, as the Jumpoint
would run them (without the tunnel and the console).

Not a test. For each workload an ``Xvnc`` (1280x800, VNC authentication) is started with an xterm (160x50 cells,
960x650 pixels) running it — ``colour``: an 80x50 grid of random colour cells redrawn every 20 ms (the VNC client
benchmark's); ``text``: ``base64 /dev/urandom`` scrolling; ``glyphs``: random letters in random colours on random
backgrounds every 30 ms (many colours, short runs: "mixed" content, which goes JPEG when it changes fast) — and for
each quality level this process connects, takes every frame as it comes for ``--seconds`` (10 by default) and encodes
it for the browser. Reported per run: frames/s, bytes/s out (the encoded images, i.e. what would go to the browser)
and in (from the VNC socket), the encoder's CPU (``time.process_time`` around ``encode``) and the rest of this
process (the RFB client: reading, decoding), the server's CPU, and the share of the output by codec: JPEG passed
through from the server, JPEG made here (of it, for fast-changing regions), PNG, WebP. Run as root (the fixtures'
servers)::

    .venv/bin/python -m benchmarks.bench_desktop_encoder [--quick] [--seconds N] [--json FILE]

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
from jumpoint.core.desktop import DesktopOutput, FrameEnd, Image, Quality
from jumpoint.core.secret import Secret
from jumpoint.desktop import FrameEncoder
from protocols.vnc import RfbClient
from tests.fixtures.vnc import VNC_PASSWORD, colour_animation, glyph_animation, launch_vnc

GEOMETRY = "160x50+0+0"
WORKLOADS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # name: (xterm command, quality levels)
    "colour": (colour_animation(cols=80, rows=50, delay=0.02), ("video", "more_colors", "full_color")),
    "text": (("sh", "-c", "base64 /dev/urandom"), ("full_color", "video")),
    "glyphs": (glyph_animation(cols=160, rows=50, delay=0.03), ("full_color", "more_colors")),
}
logging.getLogger("protocols.vnc").setLevel(logging.ERROR)  # the "not encrypted" warning, once per connection


async def measure(host: str, port: int, server_pid: int, quality: str, seconds: float) -> dict[str, Any]:
    """Take and encode one connection's frames for ``seconds``; what it took."""
    level = Quality(quality)  # type: ignore[arg-type]
    client = await RfbClient.connect(host, port, password=Secret(VNC_PASSWORD), quality=level)
    encoder = FrameEncoder(level)
    try:
        updates = client.updates()
        pending: list[DesktopOutput] = []
        async with asyncio.timeout(10):  # warm up: the first complete pictures
            frames = 0
            while frames < 3:
                event = await anext(updates)
                pending.append(event)
                if isinstance(event, FrameEnd):
                    encoder.encode(pending, client.pixels)
                    pending, frames = [], frames + 1
        stats0, bytes_in0 = encoder.stats, client.stats.bytes_read
        t0, cpu0, srv0 = time.monotonic(), time.process_time(), cpu_seconds(server_pid)
        encoder_cpu, frames, out_bytes, images = 0.0, 0, 0, 0
        while time.monotonic() - t0 < seconds:
            event = await anext(updates)
            pending.append(event)
            if isinstance(event, FrameEnd):
                e0 = time.process_time()
                out = encoder.encode(pending, client.pixels)
                encoder_cpu += time.process_time() - e0
                pending, frames = [], frames + 1
                for item in out:
                    if isinstance(item, Image):
                        out_bytes += len(item.data)
                        images += 1
        wall = time.monotonic() - t0
        cpu, srv = time.process_time() - cpu0, cpu_seconds(server_pid) - srv0
        stats, bytes_in = encoder.stats, client.stats.bytes_read
    finally:
        await client.close()
    share = {
        "jpeg_passthrough": stats.passthrough_bytes - stats0.passthrough_bytes,
        "jpeg_made": stats.jpeg_bytes - stats0.jpeg_bytes,
        "png": stats.png_bytes - stats0.png_bytes,
        "webp": stats.webp_bytes - stats0.webp_bytes,
    }
    return {
        "frames_per_s": frames / wall,
        "out_bytes_per_s": out_bytes / wall,
        "in_bytes_per_s": (bytes_in - bytes_in0) / wall,
        "images_per_frame": images / max(1, frames),
        "encoder_cpu_pct": 100 * encoder_cpu / wall,
        "client_cpu_pct": 100 * (cpu - encoder_cpu) / wall,
        "encoder_ms_per_frame": 1000 * encoder_cpu / max(1, frames),
        "server_cpu_pct": 100 * srv / wall,
        "bytes_by_codec": share,
        "fast_jpeg_images": stats.fast_jpeg_images - stats0.fast_jpeg_images,
        "jpeg_images_made": stats.jpeg_images - stats0.jpeg_images,
        "refresh_images": stats.refresh_images - stats0.refresh_images,
        "split_images": stats.split_images - stats0.split_images,
        "seconds": wall,
    }


async def run(seconds: float) -> dict[str, Any]:
    """Every workload under its quality levels."""
    results: dict[str, Any] = {"seconds": seconds, "runs": {}}
    for workload, (command, levels) in WORKLOADS.items():
        with tempfile.TemporaryDirectory(prefix="oj-bench-enc-") as tmp:
            server = launch_vnc(Path(tmp), xterm=None)
            try:
                server.start_xterm(*command, geometry=GEOMETRY)
                await asyncio.sleep(1.0)
                for level in levels:
                    figures = await measure(server.host, server.port, server.pid, level, seconds)
                    results["runs"][f"{workload} / {level}"] = figures
                    print(f"{workload} / {level}: {figures['frames_per_s']:.1f} frames/s", flush=True)
            finally:
                server.stop()
    return results


def _share(figures: dict[str, Any]) -> str:
    by_codec: dict[str, int] = figures["bytes_by_codec"]
    total = sum(by_codec.values()) or 1
    names = {"jpeg_passthrough": "JPEG fwd", "jpeg_made": "JPEG", "png": "PNG", "webp": "WebP"}
    return " ".join(f"{names[k]} {100 * v / total:.0f}%" for k, v in by_codec.items() if v)


def table(results: dict[str, Any]) -> str:
    """The figures as a Markdown table."""
    header = ["workload / level", "frames/s", "out MB/s", "in MB/s", "encoder CPU %", "ms/frame", "client CPU %"]
    header += ["server CPU %", "images/frame", "bytes by codec", "fast JPEG / refresh"]
    rows = [
        [
            name,
            f"{r['frames_per_s']:.1f}",
            f"{r['out_bytes_per_s'] / 1e6:.2f}",
            f"{r['in_bytes_per_s'] / 1e6:.2f}",
            f"{r['encoder_cpu_pct']:.0f}",
            f"{r['encoder_ms_per_frame']:.1f}",
            f"{r['client_cpu_pct']:.0f}",
            f"{r['server_cpu_pct']:.0f}",
            f"{r['images_per_frame']:.1f}",
            _share(r),
            f"{r['fast_jpeg_images']} / {r['refresh_images']}",
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
