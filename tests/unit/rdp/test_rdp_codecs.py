"""The FreeRDP-backed RDP codecs: interleaved RLE, planar and uncompressed bitmaps, bulk decompression, pointers.

Bitmaps are checked three ways: hand-built streams against the pixels MS-RDPBCGR / MS-RDPEGDI define (including the
specification's own examples), round trips through FreeRDP's compressors, and, for interleaved RLE, FreeRDP's
decoder against a per-pixel transcription of the specification's decoder below. (FreeRDP 2.11's interleaved
*compressor* mis-encodes some few-colour content, so exact round trips use noise, and the reference decoder judges
the rest.) Malformed input must raise and never write outside the destination: framebuffers here sit between guard
bytes and are pre-filled with a sentinel.
"""

from __future__ import annotations

import ctypes
import os
import random
import struct
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from jumpoint.core.errors import ConfigError
from protocols.rdp.codecs import BitmapDecoder, BulkDecompressor, MalformedBitmap, MalformedBulkData, pointer_rgba
from protocols.rdp.codecs import freerdp as frdp
from protocols.rdp.codecs.bitmap import MAX_BITMAP_PIXELS
from protocols.rdp.codecs.bulk import MAX_DECOMPRESSED_SIZE
from protocols.rdp.codecs.pointer import MalformedPointer, and_mask_length, xor_mask_length

Image = npt.NDArray[np.uint8]
GUARD = 64
SENTINEL = 0xA5


# --- helpers ----------------------------------------------------------------------------------------------------
@pytest.fixture
def decoder() -> Iterator[BitmapDecoder]:
    with BitmapDecoder() as d:
        yield d


class Guarded:
    """A framebuffer inside a larger buffer whose guard bytes (and the framebuffer itself) start as a sentinel."""

    def __init__(self, width: int, height: int) -> None:
        self.buffer = np.full(width * height * 4 + 2 * GUARD, SENTINEL, dtype=np.uint8)
        self.fb: Image = self.buffer[GUARD : GUARD + width * height * 4].reshape(height, width, 4)

    def guards_intact(self) -> bool:
        return bool((self.buffer[:GUARD] == SENTINEL).all() and (self.buffer[-GUARD:] == SENTINEL).all())

    def untouched_outside(self, x: int, y: int, w: int, h: int) -> bool:
        mask = np.ones(self.fb.shape[:2], dtype=bool)
        mask[y : y + h, x : x + w] = False
        return bool((self.fb[mask] == SENTINEL).all())


def decode_whole(decoder: BitmapDecoder, data: bytes, width: int, height: int, bpp: int, compressed: bool) -> Image:
    fb = np.zeros((height, width, 4), dtype=np.uint8)
    decoder.decode(
        data,
        width=width,
        height=height,
        bpp=bpp,
        compressed=compressed,
        fb=fb,
        x=0,
        y=0,
        clip_width=width,
        clip_height=height,
    )
    return fb


def expand(r: npt.NDArray[Any], g: npt.NDArray[Any], b: npt.NDArray[Any], bpp: int) -> Image:
    """Native 5/6-bit channels to 8 bits as FreeRDP expands them (its ``SplitColor``)."""
    g8 = np.minimum(255, (g << 2) + g // 8) if bpp == 16 else (g << 3) + g // 4
    return np.stack([(r << 3) + r // 4, g8, (b << 3) + b // 4], -1).astype(np.uint8)


def native_to_rgb(values: npt.NDArray[np.uint32], bpp: int) -> Image:
    if bpp == 24:  # B, G, R on the wire: read little-endian, red is the high byte
        return np.stack([(values >> 16) & 0xFF, (values >> 8) & 0xFF, values & 0xFF], -1).astype(np.uint8)
    if bpp == 16:
        return expand((values >> 11) & 31, (values >> 5) & 63, values & 31, 16)
    return expand((values >> 10) & 31, (values >> 5) & 31, values & 31, 15)


def quantise(rgb: Image, bpp: int) -> Image:
    """What an 8-bit RGB image becomes after a trip through ``bpp``."""
    if bpp == 24:
        return rgb
    c = rgb.astype(np.uint32)
    return expand(c[..., 0] >> 3, c[..., 1] >> (2 if bpp == 16 else 3), c[..., 2] >> 3, bpp)


def interleaved_compress(src_rgbx: Image, bpp: int) -> bytes:
    lib = frdp.load_freerdp()
    height, width, _ = src_rgbx.shape
    context = lib.bitmap_interleaved_context_new(1)
    try:
        out = ctypes.create_string_buffer(width * height * 4 + 64)
        size = ctypes.c_uint32(len(out))
        ok = lib.interleaved_compress(
            context,
            out,
            ctypes.byref(size),
            width,
            height,
            src_rgbx.ctypes.data,
            frdp.PIXEL_FORMAT_RGBX32,
            width * 4,
            0,
            0,
            None,
            bpp,
        )
        assert ok
        return out.raw[: size.value]
    finally:
        lib.bitmap_interleaved_context_free(context)


def planar_compress(src_bgra: Image, flags: int) -> bytes:
    """FreeRDP's planar compressor (``flags``: 0x10 RLE, 0x20 no alpha); its output is bottom-up, as on the wire."""
    lib = frdp.load_freerdp()
    height, width, _ = src_bgra.shape
    context = lib.freerdp_bitmap_planar_context_new(flags, width, height)
    try:
        out = ctypes.create_string_buffer(1 + width * height * 8 + 64)
        size = ctypes.c_uint32(len(out))
        ok = lib.freerdp_bitmap_compress_planar(
            context, src_bgra.ctypes.data, frdp.PIXEL_FORMAT_BGRA32, width, height, width * 4, out, ctypes.byref(size)
        )
        assert ok
        return out.raw[: size.value]
    finally:
        lib.freerdp_bitmap_planar_context_free(context)


def rle_reference_decode(
    data: bytes, width: int, height: int, bpp: int, seen: set[int] | None = None
) -> npt.NDArray[np.uint32]:
    """MS-RDPBCGR 3.1.9 RleDecompress transcribed per pixel: native pixel values, rows top-down. The order codes met
    are added to ``seen``."""
    size = 3 if bpp == 24 else 2
    white = 0xFFFFFF if bpp == 24 else 0xFFFF
    out: list[int] = []
    pos, fg, insert_fg, first_line = 0, white, False, True

    def pixel() -> int:
        nonlocal pos
        if pos + size > len(data):
            raise ValueError("truncated pixel")
        value = int.from_bytes(data[pos : pos + size], "little")
        pos += size
        return value

    def put(value: int) -> None:
        if len(out) >= width * height:
            raise ValueError("overflow")
        out.append(value)

    def above() -> int:
        return out[len(out) - width]

    def fgbg(mask: int, count: int) -> None:
        for bit in range(count):
            if mask & (1 << bit):
                put(fg if first_line else above() ^ fg)
            else:
                put(0 if first_line else above())

    while pos < len(data):
        if first_line and len(out) >= width:
            first_line, insert_fg = False, False
        header = data[pos]
        code = header >> 5 if header & 0xC0 != 0xC0 else header if header & 0xF0 == 0xF0 else header >> 4
        if seen is not None:
            seen.add(code)
        if code in (0xF0, 0xF1, 0xF2, 0xF3, 0xF4, 0xF6, 0xF7, 0xF8):
            run, pos = data[pos + 1] | data[pos + 2] << 8, pos + 3
        elif code in (0x2, 0xD):  # FG/BG images count in bytes of mask unless extended
            low = header & (0x1F if code == 0x2 else 0x0F)
            run, pos = (data[pos + 1] + 1, pos + 2) if low == 0 else (low * 8, pos + 1)
        elif code in (0x0, 0x1, 0x3, 0x4):
            low = header & 0x1F
            run, pos = (data[pos + 1] + 32, pos + 2) if low == 0 else (low, pos + 1)
        elif code in (0xC, 0xE):
            low = header & 0x0F
            run, pos = (data[pos + 1] + 16, pos + 2) if low == 0 else (low, pos + 1)
        else:
            run, pos = 0, pos + 1
        if code in (0x0, 0xF0):  # background run
            if insert_fg:
                put(fg if first_line else above() ^ fg)
                run -= 1
            for _ in range(run):
                put(0 if first_line else above())
            insert_fg = True
            continue
        insert_fg = False
        if code in (0x1, 0xF1, 0xC, 0xF6):  # foreground runs, the last two setting the colour first
            if code in (0xC, 0xF6):
                fg = pixel()
            for _ in range(run):
                put(fg if first_line else above() ^ fg)
        elif code in (0xE, 0xF8):
            a, b = pixel(), pixel()
            for _ in range(run):
                put(a)
                put(b)
        elif code in (0x3, 0xF3):
            value = pixel()
            for _ in range(run):
                put(value)
        elif code in (0x2, 0xF2, 0xD, 0xF7):
            if code in (0xD, 0xF7):
                fg = pixel()
            while run > 0:
                count = min(8, run)
                mask, pos = data[pos], pos + 1
                fgbg(mask, count)
                run -= count
        elif code in (0x4, 0xF4):
            for _ in range(run):
                put(pixel())
        elif code in (0xF9, 0xFA):
            fgbg(0x03 if code == 0xF9 else 0x05, 8)
        elif code in (0xFD, 0xFE):
            put(white if code == 0xFD else 0)
        else:
            raise ValueError(f"unknown order {header:#04x}")
    values = np.zeros(width * height, dtype=np.uint32)
    values[: len(out)] = out
    return values.reshape(height, width)[::-1]


def px16(r: int, g: int, b: int) -> bytes:
    return struct.pack("<H", (r << 11) | (g << 5) | b)


def rgb16(value: int) -> tuple[int, int, int]:
    rgb = native_to_rgb(np.array([value], dtype=np.uint32), 16)[0]
    return int(rgb[0]), int(rgb[1]), int(rgb[2])


# --- interleaved RLE --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bpp", [15, 16, 24])
def test_interleaved_round_trip_matches_source(decoder: BitmapDecoder, bpp: int) -> None:
    rng = np.random.default_rng(bpp)
    for width, height in [(64, 64), (4, 1), (32, 17), (12, 64)]:
        src = np.zeros((height, width, 4), dtype=np.uint8)
        src[..., :3] = rng.integers(0, 256, (height, width, 3))
        fb = decode_whole(decoder, interleaved_compress(src, bpp), width, height, bpp, True)
        assert (fb[..., :3] == quantise(src[..., :3], bpp)).all()
        assert (fb[..., 3] == 255).all()


def test_interleaved_decoder_agrees_with_the_specification_reference(decoder: BitmapDecoder) -> None:
    rng = np.random.default_rng(7)
    codes: set[int] = set()
    for trial in range(150):
        bpp = (15, 16, 24)[trial % 3]
        width, height = int(rng.integers(1, 17)) * 4, int(rng.integers(1, 65))
        src = np.zeros((height, width, 4), dtype=np.uint8)
        match trial // 3 % 5:
            case 0:
                src[..., :3] = rng.integers(0, 256, (height, width, 3))
            case 1:
                src[..., :3] = rng.integers(0, 3, (height, width, 1)) * 100
            case 2:
                src[..., :3] = rng.integers(0, 2, (height, width, 1)) * 255
            case 3:
                src[::2, :, :3] = 255
                src[:, ::3, 1] = 7
            case _:
                src[..., :3] = rng.integers(0, 4, (height, 1, 1)) * 60
        data = interleaved_compress(src, bpp)
        expected = native_to_rgb(rle_reference_decode(data, width, height, bpp, codes), bpp)
        fb = decode_whole(decoder, data, width, height, bpp, True)
        assert (fb[..., :3] == expected).all(), (bpp, width, height, trial)
    assert len(codes) >= 6, sorted(codes)  # the streams exercised many kinds of orders


W1, R1, G1, B1 = px16(31, 63, 31), px16(31, 0, 0), px16(0, 63, 0), px16(0, 0, 31)
P = [0x1234, 0x0F0F, 0x8001, 0x7BEF]
FIRST = bytes([0x84]) + b"".join(struct.pack("<H", p) for p in P)  # REGULAR_COLOR_IMAGE of the bottom line


@pytest.mark.parametrize(
    ("stream", "width", "height", "top_down"),
    [
        # REGULAR_COLOR_RUN (0x60 | 5) of red
        (bytes([0x65]) + R1, 5, 1, [[0xF800] * 5]),
        # MEGA_MEGA_COLOR_RUN (0xF3, length 300 little-endian) of green
        (bytes([0xF3]) + struct.pack("<H", 300) + G1, 300, 1, [[0x07E0] * 300]),
        # extended REGULAR_COLOR_RUN: length 0 in the header, next byte + 32
        (bytes([0x60, 8]) + B1, 40, 1, [[0x001F] * 40]),
        # a background run in the first line is black; SPECIAL_WHITE then SPECIAL_BLACK
        (bytes([0x02, 0xFD, 0xFE]), 4, 1, [[0, 0, 0xFFFF, 0]]),
        # REGULAR_FG_RUN (0x20 | 4) above a line: each pixel is the one below XOR white (the initial foreground)
        (FIRST + bytes([0x24]), 4, 2, [[p ^ 0xFFFF for p in P], P]),
        # two background runs in a row: the second starts with one foreground pixel (fInsertFgPel)
        (FIRST + bytes([0x02, 0x02]), 4, 2, [[P[0], P[1], P[2] ^ 0xFFFF, P[3]], P]),
        # LITE_SET_FG_FG_RUN (0xC0 | 4) sets the foreground to 0x00FF first
        (FIRST + bytes([0xC4]) + struct.pack("<H", 0x00FF), 4, 2, [[p ^ 0x00FF for p in P], P]),
        # LITE_DITHERED_RUN (0xE0 | 2 pairs) alternates two colours
        (bytes([0xE2]) + R1 + B1, 4, 1, [[0xF800, 0x001F, 0xF800, 0x001F]]),
        # LITE_SET_FG_FGBG_IMAGE (0xD0 | 1 -> 8 pixels), foreground 0x1111, mask 0xA5 read from bit 0 upwards
        (
            bytes([0x88]) + struct.pack("<8H", *range(1, 9)) + bytes([0xD1]) + struct.pack("<H", 0x1111) + b"\xa5",
            8,
            2,
            [[v ^ 0x1111 if 0xA5 >> i & 1 else v for i, v in enumerate(range(1, 9))], list(range(1, 9))],
        ),
        # SPECIAL_FGBG_1 (0xF9, mask 0x03) in the first line: two foreground (white) pixels, six black
        (bytes([0xF9]), 8, 1, [[0xFFFF, 0xFFFF] + [0] * 6]),
    ],
)
def test_interleaved_hand_built_orders_decode_as_the_specification_defines(
    decoder: BitmapDecoder, stream: bytes, width: int, height: int, top_down: list[list[int]]
) -> None:
    fb = decode_whole(decoder, stream, width, height, 16, True)
    expected = native_to_rgb(np.array(top_down, dtype=np.uint32), 16)
    assert (fb[..., :3] == expected).all()
    assert (fb[..., 3] == 255).all()


def test_interleaved_24bpp_pixels_are_blue_green_red_on_the_wire(decoder: BitmapDecoder) -> None:
    fb = decode_whole(decoder, bytes([0x81, 0x10, 0x20, 0x30]), 1, 1, 24, True)
    assert fb[0, 0].tolist() == [0x30, 0x20, 0x10, 255]


def test_interleaved_15bpp_ignores_the_top_bit(decoder: BitmapDecoder) -> None:
    fb = decode_whole(decoder, bytes([0x82]) + struct.pack("<2H", 0x7C00, 0xFC00), 2, 1, 15, True)
    assert fb[0, 0].tolist() == fb[0, 1].tolist() == [255, 0, 0, 255]


def test_interleaved_visible_part_is_the_top_left_of_the_bitmap(decoder: BitmapDecoder) -> None:
    src = np.zeros((64, 64, 4), dtype=np.uint8)
    src[..., :3] = np.random.default_rng(1).integers(0, 256, (64, 64, 3))
    data = interleaved_compress(src, 24)
    for clip_width, clip_height in [(64, 64), (50, 64), (64, 20), (13, 7)]:
        target = Guarded(100, 80)
        decoder.decode(
            data,
            width=64,
            height=64,
            bpp=24,
            compressed=True,
            fb=target.fb,
            x=30,
            y=10,
            clip_width=clip_width,
            clip_height=clip_height,
        )
        assert (target.fb[10 : 10 + clip_height, 30 : 30 + clip_width, :3] == src[:clip_height, :clip_width, :3]).all()
        assert target.untouched_outside(30, 10, clip_width, clip_height)
        assert target.guards_intact()


def test_interleaved_short_stream_leaves_black_not_an_earlier_bitmap(decoder: BitmapDecoder) -> None:
    grey = np.full((64, 64, 4), 200, dtype=np.uint8)
    decode_whole(decoder, interleaved_compress(grey, 16), 64, 64, 16, True)
    fb = decode_whole(decoder, bytes([0x61]) + W1, 64, 64, 16, True)  # a REGULAR_COLOR_RUN of one white pixel
    assert fb[63, 0].tolist() == [255, 255, 255, 255]  # the first pixel of the stream is the bottom-left one
    fb[63, 0] = 0
    assert (fb[..., :3] == 0).all()


# --- planar (RDP 6.0) -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("flags", "header"), [(0x30, 0x30), (0x10, 0x10), (0x20, 0x20), (0x00, 0x00)])
def test_planar_round_trip_matches_source(decoder: BitmapDecoder, flags: int, header: int) -> None:
    rng = np.random.default_rng(flags)
    src = rng.integers(0, 256, (64, 64, 4), dtype=np.uint8)  # B, G, R, A
    src[40:] = (10, 20, 30, 0)  # something for RLE to find
    data = planar_compress(src, flags)
    assert data[0] == header
    fb = decode_whole(decoder, data, 64, 64, 32, True)
    assert (fb[..., :3] == src[..., 2::-1]).all()
    assert (fb[..., 3] == 255).all()  # the alpha plane never reaches the framebuffer


def test_planar_specification_examples_decode(decoder: BitmapDecoder) -> None:
    # MS-RDPEGDI 3.1.9.2: "AAAABBCCCCCD" as RAW [A] RUN [3], RAW [BBC] RUN [4], RAW [D] RUN [0] (red plane);
    # green is RAW [0x10] RUN [11]; blue is a RUN of 12 with no RAW (zero).
    red, green, blue = bytes.fromhex("13 41 34 42 42 43 10 44"), bytes.fromhex("1b 10"), bytes.fromhex("0c")
    fb = decode_whole(decoder, bytes([0x30]) + red + green + blue, 12, 1, 32, True)
    assert bytes(fb[0, :, 0]) == b"AAAABBCCCCCD"
    assert (fb[0, :, 1] == 0x10).all() and (fb[0, :, 2] == 0).all()
    # MS-RDPEGDI 3.1.9.2: scan lines 10..60, then 5..55 twice, as delta values (-5 -> 9, then 0); bottom-up.
    plane = bytes.fromhex("60 0a 14 1e 28 32 3c 15 09 06")
    fb = decode_whole(decoder, bytes([0x30]) + plane + plane + bytes.fromhex("06 06 06"), 6, 3, 32, True)
    assert fb[..., 0].tolist() == [[5, 15, 25, 35, 45, 55], [5, 15, 25, 35, 45, 55], [10, 20, 30, 40, 50, 60]]
    # MS-RDPEGDI 3.1.9.2.2: 100 x "A" as 0x1F 0x41 0xF2 0x52 (extra long runs).
    plane = bytes.fromhex("1f 41 f2 52")
    fb = decode_whole(decoder, bytes([0x30]) + plane * 3, 100, 1, 32, True)
    assert (fb[0] == (0x41, 0x41, 0x41, 255)).all()


def test_planar_raw_ycocg_with_colour_loss_decodes_to_grey(decoder: BitmapDecoder) -> None:
    # CLL 1, no RLE, no alpha: luma 128 and zero chroma is mid grey whatever the colour loss.
    width, height = 4, 2
    data = bytes([0x21]) + bytes([128]) * (width * height) + bytes(width * height * 2)
    fb = decode_whole(decoder, data, width, height, 32, True)
    assert (fb == (128, 128, 128, 255)).all()


def test_planar_visible_part_is_the_top_left_of_the_bitmap(decoder: BitmapDecoder) -> None:
    src = np.random.default_rng(5).integers(0, 256, (64, 64, 4), dtype=np.uint8)
    data = planar_compress(src, 0x20)
    target = Guarded(70, 70)
    decoder.decode(
        data, width=64, height=64, bpp=32, compressed=True, fb=target.fb, x=6, y=6, clip_width=40, clip_height=25
    )
    assert (target.fb[6:31, 6:46, :3] == src[:25, :40, 2::-1]).all()
    assert target.untouched_outside(6, 6, 40, 25)
    assert target.guards_intact()


def test_planar_bitmaps_larger_than_a_tile_grow_the_context(decoder: BitmapDecoder) -> None:
    for width, height in [(300, 200), (64, 64), (1200, 1000), (8, 8)]:
        src = np.random.default_rng(width).integers(0, 256, (height, width, 4), dtype=np.uint8)
        fb = decode_whole(decoder, planar_compress(src, 0x20), width, height, 32, True)
        assert (fb[..., :3] == src[..., 2::-1]).all()


def test_planar_red_blue_swap_applies_only_to_bitmaps_with_alpha() -> None:
    src = np.random.default_rng(9).integers(0, 256, (16, 16, 4), dtype=np.uint8)
    with BitmapDecoder(swap_planar_red_blue=True) as swapping:
        with_alpha = decode_whole(swapping, planar_compress(src, 0x00), 16, 16, 32, True)
        without_alpha = decode_whole(swapping, planar_compress(src, 0x20), 16, 16, 32, True)
        swapping._reset_planar(128, 128)  # a context reset must not lose the setting
        regrown = decode_whole(swapping, planar_compress(src, 0x00), 16, 16, 32, True)
    assert (with_alpha[..., :3] == src[..., :3]).all()
    assert (regrown[..., :3] == src[..., :3]).all()
    assert (without_alpha[..., :3] == src[..., 2::-1]).all()


# --- uncompressed -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bpp", [15, 16, 24, 32])
def test_uncompressed_conversion_matches_freerdp_image_copy(decoder: BitmapDecoder, bpp: int) -> None:
    lib = frdp.load_freerdp()
    width, height = 20, 9
    stride = width * ((bpp + 7) // 8)
    data = np.random.default_rng(bpp).integers(0, 256, stride * height, dtype=np.uint8).tobytes()
    source_format = {
        15: frdp.PIXEL_FORMAT_RGB15,
        16: frdp.PIXEL_FORMAT_RGB16,
        24: frdp.PIXEL_FORMAT_BGR24,
        32: frdp.PIXEL_FORMAT_BGRX32,
    }[bpp]
    expected = np.zeros((height, width, 4), dtype=np.uint8)
    assert lib.freerdp_image_copy(
        expected.ctypes.data,
        frdp.PIXEL_FORMAT_RGBX32,
        width * 4,
        0,
        0,
        width,
        height,
        data,
        source_format,
        stride,
        0,
        0,
        None,
        frdp.FREERDP_FLIP_VERTICAL,
    )
    got = decode_whole(decoder, data, width, height, bpp, False)
    assert (got == expected).all()
    assert (got[..., 3] == 255).all()


def test_uncompressed_rows_are_bottom_up_and_clipped_to_the_top_left(decoder: BitmapDecoder) -> None:
    rows = [bytes([0, 0, v, 0]) * 4 for v in (1, 2, 3, 4)]  # 32 bpp B, G, R, X; bottom row first
    target = Guarded(8, 8)
    decoder.decode(
        memoryview(b"".join(rows)),
        width=4,
        height=4,
        bpp=32,
        compressed=False,
        fb=target.fb,
        x=2,
        y=3,
        clip_width=3,
        clip_height=2,
    )
    assert target.fb[3:5, 2:5, 0].tolist() == [[4, 4, 4], [3, 3, 3]]
    assert target.untouched_outside(2, 3, 3, 2)
    assert target.guards_intact()


def test_uncompressed_data_shorter_than_the_bitmap_is_malformed(decoder: BitmapDecoder) -> None:
    with pytest.raises(MalformedBitmap, match="needs 96 bytes"):
        decode_whole(decoder, bytes(95), 8, 4, 24, False)


# --- validation and malformed input -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("x", "y", "clip_width", "clip_height"),
    [(-1, 0, 4, 4), (0, -1, 4, 4), (61, 0, 4, 4), (0, 45, 4, 4), (64, 0, 1, 1), (0, 0, 65, 4)],
)
def test_rectangles_outside_the_framebuffer_are_refused(
    decoder: BitmapDecoder, x: int, y: int, clip_width: int, clip_height: int
) -> None:
    target = Guarded(64, 48)
    for compressed, bpp, data in [(False, 32, bytes(64 * 64 * 4)), (True, 16, bytes([0x61]) + W1)]:
        with pytest.raises(MalformedBitmap):
            decoder.decode(
                data,
                width=64,
                height=64,
                bpp=bpp,
                compressed=compressed,
                fb=target.fb,
                x=x,
                y=y,
                clip_width=clip_width,
                clip_height=clip_height,
            )
    assert (target.fb == SENTINEL).all() and target.guards_intact()


@pytest.mark.parametrize(
    ("width", "height", "bpp", "clip_width", "clip_height", "message"),
    [
        (4, 4, 8, 4, 4, "depth 8 bpp"),
        (4, 4, 30, 4, 4, "depth 30 bpp"),
        (0, 4, 16, 1, 4, "size 0x4"),
        (8193, 1, 16, 1, 1, "size 8193x1"),
        (8192, 8192, 16, 1, 1, f"over {MAX_BITMAP_PIXELS} pixels"),
        (4, 4, 16, 5, 4, "does not lie in"),
        (4, 4, 16, 4, 0, "does not lie in"),
    ],
)
def test_bad_sizes_and_depths_are_refused(
    decoder: BitmapDecoder, width: int, height: int, bpp: int, clip_width: int, clip_height: int, message: str
) -> None:
    fb = np.zeros((100, 100, 4), dtype=np.uint8)
    with pytest.raises(MalformedBitmap, match=message):
        decoder.decode(
            b"\x61\xff\xff",
            width=width,
            height=height,
            bpp=bpp,
            compressed=True,
            fb=fb,
            x=0,
            y=0,
            clip_width=clip_width,
            clip_height=clip_height,
        )


def test_empty_compressed_data_is_malformed(decoder: BitmapDecoder) -> None:
    with pytest.raises(MalformedBitmap, match="no data"):
        decode_whole(decoder, b"", 4, 4, 32, True)


@pytest.mark.parametrize("bpp", [15, 16, 24, 32])
def test_garbage_and_truncated_streams_never_write_outside_the_rectangle(decoder: BitmapDecoder, bpp: int) -> None:
    rng = random.Random(bpp)
    src = np.random.default_rng(bpp).integers(0, 256, (64, 64, 4), dtype=np.uint8)
    src[30:] = 77
    valid = planar_compress(src, 0x30) if bpp == 32 else interleaved_compress(src, bpp)
    streams = [valid[:n] for n in range(1, len(valid), max(1, len(valid) // 40))]
    streams += [os.urandom(rng.randrange(1, 400)) for _ in range(150)]
    streams += [bytes([header]) + os.urandom(rng.randrange(0, 40)) for header in range(256)]
    refused = 0
    for data in streams:
        target = Guarded(80, 80)
        try:
            decoder.decode(
                data,
                width=64,
                height=64,
                bpp=bpp,
                compressed=True,
                fb=target.fb,
                x=8,
                y=9,
                clip_width=60,
                clip_height=50,
            )
        except MalformedBitmap:
            refused += 1
            assert (target.fb == SENTINEL).all()  # a refused bitmap writes nothing at all
        assert target.untouched_outside(8, 9, 60, 50)
        assert target.guards_intact()
    assert refused > len(streams) // 4


def test_framebuffer_must_be_a_contiguous_rgba_array(decoder: BitmapDecoder) -> None:
    bad: list[Any] = [
        np.zeros((8, 8, 3), dtype=np.uint8),
        np.zeros((8, 8, 4), dtype=np.uint16),
        np.zeros((8, 16, 4), dtype=np.uint8)[:, ::2],
        np.zeros((8, 8, 4), dtype=np.uint8).T,
    ]
    for fb in bad:
        with pytest.raises(ValueError, match="framebuffer") as info:
            decoder.decode(
                bytes(16), width=2, height=2, bpp=32, compressed=False, fb=fb, x=0, y=0, clip_width=2, clip_height=2
            )
        assert not isinstance(info.value, MalformedBitmap)
    frozen = np.zeros((8, 8, 4), dtype=np.uint8)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        decoder.decode(
            bytes(16), width=2, height=2, bpp=32, compressed=False, fb=frozen, x=0, y=0, clip_width=2, clip_height=2
        )


def test_a_closed_decoder_refuses_to_decode() -> None:
    decoder = BitmapDecoder()
    decoder.close()
    decoder.close()
    assert decoder.closed
    with pytest.raises(RuntimeError, match="closed"):
        decode_whole(decoder, bytes(16), 2, 2, 32, False)


# --- bulk decompression -----------------------------------------------------------------------------------------
def bulk_compressor(kind: int) -> tuple[int, Callable[..., int], Callable[[int], None]]:
    lib = frdp.load_freerdp()
    if kind in (0, 1):
        return lib.mppc_context_new(kind, 1), lib.mppc_compress, lib.mppc_context_free
    if kind == 2:
        return lib.ncrush_context_new(1), lib.ncrush_compress, lib.ncrush_context_free
    return lib.xcrush_context_new(1), lib.xcrush_compress, lib.xcrush_context_free


@pytest.mark.parametrize("kind", [0, 1, 2, 3], ids=["8K", "64K", "RDP6", "RDP61"])
def test_bulk_round_trip_through_freerdp_compressors_keeps_the_history(kind: int) -> None:
    context, compress, free = bulk_compressor(kind)
    rng = random.Random(kind)
    words = [b"desktop ", b"bitmap ", b"\x00\x00\x00\x01", b"pointer", b"RDP", bytes(range(40))]
    flags_seen: set[int] = set()
    try:
        with BulkDecompressor() as bulk:
            for _ in range(120):
                size = rng.choice([60, 700, 4000] if kind == 0 else [60, 700, 4000, 9000, 16000])
                if rng.random() < 0.2:
                    payload = rng.randbytes(size)
                else:
                    payload = b"".join(rng.choice(words) for _ in range(size // 4))[:size]
                out = ctypes.create_string_buffer(len(payload) + 64)
                out_ptr, out_size = ctypes.c_void_p(ctypes.addressof(out)), ctypes.c_uint32(len(out))
                flags = ctypes.c_uint32()
                status = compress(
                    context, payload, len(payload), ctypes.byref(out_ptr), ctypes.byref(out_size), ctypes.byref(flags)
                )
                assert status >= 0
                wire = ctypes.string_at(out_ptr.value or 0, out_size.value)
                wire_flags = flags.value | (kind if flags.value else 0)
                flags_seen.add(wire_flags & 0xE0)
                assert bulk.decompress(wire, wire_flags) == payload
    finally:
        free(context)
    assert 0x20 in flags_seen  # packets compressed against the history of the ones before them


def test_uncompressed_payloads_are_returned_as_they_are() -> None:
    with BulkDecompressor() as bulk:
        for flags in (0x00, 0x01, 0x03, 0x0F):
            assert bulk.decompress(b"plain", flags) == b"plain"
        assert bulk.decompress(b"", 0x00) == b""
        assert bulk.decompress(memoryview(b"view"), 0x80 | 1) == b"view"
        with pytest.raises(ValueError, match="not a byte"):
            bulk.decompress(b"", 0x120)


@pytest.mark.parametrize("flags", [0x24, 0x2F, 0x85])
def test_unknown_compression_types_are_refused(flags: int) -> None:
    with BulkDecompressor() as bulk, pytest.raises(MalformedBulkData, match="unknown bulk compression type"):
        bulk.decompress(b"data", flags)


def test_corrupt_payloads_are_refused_and_garbage_never_crashes() -> None:
    with BulkDecompressor() as bulk:
        with pytest.raises(MalformedBulkData, match="XCRUSH"):
            bulk.decompress(b"\x00", 0x23)  # shorter than XCRUSH's two flag bytes
        with pytest.raises(MalformedBulkData, match="NCRUSH"):
            bulk.decompress(b"\x01\x02", 0x22)
    rng = random.Random(3)
    for kind in (0, 1, 2, 3):
        with BulkDecompressor() as bulk:
            for _ in range(300):
                try:
                    out = bulk.decompress(
                        rng.randbytes(rng.randrange(0, 600)), 0x20 | rng.choice([0, 0x40, 0x80]) | kind
                    )
                except MalformedBulkData:
                    continue
                assert len(out) <= MAX_DECOMPRESSED_SIZE


def test_output_larger_than_one_pdu_is_refused() -> None:
    literals = bytes(70000)
    with BulkDecompressor() as bulk, pytest.raises(MalformedBulkData, match="over one PDU"):
        bulk.decompress(bytes([0x02, 0x00]) + literals, 0x23)  # XCRUSH L1_NO_COMPRESSION, not MPPC-compressed


def test_a_closed_bulk_decompressor_refuses_work() -> None:
    bulk = BulkDecompressor()
    assert bulk.decompress(b"x", 0x80 | 1) == b"x"  # flushed, not compressed: the 64K history is reset
    bulk.close()
    bulk.close()
    with pytest.raises(RuntimeError, match="closed"):
        bulk.decompress(b"x", 0x20)


# --- pointers ---------------------------------------------------------------------------------------------------
def rgba(data: bytes, width: int, height: int) -> Image:
    return np.frombuffer(data, dtype=np.uint8).reshape(height, width, 4)


def test_32bpp_pointer_keeps_its_alpha() -> None:
    bottom = bytes([0, 0, 255, 128, 0, 255, 0, 255])  # B, G, R, A: red at half alpha, opaque green
    top = bytes([255, 0, 0, 10, 255, 255, 255, 0])  # nearly transparent blue, transparent white
    out = rgba(pointer_rgba(32, 2, 2, bottom + top, bytes(4)), 2, 2)
    assert out.tolist() == [[[0, 0, 255, 10], [255, 255, 255, 0]], [[255, 0, 0, 128], [0, 255, 0, 255]]]
    assert pointer_rgba(32, 2, 2, bottom + top, b"") == out.tobytes()  # an absent AND mask changes nothing here


def test_24bpp_pointer_and_mask_makes_black_transparent() -> None:
    bottom = bytes([0, 0, 0, 255, 255, 255, 0, 0, 255, 0])  # black, white, red; padded to 10 bytes
    top = bytes([0, 0, 0, 255, 255, 255, 0, 255, 0, 0])  # black, white, green
    and_mask = bytes([0b11100000, 0, 0, 0])  # bottom row: AND set everywhere; top row: clear
    out = rgba(pointer_rgba(24, 3, 2, bottom + top, and_mask), 3, 2)
    assert out[0].tolist() == [[0, 0, 0, 255], [255, 255, 255, 255], [0, 255, 0, 255]]
    assert out[1, 0].tolist() == [0, 0, 0, 0]  # AND over black: transparent
    assert out[1, 1, 3] == 255  # AND over white: "inverted", drawn opaque
    assert out[1, 2].tolist() == [255, 0, 0, 255]  # AND over another colour: the colour


def test_1bpp_pointer_combines_xor_and_and_masks_top_down() -> None:
    xor_mask = bytes([0b11110000, 0, 0b11001100, 0])
    and_mask = bytes([0b00001111, 0, 0b10101010, 0])
    out = rgba(pointer_rgba(1, 8, 2, xor_mask, and_mask), 8, 2)
    assert out[0, :, 3].tolist() == [255, 255, 255, 255, 0, 0, 0, 0]  # white, then AND=1 XOR=0: transparent
    assert out[0, :4, :3].tolist() == [[255, 255, 255]] * 4
    assert out[1, 1].tolist() == [255, 255, 255, 255]  # XOR only: white
    assert out[1, 2, 3] == 0  # AND only: transparent
    assert out[1, 3].tolist() == [0, 0, 0, 255]  # neither: black
    assert out[1, 0, 3] == 255  # both: inverted, drawn opaque


def test_8bpp_pointer_uses_the_palette() -> None:
    palette = [(0, 0, 0)] * 256
    palette[7] = (10, 20, 30)
    out = rgba(pointer_rgba(8, 2, 1, bytes([7, 0]), bytes(2), palette), 2, 1)
    assert out.tolist() == [[[10, 20, 30, 255], [0, 0, 0, 255]]]
    with pytest.raises(MalformedPointer, match="palette"):
        pointer_rgba(8, 2, 1, bytes([7, 0]), bytes(2))


@pytest.mark.parametrize(
    ("xor_bpp", "width", "height", "xor_length", "and_length", "message"),
    [
        (24, 3, 3, 27, 6, "XOR mask"),  # rows of 9 bytes must be padded to 10
        (24, 3, 3, 30, 3, "AND mask"),  # rows of 1 byte must be padded to 2
        (32, 4, 4, 63, 8, "XOR mask"),
        (1, 8, 2, 4, 0, "AND mask"),  # monochrome pointers need the AND mask
        (4, 8, 8, 32, 16, "depth 4"),
        (32, 97, 1, 388, 14, "over 96x96"),
    ],
)
def test_pointer_masks_of_the_wrong_length_or_shape_are_refused(
    xor_bpp: int, width: int, height: int, xor_length: int, and_length: int, message: str
) -> None:
    with pytest.raises(MalformedPointer, match=message):
        pointer_rgba(xor_bpp, width, height, bytes(xor_length), bytes(and_length))


def test_large_pointers_go_up_to_384_pixels() -> None:
    side = 384
    out = pointer_rgba(32, side, side, bytes(xor_mask_length(32, side, side)), b"", large=True)
    assert len(out) == side * side * 4
    with pytest.raises(MalformedPointer, match="over 384x384"):
        pointer_rgba(32, 385, 1, bytes(385 * 4), b"", large=True)
    assert and_mask_length(7, 7) == 14 and xor_mask_length(24, 3, 3) == 30


def test_an_empty_pointer_is_empty() -> None:
    assert pointer_rgba(32, 0, 0, b"", b"") == b""
    with pytest.raises(MalformedPointer, match="empty"):
        pointer_rgba(32, 0, 4, b"\x00", b"")


# --- the library ------------------------------------------------------------------------------------------------
def test_a_missing_library_is_our_installation_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str, *args: object, **kwargs: object) -> ctypes.CDLL:
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", missing)
    with pytest.raises(frdp.FreeRDPUnavailable) as info:
        frdp.load_freerdp.__wrapped__()
    assert isinstance(info.value, ConfigError)
    assert info.value.who == "us"
    assert (
        str(info.value) == "RDP needs FreeRDP's codec library libfreerdp2.so.2 (Debian: apt-get install libfreerdp2-2)"
    )


def test_rgbx_is_the_byte_order_red_green_blue_then_opaque_alpha() -> None:
    lib = frdp.load_freerdp()
    out = np.zeros(4, dtype=np.uint8)
    assert lib.freerdp_image_copy(
        out.ctypes.data,
        frdp.PIXEL_FORMAT_RGBX32,
        4,
        0,
        0,
        1,
        1,
        bytes([0x10, 0x20, 0x30]),
        frdp.PIXEL_FORMAT_BGR24,
        3,
        0,
        0,
        None,
        0,
    )
    assert out.tolist() == [0x30, 0x20, 0x10, 0xFF]
