"""The Jumpoint's file runner and the allowed-folders scope, over an in-memory RemoteFiles (the core interface)."""

from __future__ import annotations

import posixpath

import pytest

from jumpoint.agent.file_channel import FileRunner
from jumpoint.core import wire
from jumpoint.core.errors import BadRequest, Forbidden, NotFound
from jumpoint.core.files import FileEntry, FileKind, FileReader, FileWriter, ScopedFiles, within


class MemoryFiles:
    """Directories and symbolic links in memory; ``links`` maps a path to what it points to."""

    def __init__(self, dirs: dict[str, list[str]], links: dict[str, str] | None = None) -> None:
        self.dirs = dirs
        self.links = links or {}

    async def home(self) -> str:
        return "/home/u"

    async def realpath(self, path: str) -> str:
        path = posixpath.normpath(posixpath.join("/home/u", path))
        while path in self.links:
            path = self.links[path]
        parent = posixpath.dirname(path)
        if path not in self.dirs and posixpath.basename(path) not in self.dirs.get(parent, []):
            raise NotFound(f"{path} does not exist on the target")
        return path

    async def stat(self, path: str) -> FileEntry:
        kind: FileKind = "dir" if path in self.dirs else "link" if path in self.links else "file"
        return FileEntry(posixpath.basename(path), kind, 0, None, None)

    async def listdir(self, path: str, limit: int) -> tuple[list[FileEntry], bool]:
        names = self.dirs[path]
        return [FileEntry(n, "file", 1, None, 0o100644) for n in names[:limit]], len(names) > limit

    # transfers are exercised against the real sshd (tests/integration/test_file_transfer.py)
    async def open_read(self, path: str) -> FileReader:
        raise AssertionError("not used here")

    async def open_write(self, path: str, *, overwrite: bool) -> FileWriter:
        raise AssertionError("not used here")

    async def rename(self, old: str, new: str) -> None:
        raise AssertionError("not used here")

    async def remove(self, path: str) -> None:
        raise AssertionError("not used here")

    async def mkdir(self, path: str) -> None:
        raise AssertionError("not used here")


class Connection:
    def __init__(self, files: MemoryFiles) -> None:
        self._files = files

    async def files(self) -> MemoryFiles:
        return self._files


async def test_a_listing_is_sent_in_batches_that_each_fit_in_a_frame() -> None:
    names = [f"{i:04d}" + "\x01" * 200 for i in range(3000)]  # control characters grow six-fold in JSON
    frames: list[bytes] = []

    async def send(frame: bytes) -> None:
        frames.append(frame)

    msg = wire.FileOpen(session_channel=1, op="list", path="/data")
    runner = FileRunner(5, msg, connection=Connection(MemoryFiles({"/data": names})), send_frame=send)
    await runner.run()
    decoded = [wire.decode_control(f[wire.HEADER.size :]) for f in frames]
    assert all(len(f) <= wire.MAX_FRAME for f in frames)
    listed = [e.name for m in decoded if isinstance(m, wire.FileEntries) for e in m.entries]
    assert listed == names
    assert isinstance(decoded[-2], wire.FileResult) and decoded[-2].path == "/data"
    assert isinstance(decoded[-1], wire.Closed) and decoded[-1].error is None


async def test_a_path_reached_through_a_link_outside_the_allowed_folders_is_refused() -> None:
    files = MemoryFiles({"/srv": ["out"], "/srv/in": ["a"], "/etc": ["passwd"]}, links={"/srv/in/out": "/etc/passwd"})
    scoped = ScopedFiles(files, ["/srv/in"])
    assert await scoped.existing("/srv/in/a") == "/srv/in/a"
    with pytest.raises(Forbidden, match="outside the folders you may use"):
        await scoped.existing("/srv/in/out")
    with pytest.raises(Forbidden):
        await scoped.new("/srv/in/../planted")
    assert await scoped.start() == "/srv/in"  # the home directory is not allowed, so browsing starts in the root


async def test_new_names_are_checked() -> None:
    scoped = ScopedFiles(MemoryFiles({"/home/u": []}), [])
    for bad in ("/home/u/..", "/home/u/.", "/home/u/" + "x" * 256):
        with pytest.raises(BadRequest):
            await scoped.new(bad)
    assert await scoped.new("/home/u/report.txt") == "/home/u/report.txt"


async def test_no_allowed_folder_existing_on_the_target_allows_nothing() -> None:
    scoped = ScopedFiles(MemoryFiles({"/home/u": []}), ["/missing"])
    with pytest.raises(Forbidden, match="none of the folders you may use exists on this target"):
        await scoped.start()


def test_within_compares_whole_path_components() -> None:
    assert within("/srv/data/x", "/srv/data") and within("/srv/data", "/srv/data") and within("/etc", "/")
    assert not within("/srv/database", "/srv/data")
