"""ZRLE encoding: one persistent zlib stream; the rectangle is 64x64 tiles, each raw, solid, packed-palette, plain
RLE or palette RLE, with 3-byte CPIXELs (R, G, B in our pixel format).

The compressed length is capped by what the rectangle can hold, and the inflated data by :func:`inflated_bound`;
runs are parsed one run at a time (the format is sequential) and expanded with ``np.repeat``; everything else is
one numpy operation per tile.
"""

from __future__ import annotations

import numpy as np

from protocols.vnc.encodings.zlib_stream import ZlibStream
from protocols.vnc.framebuffer import Framebuffer
from protocols.vnc.messages import MalformedMessage
from protocols.vnc.pixels import RGB, apply_palette, palette_from_rgb24, rgb_from_rgb24, unpack_indices
from protocols.vnc.stream import RfbStream

TILE = 64
_RGB_OFFSETS = np.arange(3)


def inflated_bound(width: int, height: int) -> int:
    """The most bytes a ``width`` x ``height`` ZRLE rectangle can inflate to (runs of one pixel, full palettes)."""
    tiles = -(-width // TILE) * -(-height // TILE)
    return tiles * (1 + 3 * 127) + 4 * width * height


class ZrleDecoder:
    """The ZRLE state of one connection (its zlib stream)."""

    def __init__(self) -> None:
        self.zlib = ZlibStream()

    async def read(self, stream: RfbStream, fb: Framebuffer, x: int, y: int, width: int, height: int) -> None:
        """Read a ZRLE rectangle (already checked to lie inside ``fb``) into the framebuffer."""
        length = await stream.u32()
        bound = inflated_bound(width, height)
        if length > bound + bound // 8 + 1024:
            raise MalformedMessage(f"a {width}x{height} ZRLE rectangle announces {length} compressed bytes")
        data = await stream.read(length)
        decode_zrle(self.zlib.inflate(data, bound, exact=False), fb, x, y, width, height)


def decode_zrle(raw: bytes, fb: Framebuffer, x: int, y: int, width: int, height: int) -> None:
    """Decode inflated ZRLE data into the framebuffer."""
    pos = 0
    for ty in range(0, height, TILE):
        th = min(TILE, height - ty)
        for tx in range(0, width, TILE):
            tw = min(TILE, width - tx)
            pos = _tile(raw, pos, fb, x + tx, y + ty, tw, th)
    if pos != len(raw):
        raise MalformedMessage(f"{len(raw) - pos} bytes left over after a ZRLE rectangle")


def _take(raw: bytes, pos: int, n: int) -> bytes:
    if pos + n > len(raw):
        raise MalformedMessage("a ZRLE tile is truncated")
    return raw[pos : pos + n]


def _tile(raw: bytes, pos: int, fb: Framebuffer, x: int, y: int, tw: int, th: int) -> int:
    sub = _take(raw, pos, 1)[0]
    pos += 1
    if sub == 0:
        fb.write_rgb(x, y, rgb_from_rgb24(_take(raw, pos, tw * th * 3), tw, th))
        return pos + tw * th * 3
    if sub == 1:
        fb.fill(x, y, tw, th, np.frombuffer(_take(raw, pos, 3), np.uint8))
        return pos + 3
    if 2 <= sub <= 16:
        palette = palette_from_rgb24(_take(raw, pos, 3 * sub))
        pos += 3 * sub
        bits = 1 if sub == 2 else 2 if sub <= 4 else 4
        size = (tw * bits + 7) // 8 * th
        indices = unpack_indices(_take(raw, pos, size), tw, th, bits)
        fb.write_rgb(x, y, apply_palette(palette, indices))
        return pos + size
    if sub == 128:
        return _plain_rle(raw, pos, fb, x, y, tw, th)
    if sub >= 130:
        size = sub - 128
        palette = palette_from_rgb24(_take(raw, pos, 3 * size))
        return _palette_rle(raw, pos + 3 * size, palette, fb, x, y, tw, th)
    raise MalformedMessage(f"unknown ZRLE tile subencoding {sub}")


def _run_length(raw: bytes, pos: int) -> tuple[int, int]:
    length = 1
    end = len(raw)
    while True:
        if pos >= end:
            raise MalformedMessage("a ZRLE run is truncated")
        byte = raw[pos]
        pos += 1
        length += byte
        if byte != 255:
            return length, pos


def _plain_rle(raw: bytes, pos: int, fb: Framebuffer, x: int, y: int, tw: int, th: int) -> int:
    count = tw * th
    offsets: list[int] = []
    lengths: list[int] = []
    total = 0
    while total < count:
        if pos + 3 > len(raw):
            raise MalformedMessage("a ZRLE run is truncated")
        offsets.append(pos)
        length, pos = _run_length(raw, pos + 3)
        lengths.append(length)
        total += length
    if total != count:
        raise MalformedMessage("a ZRLE run overflows its tile")
    colours = np.frombuffer(raw, np.uint8)[np.array(offsets)[:, None] + _RGB_OFFSETS]
    fb.write_rgb(x, y, np.repeat(colours, lengths, axis=0).reshape(th, tw, 3))
    return pos


def _palette_rle(raw: bytes, pos: int, palette: RGB, fb: Framebuffer, x: int, y: int, tw: int, th: int) -> int:
    count = tw * th
    indices: list[int] = []
    lengths: list[int] = []
    total = 0
    end = len(raw)
    while total < count:
        if pos >= end:
            raise MalformedMessage("a ZRLE run is truncated")
        byte = raw[pos]
        pos += 1
        if byte & 0x80:
            length, pos = _run_length(raw, pos)
        else:
            length = 1
        indices.append(byte & 0x7F)
        lengths.append(length)
        total += length
    if total != count:
        raise MalformedMessage("a ZRLE run overflows its tile")
    runs = apply_palette(palette, np.array(indices, np.uint8))
    fb.write_rgb(x, y, np.repeat(runs, lengths, axis=0).reshape(th, tw, 3))
    return pos
