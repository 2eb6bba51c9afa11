"""Tight encoding: fill, JPEG, and basic compression with the copy, palette and gradient filters; four persistent
zlib streams that the server may reset (bits 0-3 of the compression-control byte).

Pixels are TPIXELs: 3 bytes R, G, B (our pixel format is 32 bpp, depth 24). JPEG rectangles are complete JPEG
files: they are checked (header only) and handed to the framebuffer's pending list undecoded, and returned so the
client can forward them as ``Image(codec="jpeg")``. Compact lengths are at most 22 bits (4 MiB) by construction and
are further capped by what the rectangle can hold; inflated data must be exactly the rectangle's size.
"""

from __future__ import annotations

import numpy as np

from protocols.vnc.encodings.zlib_stream import ZlibStream
from protocols.vnc.framebuffer import Framebuffer, check_jpeg
from protocols.vnc.messages import MalformedMessage
from protocols.vnc.pixels import RGB, apply_palette, palette_from_rgb24, rgb_from_rgb24, undo_gradient, unpack_indices
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
    """The Tight state of one connection (its four zlib streams)."""

    def __init__(self) -> None:
        self.zlib = [ZlibStream() for _ in range(4)]

    async def read(self, stream: RfbStream, fb: Framebuffer, x: int, y: int, width: int, height: int) -> bytes | None:
        """Read a Tight rectangle (already checked to lie inside ``fb``); the JPEG data if it was a JPEG one."""
        control = await stream.u8()
        for i in range(4):
            if control & (1 << i):
                self.zlib[i].reset()
        kind = control >> 4
        if kind == FILL:
            fb.fill(x, y, width, height, np.frombuffer(await stream.read(3), np.uint8))
            return None
        if kind == JPEG:
            length = await read_compact_length(stream)
            if length > width * height * 4 + 65536:
                raise MalformedMessage(f"a {width}x{height} JPEG rectangle announces {length} bytes")
            data = await stream.read(length)
            check_jpeg(data, width, height)
            fb.add_jpeg(x, y, width, height, data)
            return data
        if kind > JPEG:
            raise MalformedMessage(f"unknown Tight compression type {kind:#x}")
        filter_id = await stream.u8() if kind & 0x4 else FILTER_COPY
        fb.write_rgb(x, y, await self._basic(stream, kind & 0x3, filter_id, width, height))
        return None

    async def _basic(self, stream: RfbStream, zlib_id: int, filter_id: int, width: int, height: int) -> RGB:
        if filter_id == FILTER_COPY:
            return rgb_from_rgb24(await self._data(stream, zlib_id, width * height * 3), width, height)
        if filter_id == FILTER_GRADIENT:
            return undo_gradient(await self._data(stream, zlib_id, width * height * 3), width, height)
        if filter_id == FILTER_PALETTE:
            colours = await stream.u8() + 1
            palette = palette_from_rgb24(await stream.read(3 * colours))
            bits = 1 if colours == 2 else 8
            size = (width + 7) // 8 * height if bits == 1 else width * height
            indices = unpack_indices(await self._data(stream, zlib_id, size), width, height, bits)
            return apply_palette(palette, indices)
        raise MalformedMessage(f"unknown Tight filter {filter_id}")

    async def _data(self, stream: RfbStream, zlib_id: int, size: int) -> bytes:
        if size < MIN_TO_COMPRESS:
            return await stream.read(size)
        length = await read_compact_length(stream)
        if length > size + size // 8 + 1024:
            raise MalformedMessage(f"Tight data of {size} bytes announces {length} compressed bytes")
        return self.zlib[zlib_id].inflate(await stream.read(length), size, exact=True)
