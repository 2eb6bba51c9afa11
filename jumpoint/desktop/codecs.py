"""Encoding one rectangle of RGBA pixels for the browser (Pillow: zlib, libwebp, libjpeg-turbo; numpy; no Python
loop over pixels).

Measured settings (Pillow 13, 256x256 tiles from this project's fixtures, best of 5, one core of the dev VM):

==========================  =======================  ==================  ====================  =================
content                     PNG level 1              PNG level 6         WebP lossless m0      WebP lossless m1
==========================  =======================  ==================  ====================  =================
xterm text (2 colours, P)   0.41 ms, 3.2 KiB         0.59 ms, 2.9 KiB    0.45 ms, 3.1 KiB      1.37 ms, 2.7 KiB
anti-aliased text (P, ~200) 0.16 ms, 2.2 KiB         0.35 ms, 1.9 KiB    0.78 ms, 1.2 KiB      0.81 ms, 1.0 KiB
colour cells (RGB, >256)    0.81 ms, 4.5 KiB         1.25 ms, 3.1 KiB    0.56 ms, 3.5 KiB      0.59 ms, 1.8 KiB
synthetic photo (RGB)       7.15 ms, 136 KiB         10.1 ms, 125 KiB    1.61 ms, 135 KiB      6.67 ms, 117 KiB
==========================  =======================  ==================  ====================  =================

(JPEG 4:2:0 of the photo tile: q85 0.25 ms, 11.7 KiB; q50 0.20 ms, 4.3 KiB. Of the xterm text: q85 0.18 ms but
40 KiB, ten times the lossless PNG.) Hence:

* up to 256 colours: **palette PNG, zlib level 1** (:func:`png_palette`). The palette is exact (from
  ``getcolors``), the indices come from ``searchsorted`` (~0.25 ms) or one comparison for two colours; Pillow writes
  1/2/4/8 bits a pixel from the palette's size. WebP is no cheaper at equal size there and 2-5x slower.
* more colours, lossless: **WebP lossless, method 0, quality 0** (:func:`webp_lossless`): as fast as or faster
  than PNG level 1 and smaller on everything measured (4.4x faster on photo-like tiles). Method 1 halves the size of
  flat many-colour content for about the same time there, but is 4x slower on photos, so method 0.
* lossy: **JPEG 4:2:0** (:func:`jpeg`), ``optimize=False``: Huffman optimisation made the photo tile 10% smaller
  for 2.2x the time (0.31 vs 0.14 ms) and the mixed glyph tile 4% smaller for 5x (0.99 vs 0.20 ms).
* colour reduction (``black_and_white``: :func:`png_black_and_white`, a 1-bit PNG of luminance >= 50%, no dithering
  as that ruins text; ``few_colors``: :func:`png_rgb332`, a numpy bit mask keeping 3 bits of red and green and 2 of
  blue, i.e. the fixed 256-colour BGR233 palette, so no palette search at all). Both are PNG level 1.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image as PILImage

from jumpoint.desktop.classify import Packed, Pixels, as_pil, packed

PNG_LEVEL = 1
WEBP_METHOD = 0
WEBP_QUALITY = 0
_RGB332_PALETTE = bytes(
    np.stack(
        [
            (np.arange(256) >> 5 & 7) * 255 // 7,
            (np.arange(256) >> 2 & 7) * 255 // 7,
            (np.arange(256) & 3) * 85,
        ],
        axis=1,
    )
    .astype(np.uint8)
    .tobytes()
)


def _save(image: PILImage.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _png_indexed(indices: np.ndarray, palette_rgb: bytes) -> bytes:
    height, width = indices.shape
    image = PILImage.frombuffer("P", (width, height), np.ascontiguousarray(indices, np.uint8), "raw", "P", 0, 1)
    image.putpalette(palette_rgb, "RGB")
    return _save(image, "PNG", compress_level=PNG_LEVEL, optimize=False)


def png_palette(pixels: Pixels, palette: Packed) -> bytes:
    """A lossless palette PNG; ``palette`` holds every colour of ``pixels`` (sorted packed RGBA, <= 256)."""
    if len(palette) > 256:
        raise ValueError("a palette PNG holds at most 256 colours")
    values = packed(pixels)
    if len(palette) == 1:
        indices = np.zeros(values.shape, np.uint8)
    elif len(palette) == 2:
        indices = (values == palette[1]).view(np.uint8)
    else:
        indices = np.searchsorted(palette, values).astype(np.uint8)
    rgb = palette.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    return _png_indexed(indices, rgb)


def png_black_and_white(pixels: Pixels) -> bytes:
    """A 1-bit PNG: white where the luminance (BT.601, integer) is at least half, else black."""
    height, width = pixels.shape[:2]
    rgb = pixels[:, :, :3].astype(np.uint16)
    luminance = rgb[:, :, 0] * 77 + rgb[:, :, 1] * 150 + rgb[:, :, 2] * 29  # <= 65280: fits uint16
    bits = np.packbits(luminance >= 128 * 256, axis=1)
    image = PILImage.frombuffer("1", (width, height), bits, "raw", "1", 0, 1)
    return _save(image, "PNG", compress_level=PNG_LEVEL, optimize=False)


def png_rgb332(pixels: Pixels) -> bytes:
    """A PNG with the fixed 256-colour BGR233 palette (3 bits red, 3 green, 2 blue: a bit mask, no search)."""
    red, green, blue = pixels[:, :, 0], pixels[:, :, 1], pixels[:, :, 2]
    indices = (red & 0xE0) | ((green >> 3) & 0x1C) | (blue >> 6)
    return _png_indexed(indices, _RGB332_PALETTE)


def webp_lossless(pixels: Pixels) -> bytes:
    """A lossless WebP of the RGB channels (the desktop is opaque)."""
    return _save(as_pil(pixels).convert("RGB"), "WEBP", lossless=True, method=WEBP_METHOD, quality=WEBP_QUALITY)


def jpeg(pixels: Pixels, quality: int) -> bytes:
    """A baseline JPEG, 4:2:0 chroma subsampling, at ``quality`` (1..95)."""
    return _save(as_pil(pixels).convert("RGB"), "JPEG", quality=quality, subsampling=2, optimize=False)


def decode(data: bytes) -> Pixels:
    """Any image Pillow reads (JPEG, PNG, WebP) as C-contiguous RGBA pixels."""
    with PILImage.open(io.BytesIO(data)) as image:
        return np.ascontiguousarray(np.asarray(image.convert("RGBA")), np.uint8)
