"""What kind of picture a rectangle holds, decided cheaply enough to run on every rectangle of every frame.

:func:`analyse` takes ``(height, width, 4)`` RGBA pixels and returns an :class:`Analysis`:

* ``text``: at most :data:`PALETTE_MAX` distinct colours in the *whole* rectangle (Pillow ``getcolors``, C, which
  gives up as soon as it has seen one colour too many: ~0.12 ms for 256x256 whatever the content). Terminal text,
  window chrome, anti-aliased text on a flat background (~200 colours). The exact palette comes with it, so the
  rectangle can be sent as a lossless palette PNG (1, 2, 4 or 8 bits a pixel), the cheapest and smallest lossless
  form for such content. A subsample is not enough here: a palette image must hold every colour.
* otherwise the share of pixels equal to their left neighbour, on every :data:`SUBSAMPLE_ROWS`-th row (numpy,
  ~0.01 ms for 256x256), separates ``flat`` (>= :data:`FLAT_SAME`: large single-colour runs, e.g. the fixtures'
  colour-cell animation at 0.91, where lossless beats JPEG in bytes too: 3.5 KiB WebP vs 22.5 KiB JPEG q85 a
  256x256 tile), ``mixed`` (in between) and ``photo`` (< :data:`PHOTO_SAME`: gradients, noise, video; a
  synthetic photo measures 0.0, random noise 0.0).

Measured on this project's fixtures (Xvnc 1280x800 snapshots, 256x256 tiles): the ``base64 /dev/urandom`` xterm has
2 colours (neighbour-equality 0.70), Pillow's anti-aliased default font on a dark background ~200 colours (0.53),
the colour animation more than 256 (0.91).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from PIL import Image as PILImage

Kind = Literal["text", "flat", "mixed", "photo"]
Pixels = npt.NDArray[np.uint8]
"""C-contiguous ``(height, width, 4)`` RGBA pixels."""
Packed = npt.NDArray[np.uint32]

PALETTE_MAX = 256
FLAT_SAME = 0.85
PHOTO_SAME = 0.5
SUBSAMPLE_ROWS = 4


@dataclass(frozen=True, slots=True)
class Analysis:
    """The kind of one rectangle, and for ``text`` its exact palette."""

    kind: Kind
    palette: Packed | None
    """``text`` only: the distinct colours as packed RGBA (native ``uint32`` views of the pixels), sorted."""
    same: float
    """The share of subsampled pixels equal to their left neighbour (1.0 for ``text``: not measured)."""


def packed(pixels: Pixels) -> Packed:
    """The pixels as one ``uint32`` per pixel (a view: no copy), shape ``(height, width)``."""
    height, width = pixels.shape[:2]
    return pixels.view(np.uint32).reshape(height, width)


def as_pil(pixels: Pixels) -> PILImage.Image:
    """A Pillow RGBA image sharing the pixels' memory."""
    height, width = pixels.shape[:2]
    return PILImage.frombuffer("RGBA", (width, height), pixels, "raw", "RGBA", 0, 1)


def analyse(pixels: Pixels) -> Analysis:
    """Classify a rectangle (see the module docstring); ``pixels`` must be C-contiguous RGBA."""
    colours = as_pil(pixels).getcolors(PALETTE_MAX)
    if colours is not None:
        palette = np.sort(np.array([c for _, c in colours], np.uint8).view(np.uint32).ravel())
        return Analysis("text", palette, 1.0)
    same = neighbour_equality(pixels)
    kind: Kind = "flat" if same >= FLAT_SAME else "photo" if same < PHOTO_SAME else "mixed"
    return Analysis(kind, None, same)


def neighbour_equality(pixels: Pixels) -> float:
    """The share of pixels equal to their left neighbour, on every :data:`SUBSAMPLE_ROWS`-th row."""
    rows = packed(pixels)[::SUBSAMPLE_ROWS]
    if rows.shape[1] < 2:
        return 1.0
    return float(np.count_nonzero(rows[:, 1:] == rows[:, :-1])) / float(rows[:, 1:].size)
