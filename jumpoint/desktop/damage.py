"""Merging one frame's damage into few, bounded rectangles.

Damage is marked on a grid of :data:`CELL` x :data:`CELL` pixel cells (a numpy bool array: one slice assignment per
rectangle, whatever its size). :func:`tile_rects` then cuts the desktop into :data:`TILE` x :data:`TILE` tiles (a
multiple of the cell) and yields, for every tile holding damage, the bounding box of its damaged cells, clipped to
the desktop. So:

* overlapping or adjacent damage is coalesced, and many small rectangles inside one tile become their bounding box
  (at most one tile's pixels, ~0.5 ms to encode as text);
* a huge rectangle is split at tile boundaries;
* a frame yields at most one rectangle per tile (20 for 1280x800), in row-major order.

A rectangle grows to whole cells (a typed character, 6x13 pixels, becomes 16x16 or 16x32): the extra pixels are
read from the framebuffer, so they are correct, and cost next to nothing.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

CELL = 16
TILE = 256
BLOCK = 64
"""Side of the blocks whose change rate the encoder tracks (a multiple of :data:`CELL`, dividing :data:`TILE`)."""
Rect = tuple[int, int, int, int]
"""``(x, y, width, height)`` in desktop pixels."""
Mask = npt.NDArray[np.bool_]


def cells(width: int, height: int) -> Mask:
    """An empty cell mask for a ``width`` x ``height`` desktop."""
    return np.zeros((-(-height // CELL), -(-width // CELL)), np.bool_)


def clip(rect: Rect, width: int, height: int) -> Rect | None:
    """``rect`` clipped to the desktop; None when nothing of it is left."""
    x, y, w, h = rect
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1 - x0, y1 - y0


def cell_span(rect: Rect, unit: int = CELL) -> tuple[slice, slice]:
    """The (rows, columns) slices of the ``unit``-sized cells a rectangle touches."""
    x, y, w, h = rect
    return slice(y // unit, -(-(y + h) // unit)), slice(x // unit, -(-(x + w) // unit))


def inner_span(rect: Rect, width: int, height: int, unit: int = BLOCK) -> tuple[slice, slice]:
    """The (rows, columns) slices of the ``unit``-sized cells a rectangle covers entirely (edge cells of the
    desktop count as covered when the rectangle reaches the desktop's edge)."""
    x, y, w, h = rect
    x_end = -(-width // unit) if x + w >= width else (x + w) // unit
    y_end = -(-height // unit) if y + h >= height else (y + h) // unit
    return slice(-(-y // unit), y_end), slice(-(-x // unit), x_end)


def mark(mask: Mask, rect: Rect) -> None:
    """Mark the cells a rectangle touches."""
    rows, cols = cell_span(rect)
    mask[rows, cols] = True


def touches(mask: Mask, rect: Rect) -> bool:
    """Whether any cell the rectangle touches is marked."""
    rows, cols = cell_span(rect)
    return bool(mask[rows, cols].any())


def coarsen(mask: Mask, factor: int) -> Mask:
    """``mask`` on a grid ``factor`` times coarser: a coarse cell is set when any of its cells is."""
    rows, cols = mask.shape
    padded = np.zeros((-(-rows // factor) * factor, -(-cols // factor) * factor), np.bool_)
    padded[:rows, :cols] = mask
    grouped = padded.reshape(padded.shape[0] // factor, factor, padded.shape[1] // factor, factor)
    return np.asarray(grouped.any(axis=(1, 3)), np.bool_)


def refine(coarse: Mask, factor: int, shape: tuple[int, int]) -> Mask:
    """A coarse mask expanded to cells (``shape``: the cell mask's shape)."""
    fine: Mask = np.repeat(np.repeat(coarse, factor, axis=0), factor, axis=1)[: shape[0], : shape[1]]
    return np.ascontiguousarray(fine)


def tile_rects(mask: Mask, width: int, height: int) -> list[Rect]:
    """Per tile holding marked cells, the bounding box of those cells in pixels (clipped to the desktop)."""
    per_tile = TILE // CELL
    rows, cols = mask.shape
    padded = np.zeros((-(-rows // per_tile) * per_tile, -(-cols // per_tile) * per_tile), np.bool_)
    padded[:rows, :cols] = mask
    dirty = coarsen(padded, per_tile)
    out: list[Rect] = []
    for ty, tx in np.argwhere(dirty).tolist():
        sub = padded[ty * per_tile : (ty + 1) * per_tile, tx * per_tile : (tx + 1) * per_tile]
        ys = np.flatnonzero(sub.any(axis=1))
        xs = np.flatnonzero(sub.any(axis=0))
        x0, y0 = tx * TILE + int(xs[0]) * CELL, ty * TILE + int(ys[0]) * CELL
        x1, y1 = min(width, tx * TILE + (int(xs[-1]) + 1) * CELL), min(height, ty * TILE + (int(ys[-1]) + 1) * CELL)
        if x1 > x0 and y1 > y0:
            out.append((x0, y0, x1 - x0, y1 - y0))
    return out


def grid_rects(width: int, height: int) -> list[Rect]:
    """The whole desktop as :data:`TILE` x :data:`TILE` tiles, row-major (each pixel exactly once)."""
    return [
        (x, y, min(TILE, width - x), min(TILE, height - y))
        for y in range(0, height, TILE)
        for x in range(0, width, TILE)
    ]
