"""The Jumpoint's file runner and the allowed-folders scope, over an in-memory RemoteFiles (the core interface)."""

from __future__ import annotations

import posixpath

import pytest

from jumpoint.agent.file_channel import FileRunner
from jumpoint.core import wire
from jumpoint.core.errors import BadRequest, Forbidden, NotFound, ProtocolViolation
from jumpoint.core.files import FileEntry, FileKind, FileReader, FileWriter, ScopedFiles, within


class MemoryFiles:
    """Directories and symbolic links in memory; ``links`` maps a path to what it points to."""

    def __init__(self, dirs: dict[str, list[str]], links: dict[str, str] | None = None) -> None:
        self.dirs = dirs
        self.links = links or {}
        self.changes: list[tuple[str, ...]] = []

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
        self.changes.append(("rename", old, new))

    async def remove(self, path: str) -> None:
        self.changes.append(("remove", path))

    async def mkdir(self, path: str) -> None:
        self.changes.append(("mkdir", path))


def two_allowed_folders() -> MemoryFiles:
    """/srv/a (holding x/y) and /srv/b, the folders the tests allow."""
    return MemoryFiles(
        {"/": ["srv"], "/srv": ["a", "b"], "/srv/a": ["x"], "/srv/a/x": ["y"], "/srv/a/x/y": [], "/srv/b": []}
    )


async def run(files: MemoryFiles, msg: wire.FileOpen) -> list[wire.ControlMessage]:
    """Run one file operation; the control messages the Jumpoint sent."""
    frames: list[bytes] = []

    async def send(frame: bytes) -> None:
        frames.append(frame)

    await FileRunner(5, msg, connection=Connection(files), send_frame=send).run()
    return [wire.decode_control(f[wire.HEADER.size :]) for f in frames]


class GrowingLog:
    """A file of ``size`` bytes that another process appends to while it is read (a live log)."""

    def __init__(self, size: int) -> None:
        self.data = bytearray(b"a" * size)
        self.size = size
        self.position = 0

    async def read(self, max_bytes: int) -> bytes:
        chunk = bytes(self.data[self.position : self.position + max_bytes])
        self.position += len(chunk)
        if len(self.data) < 4 * self.size:
            self.data += b"b" * 1000
        return chunk

    async def close(self) -> None:
        pass


class LogFiles(MemoryFiles):
    """/var/log holding app.log, growing."""

    def __init__(self, log: GrowingLog) -> None:
        super().__init__({"/var/log": ["app.log"]})
        self.log = log

    async def open_read(self, path: str) -> FileReader:
        return self.log


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


async def test_a_final_dot_or_dot_dot_in_a_path_to_rename_or_delete_is_refused() -> None:
    scoped = ScopedFiles(two_allowed_folders(), ["/srv/a", "/srv/b"])
    for path, name in (("/srv/a/.", "'.'"), ("/srv/a/x/y/..", "'..'"), ("/srv/a/x/./", "'.'")):
        with pytest.raises(BadRequest) as refused:
            await scoped.entry(path)
        assert refused.value.message == f"{path} ends in {name}"
        assert refused.value.hint == "name the file or folder itself, without a final '.' or '..'"
    assert (await scoped.entry("/srv/a/x/"))[0] == "/srv/a/x"


async def test_an_allowed_folder_itself_cannot_be_renamed_deleted_or_replaced() -> None:
    files = two_allowed_folders()
    scoped = ScopedFiles(files, ["/srv/a", "/srv/a/x/"])  # x is allowed on its own and as part of a
    message = "/srv/a/x is an allowed folder: it cannot itself be renamed, deleted or replaced"
    for path in ("/srv/a/x", "/srv/a/x/y/../../x/"):
        with pytest.raises(Forbidden) as refused:
            await scoped.entry(path)  # what a rename or a delete names
        assert refused.value.message == message
    with pytest.raises(Forbidden) as refused:
        await scoped.new("/srv/a/x")  # a new folder, an upload or a rename's destination
    assert refused.value.message == message
    with pytest.raises(Forbidden, match=r"^/ is an allowed folder"):
        await ScopedFiles(files, []).entry("/")  # anywhere: the target's root is the allowed folder


async def test_renaming_or_deleting_an_allowed_folder_changes_nothing() -> None:
    files = two_allowed_folders()
    roots = ["/srv/a", "/srv/b", "/srv/a/x"]
    attempts = [
        wire.FileOpen(session_channel=1, op="rename", path="/srv/a/.", to="/srv/b/a", roots=roots),
        wire.FileOpen(session_channel=1, op="delete", path="/srv/a/.", roots=roots),
        wire.FileOpen(session_channel=1, op="delete", path="/srv/a/x/y/..", roots=roots),
        wire.FileOpen(session_channel=1, op="rename", path="/srv/a/x", to="/srv/b/x", roots=roots),
        wire.FileOpen(session_channel=1, op="mkdir", path="/srv/a/x", roots=roots),
    ]
    errors = []
    for msg in attempts:
        (closed,) = await run(files, msg)
        assert isinstance(closed, wire.Closed) and closed.error is not None
        errors.append((closed.error.code, closed.error.message))
    assert errors == [
        ("bad_request", "/srv/a/. ends in '.'"),
        ("bad_request", "/srv/a/. ends in '.'"),
        ("bad_request", "/srv/a/x/y/.. ends in '..'"),
        ("forbidden", "/srv/a/x is an allowed folder: it cannot itself be renamed, deleted or replaced"),
        ("forbidden", "/srv/a/x is an allowed folder: it cannot itself be renamed, deleted or replaced"),
    ]
    assert files.changes == []


async def test_a_rename_answers_the_canonical_source_then_the_destination() -> None:
    files = two_allowed_folders()
    msg = wire.FileOpen(session_channel=1, op="rename", path="/srv/a/x/y/../y", to="/srv/b/y", roots=["/srv"])
    source, destination, closed = await run(files, msg)
    assert isinstance(source, wire.FileResult) and (source.path, source.kind) == ("/srv/a/x/y", "dir")
    assert isinstance(destination, wire.FileResult) and destination.path == "/srv/b/y"
    assert isinstance(closed, wire.Closed) and closed.error is None
    assert files.changes == [("rename", "/srv/a/x/y", "/srv/b/y")]


async def test_a_file_growing_while_it_is_downloaded_is_sent_as_big_as_announced() -> None:
    frames: list[bytes] = []

    async def send(frame: bytes) -> None:
        frames.append(frame)

    msg = wire.FileOpen(session_channel=1, op="download", path="/var/log/app.log")
    await FileRunner(5, msg, connection=Connection(LogFiles(GrowingLog(3000))), send_frame=send).run()
    data = b"".join(f[wire.HEADER.size :] for f in frames if f[0] == wire.FRAME_DATA)
    controls = [wire.decode_control(f[wire.HEADER.size :]) for f in frames if f[0] == wire.FRAME_CONTROL]
    assert isinstance(controls[0], wire.FileResult) and controls[0].size == 3000
    assert data == b"a" * 3000  # the console checks the bytes against the size announced, then audits "ok"
    assert isinstance(controls[-1], wire.Closed) and controls[-1].error is None


async def test_an_empty_data_frame_on_an_upload_is_a_protocol_violation() -> None:
    async def send(frame: bytes) -> None:
        pass

    msg = wire.FileOpen(session_channel=1, op="upload", path="/srv/a/new", size=3)
    runner = FileRunner(5, msg, connection=Connection(two_allowed_folders()), send_frame=send)
    runner.on_data(b"abc")
    with pytest.raises(ProtocolViolation, match="empty DATA"):
        runner.on_data(b"")  # it would count nothing against the window: a flood of them would queue without bound
