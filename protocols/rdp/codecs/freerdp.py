"""The ctypes binding to FreeRDP 2's codec library (``libfreerdp2.so.2``, Debian ``libfreerdp2-2``, Apache-2.0).

Only what the codecs of this package call: the interleaved RLE and planar bitmap codecs, the MPPC (RDP 4.0/5.0),
NCRUSH (RDP 6.0) and XCRUSH (RDP 6.1) bulk compressors, and the image-copy helpers. The prototypes are FreeRDP
2.11's (``include/freerdp/codec/*.h``); FreeRDP 3 renamed the library (``libfreerdp3.so.3``) and changed some of
them, so it is deliberately not tried.

:func:`load_freerdp` loads the library once per process and turns FreeRDP's own logging off (WLog writes to stdout,
and a hostile server could fill it with one line per malformed bitmap): every failure surfaces here as a Python
exception instead. Set ``WLOG_LEVEL`` in the environment to keep FreeRDP's log (for debugging).

ctypes releases the GIL during each call, so a decoder may run in a worker thread; each context object is still
single-threaded.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
from ctypes import POINTER, c_int, c_uint32, c_void_p

from jumpoint.core.errors import ConfigError

__all__ = [
    "FREERDP_FLIP_NONE",
    "FREERDP_FLIP_VERTICAL",
    "LIBRARY_NAME",
    "PIXEL_FORMAT_BGR24",
    "PIXEL_FORMAT_BGRA32",
    "PIXEL_FORMAT_BGRX32",
    "PIXEL_FORMAT_RGB15",
    "PIXEL_FORMAT_RGB16",
    "PIXEL_FORMAT_RGBA32",
    "PIXEL_FORMAT_RGBX32",
    "FreeRDPUnavailable",
    "GdiPalette",
    "InterleavedContext",
    "load_freerdp",
]

LIBRARY_NAME = "libfreerdp2.so.2"
_MISSING = "RDP needs FreeRDP's codec library libfreerdp2.so.2 (Debian: apt-get install libfreerdp2-2)"


class FreeRDPUnavailable(ConfigError):
    """``libfreerdp2.so.2`` is missing or is not FreeRDP 2: an installation problem of the Jumpoint's host."""


# --- pixel formats (include/freerdp/codec/color.h) -------------------------------------------------------------
def _pixel_format(bpp: int, kind: int, a: int, r: int, g: int, b: int) -> int:
    return (bpp << 24) | (kind << 16) | (a << 12) | (r << 8) | (g << 4) | b


_TYPE_ARGB, _TYPE_ABGR, _TYPE_RGBA, _TYPE_BGRA = 1, 2, 3, 4

# FreeRDP writes a 32 bpp colour most significant byte first, so a name is the byte order in memory: RGBA32 stores
# R, G, B, A (pointers); BGRX32 is B, G, R, X (RDP's own 32 bpp, and planar's native output). Reading an X format
# gives alpha 0xFF; writing one keeps whatever alpha the source had, so bitmaps set alpha themselves.
PIXEL_FORMAT_RGBA32 = _pixel_format(32, _TYPE_RGBA, 8, 8, 8, 8)
PIXEL_FORMAT_RGBX32 = _pixel_format(32, _TYPE_RGBA, 0, 8, 8, 8)
PIXEL_FORMAT_BGRA32 = _pixel_format(32, _TYPE_BGRA, 8, 8, 8, 8)
PIXEL_FORMAT_BGRX32 = _pixel_format(32, _TYPE_BGRA, 0, 8, 8, 8)
PIXEL_FORMAT_XRGB32 = _pixel_format(32, _TYPE_ARGB, 0, 8, 8, 8)
PIXEL_FORMAT_BGR24 = _pixel_format(24, _TYPE_ABGR, 0, 8, 8, 8)
PIXEL_FORMAT_RGB16 = _pixel_format(16, _TYPE_ARGB, 0, 5, 6, 5)
PIXEL_FORMAT_RGB15 = _pixel_format(15, _TYPE_ARGB, 0, 5, 5, 5)

FREERDP_FLIP_NONE = 0
FREERDP_FLIP_VERTICAL = 1

_WLOG_OFF = 6


class GdiPalette(ctypes.Structure):
    """``gdiPalette``: 256 colours in ``format`` (used only for 8 bpp sources)."""

    _fields_ = [("format", c_uint32), ("palette", c_uint32 * 256)]


class InterleavedContext(ctypes.Structure):
    """``BITMAP_INTERLEAVED_CONTEXT`` (public in FreeRDP 2's ``interleaved.h``): read to clear its scratch buffer."""

    _fields_ = [
        ("Compressor", c_int),
        ("TempSize", c_uint32),
        ("TempBuffer", c_void_p),
        ("bts", c_void_p),
    ]


_u32 = c_uint32
_p = c_void_p
_pu32 = POINTER(c_uint32)
_pp = POINTER(c_void_p)
_ppal = POINTER(GdiPalette)

# name: (restype, argtypes). BOOL is a C int; sizes, coordinates, formats and flags are UINT32/DWORD.
_PROTOTYPES: dict[str, tuple[type | None, list[type]]] = {
    # interleaved.h
    "bitmap_interleaved_context_new": (_p, [c_int]),
    "bitmap_interleaved_context_free": (None, [_p]),
    "bitmap_interleaved_context_reset": (c_int, [_p]),
    "interleaved_decompress": (
        c_int,
        [_p, _p, _u32, _u32, _u32, _u32, _p, _u32, _u32, _u32, _u32, _u32, _u32, _ppal],
    ),
    "interleaved_compress": (c_int, [_p, _p, _pu32, _u32, _u32, _p, _u32, _u32, _u32, _u32, _ppal, _u32]),
    # planar.h
    "freerdp_bitmap_planar_context_new": (_p, [_u32, _u32, _u32]),
    "freerdp_bitmap_planar_context_free": (None, [_p]),
    "freerdp_bitmap_planar_context_reset": (c_int, [_p, _u32, _u32]),
    "freerdp_planar_switch_bgr": (None, [_p, c_int]),
    "planar_decompress": (c_int, [_p, _p, _u32, _u32, _u32, _p, _u32, _u32, _u32, _u32, _u32, _u32, c_int]),
    "freerdp_bitmap_compress_planar": (_p, [_p, _p, _u32, _u32, _u32, _u32, _p, _pu32]),
    # nsc.h
    "nsc_context_new": (_p, []),
    "nsc_context_free": (None, [_p]),
    "nsc_process_message": (
        c_int,
        [_p, ctypes.c_uint16, _u32, _u32, _p, _u32, _p, _u32, _u32, _u32, _u32, _u32, _u32, _u32],
    ),
    # mppc.h, ncrush.h, xcrush.h
    "mppc_context_new": (_p, [_u32, c_int]),
    "mppc_context_free": (None, [_p]),
    "mppc_context_reset": (None, [_p, c_int]),
    "mppc_set_compression_level": (None, [_p, _u32]),
    "mppc_decompress": (c_int, [_p, _p, _u32, _pp, _pu32, _u32]),
    "mppc_compress": (c_int, [_p, _p, _u32, _pp, _pu32, _pu32]),
    "ncrush_context_new": (_p, [c_int]),
    "ncrush_context_free": (None, [_p]),
    "ncrush_context_reset": (None, [_p, c_int]),
    "ncrush_decompress": (c_int, [_p, _p, _u32, _pp, _pu32, _u32]),
    "ncrush_compress": (c_int, [_p, _p, _u32, _pp, _pu32, _pu32]),
    "xcrush_context_new": (_p, [c_int]),
    "xcrush_context_free": (None, [_p]),
    "xcrush_context_reset": (None, [_p, c_int]),
    "xcrush_decompress": (c_int, [_p, _p, _u32, _pp, _pu32, _u32]),
    "xcrush_compress": (c_int, [_p, _p, _u32, _pp, _pu32, _pu32]),
    # color.h
    "freerdp_image_copy": (
        c_int,
        [_p, _u32, _u32, _u32, _u32, _u32, _u32, _p, _u32, _u32, _u32, _u32, _ppal, _u32],
    ),
    "freerdp_image_copy_from_pointer_data": (
        c_int,
        [_p, _u32, _u32, _u32, _u32, _u32, _u32, _p, _u32, _p, _u32, _u32, _ppal],
    ),
}


PRIMITIVES_ONLY_CPU = 1


@functools.cache
def load_freerdp() -> ctypes.CDLL:
    """FreeRDP 2's ``libfreerdp2.so.2`` with the prototypes of this package set; loaded once per process.

    Raises :class:`FreeRDPUnavailable` (a ``ConfigError``: our installation's fault, not the target's) when the
    library or one of the symbols is missing.
    """
    try:
        lib = ctypes.CDLL(LIBRARY_NAME)
    except OSError as exc:
        raise FreeRDPUnavailable(_MISSING, details={"error": str(exc)}) from exc
    try:
        for name, (restype, argtypes) in _PROTOTYPES.items():
            fn = getattr(lib, name)
            fn.restype = restype
            fn.argtypes = argtypes
    except AttributeError as exc:
        raise FreeRDPUnavailable(_MISSING, details={"error": str(exc)}) from exc
    if "WLOG_LEVEL" not in os.environ:
        _silence_wlog()
    # PRIMITIVES_ONLY_CPU: the CPU-optimised routines without FreeRDP's first-use autodetection, which benchmarks
    # every primitive (about 0.3 s of CPU on the first RDP Jump of each Jumpoint process; measured in bench_rdp).
    with contextlib.suppress(AttributeError):
        lib.primitives_set_hints.restype = None
        lib.primitives_set_hints.argtypes = [ctypes.c_uint32]
        lib.primitives_set_hints(PRIMITIVES_ONLY_CPU)
    return lib


def _silence_wlog() -> None:
    try:
        winpr = ctypes.CDLL("libwinpr2.so.2")  # already loaded as libfreerdp2's dependency
        winpr.WLog_GetRoot.restype = c_void_p
        winpr.WLog_GetRoot.argtypes = []
        winpr.WLog_SetLogLevel.restype = c_int
        winpr.WLog_SetLogLevel.argtypes = [c_void_p, c_uint32]
        winpr.WLog_SetLogLevel(winpr.WLog_GetRoot(), _WLOG_OFF)
    except (OSError, AttributeError):  # only a quieter log is lost
        pass
