"""glibc's allocator, told to keep freed memory for reuse instead of handing it back to the kernel at once.

A session streaming output allocates and frees buffers of 64 KiB to a few MiB many times a second (reads, frames,
recording batches). By default glibc serves blocks over 128 KiB with mmap and returns them with munmap, and trims
the heap as soon as 128 KiB at its top are free (both thresholds grow only after such a block is freed, and trims
happen per arena), so the same memory is mapped, faulted page by page and zeroed again on every flood: on the
recorded 27 MB benchmark that was 20-30 ms of the console's system time and ~15 % of its CPU (docs/performance.md).
With blocks up to :data:`MMAP_THRESHOLD` from the heap and trimming only past :data:`TRIM_THRESHOLD` of free
memory, a process keeps up to that much of what it once used, per arena, ready for the next flood.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import platform
from typing import Final

log = logging.getLogger(__name__)

MMAP_THRESHOLD: Final = 8 << 20
"""Blocks at least this large still get their own mapping (returned to the kernel when freed)."""
TRIM_THRESHOLD: Final = 64 << 20
"""The heap is trimmed once this much memory at its top is free."""
_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds for a long-running service (call once, at start, before the event loop).
    Returns whether they were set: False on another C library, or if glibc refused (logged)."""
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return False
    for option, value in ((_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        if libc.mallopt(option, value) != 1:
            log.warning("glibc refused mallopt(%d, %d): freed memory goes back to the kernel at once", option, value)
            return False
    return True
