"""Pixel conversions, all numpy-vectorised: wire pixels to RGB arrays, palettes, packed indices, Tight's gradient.

Every function takes the bytes of a whole rectangle (or tile) and returns an ``(h, w, 3)`` (or ``(h, w)``) uint8
array; sizes are checked (:class:`~protocols.vnc.messages.MalformedMessage`), never trusted. No Python loop runs per
pixel: the gradient filter, whose prediction depends on already-decoded neighbours, runs one vectorised step per
anti-diagonal (``w + h`` steps for a rectangle).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from protocols.vnc.messages import MalformedMessage

RGB = npt.NDArray[np.uint8]


def rgb_from_rgbx(data: bytes, width: int, height: int) -> RGB:
    """32-bit R,G,B,X pixels (our pixel format) as an ``(h, w, 3)`` view."""
    if len(data) != width * height * 4:
        raise MalformedMessage(f"{len(data)} bytes of pixels for {width}x{height}")
    return np.frombuffer(data, np.uint8).reshape(height, width, 4)[:, :, :3]


def rgb_from_rgb24(data: bytes, width: int, height: int) -> RGB:
    """Compressed 24-bit R,G,B pixels (Tight's TPIXEL, ZRLE's CPIXEL in our format) as ``(h, w, 3)``."""
    if len(data) != width * height * 3:
        raise MalformedMessage(f"{len(data)} bytes of 24-bit pixels for {width}x{height}")
    return np.frombuffer(data, np.uint8).reshape(height, width, 3)


def palette_from_rgb24(data: bytes) -> RGB:
    """A palette of 24-bit pixels as ``(n, 3)``."""
    if len(data) % 3:
        raise MalformedMessage("a palette is not a whole number of pixels")
    return np.frombuffer(data, np.uint8).reshape(-1, 3)


def unpack_indices(data: bytes, width: int, height: int, bits: int) -> npt.NDArray[np.uint8]:
    """Palette indices packed ``bits`` (1, 2, 4 or 8) per pixel, most significant first, rows padded to a byte."""
    if bits == 8:
        if len(data) != width * height:
            raise MalformedMessage(f"{len(data)} bytes of indices for {width}x{height}")
        return np.frombuffer(data, np.uint8).reshape(height, width)
    row_bytes = (width * bits + 7) // 8
    if len(data) != row_bytes * height:
        raise MalformedMessage(f"{len(data)} bytes of {bits}-bit indices for {width}x{height}")
    rows = np.frombuffer(data, np.uint8).reshape(height, row_bytes)
    if bits == 1:
        return np.unpackbits(rows, axis=1)[:, :width]
    per_byte = 8 // bits
    shifts = np.arange(8 - bits, -1, -bits, dtype=np.uint8)  # 2 bits: 6, 4, 2, 0
    mask = np.uint8((1 << bits) - 1)
    values = (rows[:, :, None] >> shifts) & mask
    return values.reshape(height, row_bytes * per_byte)[:, :width]


def apply_palette(palette: RGB, indices: npt.NDArray[np.uint8]) -> RGB:
    """Look the indices up in the palette; an index past its end is malformed."""
    if indices.size and int(indices.max()) >= len(palette):
        raise MalformedMessage(f"palette index {int(indices.max())} past a palette of {len(palette)}")
    return palette[indices]


def undo_gradient(data: bytes, width: int, height: int) -> RGB:
    """Tight's gradient filter undone: each component is its prediction plus the sent difference, modulo 256.

    Prediction = clamp(left + above - above-left, 0, 255) from decoded neighbours (0 outside the rectangle). The
    first row and column reduce to running sums; the rest is computed one anti-diagonal at a time.
    """
    diff = rgb_from_rgb24(data, width, height).astype(np.int32)
    out = np.zeros((height, width, 3), np.int32)
    out[0, :] = np.cumsum(diff[0, :], axis=0) & 255
    out[:, 0] = np.cumsum(diff[:, 0], axis=0) & 255
    for d in range(2, width + height - 1):
        ys = np.arange(max(1, d - width + 1), min(height - 1, d - 1) + 1)
        if not len(ys):
            continue
        xs = d - ys
        predicted = np.clip(out[ys, xs - 1] + out[ys - 1, xs] - out[ys - 1, xs - 1], 0, 255)
        out[ys, xs] = (predicted + diff[ys, xs]) & 255
    return out.astype(np.uint8)
