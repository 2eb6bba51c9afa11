"""CopyRect encoding: the source position (U16 x, U16 y) of a block the client already has."""

from __future__ import annotations

from protocols.vnc.framebuffer import Framebuffer
from protocols.vnc.messages import MalformedMessage
from protocols.vnc.stream import RfbStream


async def read_copyrect(stream: RfbStream, fb: Framebuffer, x: int, y: int, width: int, height: int) -> tuple[int, int]:
    """Read a CopyRect and apply it; the source position."""
    src_x, src_y = await stream.u16(), await stream.u16()
    if not fb.contains(src_x, src_y, width, height):
        raise MalformedMessage(f"CopyRect source {width}x{height}+{src_x}+{src_y} lies outside the desktop")
    fb.copy(src_x, src_y, x, y, width, height)
    return src_x, src_y
