"""RDP bitmap codecs, bulk decompression and pointer shapes at native speed: a ctypes binding to FreeRDP 2.

Modules: ``freerdp`` (loading ``libfreerdp2.so.2`` and its prototypes), ``bitmap`` (interleaved RLE, planar and
uncompressed bitmap updates into a numpy RGBA framebuffer), ``bulk`` (MPPC 8K/64K, NCRUSH and XCRUSH
decompression) and ``pointer`` (pointer shapes to RGBA). Importing this package does not load the library; the
first decoder created does, and raises :class:`FreeRDPUnavailable` if it is not installed.
"""

from protocols.rdp.codecs.bitmap import BitmapDecoder, MalformedBitmap
from protocols.rdp.codecs.bulk import BulkDecompressor, MalformedBulkData
from protocols.rdp.codecs.freerdp import FreeRDPUnavailable, load_freerdp
from protocols.rdp.codecs.pointer import MalformedPointer, pointer_rgba

__all__ = [
    "BitmapDecoder",
    "BulkDecompressor",
    "FreeRDPUnavailable",
    "MalformedBitmap",
    "MalformedBulkData",
    "MalformedPointer",
    "load_freerdp",
    "pointer_rgba",
]
