"""The desktop's pixels: a numpy ``(height, width, 4)`` uint8 RGBA array, with JPEG rectangles decoded lazily.

Decoders write RGB into :attr:`Framebuffer.pixels` (alpha stays 255). Tight JPEG rectangles are *not* decoded when
they arrive: the Jumpoint forwards them unchanged as ``Image(codec="jpeg")``, so the framebuffer only remembers them
in a pending list (in arrival order) and decodes them (Pillow, libjpeg-turbo) when their pixels are needed:

* before a write or a CopyRect *source* that overlaps them (the pending list is decoded in order up to the last
  entry that overlaps, so the result is the same as decoding everything at once);
* when the consumer reads a region (:meth:`Framebuffer.read`) or takes a :meth:`Framebuffer.snapshot`;
* when the list holds more than :data:`MAX_PENDING` entries or more than :data:`MAX_PENDING_AREA` framebuffers'
  worth of pixels (bounded memory).

A write or a JPEG that fully covers a pending JPEG drops it undecoded: a late joiner or a recording keyframe costs
the decoding of what is still visible, not of every frame that went by.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image as PILImage

from protocols.vnc.messages import MalformedMessage

MAX_PENDING = 512
MAX_PENDING_AREA = 4  # framebuffers' worth of pending JPEG pixels
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PendingJpeg:
    """A JPEG rectangle not yet decoded into the pixels."""

    x: int
    y: int
    width: int
    height: int
    data: bytes

    def overlaps(self, x: int, y: int, width: int, height: int) -> bool:
        return x < self.x + self.width and self.x < x + width and y < self.y + self.height and self.y < y + height

    def inside(self, x: int, y: int, width: int, height: int) -> bool:
        return x <= self.x and y <= self.y and self.x + self.width <= x + width and self.y + self.height <= y + height


def check_jpeg(data: bytes, width: int, height: int) -> None:
    """Refuse data that is not a JPEG image of ``width`` x ``height`` (reads the header only, decodes nothing)."""
    try:
        with PILImage.open(io.BytesIO(data)) as image:
            fmt, size = image.format, image.size
    except Exception as exc:
        raise MalformedMessage(f"a JPEG rectangle is not a JPEG image ({exc})") from None
    if fmt != "JPEG" or size != (width, height):
        raise MalformedMessage(f"a {width}x{height} JPEG rectangle holds a {fmt} image of {size[0]}x{size[1]}")


class Framebuffer:
    """The pixels of one desktop, and the JPEG rectangles not decoded yet."""

    def __init__(self, width: int, height: int) -> None:
        self.pixels: npt.NDArray[np.uint8] = self._blank(width, height)
        self._pending: list[PendingJpeg] = []
        self._pending_area = 0
        self.jpegs_decoded = 0
        self.jpegs_dropped = 0

    @staticmethod
    def _blank(width: int, height: int) -> npt.NDArray[np.uint8]:
        pixels = np.zeros((height, width, 4), np.uint8)
        pixels[:, :, 3] = 255
        return pixels

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def pending(self) -> int:
        """JPEG rectangles waiting to be decoded."""
        return len(self._pending)

    def contains(self, x: int, y: int, width: int, height: int) -> bool:
        """Whether the rectangle lies inside the framebuffer."""
        return x >= 0 and y >= 0 and x + width <= self.width and y + height <= self.height

    def resize(self, width: int, height: int) -> None:
        """A new, black framebuffer of the new size (RFB: the old contents are undefined after a resize)."""
        self.pixels = self._blank(width, height)
        self._pending.clear()
        self._pending_area = 0

    # --- writes ----------------------------------------------------------------------------------------------
    def write_rgb(self, x: int, y: int, rgb: npt.NDArray[np.uint8]) -> None:
        """Put an ``(h, w, 3)`` block of pixels at (``x``, ``y``)."""
        height, width = rgb.shape[:2]
        self._before_write(x, y, width, height)
        self.pixels[y : y + height, x : x + width, :3] = rgb

    def fill(self, x: int, y: int, width: int, height: int, rgb: npt.NDArray[np.uint8]) -> None:
        """Fill a rectangle with one colour (``rgb``: 3 values)."""
        self._before_write(x, y, width, height)
        self.pixels[y : y + height, x : x + width, :3] = rgb

    def copy(self, src_x: int, src_y: int, x: int, y: int, width: int, height: int) -> None:
        """CopyRect: the source's pixels (pending JPEGs under it decoded first) to the destination."""
        self._settle(src_x, src_y, width, height)
        self._before_write(x, y, width, height)
        self.pixels[y : y + height, x : x + width] = self.pixels[src_y : src_y + height, src_x : src_x + width]

    def add_jpeg(self, x: int, y: int, width: int, height: int, data: bytes) -> None:
        """Remember a JPEG rectangle (already checked by :func:`check_jpeg`) without decoding it."""
        self._drop_covered(x, y, width, height)
        self._pending.append(PendingJpeg(x, y, width, height, data))
        self._pending_area += width * height
        if len(self._pending) > MAX_PENDING or self._pending_area > MAX_PENDING_AREA * self.width * self.height:
            self._decode_upto(len(self._pending))

    # --- reads -----------------------------------------------------------------------------------------------
    def read(self, x: int, y: int, width: int, height: int) -> npt.NDArray[np.uint8]:
        """A copy of a region as ``(h, w, 4)`` RGBA (alpha 255), pending JPEGs over it decoded first."""
        self._settle(x, y, width, height)
        return self.pixels[y : y + height, x : x + width].copy()

    def snapshot(self) -> npt.NDArray[np.uint8]:
        """The whole desktop as ``(h, w, 4)`` RGBA (a view: copy it to keep it), every pending JPEG decoded."""
        self._decode_upto(len(self._pending))
        return self.pixels

    # --- the pending JPEGs -----------------------------------------------------------------------------------
    def _drop_covered(self, x: int, y: int, width: int, height: int) -> None:
        if not self._pending:
            return
        kept = [p for p in self._pending if not p.inside(x, y, width, height)]
        if len(kept) != len(self._pending):
            self.jpegs_dropped += len(self._pending) - len(kept)
            self._pending = kept
            self._pending_area = sum(p.width * p.height for p in kept)

    def _before_write(self, x: int, y: int, width: int, height: int) -> None:
        self._drop_covered(x, y, width, height)
        self._settle(x, y, width, height)

    def _settle(self, x: int, y: int, width: int, height: int) -> None:
        last = 0
        for i, pending in enumerate(self._pending):
            if pending.overlaps(x, y, width, height):
                last = i + 1
        if last:
            self._decode_upto(last)

    def _decode_upto(self, count: int) -> None:
        todo, self._pending = self._pending[:count], self._pending[count:]
        self._pending_area = sum(p.width * p.height for p in self._pending)
        for pending in todo:
            self._decode(pending)

    def _decode(self, pending: PendingJpeg) -> None:
        try:
            with PILImage.open(io.BytesIO(pending.data)) as image:
                rgb = np.asarray(image.convert("RGB"))
        except Exception as exc:  # checked on arrival; a body that fails to decode leaves the area as it was
            log.warning("a %dx%d JPEG rectangle did not decode: %s", pending.width, pending.height, exc)
            return
        if rgb.shape[:2] != (pending.height, pending.width):
            log.warning("a JPEG rectangle decoded to %s, not %dx%d", rgb.shape, pending.width, pending.height)
            return
        self.pixels[pending.y : pending.y + pending.height, pending.x : pending.x + pending.width, :3] = rgb
        self.jpegs_decoded += 1
