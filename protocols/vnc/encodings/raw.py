"""Raw encoding: ``width * height`` pixels of 4 bytes (R, G, B, X), read in chunks of rows of at most 1 MiB."""

from __future__ import annotations

from protocols.vnc.framebuffer import Framebuffer
from protocols.vnc.pixels import rgb_from_rgbx
from protocols.vnc.stream import RfbStream

CHUNK = 1 << 20


async def read_raw(stream: RfbStream, fb: Framebuffer, x: int, y: int, width: int, height: int) -> None:
    """Read a Raw rectangle (already checked to lie inside ``fb``) into the framebuffer."""
    if not width or not height:
        return
    rows = max(1, CHUNK // (width * 4))
    for top in range(0, height, rows):
        count = min(rows, height - top)
        data = await stream.read(width * count * 4)
        fb.write_rgb(x, y + top, rgb_from_rgbx(data, width, count))
