"""Indexed PNG files written straight from what a VNC server sent: a palette and its packed indices, or one colour.

A Tight palette rectangle already is what an indexed PNG holds: up to 256 colours and, for two colours, one bit a
pixel, most significant first, rows padded to a byte (PNG's own packing), else one byte a pixel. So the PNG is the
palette, each row prefixed with PNG's filter byte 0, deflated at zlib level 1, with no pixel ever expanded to RGB
and no colour search: a few tens of microseconds where classifying and re-encoding the decoded pixels took a
millisecond. A solid fill is a one-colour, one-bit PNG (under a kilobyte for a whole 1280x800 desktop).

The caller checks the indices against the palette (a browser shows an index past the palette as black).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
LEVEL = 1
_IEND = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))


def indexed_png(width: int, height: int, palette_rgb: bytes, indices: bytes, bits: int) -> bytes:
    """A PNG of ``width`` x ``height`` pixels: ``palette_rgb`` (3 bytes a colour, 1..256 colours) and ``indices``
    packed ``bits`` (1 or 8) a pixel, rows padded to a byte. Raises ValueError on sizes that do not match."""
    if bits not in (1, 8):
        raise ValueError("indices are 1 or 8 bits a pixel")
    colours, rest = divmod(len(palette_rgb), 3)
    if rest or not 1 <= colours <= 256:
        raise ValueError(f"a palette of {len(palette_rgb)} bytes is not 1..256 colours")
    row = (width * bits + 7) // 8
    if width < 1 or height < 1 or len(indices) != row * height:
        raise ValueError(f"{len(indices)} bytes of {bits}-bit indices for {width}x{height}")
    rows = np.zeros((height, row + 1), np.uint8)
    rows[:, 1:] = np.frombuffer(indices, np.uint8).reshape(height, row)
    header = struct.pack(">IIBBBBB", width, height, bits, 3, 0, 0, 0)  # colour type 3: indexed
    return b"".join(
        (
            SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"PLTE", palette_rgb),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), LEVEL)),
            _IEND,
        )
    )


def solid_png(width: int, height: int, rgb: bytes) -> bytes:
    """A PNG of ``width`` x ``height`` pixels of the colour ``rgb`` (3 bytes)."""
    return indexed_png(width, height, rgb, bytes((width + 7) // 8 * height), 1)
