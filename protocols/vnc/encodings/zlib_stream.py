"""A persistent zlib stream (ZRLE has one, Tight four) whose output is always bounded.

``decompressobj().decompress(data, max_length)`` never produces more than asked; whatever input is left over must
produce nothing more (a sync-flush marker), else the server sent more than the rectangle can hold.
"""

from __future__ import annotations

import zlib

from protocols.vnc.messages import MalformedMessage


class ZlibStream:
    """One server-side zlib stream's receiving end."""

    def __init__(self) -> None:
        self._inflater = zlib.decompressobj()

    def reset(self) -> None:
        """Start over (Tight's reset bits)."""
        self._inflater = zlib.decompressobj()

    def inflate(self, data: bytes, limit: int, *, exact: bool) -> bytes:
        """Decompress ``data``: exactly ``limit`` bytes with ``exact``, else at most ``limit``."""
        try:
            out = self._inflater.decompress(data, limit)
            tail = self._inflater.unconsumed_tail
            while tail:
                if self._inflater.decompress(tail, 1):
                    raise MalformedMessage(f"compressed data inflates past the {limit} bytes the rectangle can hold")
                if len(self._inflater.unconsumed_tail) == len(tail):
                    break
                tail = self._inflater.unconsumed_tail
        except zlib.error as exc:
            raise MalformedMessage(f"corrupt zlib data ({exc})") from None
        if exact and len(out) != limit:
            raise MalformedMessage(f"compressed data inflates to {len(out)} bytes, {limit} expected")
        return out
