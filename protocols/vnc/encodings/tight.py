"""Tight encoding: fill, JPEG, and basic compression with the copy, palette and gradient filters; four persistent
zlib streams that the server may reset (bits 0-3 of the compression-control byte).

Pixels are TPIXELs: 3 bytes R, G, B (our pixel format is 32 bpp, depth 24). JPEG rectangles are complete JPEG
files: they are checked (header only) and handed to the framebuffer's pending list undecoded, and returned so the
client can forward them as ``Image(codec="jpeg")``. With :attr:`TightDecoder.png` set, fills and palette rectangles
are also returned as ``Image(codec="png")``, written straight from the colour or the palette and its indices
(:mod:`protocols.vnc.png`), so nobody needs to read them back from the framebuffer (where they wait, unpainted, in
the pending list: :class:`~protocols.vnc.framebuffer.Framebuffer`). Compact lengths are at most 22 bits (4 MiB) by
construction and are further capped by what the rectangle can hold; inflated data must be exactly the rectangle's
size.
"""

from __future__ import annotations

import numpy as np

from jumpoint.core.desktop import Image
from protocols.vnc.encodings.zlib_stream import ZlibStream
from protocols.vnc.framebuffer import Framebuffer, check_jpeg
from protocols.vnc.messages import MalformedMessage
from protocols.vnc.pixels import palette_from_rgb24, rgb_from_rgb24, undo_gradient, unpack_indices
from protocols.vnc.png import indexed_png, solid_png
from protocols.vnc.stream import RfbStream

MIN_TO_COMPRESS = 12
FILL = 0x8
JPEG = 0x9
FILTER_COPY = 0
FILTER_PALETTE = 1
FILTER_GRADIENT = 2


async def read_compact_length(stream: RfbStream) -> int:
    """A Tight compact length: 1 to 3 bytes, 7 + 7 + 8 bits, least significant first."""
    byte = await stream.u8()
    length = byte & 0x7F
    if byte & 0x80:
        byte = await stream.u8()
        length |= (byte & 0x7F) << 7
        if byte & 0x80:
            length |= (await stream.u8()) << 14
    return length


class TightDecoder:
    """The Tight state of one connection (its four zlib streams); ``png``: return fills and palettes as PNG."""

    def __init__(self, *, png: bool = False) -> None:
        self.zlib = [ZlibStream() for _ in range(4)]
        self.png = png

    async def read(self, stream: RfbStream, fb: Framebuffer, x: int, y: int, width: int, height: int) -> Image | None:
        """Read a Tight rectangle (already checked to lie inside ``fb``) into ``fb``; the image to hand on
        instead of damage: a JPEG rectangle as it came, and with :attr:`png` a fill or a palette rectangle as PNG."""
        control = await stream.u8()
        for i in range(4):
            if control & (1 << i):
                self.zlib[i].reset()
        kind = control >> 4
        png = self.png and width > 0 and height > 0
        if kind == FILL:
            colour = await stream.read(3)
            fb.fill(x, y, width, height, np.frombuffer(colour, np.uint8))
            return Image(x, y, width, height, "png", solid_png(width, height, colour)) if png else None
        if kind == JPEG:
            length = await read_compact_length(stream)
            if length > width * height * 4 + 65536:
                raise MalformedMessage(f"a {width}x{height} JPEG rectangle announces {length} bytes")
            data = await stream.read(length)
            check_jpeg(data, width, height)
            fb.add_jpeg(x, y, width, height, data)
            return Image(x, y, width, height, "jpeg", data)
        if kind > JPEG:
            raise MalformedMessage(f"unknown Tight compression type {kind:#x}")
        filter_id = await stream.u8() if kind & 0x4 else FILTER_COPY
        zlib_id = kind & 0x3
        if filter_id == FILTER_COPY:
            rgb = rgb_from_rgb24(await self._data(stream, zlib_id, width * height * 3), width, height)
        elif filter_id == FILTER_GRADIENT:
            rgb = undo_gradient(await self._data(stream, zlib_id, width * height * 3), width, height)
        elif filter_id == FILTER_PALETTE:
            colours = await stream.u8() + 1
            palette_rgb = await stream.read(3 * colours)
            bits = 1 if colours == 2 else 8
            size = (width + 7) // 8 * height if bits == 1 else width * height
            packed = await self._data(stream, zlib_id, size)
            fb.write_palette(x, y, palette_from_rgb24(palette_rgb), unpack_indices(packed, width, height, bits))
            if not png:
                return None
            return Image(x, y, width, height, "png", indexed_png(width, height, palette_rgb, packed, bits))
        else:
            raise MalformedMessage(f"unknown Tight filter {filter_id}")
        fb.write_rgb(x, y, rgb)
        return None

    async def _data(self, stream: RfbStream, zlib_id: int, size: int) -> bytes:
        if size < MIN_TO_COMPRESS:
            return await stream.read(size)
        length = await read_compact_length(stream)
        if length > size + size // 8 + 1024:
            raise MalformedMessage(f"Tight data of {size} bytes announces {length} compressed bytes")
        return self.zlib[zlib_id].inflate(await stream.read(length), size, exact=True)
