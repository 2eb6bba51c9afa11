"""``FileAppender``: one recording file, appended to in batches; large batches go around the page cache.

A recording is written once and read rarely. Through the page cache, every byte recorded costs a copy into a newly
allocated cache page, and the file then occupies memory other data could use; on hosts that hand free memory back to
their hypervisor, each of those new pages is a fault on top (measured here: 55 MB of recording cost the console
0.15-0.22 s of system time through the page cache, 0.007 s with direct I/O; docs/performance.md). So a batch that,
with what is waiting in the cache, reaches :data:`DIRECT_MIN` is written with ``O_DIRECT`` from a page-aligned
buffer of the writing thread: whole blocks straight to the disk, and only the last partial block through the cache.
Smaller batches (a rep typing, a prompt) are written through the cache as usual, so a quiet session never waits on
the disk. Either way every byte is with the operating system when :meth:`FileAppender.append` returns, so a crash of
the console loses nothing it wrote.

Where the file system refuses ``O_DIRECT`` (some FUSE and network file systems, tmpfs before Linux 6.6), the file is
written through the cache only; the probe runs once per file system and is logged.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from jumpoint.core.errors import InternalError

log = logging.getLogger(__name__)

BLOCK: Final = 4096
"""Direct writes start and end on this boundary (a multiple of every common logical block size)."""
DIRECT_MIN: Final = 256 * 1024
"""A batch that reaches this size (with the bytes since the last direct write) is written around the page cache."""
BUFFER: Final = 1 << 20
"""Each writing thread's aligned buffer for direct writes."""
_IOV_MAX: Final = 512
_O_DIRECT: Final = getattr(os, "O_DIRECT", 0)

_probe_lock = threading.Lock()
_direct_by_device: dict[int, bool] = {}
_buffers = threading.local()


def direct_io_supported(directory: Path) -> bool:
    """Whether files in ``directory`` accept aligned ``O_DIRECT`` writes (probed once per file system)."""
    if not _O_DIRECT:
        return False
    device = os.stat(directory).st_dev
    with _probe_lock:
        known = _direct_by_device.get(device)
        if known is None:
            known = _direct_by_device[device] = _probe(directory)
            log.info(
                "recordings in %s: large batches are written %s",
                directory,
                "with direct I/O" if known else "through the page cache (the file system refuses direct I/O)",
            )
        return known


def _probe(directory: Path) -> bool:
    fd, name = tempfile.mkstemp(dir=directory, prefix=".direct-io-probe-")
    os.close(fd)
    try:
        direct = os.open(name, os.O_WRONLY | _O_DIRECT | os.O_CLOEXEC)
        try:
            with mmap.mmap(-1, BLOCK) as zeros:  # page-aligned, and never a recording's bytes
                return os.pwrite(direct, zeros, 0) == BLOCK
        finally:
            os.close(direct)
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


def _thread_buffer() -> memoryview:
    """This thread's page-aligned buffer (an anonymous mapping, kept for the thread's life)."""
    view: memoryview | None = getattr(_buffers, "view", None)
    if view is None:
        view = _buffers.view = memoryview(mmap.mmap(-1, BUFFER))
    return view


class FileAppender:
    """Appends to one new file (created exclusively, 0600). One caller at a time, from any thread.

    ``direct`` allows direct writes for large batches (the caller has checked :func:`direct_io_supported`).
    Errors are :class:`InternalError` naming the file.
    """

    __slots__ = ("_direct_end", "_direct_fd", "_end", "_fd", "path")

    def __init__(self, path: Path, *, direct: bool) -> None:
        self.path = path
        try:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise InternalError(f"cannot create the recording file {path}: {exc.strerror}") from None
        self._direct_fd: int | None = None
        if direct and _O_DIRECT:
            try:
                self._direct_fd = os.open(path, os.O_WRONLY | _O_DIRECT | os.O_CLOEXEC)
            except OSError:
                self._direct_fd = None
        self._end = 0  # bytes in the file
        self._direct_end = 0  # bytes written directly; those after it went through the page cache

    @property
    def size(self) -> int:
        """Bytes appended so far."""
        return self._end

    def append(self, parts: Sequence[bytes | memoryview]) -> None:
        """Append ``parts`` in order; they are with the operating system when this returns."""
        total = sum(len(part) for part in parts)
        if not total:
            return
        try:
            if self._direct_fd is None or self._end - self._direct_end + total < DIRECT_MIN:
                self._write_cached(parts, self._end)
                self._end += total
            else:
                self._append_direct(self._direct_fd, parts)
        except OSError as exc:
            raise InternalError(f"cannot write the recording file {self.path}: {exc.strerror}") from None

    def _append_direct(self, direct_fd: int, parts: Sequence[bytes | memoryview]) -> None:
        buf = _thread_buffer()
        fill = self._end - self._direct_end  # < DIRECT_MIN <= BUFFER: read back what went through the cache
        if fill and os.preadv(self._fd, [buf[:fill]], self._direct_end) != fill:
            raise InternalError(f"the recording file {self.path} was shortened while being written")
        for part in parts:
            view = memoryview(part)
            while view:
                n = min(len(view), BUFFER - fill)
                buf[fill : fill + n] = view[:n]
                fill += n
                view = view[n:]
                if fill == BUFFER:
                    self._write_direct(direct_fd, buf)
                    fill = 0
        whole = fill - fill % BLOCK
        if whole:
            self._write_direct(direct_fd, buf[:whole])
        rest = buf[whole:fill]
        if rest:
            self._write_cached([rest], self._direct_end)
        self._end = self._direct_end + len(rest)

    def _write_direct(self, direct_fd: int, data: memoryview) -> None:
        done = 0
        while done < len(data):
            n = os.pwrite(direct_fd, data[done:], self._direct_end + done)
            if n <= 0 or n % BLOCK:
                raise InternalError(f"a direct write to the recording file {self.path} stopped part-way")
            done += n
        self._direct_end += done

    def _write_cached(self, parts: Sequence[bytes | memoryview], offset: int) -> None:
        views = [memoryview(part) for part in parts if part]
        while views:
            done = os.pwritev(self._fd, views[:_IOV_MAX], offset)
            offset += done
            while views and done >= len(views[0]):
                done -= len(views.pop(0))
            if done:
                views[0] = views[0][done:]

    def close(self) -> None:
        """Close the file; idempotent. No fsync: the data is with the operating system already, which is what
        surviving a crash of the console needs, and an fsync could hold the caller on a busy disk."""
        fds = [fd for fd in (self._fd, self._direct_fd) if fd is not None and fd >= 0]
        self._fd, self._direct_fd = -1, None
        failure: OSError | None = None
        for fd in fds:
            try:
                os.close(fd)
            except OSError as exc:
                failure = failure or exc
        if failure is not None:
            raise InternalError(f"cannot close the recording {self.path}: {failure.strerror}")
