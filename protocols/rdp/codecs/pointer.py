"""RDP pointer shapes (MS-RDPBCGR 2.2.9.1.1.4: TS_COLORPOINTERATTRIBUTE, TS_POINTERATTRIBUTE,
TS_LARGEPOINTERATTRIBUTE) to RGBA.

A pointer is an XOR mask (1, 8, 16, 24 or 32 bpp) and a 1 bpp AND mask, each row padded to an even number of bytes.
FreeRDP's ``freerdp_image_copy_from_pointer_data`` combines them the way its clients draw pointers: an AND bit over
black is transparent, over white is an "inverted" pixel (drawn as a black-and-white checker, since a browser cannot
invert what lies under the cursor), and a 32 bpp XOR mask keeps its own alpha.

Row order follows FreeRDP (which is what servers are tested against): colour masks (8 bpp and up) are bottom-up,
as the specification says, while both masks of a 1 bpp (monochrome) pointer are read top-down.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Final

from protocols.rdp.codecs.freerdp import PIXEL_FORMAT_RGBA32, PIXEL_FORMAT_XRGB32, GdiPalette, load_freerdp

__all__ = [
    "MAX_LARGE_POINTER_SIDE",
    "MAX_POINTER_SIDE",
    "POINTER_XOR_BPP",
    "MalformedPointer",
    "and_mask_length",
    "pointer_rgba",
    "xor_mask_length",
]

POINTER_XOR_BPP: Final = (1, 8, 16, 24, 32)
MAX_POINTER_SIDE: Final = 96  # TS_COLORPOINTERATTRIBUTE with LARGE_POINTER_FLAG_96x96 (32 without it)
MAX_LARGE_POINTER_SIDE: Final = 384  # TS_LARGEPOINTERATTRIBUTE (LARGE_POINTER_FLAG_384x384)


class MalformedPointer(ValueError):
    """A pointer shape with an unsupported depth, a size over its cap, or masks of the wrong length."""


def _even(n: int) -> int:
    return n + (n & 1)


def xor_mask_length(xor_bpp: int, width: int, height: int) -> int:
    """The XOR mask's exact length: rows of ``width`` pixels at ``xor_bpp``, padded to an even number of bytes."""
    return _even((width * xor_bpp + 7) // 8) * height


def and_mask_length(width: int, height: int) -> int:
    """The AND mask's exact length: 1 bpp rows of ``width`` pixels, padded to an even number of bytes."""
    return _even((width + 7) // 8) * height


def pointer_rgba(
    xor_bpp: int,
    width: int,
    height: int,
    xor_mask: bytes | bytearray | memoryview,
    and_mask: bytes | bytearray | memoryview,
    palette: Sequence[tuple[int, int, int]] | None = None,
    *,
    large: bool = False,
) -> bytes:
    """The pointer as ``width * height * 4`` bytes of top-down R, G, B, A (alpha 0 where it is transparent).

    ``xor_mask`` and ``and_mask`` are the TS_COLORPOINTERATTRIBUTE (or TS_LARGEPOINTERATTRIBUTE, ``large=True``)
    masks, each exactly :func:`xor_mask_length` / :func:`and_mask_length` bytes; ``and_mask`` may be empty for
    ``xor_bpp`` 8 and up (nothing is then transparent but what a 32 bpp mask says). ``palette`` (up to 256
    ``(r, g, b)``) is required for 8 bpp. A 0 x 0 pointer gives ``b""``. Sides are capped at
    :data:`MAX_POINTER_SIDE`, or :data:`MAX_LARGE_POINTER_SIDE` when ``large``.

    Raises :class:`MalformedPointer` for anything else.
    """
    xor_mask, and_mask = bytes(xor_mask), bytes(and_mask)
    limit = MAX_LARGE_POINTER_SIDE if large else MAX_POINTER_SIDE
    if xor_bpp not in POINTER_XOR_BPP:
        raise MalformedPointer(f"pointer depth {xor_bpp} bpp is not one of {POINTER_XOR_BPP}")
    if not (0 <= width <= limit and 0 <= height <= limit):
        raise MalformedPointer(f"pointer size {width}x{height} is over {limit}x{limit}")
    if width == 0 or height == 0:
        if xor_mask or and_mask:
            raise MalformedPointer(f"an empty {width}x{height} pointer came with mask data")
        return b""
    expected_xor = xor_mask_length(xor_bpp, width, height)
    if len(xor_mask) != expected_xor:
        raise MalformedPointer(
            f"XOR mask of a {width}x{height} {xor_bpp} bpp pointer is {len(xor_mask)} bytes, not {expected_xor}"
        )
    expected_and = and_mask_length(width, height)
    if len(and_mask) != expected_and and (xor_bpp == 1 or and_mask):
        raise MalformedPointer(f"AND mask of a {width}x{height} pointer is {len(and_mask)} bytes, not {expected_and}")
    gdi_palette = None
    if xor_bpp == 8:
        if palette is None:
            raise MalformedPointer("an 8 bpp pointer needs the session's palette")
        gdi_palette = _palette(palette)
    lib = load_freerdp()
    out = ctypes.create_string_buffer(width * height * 4)
    ok = lib.freerdp_image_copy_from_pointer_data(
        out,
        PIXEL_FORMAT_RGBA32,
        width * 4,
        0,
        0,
        width,
        height,
        xor_mask,
        len(xor_mask),
        and_mask or None,
        len(and_mask),
        xor_bpp,
        ctypes.byref(gdi_palette) if gdi_palette is not None else None,
    )
    if not ok:
        raise MalformedPointer(f"FreeRDP refused the {width}x{height} {xor_bpp} bpp pointer")
    return out.raw


def _palette(colours: Sequence[tuple[int, int, int]]) -> GdiPalette:
    if len(colours) > 256:
        raise MalformedPointer(f"a palette has at most 256 colours, not {len(colours)}")
    palette = GdiPalette()
    palette.format = PIXEL_FORMAT_XRGB32
    for index, (r, g, b) in enumerate(colours):
        palette.palette[index] = ((r & 0xFF) << 16) | ((g & 0xFF) << 8) | (b & 0xFF)
    return palette
