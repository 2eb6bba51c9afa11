"""Tight, ZRLE, Raw, CopyRect and cursor decoding of hand-built rectangles; lazy JPEG; caps refusing lengths."""

from __future__ import annotations

import asyncio
import io
import logging
import random
import struct
import zlib

import numpy as np
import pytest
from PIL import Image as PILImage

from jumpoint.core.desktop import CopyRect, CursorShape, Damage, DesktopOutput, DesktopSize, Image
from protocols.vnc import framebuffer, updates
from protocols.vnc import messages as m
from protocols.vnc.encodings.cursor import read_cursor
from protocols.vnc.encodings.tight import TightDecoder
from protocols.vnc.encodings.zrle import ZrleDecoder
from protocols.vnc.framebuffer import Framebuffer
from protocols.vnc.messages import MalformedMessage, RectHeader
from protocols.vnc.pixels import undo_gradient, unpack_indices
from protocols.vnc.stream import RfbStream
from protocols.vnc.updates import UpdateReader

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def stream_of(data: bytes) -> RfbStream:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return RfbStream(reader, None)


def compact(n: int) -> bytes:
    out = bytearray([n & 0x7F])
    if n > 0x7F:
        out[0] |= 0x80
        out.append((n >> 7) & 0x7F)
        if n > 0x3FFF:
            out[1] |= 0x80
            out.append(n >> 14)
    return bytes(out)


class Deflater:
    """A server-side persistent zlib stream, flushed after each rectangle as servers do."""

    def __init__(self) -> None:
        self._z = zlib.compressobj()

    def __call__(self, data: bytes) -> bytes:
        return self._z.compress(data) + self._z.flush(zlib.Z_SYNC_FLUSH)


def rgb_of(fb: Framebuffer, x: int, y: int) -> tuple[int, int, int]:
    r, g, b, a = (int(v) for v in fb.read(x, y, 1, 1)[0, 0])
    assert a == 255
    return r, g, b


async def test_a_tight_fill_paints_the_whole_rectangle() -> None:
    fb = Framebuffer(8, 8)
    assert await TightDecoder().read(stream_of(bytes([0x80, *GREEN])), fb, 2, 2, 3, 4) is None
    assert rgb_of(fb, 2, 2) == GREEN
    assert rgb_of(fb, 4, 5) == GREEN
    assert rgb_of(fb, 5, 5) == (0, 0, 0)


async def test_tight_copy_filter_reads_small_data_raw_and_larger_data_through_zlib() -> None:
    fb = Framebuffer(8, 8)
    tight = TightDecoder()
    await tight.read(stream_of(bytes([0x00, *RED, *BLUE])), fb, 0, 0, 2, 1)  # 6 bytes < 12: not compressed
    assert (rgb_of(fb, 0, 0), rgb_of(fb, 1, 0)) == (RED, BLUE)
    pixels = bytes(range(48))  # 4x4 pixels of 3 bytes
    deflate = Deflater()
    for _ in range(2):  # the stream persists across rectangles
        body = deflate(pixels)
        await tight.read(stream_of(bytes([0x10]) + compact(len(body)) + body), fb, 4, 4, 4, 4)  # zlib stream 1
    assert rgb_of(fb, 4, 4) == (0, 1, 2)
    assert rgb_of(fb, 7, 7) == (45, 46, 47)


async def test_tight_two_colour_palette_unpacks_one_bit_per_pixel_with_padded_rows() -> None:
    fb = Framebuffer(10, 2)
    bits = bytes([0b10100000, 0b01000000, 0b00000000, 0b11000000])  # rows of 10 pixels, 2 bytes each
    data = bytes([0x40, 1, 1, *WHITE, *RED]) + bits  # filter palette, 2 colours, 4 bytes < 12: raw
    await TightDecoder().read(stream_of(data), fb, 0, 0, 10, 2)
    assert [rgb_of(fb, x, 0) for x in (0, 1, 2, 9)] == [RED, WHITE, RED, RED]
    assert [rgb_of(fb, x, 1) for x in (0, 8, 9)] == [WHITE, RED, RED]


async def test_tight_palette_of_many_colours_uses_a_byte_per_pixel() -> None:
    fb = Framebuffer(4, 4)
    indices = bytes([0, 1, 2, 0] * 4)
    data = bytes([0x40, 1, 2, *RED, *GREEN, *BLUE]) + compact(len(body := Deflater()(indices))) + body
    await TightDecoder().read(stream_of(data), fb, 0, 0, 4, 4)
    assert [rgb_of(fb, x, 3) for x in range(4)] == [RED, GREEN, BLUE, RED]


async def test_tight_palette_index_past_the_palette_is_refused() -> None:
    data = bytes([0x40, 1, 2, *RED, *GREEN, *BLUE, 0, 1, 2, 3])
    with pytest.raises(MalformedMessage, match="palette index 3"):
        await TightDecoder().read(stream_of(data), Framebuffer(4, 1), 0, 0, 4, 1)


def _gradient_reference(diff: np.ndarray) -> np.ndarray:
    """The filter as the spec states it, one pixel at a time (the test's slow oracle)."""
    h, w, _ = diff.shape
    out = np.zeros((h, w, 3), np.int32)
    for y in range(h):
        for x in range(w):
            left = out[y, x - 1] if x else np.zeros(3, np.int32)
            up = out[y - 1, x] if y else np.zeros(3, np.int32)
            corner = out[y - 1, x - 1] if x and y else np.zeros(3, np.int32)
            out[y, x] = (np.clip(left + up - corner, 0, 255) + diff[y, x]) & 255
    return out.astype(np.uint8)


@pytest.mark.parametrize(("width", "height"), [(1, 1), (7, 1), (1, 5), (13, 9), (40, 3)])
def test_the_gradient_filter_matches_the_per_pixel_definition(width: int, height: int) -> None:
    diff = np.random.default_rng(width * 100 + height).integers(0, 256, (height, width, 3), dtype=np.uint8)
    assert np.array_equal(undo_gradient(diff.tobytes(), width, height), _gradient_reference(diff.astype(np.int32)))


async def test_tight_gradient_filter_rectangle_decodes_a_smooth_ramp() -> None:
    width, height = 16, 4
    ramp = np.zeros((height, width, 3), np.uint8)
    ramp[:, :, 0] = np.arange(width) * 10
    diff = np.zeros((height, width, 3), np.uint8)  # a horizontal ramp predicts perfectly except its first column
    diff[0, :, 0] = [0] + [10] * (width - 1)
    body = Deflater()(diff.tobytes())
    fb = Framebuffer(width, height)
    await TightDecoder().read(stream_of(bytes([0x40, 2]) + compact(len(body)) + body), fb, 0, 0, width, height)
    assert np.array_equal(fb.pixels[:, :, :3], ramp)


def _jpeg(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), colour).save(out, "JPEG", quality=95)
    return out.getvalue()


async def test_a_tight_jpeg_is_returned_unchanged_and_decoded_only_when_read() -> None:
    fb = Framebuffer(32, 32)
    data = _jpeg(16, 16, (200, 30, 30))
    image = await TightDecoder().read(stream_of(bytes([0x90]) + compact(len(data)) + data), fb, 8, 8, 16, 16)
    assert image == Image(8, 8, 16, 16, "jpeg", data)
    assert fb.pending == 1
    assert tuple(fb.pixels[10, 10, :3]) == (0, 0, 0)  # not decoded yet
    region = fb.read(8, 8, 4, 4)
    assert fb.pending == 0
    assert abs(int(region[0, 0, 0]) - 200) < 8
    assert fb.jpegs_decoded == 1


async def test_a_pending_jpeg_covered_by_a_later_rectangle_is_dropped_undecoded() -> None:
    fb = Framebuffer(32, 32)
    fb.add_jpeg(0, 0, 16, 16, _jpeg(16, 16, (255, 255, 255)))
    fb.add_jpeg(0, 0, 16, 16, _jpeg(16, 16, (0, 0, 200)))  # covers the first
    fb.fill(0, 0, 32, 32, np.array(GREEN, np.uint8))  # covers the second
    assert fb.pending == 3
    assert rgb_of(fb, 5, 5) == GREEN
    assert fb.pending == 0
    assert fb.jpegs_decoded == 0
    assert fb.jpegs_dropped == 2


async def test_a_partial_overwrite_or_a_copy_waits_behind_the_pending_jpeg_until_read() -> None:
    fb = Framebuffer(48, 48)
    fb.add_jpeg(0, 0, 16, 16, _jpeg(16, 16, (255, 255, 255)))
    fb.fill(8, 8, 16, 16, np.array(RED, np.uint8))  # partly over the JPEG: queued after it, nothing decoded
    fb.write_rgb(40, 40, np.full((4, 4, 3), 7, np.uint8))  # away from it: written at once
    assert (fb.pending, fb.jpegs_decoded, fb.writes_deferred) == (2, 0, 1)
    assert tuple(fb.pixels[41, 41, :3]) == (7, 7, 7)
    fb.copy(0, 0, 24, 0, 8, 8)  # the source is pending: the copy waits too
    assert (fb.pending, fb.jpegs_decoded) == (3, 0)
    region = fb.read(0, 0, 32, 32)
    assert fb.pending == 0
    assert region[2, 2, 0] > 240
    assert tuple(region[10, 10, :3]) == RED  # the fill came after the JPEG
    assert tuple(region[20, 20, :3]) == RED
    assert region[2, 26, 0] > 240  # copied from the JPEG


async def test_writes_behind_pending_jpegs_are_applied_in_their_order_whatever_is_read() -> None:
    fb = Framebuffer(64, 64)
    fb.add_jpeg(0, 0, 32, 32, _jpeg(32, 32, (0, 0, 250)))
    fb.fill(16, 16, 32, 32, np.array(RED, np.uint8))  # over the JPEG's corner
    fb.add_jpeg(32, 32, 32, 32, _jpeg(32, 32, (250, 250, 250)))  # over the fill's corner
    fb.fill(40, 40, 8, 8, np.array(GREEN, np.uint8))  # over both
    fb.read(0, 0, 8, 8)  # settles only the first JPEG
    assert fb.pending == 3
    assert fb.read(20, 20, 1, 1)[0, 0, :3].tolist() == list(RED)
    assert fb.read(42, 42, 1, 1)[0, 0, :3].tolist() == list(GREEN)
    assert fb.read(60, 60, 1, 1)[0, 0, 0] > 240
    assert fb.pending == 0


async def test_a_read_paints_only_what_later_entries_do_not_paint_over() -> None:
    fb = Framebuffer(32, 32)
    fb.add_jpeg(0, 0, 8, 8, _jpeg(8, 8, (255, 255, 255)))
    fb.fill(4, 4, 8, 8, np.array(RED, np.uint8))  # waits behind the JPEG
    fb.fill(0, 0, 16, 16, np.array(GREEN, np.uint8))  # covers both
    assert rgb_of(fb, 5, 5) == GREEN
    assert (fb.pending, fb.jpegs_decoded, fb.jpegs_dropped) == (0, 0, 1)


async def test_with_png_on_a_tight_fill_and_a_palette_come_back_as_png_of_their_pixels() -> None:
    fb = Framebuffer(16, 16)
    decoder = TightDecoder(png=True)
    fill = await decoder.read(stream_of(bytes([0x80, *GREEN])), fb, 2, 2, 3, 4)
    assert fill is not None and (fill.x, fill.y, fill.width, fill.height, fill.codec) == (2, 2, 3, 4, "png")
    assert (np.asarray(PILImage.open(io.BytesIO(fill.data)).convert("RGB")) == GREEN).all()
    indices = bytes([0b10000000, 0b01000000])  # 2x2, one bit a pixel
    body = bytes([0x40, 1, 1, *RED, *BLUE]) + indices
    palette = await decoder.read(stream_of(body), fb, 8, 8, 2, 2)
    assert palette is not None and palette.codec == "png"
    decoded = np.asarray(PILImage.open(io.BytesIO(palette.data)).convert("RGB"))
    assert decoded.tolist() == [[list(BLUE), list(RED)], [list(RED), list(BLUE)]]
    assert fb.read(8, 8, 2, 2)[:, :, :3].tolist() == decoded.tolist()


def test_a_full_pending_list_first_drops_what_later_entries_paint_over_together(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(framebuffer, "MAX_PENDING", 2)
    fb = Framebuffer(32, 32)
    fb.add_jpeg(0, 0, 16, 16, _jpeg(16, 16, (255, 255, 255)))
    fb.add_jpeg(0, 0, 8, 16, _jpeg(8, 16, (0, 0, 255)))
    fb.add_jpeg(8, 0, 8, 16, _jpeg(8, 16, (255, 0, 0)))  # three: over the limit; the halves cover the first
    assert (fb.pending, fb.jpegs_dropped, fb.jpegs_decoded) == (2, 1, 0)
    fb.copy(0, 0, 16, 16, 16, 16)  # reads both halves
    fb.add_jpeg(0, 0, 16, 16, _jpeg(16, 16, (0, 255, 0)))  # covers the halves, but the copy still reads them
    assert fb.jpegs_dropped == 1
    assert fb.read(20, 4 + 16, 1, 1)[0, 0, 2] > 240 and fb.read(28, 20, 1, 1)[0, 0, 0] > 240


def _random_ops(seed: int) -> list[tuple[str, tuple[int, ...]]]:
    rand = np.random.default_rng(seed)
    ops: list[tuple[str, tuple[int, ...]]] = []
    for _ in range(60):
        w, h = (int(v) for v in rand.integers(1, 24, 2))
        x, y = int(rand.integers(0, 48 - w + 1)), int(rand.integers(0, 48 - h + 1))
        kind = str(rand.choice(["jpeg", "jpeg", "fill", "rgb", "palette", "copy", "read"]))
        colour = tuple(int(v) for v in rand.integers(0, 256, 3))
        src = (int(rand.integers(0, 48 - w + 1)), int(rand.integers(0, 48 - h + 1)))
        ops.append((kind, (x, y, w, h, *colour, *src)))
    return ops


@pytest.mark.parametrize("max_pending", [512, 6])
@pytest.mark.parametrize("seed", range(12))
def test_deferred_writes_copies_and_jpegs_give_the_pixels_of_applying_each_as_it_came(
    seed: int, max_pending: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(framebuffer, "MAX_PENDING", max_pending)  # small: pruned and decoded as the list fills
    lazy, eager = Framebuffer(48, 48), np.zeros((48, 48, 3), np.uint8)
    for kind, (x, y, w, h, r, g, b, sx, sy) in _random_ops(seed):
        if kind == "jpeg":
            data = _jpeg(w, h, (r, g, b))
            lazy.add_jpeg(x, y, w, h, data)
            eager[y : y + h, x : x + w] = np.asarray(PILImage.open(io.BytesIO(data)).convert("RGB"))
        elif kind == "fill":
            lazy.fill(x, y, w, h, np.array((r, g, b), np.uint8))
            eager[y : y + h, x : x + w] = (r, g, b)
        elif kind == "rgb":
            block = np.random.default_rng(r).integers(0, 256, (h, w, 3), dtype=np.uint8)
            lazy.write_rgb(x, y, block)
            eager[y : y + h, x : x + w] = block
        elif kind == "palette":
            palette = np.random.default_rng(r).integers(0, 256, (5, 3), dtype=np.uint8)
            indices = np.random.default_rng(g).integers(0, 5, (h, w), dtype=np.uint8)
            lazy.write_palette(x, y, palette, indices)
            eager[y : y + h, x : x + w] = palette[indices]
        elif kind == "copy":
            lazy.copy(sx, sy, x, y, w, h)
            eager[y : y + h, x : x + w] = eager[sy : sy + h, sx : sx + w].copy()
        else:
            assert (lazy.read(x, y, w, h)[:, :, :3] == eager[y : y + h, x : x + w]).all()
    assert (lazy.snapshot()[:, :, :3] == eager).all()


def test_a_palette_index_past_the_palette_is_refused_when_written() -> None:
    with pytest.raises(MalformedMessage, match="palette index 3 past a palette of 2"):
        Framebuffer(8, 8).write_palette(0, 0, np.zeros((2, 3), np.uint8), np.full((2, 2), 3, np.uint8))


async def test_a_jpeg_rectangle_that_is_not_a_jpeg_of_its_size_is_refused() -> None:
    data = _jpeg(8, 8, RED)
    with pytest.raises(MalformedMessage, match="holds a JPEG image of 8x8"):
        await TightDecoder().read(
            stream_of(bytes([0x90]) + compact(len(data)) + data), Framebuffer(32, 32), 0, 0, 16, 16
        )
    with pytest.raises(MalformedMessage, match="announces"):
        await TightDecoder().read(stream_of(bytes([0x90]) + compact(3_000_000)), Framebuffer(32, 32), 0, 0, 16, 16)


async def test_tight_data_inflating_to_more_than_the_rectangle_is_refused() -> None:
    body = Deflater()(bytes(4 * 4 * 3 + 30))
    with pytest.raises(MalformedMessage, match="inflates past"):
        await TightDecoder().read(stream_of(bytes([0x00]) + compact(len(body)) + body), Framebuffer(4, 4), 0, 0, 4, 4)


async def _read_zrle(
    fb: Framebuffer, raw: bytes, width: int, height: int, pair: tuple[ZrleDecoder, Deflater] | None = None
) -> None:
    decoder, deflate = pair or (ZrleDecoder(), Deflater())
    body = deflate(raw)
    await decoder.read(stream_of(struct.pack(">I", len(body)) + body), fb, 0, 0, width, height)


async def test_zrle_raw_solid_and_packed_palette_tiles() -> None:
    fb = Framebuffer(70, 3)  # two tiles across: 64x3 and 6x3
    solid = bytes([1, *BLUE])
    packed = bytes([2, *RED, *GREEN]) + bytes([0b10100000] * 3)  # 6 pixels, 1 bit each, rows padded
    await _read_zrle(fb, solid + packed, 70, 3)
    assert rgb_of(fb, 63, 2) == BLUE
    assert [rgb_of(fb, 64 + i, 1) for i in range(4)] == [GREEN, RED, GREEN, RED]
    fb2 = Framebuffer(2, 2)
    await _read_zrle(fb2, bytes([0, *RED, *GREEN, *BLUE, *WHITE]), 2, 2)
    assert [rgb_of(fb2, 0, 0), rgb_of(fb2, 1, 1)] == [RED, WHITE]


async def test_zrle_plain_and_palette_rle_tiles_expand_their_runs() -> None:
    fb = Framebuffer(20, 20)  # 400 pixels
    plain = bytes([128, *RED]) + bytes([255, 44]) + bytes([*GREEN, 99])  # 1+255+44 = 300 red, 100 green
    pair = (ZrleDecoder(), Deflater())
    await _read_zrle(fb, plain, 20, 20, pair)
    assert rgb_of(fb, 19, 14) == RED
    assert rgb_of(fb, 0, 15) == GREEN
    palette_rle = bytes([130, *BLUE, *WHITE]) + bytes([0x80, 198, 1, 0x81, 199])  # 199 blue, 1 white, 200 white
    await _read_zrle(fb, palette_rle, 20, 20, pair)  # the same zlib stream goes on
    assert rgb_of(fb, 18, 9) == BLUE
    assert rgb_of(fb, 19, 9) == WHITE
    assert rgb_of(fb, 19, 19) == WHITE


async def test_zrle_runs_overflowing_the_tile_and_huge_lengths_are_refused() -> None:
    with pytest.raises(MalformedMessage, match="overflows its tile"):
        await _read_zrle(Framebuffer(2, 2), bytes([128, *RED, 4]), 2, 2)
    with pytest.raises(MalformedMessage, match="announces"):
        await ZrleDecoder().read(stream_of(struct.pack(">I", 1 << 30)), Framebuffer(4, 4), 0, 0, 4, 4)
    with pytest.raises(MalformedMessage, match="unknown ZRLE tile subencoding 17"):
        await _read_zrle(Framebuffer(2, 2), bytes([17]), 2, 2)


def test_packed_indices_of_two_and_four_bits_are_most_significant_first() -> None:
    assert unpack_indices(bytes([0b00011011, 0b11000000]), 5, 1, 2).tolist() == [[0, 1, 2, 3, 3]]
    assert unpack_indices(bytes([0x12, 0x30]), 3, 1, 4).tolist() == [[1, 2, 3]]


async def test_a_rich_cursor_becomes_rgba_with_its_mask_as_alpha() -> None:
    pixels = bytes([*RED, 0, *GREEN, 0, *BLUE, 0, *WHITE, 0])
    mask = bytes([0b10000000, 0b01000000])
    cursor = await read_cursor(stream_of(pixels + mask), 1, 0, 2, 2)
    assert cursor == CursorShape(1, 0, 2, 2, bytes([*RED, 255, *GREEN, 0, *BLUE, 0, *WHITE, 255]))
    with pytest.raises(MalformedMessage, match="larger than 256x256"):
        await read_cursor(stream_of(b""), 0, 0, 257, 1)


async def _update(fb: Framebuffer, rects: list[tuple[RectHeader, bytes]]) -> tuple[UpdateReader, list[DesktopOutput]]:
    data = struct.pack(">xH", len(rects)) + b"".join(h.pack() + body for h, body in rects)
    reader = UpdateReader(stream_of(data), fb, "desk", logging.getLogger("test"))
    events: list[DesktopOutput] = []

    async def emit(event: DesktopOutput, size: int) -> None:
        events.append(event)

    await reader.read(emit)
    return reader, events


async def test_an_update_yields_damage_copies_and_resizes_in_order() -> None:
    fb = Framebuffer(8, 8)
    raw = bytes([*RED, 0] * 4)
    screens = bytes([1, 0, 0, 0]) + m.Screen(5, 0, 0, 16, 4, 0).pack()
    reader, events = await _update(
        fb,
        [
            (RectHeader(0, 0, 2, 2, m.ENC_RAW), raw),
            (RectHeader(4, 4, 2, 2, m.ENC_COPYRECT), struct.pack(">HH", 0, 0)),
            (RectHeader(0, 0, 16, 4, m.ENC_EXTENDED_DESKTOP_SIZE), screens),
            (RectHeader(0, 0, 0, 0, m.ENC_LAST_RECT), b""),
        ],
    )
    assert events == [Damage(0, 0, 2, 2), CopyRect(0, 0, 4, 4, 2, 2), DesktopSize(16, 4)]
    assert (fb.width, fb.height) == (16, 4)
    assert reader.extended_desktop_size
    assert reader.screens == [m.Screen(5, 0, 0, 16, 4, 0)]
    assert reader.size_changed


async def test_a_rectangle_outside_the_desktop_is_refused() -> None:
    with pytest.raises(MalformedMessage, match="lies outside the 8x8 desktop"):
        await _update(Framebuffer(8, 8), [(RectHeader(6, 0, 4, 1, m.ENC_RAW), bytes(16))])
    with pytest.raises(MalformedMessage, match="CopyRect source"):
        await _update(Framebuffer(8, 8), [(RectHeader(0, 0, 4, 4, m.ENC_COPYRECT), struct.pack(">HH", 6, 6))])
    with pytest.raises(MalformedMessage, match="outside 1x1"):
        await _update(Framebuffer(8, 8), [(RectHeader(0, 0, 9000, 8, m.ENC_DESKTOP_SIZE), b"")])


async def test_a_refused_set_desktop_size_is_recorded_without_resizing() -> None:
    fb = Framebuffer(8, 8)
    reader, events = await _update(fb, [(RectHeader(1, 1, 8, 8, m.ENC_EXTENDED_DESKTOP_SIZE), bytes(4))])
    assert events == []
    assert reader.resize_refused == "resize is administratively prohibited"


async def test_a_tight_jpeg_rectangle_in_an_update_is_an_image_event() -> None:
    data = _jpeg(8, 8, RED)
    _, events = await _update(
        Framebuffer(8, 8), [(RectHeader(0, 0, 8, 8, m.ENC_TIGHT), b"\x90" + compact(len(data)) + data)]
    )
    assert events == [Image(0, 0, 8, 8, "jpeg", data)]


def _cursor_rect(hot_x: int, colour: tuple[int, int, int], side: int = 2) -> tuple[RectHeader, bytes]:
    pixels = bytes([*colour, 0]) * (side * side)
    return RectHeader(hot_x, 0, side, side, m.ENC_CURSOR), pixels + b"\xff" * ((side + 7) // 8 * side)


async def test_of_the_cursor_shapes_of_one_update_only_the_newest_is_handed_on_after_the_other_rectangles() -> None:
    raw = bytes([*RED, 0] * 4)
    _, events = await _update(
        Framebuffer(8, 8),
        [
            _cursor_rect(0, RED),
            (RectHeader(0, 0, 2, 2, m.ENC_RAW), raw),
            *(_cursor_rect(1, GREEN, side=64) for _ in range(300)),
            _cursor_rect(1, BLUE),
            (RectHeader(4, 4, 2, 2, m.ENC_RAW), raw),
        ],
    )
    assert events == [Damage(0, 0, 2, 2), Damage(4, 4, 2, 2), CursorShape(1, 0, 2, 2, bytes([*BLUE, 255]) * 4)]


async def test_an_update_holding_more_than_its_budget_is_refused_before_it_is_all_handed_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(updates, "UPDATE_MIN_BUDGET", 64 * 1024, raising=False)
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8)
    out = io.BytesIO()
    PILImage.fromarray(noise).save(out, "JPEG", quality=95)
    jpeg = out.getvalue()
    rect = (RectHeader(0, 0, 64, 64, m.ENC_TIGHT), b"\x90" + compact(len(jpeg)) + jpeg)
    data = struct.pack(">xH", 100) + b"".join(h.pack() + body for h, body in [rect] * 100)
    reader = UpdateReader(stream_of(data), Framebuffer(64, 64), "desk", logging.getLogger("test"))
    held: list[int] = []

    async def emit(event: DesktopOutput, size: int) -> None:
        held.append(size)

    assert reader.budget == 64 * 1024  # the desktop's RGBA (16 KiB) is less
    with pytest.raises(MalformedMessage, match="an update of more than"):
        await reader.read(emit)
    assert 0 < sum(held) + len(held) * updates.EVENT_COST <= reader.budget < 100 * len(jpeg)


async def test_the_budget_of_an_update_is_the_desktops_rgba_size_when_that_is_larger(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reader = UpdateReader(stream_of(b""), Framebuffer(64, 48), "desk", logging.getLogger("test"))
    assert reader.budget == updates.UPDATE_MIN_BUDGET
    assert updates.EVENT_COST * 65535 < updates.UPDATE_MIN_BUDGET  # the most rectangles an update can have fit
    monkeypatch.setattr(updates, "UPDATE_MIN_BUDGET", 1024)
    assert reader.budget == 64 * 48 * 4


def _random_update(rng: random.Random) -> bytes:
    """A FramebufferUpdate of one to five rectangles of any encoding, bodies partly valid and partly noise, with some
    bytes then replaced at random."""
    rects = []
    for _ in range(rng.randrange(1, 6)):
        enc = rng.choice([m.ENC_RAW, m.ENC_COPYRECT, m.ENC_TIGHT, m.ENC_ZRLE, m.ENC_CURSOR, m.ENC_DESKTOP_SIZE])
        w, h = rng.choice([0, 1, 4, 16, 64, 65535]), rng.choice([0, 1, 3, 48, 65535])
        header = RectHeader(rng.choice([0, 3, 60, 65000]), rng.choice([0, 2, 47, 65000]), w, h, enc).pack()
        noise = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
        if enc == m.ENC_TIGHT and rng.random() < 0.5:
            packed = zlib.compress(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))))
            noise = bytes([rng.randrange(256)]) + compact(len(packed)) + packed
        elif enc == m.ENC_ZRLE and rng.random() < 0.5:
            packed = zlib.compress(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))))
            noise = struct.pack(">I", len(packed)) + packed
        elif enc == m.ENC_COPYRECT and rng.random() < 0.7:
            noise = struct.pack(">HH", rng.randrange(70), rng.randrange(70))
        rects.append(header + noise)
    data = bytearray(struct.pack(">xH", rng.choice([len(rects), len(rects) + 1, 65535])) + b"".join(rects))
    for _ in range(rng.randrange(0, 4)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


async def test_random_updates_from_a_broken_server_raise_only_malformed_message_or_end_of_stream() -> None:
    unexpected = []
    for seed in range(300):
        data = _random_update(random.Random(seed))
        reader = UpdateReader(stream_of(data), Framebuffer(64, 48), "desk", logging.getLogger("test"))

        async def emit(event: DesktopOutput, size: int) -> None:
            pass

        try:
            await asyncio.wait_for(reader.read(emit), 5)
        except (MalformedMessage, asyncio.IncompleteReadError):
            continue
        except Exception as exc:  # anything else would be a bug in a parser of what a server sends
            unexpected.append(f"seed {seed}: {type(exc).__name__}: {exc}")
    assert unexpected == []
