"""``FrameEncoder``: one frame of desktop events in, browser-ready events out (runs on the Jumpoint).

::

    encoder = FrameEncoder(Quality("full_color"))
    frame: list[DesktopOutput] = []
    async for event in client.updates():
        frame.append(event)
        if isinstance(event, FrameEnd):
            send(encoder.encode(frame, client.pixels))   # before taking the next event: pixels are stable
            frame = []
    # and, when no frame came for encoder.refresh_due_in seconds: send(encoder.idle(client.pixels))

Contract of :meth:`FrameEncoder.encode` (events up to and including a ``FrameEnd``, plus a pixel reader
``(x, y, width, height) -> RGBA rows`` of the desktop *as it is after the last event given*):

* ``Image(codec="jpeg")`` (a Tight JPEG rectangle) is passed through unchanged, in place; so are PNG/WebP images.
  Only one larger than :attr:`FrameEncoder.max_bytes` is decoded and re-sent as tiles (JPEG tiles for a JPEG).
  ``Image(codec="rgba")`` is encoded in place like damage.
* ``CopyRect``, ``CursorShape``, ``Clipboard``, ``DesktopSize`` and ``FrameEnd`` are passed through in their order.
  ``DesktopSize`` resets the encoder (damage pending before it is dropped: those pixels are gone).
* ``Damage`` is not passed through: all of a frame's damage is merged (:mod:`jumpoint.desktop.damage`: whole 16-px
  cells, at most one rectangle per 256x256 tile), read with the pixel reader and emitted as images just before the
  ``FrameEnd``, i.e. after every other drawing event of the frame. Since the pixels read are the frame's final ones,
  that is correct for every damaged pixel; a ``CopyRect`` whose source touches damage earlier in the same frame (the
  browser would copy stale pixels) gets its destination added to the damage.
* No emitted image exceeds :attr:`FrameEncoder.max_bytes` (default :data:`IMAGE_BUDGET`, the desktop stream's
  cap on one image, :data:`jumpoint.core.desktop_wire.MAX_IMAGE`): an encoded rectangle over it is halved (along
  its longer side) and the halves encoded again, recursively.
* Each rectangle is classified (:mod:`jumpoint.desktop.classify`) and encoded per the quality level (see
  :data:`POLICIES`); the codecs and their measured settings are in :mod:`jumpoint.desktop.codecs`. Under ``video``
  a rectangle larger than :data:`TINY_TEXT` is JPEG whatever its kind, so it is not classified at all.
* Fast-changing regions: the change of every 64x64 block is tracked. A block changed at least
  :attr:`fast_after` times in a row, each within :attr:`fast_gap` seconds of the previous change, is *fast*; a
  ``mixed`` or ``photo`` rectangle touching a fast block is sent as JPEG where the level allows (``full_color`` q85,
  ``more_colors`` q50) and its blocks are remembered as *lossy*. That trades bytes for CPU: a 256x256 tile of the
  random-glyph animation is 2.3 ms / 29 KiB as lossless WebP, 0.27 ms / 41 KiB as JPEG q85, 0.21 ms / 21 KiB as
  JPEG q50. ``text`` and ``flat`` rectangles stay lossless
  even when fast: measured, JPEG of a terminal tile is ten times the palette PNG (40 KiB vs 4 KiB) and a flat
  colour tile five times the WebP; the CPU saved (~0.3 ms a tile) is not worth it. A lossy block unchanged for
  :attr:`settle_after` seconds is refreshed losslessly at the end of the next frame, or by :meth:`idle` (call it
  when :attr:`refresh_due_in` has passed without a frame: servers send nothing while nothing changes), so the
  picture ends sharp. A ``CopyRect`` from lossy blocks makes its destination lossy too.

The encoder keeps no pixels of its own: the framebuffer (the VNC client's) is the truth. It is synchronous and not
thread-safe; one per desktop connection. A slow viewer is not its business (the console merges or drops frames
per viewer; input is never dropped) but :meth:`keyframe` gives a complete picture for a late joiner or a recording.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from jumpoint.core.desktop import (
    Clipboard,
    CopyRect,
    CursorShape,
    Damage,
    DesktopOutput,
    DesktopSize,
    FrameEnd,
    Image,
    Quality,
)
from jumpoint.core.desktop_wire import MAX_IMAGE
from jumpoint.desktop import codecs
from jumpoint.desktop.classify import Analysis, Pixels, analyse
from jumpoint.desktop.damage import (
    BLOCK,
    CELL,
    TILE,
    Mask,
    Rect,
    cell_span,
    cells,
    clip,
    coarsen,
    grid_rects,
    inner_span,
    mark,
    refine,
    tile_rects,
    touches,
)

PixelReader = Callable[[int, int, int, int], bytes]
"""``(x, y, width, height) -> bytes``: the RGBA rows (``width * height * 4`` bytes) of a region of the desktop."""
QualityLevel = Literal["black_and_white", "few_colors", "more_colors", "full_color", "video"]
EncodedCodec = Literal["png", "webp", "jpeg"]

IMAGE_BUDGET = MAX_IMAGE  # the desktop stream's cap on one image message
TINY_TEXT = 64 * 64
"""``video``: text-like rectangles of at most this many pixels stay lossless."""
PASSTHROUGH_JPEG_QUALITY = 85
_PER_BLOCK = BLOCK // CELL
_STREAK_CAP = 1 << 20


@dataclass(frozen=True, slots=True)
class Policy:
    """What one quality level does with each kind of rectangle (see :mod:`jumpoint.desktop.classify`)."""

    reduce: Literal["black_and_white", "rgb332"] | None = None
    """Colour reduction before PNG; never JPEG then."""
    photo_jpeg: int | None = None
    """JPEG quality for ``photo`` rectangles (None: lossless unless fast)."""
    fast_jpeg: int | None = None
    """JPEG quality for fast-changing ``mixed``/``photo`` rectangles (None: lossless even then)."""
    video_jpeg: int | None = None
    """JPEG quality for everything except text-like rectangles of at most :data:`TINY_TEXT` pixels."""


POLICIES: dict[QualityLevel, Policy] = {
    "black_and_white": Policy(reduce="black_and_white"),  # 1-bit PNG everywhere
    "few_colors": Policy(reduce="rgb332"),  # exact palette PNG up to 256 colours, else BGR233 PNG
    "more_colors": Policy(photo_jpeg=50, fast_jpeg=50),
    "full_color": Policy(fast_jpeg=85),  # lossless unless fast
    "video": Policy(video_jpeg=50),
}


@dataclass(frozen=True, slots=True)
class Choice:
    """How one rectangle is encoded."""

    method: Literal["palette", "black_and_white", "rgb332", "webp", "jpeg"]
    quality: int = 0
    fast: bool = False
    """JPEG because the region changes fast (refreshed losslessly when it settles)."""

    @property
    def codec(self) -> EncodedCodec:
        if self.method == "jpeg":
            return "jpeg"
        return "webp" if self.method == "webp" else "png"


@dataclass(slots=True)
class EncoderStats:
    """Counters since the encoder was made (images emitted by :meth:`FrameEncoder.keyframe` included)."""

    frames: int = 0
    damage_in: int = 0
    """Damage rectangles received."""
    passthrough_images: int = 0
    passthrough_bytes: int = 0
    png_images: int = 0
    png_bytes: int = 0
    webp_images: int = 0
    webp_bytes: int = 0
    jpeg_images: int = 0
    """JPEG images this encoder made (passthrough not included)."""
    jpeg_bytes: int = 0
    fast_jpeg_images: int = 0
    """Of :attr:`jpeg_images`, those made because the region changes fast."""
    refresh_images: int = 0
    """Lossless refreshes of settled fast regions."""
    split_images: int = 0
    """Rectangles encoded over the byte budget and halved."""
    keyframes: int = 0

    def count(self, codec: EncodedCodec, size: int) -> None:
        if codec == "png":
            self.png_images += 1
            self.png_bytes += size
        elif codec == "webp":
            self.webp_images += 1
            self.webp_bytes += size
        else:
            self.jpeg_images += 1
            self.jpeg_bytes += size


class FrameEncoder:
    """Per-rectangle encoding of one desktop's frames for the browser (see the module docstring for the contract).

    ``width``/``height``: the desktop's size if known (else the first ``DesktopSize`` event sets it; damage before
    any size raises ValueError). ``clock``: seconds, monotonic (tests inject one).
    """

    def __init__(
        self,
        quality: Quality = Quality("full_color"),  # noqa: B008 - frozen
        *,
        width: int | None = None,
        height: int | None = None,
        max_bytes: int = IMAGE_BUDGET,
        fast_after: int = 3,
        fast_gap: float = 0.25,
        settle_after: float = 0.3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_bytes < 16 * 1024:
            raise ValueError("max_bytes must be at least 16 KiB (a 64x64 tile in any codec)")
        self.max_bytes = max_bytes
        self.fast_after = fast_after
        self.fast_gap = fast_gap
        self.settle_after = settle_after
        self._clock = clock
        self._quality = quality
        self._policy = POLICIES[quality.level]
        self._stats = EncoderStats()
        self._cursor: CursorShape | None = None
        self._width = 0
        self._height = 0
        self._damage: Mask = np.zeros((0, 0), np.bool_)
        self._touched: Mask = np.zeros((0, 0), np.bool_)
        self._lossy: Mask = np.zeros((0, 0), np.bool_)
        self._streak: npt.NDArray[np.int32] = np.zeros((0, 0), np.int32)
        self._last_change: npt.NDArray[np.float64] = np.zeros((0, 0), np.float64)
        self._quiet_since: npt.NDArray[np.float64] = np.zeros((0, 0), np.float64)
        if width is not None and height is not None:
            self.reset(width, height)

    # --- settings and state ------------------------------------------------------------------------------------
    @property
    def quality(self) -> Quality:
        """The quality level in force (settable; applies from the next rectangle)."""
        return self._quality

    @quality.setter
    def quality(self, quality: Quality) -> None:
        self._quality = quality
        self._policy = POLICIES[quality.level]

    @property
    def stats(self) -> EncoderStats:
        """A copy of the counters."""
        return replace(self._stats)

    @property
    def size(self) -> tuple[int, int] | None:
        """The desktop's size as the encoder knows it (None before the first ``DesktopSize``)."""
        return (self._width, self._height) if self._width else None

    def reset(self, width: int, height: int) -> None:
        """Forget everything (pending damage, change tracking, lossy regions) and take a new desktop size."""
        DesktopSize(width, height)  # validates
        self._width, self._height = width, height
        self._damage = cells(width, height)
        blocks = (-(-height // BLOCK), -(-width // BLOCK))
        self._touched = np.zeros(blocks, np.bool_)
        self._lossy = np.zeros(blocks, np.bool_)
        self._streak = np.zeros(blocks, np.int32)
        self._last_change = np.full(blocks, -np.inf)
        self._quiet_since = np.full(blocks, -np.inf)

    @property
    def refresh_due_in(self) -> float | None:
        """Seconds until a lossy region is due for its lossless refresh (0: now); None when there is none."""
        if not self._lossy.any():
            return None
        due = float(self._quiet_since[self._lossy].min()) + self.settle_after
        return max(0.0, due - self._clock())

    # --- the stream --------------------------------------------------------------------------------------------
    def encode(self, events: Iterable[DesktopOutput], read_pixels: PixelReader) -> list[DesktopOutput]:
        """The browser-ready events for ``events`` (normally one frame, ending with ``FrameEnd``); see the module
        docstring. Damage still pending after the last event (no ``FrameEnd``) is flushed at the end."""
        now = self._clock()
        out: list[DesktopOutput] = []
        for event in events:
            if isinstance(event, Damage):
                self._require_size()
                rect = clip((event.x, event.y, event.width, event.height), self._width, self._height)
                if rect is not None:
                    mark(self._damage, rect)
                self._stats.damage_in += 1
            elif isinstance(event, FrameEnd):
                out += self._flush(read_pixels, now, refresh=True)
                out.append(event)
                self._stats.frames += 1
            elif isinstance(event, Image):
                out += self._image(event)
            elif isinstance(event, CopyRect):
                self._copy(event, now)
                out.append(event)
            elif isinstance(event, DesktopSize):
                self.reset(event.width, event.height)
                out.append(event)
            elif isinstance(event, CursorShape):
                self._cursor = event
                out.append(event)
            elif isinstance(event, Clipboard):
                out.append(event)
            else:  # pragma: no cover - DesktopOutput is exhaustive
                raise TypeError(f"not a desktop output event: {event!r}")
        if self._damage.any() or self._touched.any():
            out += self._flush(read_pixels, now, refresh=False)
        return out

    def idle(self, read_pixels: PixelReader, *, force: bool = False) -> list[DesktopOutput]:
        """Lossless refreshes of the lossy regions that have settled (``force``: of all of them), ending with a
        ``FrameEnd``; ``[]`` when there is nothing to refresh."""
        if not self._lossy.any():
            return []
        out = self._refresh(read_pixels, self._clock(), np.zeros_like(self._lossy), force=force)
        return [*out, FrameEnd()] if out else []

    def keyframe(self, width: int, height: int, read_pixels: PixelReader) -> list[DesktopOutput]:
        """The whole ``width`` x ``height`` desktop: ``DesktopSize``, 256x256 tiles (each pixel exactly once,
        tiles over the byte budget halved), the last ``CursorShape`` seen if any, ``FrameEnd``. Each tile is
        classified as in :meth:`encode` (regions fast right now go JPEG where the level allows: the live stream
        refreshes them when they settle). Does not change the encoder's state, only its counters."""
        now = self._clock()
        fast_map: Mask | None = None
        if (width, height) == (self._width, self._height):
            fast_map = (self._streak >= self.fast_after) & ((now - self._last_change) <= self.settle_after)
        out: list[DesktopOutput] = [DesktopSize(width, height)]
        for rect in grid_rects(width, height):
            fast = fast_map is not None and bool(fast_map[cell_span(rect, BLOCK)].any())
            out += self._encode(rect, self._read(read_pixels, rect), fast=fast, refresh=False, track=False)
        if self._cursor is not None:
            out.append(self._cursor)
        out.append(FrameEnd())
        self._stats.keyframes += 1
        return out

    # --- events ------------------------------------------------------------------------------------------------
    def _require_size(self) -> None:
        if not self._width:
            raise ValueError("damage before any DesktopSize: the encoder does not know the desktop's size")

    def _image(self, image: Image) -> list[DesktopOutput]:
        rect = (image.x, image.y, image.width, image.height)
        clipped = clip(rect, self._width, self._height) if self._width else None
        if clipped is not None:
            self._touched[cell_span(clipped, BLOCK)] = True
        if image.codec != "rgba" and len(image.data) <= self.max_bytes:
            self._stats.passthrough_images += 1
            self._stats.passthrough_bytes += len(image.data)
            if clipped is not None:  # the server chose JPEG there, or the adapter sent lossless: no refresh
                self._lossy[inner_span(clipped, self._width, self._height)] = False
            return [image]
        if image.codec == "rgba":
            pixels = np.frombuffer(image.data, np.uint8).reshape(image.height, image.width, 4)
        else:
            pixels = codecs.decode(image.data)
            if pixels.shape[:2] != (image.height, image.width):
                raise ValueError(f"a {image.width}x{image.height} {image.codec} image holds {pixels.shape[1::-1]}")
        out: list[DesktopOutput] = []
        for x, y, w, h in grid_rects(image.width, image.height):
            part = np.ascontiguousarray(pixels[y : y + h, x : x + w])
            sub = (image.x + x, image.y + y, w, h)
            if image.codec == "jpeg":
                quality = self._policy.video_jpeg or self._policy.photo_jpeg or PASSTHROUGH_JPEG_QUALITY
                out += self._emit(sub, part, Choice("jpeg", quality), refresh=False, track=clipped is not None)
            else:
                out += self._encode(sub, part, fast=False, refresh=False, track=clipped is not None)
        return out

    def _copy(self, copy: CopyRect, now: float) -> None:
        if not self._width:
            return
        src = clip((copy.src_x, copy.src_y, copy.width, copy.height), self._width, self._height)
        dst = clip((copy.x, copy.y, copy.width, copy.height), self._width, self._height)
        if src is None or dst is None:
            return
        if touches(self._damage, src):  # the browser would copy pixels it has not received yet
            mark(self._damage, dst)
        lossy_source = bool(self._lossy[cell_span(src, BLOCK)].any())
        if lossy_source:
            self._lossy[cell_span(dst, BLOCK)] = True
            self._quiet_since[cell_span(dst, BLOCK)] = now
        else:
            self._lossy[inner_span(dst, self._width, self._height)] = False

    # --- a frame's damage and the refreshes --------------------------------------------------------------------
    def _flush(self, read_pixels: PixelReader, now: float, *, refresh: bool) -> list[DesktopOutput]:
        changed = coarsen(self._damage, _PER_BLOCK) | self._touched
        recent = (now - self._last_change) <= self.fast_gap
        self._streak = np.where(changed, np.where(recent, np.minimum(self._streak + 1, _STREAK_CAP), 1), self._streak)
        self._last_change = np.where(changed, now, self._last_change)
        self._quiet_since = np.where(changed, now, self._quiet_since)
        fast_map = changed & (self._streak >= self.fast_after)
        out: list[DesktopOutput] = []
        for rect in tile_rects(self._damage, self._width, self._height):
            fast = bool(fast_map[cell_span(rect, BLOCK)].any())
            out += self._encode(rect, self._read(read_pixels, rect), fast=fast, refresh=False)
        self._damage[:] = False
        self._touched[:] = False
        if refresh and self._lossy.any():
            out += self._refresh(read_pixels, now, changed, force=False)
        return out

    def _refresh(self, read_pixels: PixelReader, now: float, changed: Mask, *, force: bool) -> list[DesktopOutput]:
        due = self._lossy & ~changed
        if not force:
            due &= (now - self._quiet_since) >= self.settle_after
        if not due.any():
            return []
        out: list[DesktopOutput] = []
        for rect in self._refresh_rects(due, changed):
            out += self._encode(rect, self._read(read_pixels, rect), fast=False, refresh=True)
        self._lossy &= ~due  # refreshed, or lossy by nature at this level (photo-like under more_colors)
        return out

    def _refresh_rects(self, due: Mask, changed: Mask) -> list[Rect]:
        """Per tile, the bounding box of its due blocks; block by block where that box would cover a block that
        changed this frame (and was just sent, perhaps as JPEG)."""
        out: list[Rect] = []
        for rect in tile_rects(refine(due, _PER_BLOCK, self._damage.shape), self._width, self._height):
            span = cell_span(rect, BLOCK)
            if not changed[span].any():
                out.append(rect)
                continue
            rows, cols = span
            for by, bx in np.argwhere(due[span]).tolist():
                block = clip(
                    ((cols.start + bx) * BLOCK, (rows.start + by) * BLOCK, BLOCK, BLOCK), self._width, self._height
                )
                if block is not None:
                    out.append(block)
        return out

    # --- encoding one rectangle --------------------------------------------------------------------------------
    @staticmethod
    def _read(read_pixels: PixelReader, rect: Rect) -> Pixels:
        x, y, w, h = rect
        data = read_pixels(x, y, w, h)
        if len(data) != w * h * 4:
            raise ValueError(f"the pixel reader returned {len(data)} bytes for {w}x{h}+{x}+{y}, not {w * h * 4}")
        return np.frombuffer(data, np.uint8).reshape(h, w, 4)

    def choose(self, analysis: Analysis, area: int, *, fast: bool) -> Choice:
        """How a rectangle of ``area`` pixels of this kind is encoded at the current quality level."""
        policy = self._policy
        kind = analysis.kind
        if policy.reduce == "black_and_white":
            return Choice("black_and_white")
        if policy.reduce == "rgb332":
            return Choice("palette" if kind == "text" else "rgb332")
        if policy.video_jpeg is not None:
            if kind == "text" and area <= TINY_TEXT:
                return Choice("palette")
            return Choice("jpeg", policy.video_jpeg)
        if kind == "text":
            return Choice("palette")
        if kind == "flat":
            return Choice("webp")
        if kind == "photo" and policy.photo_jpeg is not None:
            return Choice("jpeg", policy.photo_jpeg)
        if fast and policy.fast_jpeg is not None:
            return Choice("jpeg", policy.fast_jpeg, fast=True)
        return Choice("webp")

    def _encode(self, rect: Rect, pixels: Pixels, *, fast: bool, refresh: bool, track: bool = True) -> list[Image]:
        area = rect[2] * rect[3]
        video = self._policy.video_jpeg
        if video is not None and area > TINY_TEXT:  # JPEG whatever its kind: no need to classify it
            if refresh:
                return []
            return self._emit(rect, pixels, Choice("jpeg", video), refresh=False, track=track)
        analysis = analyse(pixels)
        choice = self.choose(analysis, area, fast=fast)
        if refresh and choice.method == "jpeg":
            return []  # lossy by nature at this level: the JPEG already sent stands
        return self._emit(rect, pixels, choice, refresh=refresh, track=track, analysis=analysis)

    def _emit(
        self,
        rect: Rect,
        pixels: Pixels,
        choice: Choice,
        *,
        refresh: bool,
        track: bool,
        analysis: Analysis | None = None,
    ) -> list[Image]:
        x, y, w, h = rect
        if choice.method == "palette":
            palette = (analysis or analyse(pixels)).palette
            assert palette is not None
            data = codecs.png_palette(pixels, palette)
        elif choice.method == "black_and_white":
            data = codecs.png_black_and_white(pixels)
        elif choice.method == "rgb332":
            data = codecs.png_rgb332(pixels)
        elif choice.method == "webp":
            data = codecs.webp_lossless(pixels)
        else:
            data = codecs.jpeg(pixels, choice.quality)
        if len(data) > self.max_bytes and (w > 1 or h > 1):
            self._stats.split_images += 1
            if w >= h:
                half = w // 2
                parts = [((x, y, half, h), pixels[:, :half]), ((x + half, y, w - half, h), pixels[:, half:])]
            else:
                half = h // 2
                parts = [((x, y, w, half), pixels[:half]), ((x, y + half, w, h - half), pixels[half:])]
            out: list[Image] = []
            for sub, part in parts:  # a palette half is analysed again: it may hold fewer colours
                out += self._emit(sub, np.ascontiguousarray(part), choice, refresh=refresh, track=track)
            return out
        image = Image(x, y, w, h, choice.codec, data)
        self._stats.count(choice.codec, len(data))
        if choice.fast:
            self._stats.fast_jpeg_images += 1
        if refresh:
            self._stats.refresh_images += 1
        if track and self._width:
            clipped = clip(rect, self._width, self._height)
            if clipped is not None:
                if choice.fast:
                    self._lossy[cell_span(clipped, BLOCK)] = True
                else:
                    self._lossy[inner_span(clipped, self._width, self._height)] = False
        return [image]


__all__ = [
    "IMAGE_BUDGET",
    "POLICIES",
    "TILE",
    "Choice",
    "EncoderStats",
    "FrameEncoder",
    "PixelReader",
    "Policy",
]
