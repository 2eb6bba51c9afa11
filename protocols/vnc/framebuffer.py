"""The desktop's pixels: a numpy ``(height, width, 4)`` uint8 RGBA array, written lazily.

Decoders write RGB into :attr:`Framebuffer.pixels` (alpha stays 255). Most of what a server sends is handed on to
the browser as it came (Tight JPEG rectangles unchanged; fills and palette rectangles as PNG, see
:mod:`protocols.vnc.encodings.tight`), so its pixels are only needed when somebody reads them: a keyframe for a late
joiner, damage from another encoding, the source of a CopyRect. So the framebuffer keeps a *pending list*, in
arrival order, of what has not been painted yet, and paints it when needed:

* a JPEG rectangle (:meth:`Framebuffer.add_jpeg`, decoded by Pillow/libjpeg-turbo) and a palette rectangle
  (:meth:`Framebuffer.write_palette`) always join the list;
* a block of pixels (:meth:`Framebuffer.write_rgb`), a fill (:meth:`Framebuffer.fill`) and a CopyRect
  (:meth:`Framebuffer.copy`) join it when they may touch a pending entry (the area written, or a copy's source),
  else they are painted at once;
* :meth:`Framebuffer.read` paints the list in order up to the last entry that touches the region read, and
  :meth:`Framebuffer.snapshot` all of it, so the pixels are always those of painting everything as it came.

Entries that later entries paint over entirely, before any queued copy reads them, are dropped unpainted (checked
on a pixel mask when the list is read and when it passes :data:`MAX_PENDING` entries or :data:`MAX_PENDING_AREA`
framebuffers' worth of pixels; still over after that, it is painted whole: bounded memory). So a server's JPEGs,
fills and scrolls of a fast-changing desktop cost no decoding at all unless somebody reads them, and a late joiner
or a recording keyframe costs the decoding of what is still visible, not of every frame that went by. Which
:data:`CELL`-pixel cells pending entries touch is kept on a grid, so a write away from them checks nothing else.
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
MAX_PENDING_AREA = 4  # framebuffers' worth of pending pixels
CELL = 16
log = logging.getLogger(__name__)
Rect = tuple[int, int, int, int]
"""``(x, y, width, height)``."""


def _overlap(a: Rect, b: Rect) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


@dataclass(frozen=True, slots=True)
class Pending:
    """Something not painted into the pixels yet: a JPEG rectangle (``data``), pixels (``rgb``: one colour, 3 values,
    or an ``(height, width, 3)`` block; with ``indices``, ``rgb`` is a palette and the pixels are
    ``rgb[indices]``), or a CopyRect from ``src``."""

    x: int
    y: int
    width: int
    height: int
    data: bytes = b""
    rgb: npt.NDArray[np.uint8] | None = None
    indices: npt.NDArray[np.uint8] | None = None
    src: tuple[int, int] | None = None

    @property
    def rect(self) -> Rect:
        """Where it paints."""
        return self.x, self.y, self.width, self.height

    @property
    def source(self) -> Rect | None:
        """Where a copy reads (None: not a copy)."""
        return None if self.src is None else (*self.src, self.width, self.height)

    @property
    def is_jpeg(self) -> bool:
        """A JPEG rectangle."""
        return self.rgb is None and self.src is None

    def touches(self, rect: Rect) -> bool:
        """Whether it paints or reads anything of ``rect``."""
        source = self.source
        return _overlap(self.rect, rect) or (source is not None and _overlap(source, rect))


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
    """The pixels of one desktop, and what has not been painted into them yet (see the module docstring)."""

    def __init__(self, width: int, height: int) -> None:
        self.pixels: npt.NDArray[np.uint8] = self._blank(width, height)
        self._pending: list[Pending] = []
        self._pending_area = 0
        self._pruned = True
        """No entry was added since the last prune."""
        self._cells = self._no_cells(width, height)
        self.jpegs_decoded = 0
        self.jpegs_dropped = 0
        self.writes_deferred = 0
        """Writes that joined the pending list (painted later, or dropped unpainted)."""

    @staticmethod
    def _blank(width: int, height: int) -> npt.NDArray[np.uint8]:
        pixels = np.zeros((height, width, 4), np.uint8)
        pixels[:, :, 3] = 255
        return pixels

    @staticmethod
    def _no_cells(width: int, height: int) -> npt.NDArray[np.bool_]:
        return np.zeros((-(-height // CELL), -(-width // CELL)), np.bool_)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def pending(self) -> int:
        """Entries not painted yet (JPEG rectangles, and writes waiting with them)."""
        return len(self._pending)

    def contains(self, x: int, y: int, width: int, height: int) -> bool:
        """Whether the rectangle lies inside the framebuffer."""
        return x >= 0 and y >= 0 and x + width <= self.width and y + height <= self.height

    def resize(self, width: int, height: int) -> None:
        """A new, black framebuffer of the new size (RFB: the old contents are undefined after a resize)."""
        self.pixels = self._blank(width, height)
        self._pending.clear()
        self._pending_area = 0
        self._cells = self._no_cells(width, height)

    # --- writes (the caller checked that every rectangle lies inside) ---------------------------------------
    def write_rgb(self, x: int, y: int, rgb: npt.NDArray[np.uint8]) -> None:
        """Put an ``(h, w, 3)`` block of pixels at (``x``, ``y``) (kept, not copied, if it must wait)."""
        height, width = rgb.shape[:2]
        self._write(Pending(x, y, width, height, rgb=rgb))

    def fill(self, x: int, y: int, width: int, height: int, rgb: npt.NDArray[np.uint8]) -> None:
        """Fill a rectangle with one colour (``rgb``: 3 values)."""
        self._write(Pending(x, y, width, height, rgb=rgb))

    def write_palette(self, x: int, y: int, palette: npt.NDArray[np.uint8], indices: npt.NDArray[np.uint8]) -> None:
        """Put ``palette[indices]`` at (``x``, ``y``) (``palette``: ``(n, 3)``, ``indices``: ``(h, w)``); painted when
        read. An index past the palette raises MalformedMessage here."""
        if indices.size and int(indices.max()) >= len(palette):
            raise MalformedMessage(f"palette index {int(indices.max())} past a palette of {len(palette)}")
        height, width = indices.shape
        self._append(Pending(x, y, width, height, rgb=palette, indices=indices))

    def copy(self, src_x: int, src_y: int, x: int, y: int, width: int, height: int) -> None:
        """CopyRect: the source's pixels to the destination (after the pending entries under either, if any)."""
        self._write(Pending(x, y, width, height, src=(src_x, src_y)))

    def add_jpeg(self, x: int, y: int, width: int, height: int, data: bytes) -> None:
        """Remember a JPEG rectangle (already checked by :func:`check_jpeg`) without decoding it."""
        self._append(Pending(x, y, width, height, data))

    # --- reads -----------------------------------------------------------------------------------------------
    def read(self, x: int, y: int, width: int, height: int) -> npt.NDArray[np.uint8]:
        """A copy of a region as ``(h, w, 4)`` RGBA (alpha 255), pending entries over it painted first."""
        self._settle((x, y, width, height))
        return self.pixels[y : y + height, x : x + width].copy()

    def snapshot(self) -> npt.NDArray[np.uint8]:
        """The whole desktop as ``(h, w, 4)`` RGBA (a view: copy it to keep it), every pending entry painted."""
        if self._pending:
            self._prune()
            self._paint_upto(len(self._pending))
        return self.pixels

    # --- the pending list ------------------------------------------------------------------------------------
    def _near(self, rect: Rect) -> bool:
        """Whether a pending entry may touch the rectangle (its cells hold one)."""
        if not self._pending:
            return False
        x, y, width, height = rect
        return bool(self._cells[y // CELL : -(-(y + height) // CELL), x // CELL : -(-(x + width) // CELL)].any())

    def _mark(self, rect: Rect) -> None:
        x, y, width, height = rect
        self._cells[y // CELL : -(-(y + height) // CELL), x // CELL : -(-(x + width) // CELL)] = True

    def _write(self, write: Pending) -> None:
        """Paint a write now, or queue it when it may touch a pending entry (its area, or a copy's source)."""
        source = write.source
        if self._near(write.rect) or (source is not None and self._near(source)):
            self._append(write)
        else:
            self._paint(write)

    def _append(self, entry: Pending) -> None:
        if entry.width <= 0 or entry.height <= 0:
            return
        if not entry.is_jpeg:
            self.writes_deferred += 1
        self._pending.append(entry)
        self._pending_area += entry.width * entry.height
        self._pruned = False
        self._mark(entry.rect)
        if entry.source is not None:
            self._mark(entry.source)
        if self._over_limits():
            self._prune()
            if self._over_limits():
                self._paint_upto(len(self._pending))

    def _over_limits(self) -> bool:
        return len(self._pending) > MAX_PENDING or self._pending_area > MAX_PENDING_AREA * self.width * self.height

    def _prune(self) -> None:
        """Drop the entries whose every pixel later entries paint over before any queued copy reads it."""
        if self._pruned:
            return
        self._pruned = True
        covered = np.zeros((self.height, self.width), np.bool_)
        kept: list[Pending] = []
        dropped = 0
        for entry in reversed(self._pending):
            x, y, width, height = entry.rect
            area = covered[y : y + height, x : x + width]
            if area.all():
                dropped += entry.is_jpeg
                continue
            kept.append(entry)
            area[:] = True
            if entry.src is not None:
                src_x, src_y = entry.src
                covered[src_y : src_y + height, src_x : src_x + width] = False
        if len(kept) != len(self._pending):
            self.jpegs_dropped += dropped
            kept.reverse()
            self._replace(kept)

    def _replace(self, kept: list[Pending]) -> None:
        self._pending = kept
        self._pending_area = sum(entry.width * entry.height for entry in kept)
        self._cells[:] = False
        for entry in kept:
            self._mark(entry.rect)
            if entry.source is not None:
                self._mark(entry.source)

    def _settle(self, rect: Rect) -> None:
        """Paint the pending entries in order up to the last one touching ``rect``."""
        if not self._near(rect):
            return
        self._prune()
        last = 0
        for i, entry in enumerate(self._pending):
            if entry.touches(rect):
                last = i + 1
        if last:
            self._paint_upto(last)

    def _paint_upto(self, count: int) -> None:
        todo = self._pending[:count]
        self._replace(self._pending[count:])
        for entry in todo:
            self._paint(entry)

    def _paint(self, entry: Pending) -> None:
        x, y, width, height = entry.rect
        if entry.indices is not None and entry.rgb is not None:
            # One 32-bit store a pixel (alpha 255 in the palette) rather than three strided bytes.
            palette = np.empty((len(entry.rgb), 4), np.uint8)
            palette[:, :3] = entry.rgb
            palette[:, 3] = 255
            target = self.pixels.view(np.uint32).reshape(self.height, self.width)
            target[y : y + height, x : x + width] = palette.view(np.uint32).ravel()[entry.indices]
        elif entry.rgb is not None:
            self.pixels[y : y + height, x : x + width, :3] = entry.rgb
        elif entry.src is not None:
            src_x, src_y = entry.src
            self.pixels[y : y + height, x : x + width] = self.pixels[src_y : src_y + height, src_x : src_x + width]
        else:
            self._decode(entry)

    def _decode(self, entry: Pending) -> None:
        try:
            with PILImage.open(io.BytesIO(entry.data)) as image:
                rgb = np.asarray(image.convert("RGB"))
        except Exception as exc:  # checked on arrival; a body that fails to decode leaves the area as it was
            log.warning("a %dx%d JPEG rectangle did not decode: %s", entry.width, entry.height, exc)
            return
        if rgb.shape[:2] != (entry.height, entry.width):
            log.warning("a JPEG rectangle decoded to %s, not %dx%d", rgb.shape, entry.width, entry.height)
            return
        self.pixels[entry.y : entry.y + entry.height, entry.x : entry.x + entry.width, :3] = rgb
        self.jpegs_decoded += 1
