"""The file-transfer API over a fake hub whose target holds /srv/data/report.txt: what is audited when a transfer
is refused, fails or is cancelled (the transfers themselves run against a real sshd in
tests/integration/test_file_transfer.py)."""

from __future__ import annotations

import asyncio
import posixpath
from dataclasses import dataclass, field
from typing import Any

import pytest

from console_web.auth.principal import Principal
from console_web.db.models import User
from console_web.hub.file_channel import FileOp, FileOperation
from jumpoint.core import wire
from jumpoint.core.errors import Conflict, Forbidden, NotFound
from jumpoint.core.files import within
from tests.unit.conftest import Console, FakeHub, error_of

FILES = "/api/v1/sessions/s1/files"
REPORT = "/srv/data/report.txt"


class FakeFileChannel:
    """One operation on the fake target: a download's bytes in one chunk, an upload's bytes kept."""

    def __init__(self, result: wire.FileResult, data: bytes = b"") -> None:
        self.result: wire.FileResult | None = result
        self.entries: list[wire.FileEntryMsg] = []
        self._chunks = [data] if data else []
        self.written = bytearray()

    async def read(self) -> bytes | None:
        return self._chunks.pop(0) if self._chunks else None

    async def write(self, data: bytes) -> None:
        self.written += data

    async def finish(self) -> wire.FileResult | None:
        return await self.done()

    async def done(self) -> wire.FileResult | None:
        return self.result

    async def cancel(self) -> None:
        pass


@dataclass
class FilesHub(FakeHub):
    """A fake hub whose sessions' target holds ``files`` (paths are taken as canonical)."""

    files: dict[str, bytes] = field(default_factory=lambda: {REPORT: b"quarterly numbers\n"})
    notes: list[str] = field(default_factory=list)
    channels: list[FakeFileChannel] = field(default_factory=list)

    async def open_file_channel(self, session_id: str, principal: Principal, op: FileOp) -> FileOperation:
        if op.roots and not any(within(op.path, root) for root in op.roots):
            raise Forbidden(f"{op.path} is outside the folders you may use")
        if op.op == "download":
            if op.path not in self.files:
                raise NotFound(f"{op.path} does not exist on the target")
            data = self.files[op.path]
            channel = FakeFileChannel(wire.FileResult(path=op.path, kind="file", size=len(data)), data)
        elif op.op == "upload":
            if op.path in self.files and not op.overwrite:
                raise Conflict(f"{op.path} already exists")
            channel = FakeFileChannel(wire.FileResult(path=op.path, kind="file", size=op.size))
        elif op.op == "list":
            channel = FakeFileChannel(wire.FileResult(path=op.path or posixpath.dirname(REPORT), kind="dir"))
        else:
            channel = FakeFileChannel(wire.FileResult(path=op.path))
        self.channels.append(channel)
        return channel

    async def note_file_event(self, session_id: str, text: str) -> None:
        self.notes.append(text)


@pytest.fixture
def hub() -> FilesHub:
    """The fake hub with files, for the console fixture."""
    return FilesHub()


async def as_alice(console: Console, **permissions: Any) -> dict[str, str]:
    """Give alice these file permissions and log in as her; the headers her changes need."""
    async with console.db.session() as session:
        user = await session.get(User, console.alice_id)
        assert user is not None
        for name, value in permissions.items():
            setattr(user, name, value)
    return {"X-CSRF-Token": await console.login_as("alice")}


def notes(console: Console) -> list[str]:
    """The file events told to the sessions' timelines."""
    assert isinstance(console.hub, FilesHub)
    return console.hub.notes


async def audited(console: Console, action: str) -> list[dict[str, Any]]:
    """The ``detail`` of the audit events of ``action``, newest first, as an administrator reads them."""
    await console.login_as("admin")
    resp = await console.client.get(f"/api/v1/audit?action={action}")
    assert resp.status == 200, await resp.text()
    return [event["detail"] for event in (await resp.json())["items"]]


async def test_a_refused_download_is_audited_with_the_file_asked_for(console: Console) -> None:
    await as_alice(console, file_download=False)
    resp = await console.client.get(f"{FILES}/download", params={"path": REPORT})
    assert (resp.status, error_of(await resp.json())) == (403, "you may not download files")
    await as_alice(console, file_download=True, file_roots=["/home"])
    resp = await console.client.get(f"{FILES}/download", params={"path": REPORT})
    assert (resp.status, error_of(await resp.json())) == (403, f"{REPORT} is outside the folders you may use")
    await as_alice(console, file_roots=[])
    resp = await console.client.get(f"{FILES}/download", params={"path": "/srv/data/gone.txt"})
    assert resp.status == 404
    assert await audited(console, "file.download") == [
        {"path": "/srv/data/gone.txt", "result": "failed", "error": "/srv/data/gone.txt does not exist on the target"},
        {"path": REPORT, "result": "failed", "error": f"{REPORT} is outside the folders you may use"},
        {"path": REPORT, "result": "failed", "error": "you may not download files"},
    ]
    assert notes(console) == []  # nothing was transferred, so the session's timeline does not mention it


async def test_a_refused_upload_is_audited_with_the_file_asked_for(console: Console) -> None:
    headers = await as_alice(console, file_upload=False)
    resp = await console.client.put(f"{FILES}/upload", params={"path": "/srv/data/new.txt"}, data=b"x", headers=headers)
    assert (resp.status, error_of(await resp.json())) == (403, "you may not upload files")
    headers = await as_alice(console, file_upload=True)
    resp = await console.client.put(f"{FILES}/upload", params={"path": REPORT}, data=b"x", headers=headers)
    assert (resp.status, error_of(await resp.json())) == (409, f"{REPORT} already exists")
    assert await audited(console, "file.upload") == [
        {"path": REPORT, "result": "failed", "error": f"{REPORT} already exists"},
        {"path": "/srv/data/new.txt", "result": "failed", "error": "you may not upload files"},
    ]


async def test_a_refused_rename_delete_or_new_folder_is_audited(console: Console) -> None:
    headers = await as_alice(console, file_upload=False)
    for method, tail, body in [
        ("POST", "/rename", {"from": REPORT, "to": "/srv/data/old.txt"}),
        ("DELETE", f"?path={REPORT}", None),
        ("POST", "/mkdir", {"path": "/srv/data/new"}),
    ]:
        resp = await console.client.request(method, FILES + tail, json=body, headers=headers)
        assert (resp.status, error_of(await resp.json())) == (403, "you may not change files on the target")
    refused = {"result": "failed", "error": "you may not change files on the target"}
    assert await audited(console, "file.") == [
        {"path": "/srv/data/new", **refused},
        {"path": REPORT, **refused},
        {"from": REPORT, "to": "/srv/data/old.txt", **refused},
    ]


async def test_a_download_is_audited_with_its_size(console: Console) -> None:
    await as_alice(console)
    resp = await console.client.get(f"{FILES}/download", params={"path": REPORT})
    assert (resp.status, await resp.read()) == (200, b"quarterly numbers\n")
    assert await audited(console, "file.download") == [{"path": REPORT, "size": 18, "result": "ok"}]
    assert notes(console) == [f"alice downloaded {REPORT} (18 bytes)"]


async def test_an_upload_the_browser_aborts_is_audited_as_cancelled_with_the_bytes_received(console: Console) -> None:
    # the test server cancels the handler; a real console sees the body fail (tests/integration/test_file_transfer.py)
    headers = await as_alice(console)
    jar = console.client.session.cookie_jar.filter_cookies(console.client.make_url("/"))
    _reader, writer = await asyncio.open_connection(console.client.host, console.client.port)
    head = [
        f"PUT {FILES}/upload?path=/srv/data/big.bin HTTP/1.1",
        f"Host: {console.client.host}",
        "Cookie: " + "; ".join(f"{name}={morsel.value}" for name, morsel in jar.items()),
        f"X-CSRF-Token: {headers['X-CSRF-Token']}",
        "Content-Length: 1000000",
    ]
    writer.write("\r\n".join(head).encode() + b"\r\n\r\n" + b"\0" * 1000)
    await writer.drain()
    assert isinstance(console.hub, FilesHub)
    async with asyncio.timeout(10):
        while not (console.hub.channels and console.hub.channels[0].written):
            await asyncio.sleep(0.01)
        writer.close()  # the browser goes away with the upload under way
        while not notes(console):
            await asyncio.sleep(0.01)
    assert notes(console) == ["alice: upload of /srv/data/big.bin cancelled"]
    assert await audited(console, "file.upload") == [{"path": "/srv/data/big.bin", "size": 1000, "result": "cancelled"}]


async def test_a_listing_of_an_allowed_folder_has_no_parent(console: Console) -> None:
    await as_alice(console, file_roots=["/srv/data"])
    parents = []
    for path in ("/srv/data", "/srv/data/reports"):
        resp = await console.client.get(FILES, params={"path": path})
        assert resp.status == 200, await resp.text()
        parents.append((await resp.json())["parent"])
    assert parents == [None, "/srv/data"]
    await as_alice(console, file_roots=[])  # anywhere: only / has no parent
    assert (await (await console.client.get(FILES, params={"path": "/srv/data"})).json())["parent"] == "/srv"
    assert (await (await console.client.get(FILES, params={"path": "/"})).json())["parent"] is None
