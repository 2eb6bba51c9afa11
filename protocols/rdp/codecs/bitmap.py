"""RDP bitmap updates (MS-RDPBCGR 2.2.9.1.1.3.1.2.2 TS_BITMAP_DATA) decoded into an RGBA framebuffer.

Compressed bitmaps are decoded by FreeRDP: interleaved RLE (MS-RDPBCGR 2.2.9.1.1.3.1.2.4) at 15, 16 and 24 bpp, and
the RDP 6.0 planar codec (MS-RDPEGDI 2.2.2.5.1) at 32 bpp, the choice FreeRDP's own ``gdi_Bitmap_Decompress`` makes.
The framebuffer is a numpy ``uint8`` array of shape ``(height, width, 4)`` in R, G, B, A byte order, whose alpha is
always left at 255.

FreeRDP decodes each bitmap into a scratch buffer in the bitmap's own pixel format (where its image copy is a
``memcpy``), and numpy converts the visible part into the framebuffer: about twice as fast as letting FreeRDP
convert pixel by pixel. Uncompressed bitmaps take the numpy step only. Colours are expanded from 15 and 16 bpp
exactly as FreeRDP's ``SplitColor`` does.

Every size and position is checked here before any C code runs; what FreeRDP refuses, or any rectangle that does
not fit, raises :class:`MalformedBitmap`, and nothing outside the destination rectangle is ever written. Things
FreeRDP 2.11 does not check, found reading its sources, and handled here:

* ``interleaved_decompress`` flips rows over the *destination* height, so a destination shorter than the bitmap
  would get the bitmap's bottom rows: FreeRDP always decodes the whole height, numpy copies the top rows.
* ``planar_decompress`` never compares the bitmap with the size its context was made for, and offsets its own
  scratch planes by the destination x and y: the context is grown to each bitmap and the offsets are always 0.
* The interleaved context's scratch buffer starts as uninitialised heap, and a short RLE stream leaves part of it
  unwritten: it is cleared before each bitmap, so a hostile server can never show heap memory of this process.
"""

from __future__ import annotations

import ctypes
import weakref
from collections.abc import Callable
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from jumpoint.core.desktop import MAX_DESKTOP_SIDE
from protocols.rdp.codecs.freerdp import (
    PIXEL_FORMAT_BGR24,
    PIXEL_FORMAT_BGRX32,
    PIXEL_FORMAT_RGB15,
    PIXEL_FORMAT_RGB16,
    InterleavedContext,
    load_freerdp,
)

__all__ = [
    "BITS_PER_PIXEL",
    "MAX_BITMAP_PIXELS",
    "MAX_BITMAP_SIDE",
    "BitmapDecoder",
    "MalformedBitmap",
]

BITS_PER_PIXEL: Final = (15, 16, 24, 32)
MAX_BITMAP_SIDE: Final = MAX_DESKTOP_SIDE
# Large enough for a whole 3840x2160 desktop in one bitmap; the planar context needs ~18 bytes per pixel of it.
MAX_BITMAP_PIXELS: Final = 1 << 23

_PLANAR_INITIAL_SIDE = 64  # what servers tile bitmap updates into
_PLANAR_KEEP_PIXELS = 1 << 20  # a context grown beyond this is shrunk back after the bitmap that needed it
_BYTES_PER_PIXEL = {15: 2, 16: 2, 24: 3, 32: 4}
_NATIVE_FORMAT = {15: PIXEL_FORMAT_RGB15, 16: PIXEL_FORMAT_RGB16, 24: PIXEL_FORMAT_BGR24}
_OPAQUE = np.uint32(0xFF000000)

Framebuffer = npt.NDArray[np.uint8]
_Pixels = npt.NDArray[Any]


class MalformedBitmap(ValueError):
    """A server's bitmap broke the protocol or a cap (sizes, depth, data length, a rectangle outside the
    framebuffer, or data the codec refused); the client reports it as a ``TargetProtocolError``."""


def _expand_lut(bits_g: int, size: int) -> npt.NDArray[np.uint32]:
    """RGBA as a little-endian uint32 for every 5-``bits_g``-5 value, expanded the way FreeRDP's ``SplitColor``
    does, so that uncompressed and compressed bitmaps of a session agree to the bit."""
    v = np.arange(size, dtype="<u4")
    b = v & 0x1F
    g = (v >> 5) & ((1 << bits_g) - 1)
    r = (v >> (5 + bits_g)) & 0x1F
    g8 = np.minimum(255, (g << 3) + g // 4) if bits_g == 5 else np.minimum(255, (g << 2) + g // 8)
    out: npt.NDArray[np.uint32] = (((r << 3) + r // 4) | (g8 << 8) | (((b << 3) + b // 4) << 16) | _OPAQUE).astype(
        "<u4"
    )
    return out


_LUT15 = _expand_lut(5, 1 << 15)
_LUT16 = _expand_lut(6, 1 << 16)


def _to_rgba(rows: _Pixels, bpp: int, width: int, height: int, dst: Framebuffer) -> None:
    """Convert the top-left ``width`` x ``height`` pixels of ``rows`` (top-down rows of bytes in the bitmap's
    format) into ``dst``, an (height, width, 4) view of the framebuffer."""
    pixels = rows[:height, : width * _BYTES_PER_PIXEL[bpp]]
    if bpp in (15, 16):
        values = np.ascontiguousarray(pixels).view("<u2")
        if bpp == 15:
            values = values & 0x7FFF
        dst.view("<u4")[..., 0] = (_LUT15 if bpp == 15 else _LUT16)[values]
    elif bpp == 32:
        # B, G, R, X is the uint32 X<<24 | R<<16 | G<<8 | B; byte-swapped and shifted right by 8 it is
        # B<<16 | G<<8 | R, which is R, G, B in memory: then alpha 255 is ORed in.
        values = np.ascontiguousarray(pixels).view("<u4")
        np.bitwise_or(values.byteswap() >> 8, _OPAQUE, out=dst.view("<u4")[..., 0])
    else:
        bgr = pixels.reshape(height, width, 3)
        dst[..., 0] = bgr[..., 2]
        dst[..., 1] = bgr[..., 1]
        dst[..., 2] = bgr[..., 0]
        dst[..., 3] = 255


def _check_framebuffer(fb: Any) -> tuple[int, int]:
    if not isinstance(fb, np.ndarray) or fb.dtype != np.uint8 or fb.ndim != 3 or fb.shape[2] != 4:
        raise ValueError("the framebuffer must be a numpy uint8 array of shape (height, width, 4)")
    if not fb.flags.c_contiguous or not fb.flags.writeable:
        raise ValueError("the framebuffer must be C-contiguous and writeable")
    return int(fb.shape[0]), int(fb.shape[1])


class BitmapDecoder:
    """Decodes one connection's bitmap updates; holds FreeRDP's interleaved and planar contexts until :meth:`close`.

    Not thread-safe: use one decoder per connection from one thread (or task) at a time. ``swap_planar_red_blue``
    mirrors FreeRDP's ``freerdp_planar_switch_bgr``: set it when the client advertised
    ``DRAW_ALLOW_DYNAMIC_COLOR_FIDELITY`` in its Bitmap capability set (Windows servers then swap red and blue in
    planar bitmaps that carry an alpha plane, MS-RDPEGDI 3.1.9.1.2), as FreeRDP's gdi does.
    """

    def __init__(self, *, swap_planar_red_blue: bool = False) -> None:
        lib = load_freerdp()
        self._lib = lib
        self._swap = swap_planar_red_blue
        interleaved = lib.bitmap_interleaved_context_new(0)
        planar = lib.freerdp_bitmap_planar_context_new(0, _PLANAR_INITIAL_SIDE, _PLANAR_INITIAL_SIDE)
        self._finalizer = weakref.finalize(self, _free_contexts, lib, interleaved, planar)
        if not interleaved or not planar:
            self._finalizer()
            raise MemoryError("FreeRDP could not allocate its bitmap codec contexts")
        self._interleaved: int = interleaved
        self._interleaved_view = InterleavedContext.from_address(interleaved)
        self._planar: int = planar
        self._planar_size = (_PLANAR_INITIAL_SIDE, _PLANAR_INITIAL_SIDE)
        lib.freerdp_planar_switch_bgr(planar, int(swap_planar_red_blue))
        self._scratch: npt.NDArray[np.uint8] = np.empty(_PLANAR_INITIAL_SIDE * _PLANAR_INITIAL_SIDE * 4, np.uint8)
        self._nsc: int | None = None  # made on the first NSCodec surface
        self._nsc_finalizer: Callable[[], object] | None = None

    def __enter__(self) -> BitmapDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has freed the codec contexts."""
        return not self._finalizer.alive

    def close(self) -> None:
        """Free FreeRDP's contexts; idempotent. The decoder cannot be used afterwards."""
        self._finalizer()
        if self._nsc_finalizer is not None:
            self._nsc_finalizer()

    def decode(
        self,
        data: bytes | bytearray | memoryview,
        *,
        width: int,
        height: int,
        bpp: int,
        compressed: bool,
        fb: Framebuffer,
        x: int,
        y: int,
        clip_width: int,
        clip_height: int,
    ) -> None:
        """Decode one TS_BITMAP_DATA into ``fb`` with its top-left pixel at (``x``, ``y``).

        ``data`` is the bitmapDataStream without the optional TS_CD_HEADER. ``width`` x ``height`` is the bitmap's
        size (the width padded by the server); only its top-left ``clip_width`` x ``clip_height`` pixels are
        visible (destRight - destLeft + 1 by destBottom - destTop + 1, which the caller computes) and only those
        are written. Uncompressed data is bottom-up rows of exactly ``width`` pixels (as FreeRDP reads them) at 15,
        16 (5-6-5), 24 (B, G, R) or 32 bpp (B, G, R, X); compressed data is interleaved RLE at 15/16/24 bpp or
        planar at 32 bpp. ``fb`` is a C-contiguous ``uint8`` array ``(H, W, 4)`` in R, G, B, A order; written
        pixels get alpha 255.

        Raises :class:`MalformedBitmap` for anything the server got wrong (nothing is written then),
        ``ValueError`` for a framebuffer that is not such an array, and ``RuntimeError`` after :meth:`close`.
        """
        if not self._finalizer.alive:
            raise RuntimeError("the bitmap decoder is closed")
        if not isinstance(data, bytes):  # ctypes passes only bytes without a copy of its own
            data = bytes(data)
        fb_height, fb_width = _check_framebuffer(fb)
        if bpp not in BITS_PER_PIXEL:
            raise MalformedBitmap(f"bitmap depth {bpp} bpp is not one of {BITS_PER_PIXEL}")
        if not (1 <= width <= MAX_BITMAP_SIDE and 1 <= height <= MAX_BITMAP_SIDE):
            raise MalformedBitmap(f"bitmap size {width}x{height} is outside 1x1..{MAX_BITMAP_SIDE}")
        if width * height > MAX_BITMAP_PIXELS:
            raise MalformedBitmap(f"bitmap size {width}x{height} is over {MAX_BITMAP_PIXELS} pixels")
        if not (1 <= clip_width <= width and 1 <= clip_height <= height):
            raise MalformedBitmap(
                f"visible part {clip_width}x{clip_height} does not lie in the {width}x{height} bitmap"
            )
        if x < 0 or y < 0 or x + clip_width > fb_width or y + clip_height > fb_height:
            raise MalformedBitmap(
                f"rectangle {clip_width}x{clip_height}+{x}+{y} lies outside the {fb_width}x{fb_height} desktop"
            )
        if not compressed:
            rows = self._uncompressed_rows(data, width, height, bpp, clip_height)
        elif not data:
            raise MalformedBitmap("compressed bitmap with no data")
        elif bpp == 32:
            rows = self._decode_planar(data, width, height)
        else:
            rows = self._decode_interleaved(data, width, height, bpp, clip_width)
        _to_rgba(rows, bpp, clip_width, clip_height, fb[y : y + clip_height, x : x + clip_width])

    # --- codecs: each returns the bitmap as top-down rows of bytes in its own pixel format -------------------
    def decode_nscodec(
        self,
        data: bytes | bytearray | memoryview,
        *,
        width: int,
        height: int,
        fb: Framebuffer,
        x: int,
        y: int,
        clip_width: int,
        clip_height: int,
    ) -> None:
        """Decode one NSCodec surface bitmap (MS-RDPNSC, 32 bpp, top-down) into ``fb`` at (``x``, ``y``), like
        :meth:`decode` (the same checks, errors and clipping; FreeRDP's ``nsc_process_message`` does the work)."""
        if not self._finalizer.alive:
            raise RuntimeError("the bitmap decoder is closed")
        if not isinstance(data, bytes):
            data = bytes(data)
        fb_height, fb_width = _check_framebuffer(fb)
        if not (1 <= width <= MAX_BITMAP_SIDE and 1 <= height <= MAX_BITMAP_SIDE) or width * height > MAX_BITMAP_PIXELS:
            raise MalformedBitmap(f"NSCodec bitmap size {width}x{height} is out of range")
        if not (1 <= clip_width <= width and 1 <= clip_height <= height):
            raise MalformedBitmap(
                f"visible part {clip_width}x{clip_height} does not lie in the {width}x{height} bitmap"
            )
        if x < 0 or y < 0 or x + clip_width > fb_width or y + clip_height > fb_height:
            raise MalformedBitmap(
                f"rectangle {clip_width}x{clip_height}+{x}+{y} lies outside the {fb_width}x{fb_height} desktop"
            )
        if not data:
            raise MalformedBitmap("NSCodec bitmap with no data")
        if self._nsc is None:
            self._nsc = self._lib.nsc_context_new()
            if not self._nsc:
                raise MemoryError("FreeRDP could not allocate its NSCodec context")
            self._nsc_finalizer = weakref.finalize(self, self._lib.nsc_context_free, self._nsc)
        scratch = self._scratch_for(width * height * 4)
        # FREERDP_FLIP_VERTICAL: FreeRDP's NSCodec planes come out bottom-up, and its gdi flips them the same way.
        ok = self._lib.nsc_process_message(
            self._nsc, 32, width, height, data, len(data), scratch.ctypes.data, PIXEL_FORMAT_BGRX32, width * 4,
            0, 0, width, height, 1,
        )  # fmt: skip
        if not ok:
            raise MalformedBitmap(f"NSCodec bitmap {width}x{height} ({len(data)} bytes) is corrupt")
        rows = scratch.reshape(height, width * 4)
        _to_rgba(rows, 32, clip_width, clip_height, fb[y : y + clip_height, x : x + clip_width])

    def _decode_interleaved(self, data: bytes, width: int, height: int, bpp: int, clip_width: int) -> _Pixels:
        temp = self._interleaved_view
        stride = width * _BYTES_PER_PIXEL[bpp]
        if stride * height <= temp.TempSize and temp.TempBuffer:  # a larger one is reallocated zeroed by FreeRDP
            ctypes.memset(temp.TempBuffer, 0, stride * height)
        scratch = self._scratch_for(stride * height)
        ok = self._lib.interleaved_decompress(
            self._interleaved,
            data,
            len(data),
            width,
            height,
            bpp,
            scratch.ctypes.data,
            _NATIVE_FORMAT[bpp],
            stride,
            0,
            0,
            clip_width,
            height,  # the whole height: FreeRDP flips over the height it writes
            None,
        )
        if not ok:
            raise MalformedBitmap(
                f"interleaved RLE bitmap {width}x{height} at {bpp} bpp ({len(data)} bytes) is corrupt"
            )
        return scratch.reshape(height, stride)

    def _decode_planar(self, data: bytes, width: int, height: int) -> _Pixels:
        planar_width, planar_height = self._planar_size
        if width > planar_width or height > planar_height:
            self._reset_planar(max(width, planar_width), max(height, planar_height))
        scratch = self._scratch_for(width * height * 4)
        try:
            # Same format and size as its own planes: FreeRDP then decodes straight into the scratch buffer.
            ok = self._lib.planar_decompress(
                self._planar,
                data,
                len(data),
                width,
                height,
                scratch.ctypes.data,
                PIXEL_FORMAT_BGRX32,
                width * 4,
                0,
                0,
                width,
                height,
                1,  # planar bitmaps in bitmap updates are bottom-up
            )
        finally:
            planar_width, planar_height = self._planar_size
            if planar_width * planar_height > _PLANAR_KEEP_PIXELS:
                self._reset_planar(_PLANAR_INITIAL_SIDE, _PLANAR_INITIAL_SIDE)
        if not ok:
            raise MalformedBitmap(f"planar bitmap {width}x{height} ({len(data)} bytes) is corrupt")
        return scratch.reshape(height, width * 4)

    @staticmethod
    def _uncompressed_rows(data: bytes, width: int, height: int, bpp: int, clip_height: int) -> _Pixels:
        # Rows of exactly width pixels, as FreeRDP and rdesktop read them (servers pad width to a multiple of 4).
        stride = width * _BYTES_PER_PIXEL[bpp]
        if len(data) < stride * height:
            raise MalformedBitmap(
                f"uncompressed {width}x{height} bitmap at {bpp} bpp needs {stride * height} bytes, got {len(data)}"
            )
        rows = np.frombuffer(data, dtype=np.uint8, count=stride * height).reshape(height, stride)
        return rows[height - clip_height :][::-1]

    def _reset_planar(self, width: int, height: int) -> None:
        if not self._lib.freerdp_bitmap_planar_context_reset(self._planar, width, height):
            raise MemoryError(f"FreeRDP could not size its planar context to {width}x{height}")
        self._planar_size = (width, height)
        self._lib.freerdp_planar_switch_bgr(self._planar, int(self._swap))  # a reset clears it

    def _scratch_for(self, size: int) -> npt.NDArray[np.uint8]:
        if self._scratch.size < size:
            self._scratch = np.empty(size, dtype=np.uint8)
        return self._scratch[:size]


def _free_contexts(lib: ctypes.CDLL, interleaved: int | None, planar: int | None) -> None:
    if interleaved:
        lib.bitmap_interleaved_context_free(interleaved)
    if planar:
        lib.freerdp_bitmap_planar_context_free(planar)
