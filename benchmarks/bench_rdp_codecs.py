"""RDP codec throughput: ``protocols.rdp.codecs`` (FreeRDP 2 through ctypes) decoding bitmap updates and bulk data.

Not a test. Three synthetic 1920x1080 desktops — ``text``: black glyph-like specks on white in 8x16 cells (few
colours, what interleaved RLE's foreground/background orders are for); ``ui``: flat panels with gradients and a
little noise; ``noise``: random pixels (the worst case) — are cut into the 64x64 tiles servers send and compressed
with FreeRDP's own compressors: interleaved RLE at 15, 16 and 24 bpp, planar (RLE, no alpha) at 32 bpp, and kept
uncompressed at 16, 24 and 32 bpp. Each codec then decodes whole desktops into a framebuffer for ``--seconds`` (2 by
default): the figures are Mpx/s of visible pixels, by the clock and per CPU second of this process (the steadier
one on a shared machine), and ms per 1080p desktop. Bulk: 16 KiB payloads (4 KiB for 8K MPPC) of the ``text``
desktop's tiles, RLE-compressed (bitmap updates: little left to gain) or raw at 16 bpp (very compressible), packed by
FreeRDP's MPPC, NCRUSH and XCRUSH compressors, are unpacked in order by one ``BulkDecompressor``: MB/s of output
and the compression ratio. Runs anywhere libfreerdp2 is::

    .venv/bin/python -m benchmarks.bench_rdp_codecs [--quick] [--seconds N] [--json FILE]

Prints a Markdown table; ``--json`` also writes the figures to FILE (the project keeps them in
``benchmarks/results/rdp_codecs.json``).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.harness import markdown_table
from protocols.rdp.codecs import BitmapDecoder, BulkDecompressor
from protocols.rdp.codecs import freerdp as frdp

WIDTH, HEIGHT, TILE = 1920, 1080, 64
Image = npt.NDArray[np.uint8]
Tile = tuple[bytes, int, int, int, int]  # data, x, y, width, height


# --- synthetic desktops (R, G, B, X) ------------------------------------------------------------------------------
def desktop(kind: str, rng: np.random.Generator) -> Image:
    """A 1920x1080 desktop of ``kind``: text, ui or noise."""
    img = np.zeros((HEIGHT, WIDTH, 4), dtype=np.uint8)
    if kind == "noise":
        img[..., :3] = rng.integers(0, 256, (HEIGHT, WIDTH, 3))
    elif kind == "text":
        img[..., :3] = 255
        cells = rng.random((HEIGHT // 16, WIDTH // 8)) < 0.6  # which 8x16 cells hold a glyph
        ink = rng.random((HEIGHT, WIDTH)) < 0.3
        glyphs = np.repeat(np.repeat(cells, 16, axis=0), 8, axis=1)
        mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
        mask[: glyphs.shape[0], : glyphs.shape[1]] = glyphs
        img[mask & ink, :3] = 0
    else:
        ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
        img[..., 0] = (xs * 255 // WIDTH).astype(np.uint8)
        img[..., 1] = (ys * 255 // HEIGHT).astype(np.uint8)
        img[..., 2] = 128
        for _ in range(40):  # flat panels
            x0, y0 = int(rng.integers(0, WIDTH - 200)), int(rng.integers(0, HEIGHT - 100))
            w, h = int(rng.integers(100, 600)), int(rng.integers(50, 400))
            img[y0 : y0 + h, x0 : x0 + w, :3] = rng.integers(0, 256, 3)
        speckle = rng.random((HEIGHT, WIDTH)) < 0.02
        img[speckle, :3] = rng.integers(0, 256, (int(speckle.sum()), 3))
    return img


def tiles(img: Image) -> list[tuple[Image, int, int]]:
    """The desktop as 64x64 tiles (the bottom row shorter), each with its position."""
    return [
        (np.ascontiguousarray(img[y : y + TILE, x : x + TILE]), x, y)
        for y in range(0, HEIGHT, TILE)
        for x in range(0, WIDTH, TILE)
    ]


# --- compressors (FreeRDP's, for the inputs) ----------------------------------------------------------------------
def interleaved_tiles(img: Image, bpp: int) -> list[Tile]:
    lib = frdp.load_freerdp()
    context = lib.bitmap_interleaved_context_new(1)
    out = ctypes.create_string_buffer(TILE * TILE * 4 + 64)
    result = []
    for tile, x, y in tiles(img):
        h, w, _ = tile.shape
        size = ctypes.c_uint32(len(out))
        ok = lib.interleaved_compress(
            context, out, ctypes.byref(size), w, h, tile.ctypes.data, frdp.PIXEL_FORMAT_RGBX32, w * 4, 0, 0, None, bpp
        )
        assert ok, "interleaved_compress failed"
        result.append((out.raw[: size.value], x, y, w, h))
    lib.bitmap_interleaved_context_free(context)
    return result


def planar_tiles(img: Image) -> list[Tile]:
    lib = frdp.load_freerdp()
    context = lib.freerdp_bitmap_planar_context_new(0x30, TILE, TILE)  # RLE, no alpha: what servers send
    out = ctypes.create_string_buffer(1 + TILE * TILE * 8 + 64)
    result = []
    for tile, x, y in tiles(img):
        h, w, _ = tile.shape
        bgrx = np.ascontiguousarray(tile[..., [2, 1, 0, 3]])
        size = ctypes.c_uint32(len(out))
        ok = lib.freerdp_bitmap_compress_planar(
            context, bgrx.ctypes.data, frdp.PIXEL_FORMAT_BGRX32, w, h, w * 4, out, ctypes.byref(size)
        )
        assert ok, "freerdp_bitmap_compress_planar failed"
        result.append((out.raw[: size.value], x, y, w, h))
    lib.freerdp_bitmap_planar_context_free(context)
    return result


def uncompressed_tiles(img: Image, bpp: int) -> list[Tile]:
    result = []
    for tile, x, y in tiles(img):
        h, w, _ = tile.shape
        rows = tile[::-1].astype(np.uint32)
        r, g, b = rows[..., 0], rows[..., 1], rows[..., 2]
        if bpp == 16:
            data = ((r >> 3) << 11 | (g >> 2) << 5 | b >> 3).astype("<u2").tobytes()
        elif bpp == 24:
            data = np.stack([b, g, r], -1).astype(np.uint8).tobytes()
        else:
            data = np.stack([b, g, r, r * 0], -1).astype(np.uint8).tobytes()
        result.append((data, x, y, w, h))
    return result


# --- measurements -----------------------------------------------------------------------------------------------
def decode_rate(
    decoder: BitmapDecoder, stream: list[Tile], bpp: int, compressed: bool, seconds: float
) -> dict[str, Any]:
    """Decode the desktop's tiles into a framebuffer again and again for ``seconds``."""
    fb = np.zeros((HEIGHT, WIDTH, 4), dtype=np.uint8)

    def one_desktop() -> None:
        for data, x, y, w, h in stream:
            decoder.decode(
                data, width=w, height=h, bpp=bpp, compressed=compressed, fb=fb, x=x, y=y, clip_width=w, clip_height=h
            )

    one_desktop()  # warm up
    desktops = 0
    t0, cpu0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        one_desktop()
        desktops += 1
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    in_bytes = sum(len(t[0]) for t in stream)
    return {
        "mpx_per_s": desktops * WIDTH * HEIGHT / wall / 1e6,
        "mpx_per_cpu_s": desktops * WIDTH * HEIGHT / cpu / 1e6,
        "ms_per_desktop": 1000 * wall / desktops,
        "input_mb_per_s": desktops * in_bytes / wall / 1e6,
        "bytes_per_pixel_in": in_bytes / (WIDTH * HEIGHT),
        "cpu_pct": 100 * cpu / wall,
    }


def bulk_packets(kind: int, payloads: list[bytes]) -> list[tuple[bytes, int]]:
    """``payloads`` as FreeRDP's compressor of ``kind`` sends them: (wire bytes, compression flags)."""
    lib = frdp.load_freerdp()
    new: dict[int, Callable[[], int]] = {
        0: lambda: lib.mppc_context_new(0, 1),
        1: lambda: lib.mppc_context_new(1, 1),
        2: lambda: lib.ncrush_context_new(1),
        3: lambda: lib.xcrush_context_new(1),
    }
    compress = {0: lib.mppc_compress, 1: lib.mppc_compress, 2: lib.ncrush_compress, 3: lib.xcrush_compress}[kind]
    context = new[kind]()
    packets = []
    for payload in payloads:
        out = ctypes.create_string_buffer(len(payload) + 64)
        out_ptr, out_size, flags = ctypes.c_void_p(ctypes.addressof(out)), ctypes.c_uint32(len(out)), ctypes.c_uint32()
        status = compress(
            context, payload, len(payload), ctypes.byref(out_ptr), ctypes.byref(out_size), ctypes.byref(flags)
        )
        assert status >= 0, f"compressor {kind} failed: {status}"
        packets.append(
            (ctypes.string_at(out_ptr.value or 0, out_size.value), flags.value | (kind if flags.value else 0))
        )
    {0: lib.mppc_context_free, 1: lib.mppc_context_free, 2: lib.ncrush_context_free, 3: lib.xcrush_context_free}[kind](
        context
    )
    return packets


def bulk_rate(packets: list[tuple[bytes, int]], payloads: list[bytes], seconds: float) -> dict[str, Any]:
    """Decompress the packets in order, with a fresh history each pass, for ``seconds``."""
    with BulkDecompressor() as check:
        assert [check.decompress(p, f) for p, f in packets] == payloads, "round trip failed"
    passes = 0
    t0, cpu0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        with BulkDecompressor() as bulk:
            for packet, flags in packets:
                bulk.decompress(packet, flags)
        passes += 1
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    out_bytes, in_bytes = sum(map(len, payloads)), sum(len(p) for p, _ in packets)
    return {
        "mb_per_s": passes * out_bytes / wall / 1e6,
        "mb_per_cpu_s": passes * out_bytes / cpu / 1e6,
        "input_mb_per_s": passes * in_bytes / wall / 1e6,
        "ratio": out_bytes / in_bytes,
        "compressed_packets_pct": 100 * sum(1 for _, f in packets if f & 0x20) / len(packets),
    }


def run(seconds: float) -> dict[str, Any]:
    rng = np.random.default_rng(2024)
    results: dict[str, Any] = {
        "seconds": seconds,
        "machine": platform.processor() or platform.machine(),
        "desktop": f"{WIDTH}x{HEIGHT} in {TILE}x{TILE} tiles",
        "bitmaps": {},
        "bulk": {},
    }
    desktops = {kind: desktop(kind, rng) for kind in ("text", "ui", "noise")}
    with BitmapDecoder() as decoder:
        for kind, img in desktops.items():
            codecs: list[tuple[str, list[Tile], int, bool]] = [
                *((f"interleaved {bpp} bpp", interleaved_tiles(img, bpp), bpp, True) for bpp in (15, 16, 24)),
                ("planar 32 bpp", planar_tiles(img), 32, True),
                *((f"uncompressed {bpp} bpp", uncompressed_tiles(img, bpp), bpp, False) for bpp in (16, 24, 32)),
            ]
            for name, stream, bpp, compressed in codecs:
                results["bitmaps"][f"{name} / {kind}"] = decode_rate(decoder, stream, bpp, compressed, seconds)
    contents = {
        "RLE tiles": b"".join(t[0] for t in interleaved_tiles(desktops["text"], 16)),
        "raw tiles": b"".join(t[0] for t in uncompressed_tiles(desktops["text"], 16)),
    }
    bulk_types = ((0, "MPPC 8K", 4096), (1, "MPPC 64K", 16384), (2, "NCRUSH", 16000), (3, "XCRUSH", 16000))
    for content, packed in contents.items():
        for compression, label, size in bulk_types:
            payloads = [packed[i : i + size] for i in range(0, len(packed), size)][:200]
            packets = bulk_packets(compression, payloads)
            results["bulk"][f"{label} / {content}"] = bulk_rate(packets, payloads, seconds)
    return results


def table(results: dict[str, Any]) -> str:
    """The figures as Markdown tables."""
    bitmaps = markdown_table(
        ["codec / desktop", "Mpx/s", "Mpx per CPU s", "ms per 1080p desktop", "input MB/s", "input bytes/px", "CPU %"],
        [
            [
                name,
                f"{r['mpx_per_s']:.0f}",
                f"{r['mpx_per_cpu_s']:.0f}",
                f"{r['ms_per_desktop']:.2f}",
                f"{r['input_mb_per_s']:.0f}",
                f"{r['bytes_per_pixel_in']:.2f}",
                f"{r['cpu_pct']:.0f}",
            ]
            for name, r in results["bitmaps"].items()
        ],
    )
    bulk = markdown_table(
        ["bulk", "output MB/s", "output MB per CPU s", "input MB/s", "ratio", "compressed packets %"],
        [
            [
                name,
                f"{r['mb_per_s']:.0f}",
                f"{r['mb_per_cpu_s']:.0f}",
                f"{r['input_mb_per_s']:.0f}",
                f"{r['ratio']:.2f}",
                f"{r['compressed_packets_pct']:.0f}",
            ]
            for name, r in results["bulk"].items()
        ],
    )
    return f"{bitmaps}\n\n{bulk}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="0.5 s per measurement instead of 2")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per measurement")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args()
    seconds = args.seconds or (0.5 if args.quick else 2.0)
    results = run(seconds)
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()
