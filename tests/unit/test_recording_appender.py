"""Recording files are appended to in batches: large ones around the page cache, every byte in order, nothing held."""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import pytest

from console_web.recording.appender import BLOCK, BUFFER, DIRECT_MIN, FileAppender, direct_io_supported
from jumpoint.core.errors import InternalError


def batches(seed: int) -> list[list[bytes]]:
    """Batches of every shape the recorder makes: keystrokes, lines, floods, parts straddling the buffer."""
    rng = random.Random(seed)
    sizes = [1, 3, 100, BLOCK - 1, BLOCK, BLOCK + 1, DIRECT_MIN - 1, DIRECT_MIN, BUFFER - 7, BUFFER, 3 * BUFFER + 5]
    out = []
    for k in range(60):
        parts = []
        for _ in range(rng.randint(1, 4)):
            size = rng.choice(sizes) if rng.random() < 0.5 else rng.randint(1, 2000)
            parts.append(bytes([65 + k % 26]) * size)
        out.append(parts)
    return out


@pytest.mark.parametrize("direct", [True, False])
def test_every_byte_lands_in_order_whatever_the_batch_sizes(tmp_path: Path, direct: bool) -> None:
    path = tmp_path / "s1.cast"
    appender = FileAppender(path, direct=direct and direct_io_supported(tmp_path))
    expected = bytearray()
    for parts in batches(7):
        appender.append(parts)
        for part in parts:
            expected += part
        # with the operating system at once: another reader sees it all (a crash of the console loses nothing)
        assert path.stat().st_size == len(expected) == appender.size
    appender.close()
    assert path.read_bytes() == bytes(expected)


def needs_direct_io(directory: Path) -> None:
    """Skip where the file system refuses O_DIRECT, except in CI (its temporary directory is ext4: a refusal there
    is a failure)."""
    if not direct_io_supported(directory):
        assert os.environ.get("CI") != "true", f"O_DIRECT refused in {directory}"
        pytest.skip("this file system refuses O_DIRECT")


def test_large_batches_go_around_the_page_cache_where_the_file_system_allows(tmp_path: Path) -> None:
    needs_direct_io(tmp_path)
    appender = FileAppender(tmp_path / "s1.txt", direct=True)
    appender.append([b"x" * 1000])
    assert appender._direct_end == 0  # small: through the cache
    appender.append([b"y" * (DIRECT_MIN + 10)])
    assert appender._direct_end == (DIRECT_MIN + 1010) // BLOCK * BLOCK
    appender.close()
    assert (tmp_path / "s1.txt").read_bytes() == b"x" * 1000 + b"y" * (DIRECT_MIN + 10)


def test_an_existing_recording_is_never_overwritten_or_removed(tmp_path: Path) -> None:
    (tmp_path / "s1.cast").write_bytes(b"an earlier session")
    with pytest.raises(InternalError, match=r"cannot create the recording file .*s1\.cast: File exists"):
        FileAppender(tmp_path / "s1.cast", direct=True)
    assert (tmp_path / "s1.cast").read_bytes() == b"an earlier session"


def test_a_file_is_created_private(tmp_path: Path) -> None:
    FileAppender(tmp_path / "s1.txt", direct=False).close()
    assert (tmp_path / "s1.txt").stat().st_mode & 0o777 == 0o600


def test_a_failed_direct_write_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    needs_direct_io(tmp_path)
    appender = FileAppender(tmp_path / "s1.ojd", direct=True)

    def io_error(fd: int, data: object, offset: int) -> int:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr("console_web.recording.appender.os.pwrite", io_error)
    with pytest.raises(InternalError, match=r"s1\.ojd: Input/output error"):
        appender.append([b"z" * BUFFER])
    appender.close()
    appender.close()  # idempotent
