"""The Cursor pseudo-encoding (RichCursor): the pointer's pixels and a 1-bit mask, turned into RGBA.

The rectangle's x, y are the hot spot; its size is capped at :data:`~jumpoint.core.desktop.MAX_CURSOR_SIDE`. The
mask's set bits are opaque (alpha 255), clear bits transparent (alpha 0).
"""

from __future__ import annotations

import numpy as np

from jumpoint.core.desktop import CursorShape
from protocols.vnc.messages import MAX_CURSOR_SIDE, MalformedMessage
from protocols.vnc.pixels import rgb_from_rgbx, unpack_indices
from protocols.vnc.stream import RfbStream


async def read_cursor(stream: RfbStream, hot_x: int, hot_y: int, width: int, height: int) -> CursorShape:
    """Read a RichCursor rectangle."""
    if width > MAX_CURSOR_SIDE or height > MAX_CURSOR_SIDE:
        raise MalformedMessage(f"a {width}x{height} cursor is larger than {MAX_CURSOR_SIDE}x{MAX_CURSOR_SIDE}")
    if not width or not height:
        return CursorShape(0, 0, 0, 0, b"")
    pixels = await stream.read(width * height * 4)
    mask = await stream.read((width + 7) // 8 * height)
    return cursor_rgba(pixels, mask, hot_x, hot_y, width, height)


def cursor_rgba(pixels: bytes, mask: bytes, hot_x: int, hot_y: int, width: int, height: int) -> CursorShape:
    """A CursorShape from RichCursor pixels (R, G, B, X) and its bitmask."""
    rgba = np.empty((height, width, 4), np.uint8)
    rgba[:, :, :3] = rgb_from_rgbx(pixels, width, height)
    rgba[:, :, 3] = unpack_indices(mask, width, height, 1) * np.uint8(255)
    return CursorShape(min(hot_x, width - 1), min(hot_y, height - 1), width, height, rgba.tobytes())
