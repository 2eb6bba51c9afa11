"""RDP bulk decompression (MS-RDPBCGR 3.1.8) of the server-to-client direction, by FreeRDP.

The compression flags byte of a Share Data Header (``compressedType``) or of a fast-path update
(``compressionFlags``) says how a payload is packed: ``PACKET_COMPRESSED`` (0x20), ``PACKET_AT_FRONT`` (0x40),
``PACKET_FLUSHED`` (0x80), and the type in the low 4 bits: 0 = 8K (RDP 4.0 MPPC), 1 = 64K (RDP 5.0 MPPC),
2 = RDP 6.0 (NCRUSH), 3 = RDP 6.1 (XCRUSH). Each type keeps its own history across packets, one context per type as
FreeRDP's ``libfreerdp/core/bulk.c`` does; like it, a packet carrying AT_FRONT or FLUSHED but not COMPRESSED still
goes through its type's context, so the history is reset when the server says so.
"""

from __future__ import annotations

import ctypes
import weakref
from collections.abc import Callable
from typing import Final

from protocols.rdp.codecs.freerdp import load_freerdp

__all__ = [
    "COMPRESSION_TYPE_MASK",
    "MAX_DECOMPRESSED_SIZE",
    "PACKET_AT_FRONT",
    "PACKET_COMPRESSED",
    "PACKET_COMPR_TYPE_8K",
    "PACKET_COMPR_TYPE_64K",
    "PACKET_COMPR_TYPE_RDP6",
    "PACKET_COMPR_TYPE_RDP61",
    "PACKET_FLUSHED",
    "BulkDecompressor",
    "MalformedBulkData",
]

PACKET_COMPRESSED: Final = 0x20
PACKET_AT_FRONT: Final = 0x40
PACKET_FLUSHED: Final = 0x80
COMPRESSION_FLAGS_MASK: Final = 0xE0
COMPRESSION_TYPE_MASK: Final = 0x0F
PACKET_COMPR_TYPE_8K: Final = 0
PACKET_COMPR_TYPE_64K: Final = 1
PACKET_COMPR_TYPE_RDP6: Final = 2
PACKET_COMPR_TYPE_RDP61: Final = 3

# A decompressed payload fills at most one PDU, whose uncompressed length is a 16-bit field.
MAX_DECOMPRESSED_SIZE: Final = 65536

_NAMES = {0: "8K MPPC", 1: "64K MPPC", 2: "RDP 6.0 NCRUSH", 3: "RDP 6.1 XCRUSH"}


class MalformedBulkData(ValueError):
    """A compressed payload the decompressor refused, of an unknown type, or larger than one PDU; the client
    reports it as a ``TargetProtocolError`` (the history is then unusable: end the connection)."""


class BulkDecompressor:
    """One connection's receive-side bulk decompressor (8K and 64K MPPC, NCRUSH, XCRUSH), created lazily per type.

    Not thread-safe: one decompressor per connection, fed the server's PDUs in order. :meth:`close` frees the
    contexts (also done when the object is collected).
    """

    def __init__(self) -> None:
        lib = load_freerdp()
        self._lib = lib
        self._contexts: dict[int, int] = {}
        self._finalizer = weakref.finalize(self, _free_contexts, lib, self._contexts)
        self._decompress: dict[int, Callable[..., int]] = {
            PACKET_COMPR_TYPE_8K: lib.mppc_decompress,
            PACKET_COMPR_TYPE_64K: lib.mppc_decompress,
            PACKET_COMPR_TYPE_RDP6: lib.ncrush_decompress,
            PACKET_COMPR_TYPE_RDP61: lib.xcrush_decompress,
        }
        self._out = ctypes.c_void_p()
        self._out_size = ctypes.c_uint32()

    def __enter__(self) -> BulkDecompressor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Free the contexts; idempotent. The decompressor cannot be used afterwards."""
        self._finalizer()

    def decompress(self, data: bytes | bytearray | memoryview, flags: int) -> bytes:
        """The payload ``data`` unpacked as the compression flags byte ``flags`` (0..255) says, as ``bytes`` of
        its own (FreeRDP's output buffer is reused by the next call).

        Without ``PACKET_COMPRESSED`` the payload is returned as it is (after applying AT_FRONT/FLUSHED to that
        type's history). Raises :class:`MalformedBulkData` for an unknown type, data the decompressor refuses, or
        output over :data:`MAX_DECOMPRESSED_SIZE`; ``ValueError`` for ``flags`` outside a byte; ``RuntimeError``
        after :meth:`close`.
        """
        if not self._finalizer.alive:
            raise RuntimeError("the bulk decompressor is closed")
        if not 0 <= flags <= 0xFF:
            raise ValueError(f"compression flags {flags:#x} are not a byte")
        if not isinstance(data, bytes):  # ctypes passes only bytes without a copy of its own
            data = bytes(data)
        if not flags & COMPRESSION_FLAGS_MASK:
            return data
        kind = flags & COMPRESSION_TYPE_MASK
        if kind not in _NAMES:
            raise MalformedBulkData(f"unknown bulk compression type {kind} (flags {flags:#04x})")
        if len(data) > 0xFFFFFFFF:
            raise MalformedBulkData("compressed payload too large")
        status = self._decompress[kind](
            self._context(kind), data, len(data), ctypes.byref(self._out), ctypes.byref(self._out_size), flags
        )
        if status < 0:
            raise MalformedBulkData(f"{_NAMES[kind]} payload of {len(data)} bytes is corrupt (FreeRDP status {status})")
        size = self._out_size.value
        if size > MAX_DECOMPRESSED_SIZE:
            raise MalformedBulkData(f"{_NAMES[kind]} payload decompresses to {size} bytes, over one PDU")
        if not size:
            return b""
        return ctypes.string_at(self._out.value or 0, size)

    def _context(self, kind: int) -> int:
        context = self._contexts.get(kind)
        if context is None:
            lib = self._lib
            if kind == PACKET_COMPR_TYPE_RDP6:
                context = lib.ncrush_context_new(0)
            elif kind == PACKET_COMPR_TYPE_RDP61:
                context = lib.xcrush_context_new(0)
            else:
                context = lib.mppc_context_new(kind, 0)  # level 0 = 8K history, 1 = 64K
            if not context:
                raise MemoryError(f"FreeRDP could not allocate a {_NAMES[kind]} context")
            self._contexts[kind] = context
        return context


def _free_contexts(lib: ctypes.CDLL, contexts: dict[int, int]) -> None:
    for kind, context in contexts.items():
        if kind == PACKET_COMPR_TYPE_RDP6:
            lib.ncrush_context_free(context)
        elif kind == PACKET_COMPR_TYPE_RDP61:
            lib.xcrush_context_free(context)
        else:
            lib.mppc_context_free(context)
    contexts.clear()
