"""SFTP file transfer through the whole gateway against a real sshd: browse, upload, download, rename, delete,
new folders, permissions, allowed folders, cancellation, audit events and bounded memory."""

from __future__ import annotations

import asyncio
import hashlib
import os
import pwd
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fixtures.gateway import Gateway, SessionSocket
from tests.fixtures.sshd import SshServer

MiB = 1 << 20


@pytest.fixture
def remote_dir(sshd_server: SshServer) -> Iterator[Path]:
    """A fresh folder in the test login's home, owned by that login, removed afterwards."""
    account = pwd.getpwnam(sshd_server.username)
    path = Path(account.pw_dir) / f"files-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    os.chown(path, account.pw_uid, account.pw_gid)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _own(path: Path, username: str) -> Path:
    account = pwd.getpwnam(username)
    os.chown(path, account.pw_uid, account.pw_gid)
    return path


@pytest.fixture
async def session(gateway: Gateway, sshd_server: SshServer) -> AsyncIterator[SessionSocket]:
    """The admin owns a live SSH session."""
    item = await gateway.create_item(
        name="files box", hostname=f"{sshd_server.host}:{sshd_server.port}", username=sshd_server.username
    )
    sock = await gateway.jump(item["id"])
    await sock.login(sshd_server.password)
    yield sock
    await sock.close()


def _files(sock: SessionSocket, tail: str = "") -> str:
    return f"/api/v1/sessions/{sock.session_id}/files{tail}"


async def _audit(gateway: Gateway, action: str) -> list[dict[str, Any]]:
    data = await gateway.api("GET", f"/api/v1/audit?action={action}", expect=200)
    return list(data["items"])


async def _system_events(sock: SessionSocket, about: str, count: int) -> list[str]:
    """The next ``count`` system events of the session's timeline that mention ``about``."""
    texts: list[str] = []
    while len(texts) < count:
        msg = await sock.next_of("timeline")
        texts += [e["text"] for e in msg["entries"] if e["kind"] == "system" and about in e["text"]]
    return texts


async def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


class _PeakRss:
    """Samples this process's RSS (console and Jumpoint both run in it) while a transfer runs."""

    def __init__(self) -> None:
        self.base = 0
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> _PeakRss:
        self.base = self.peak = await _rss_kib()
        self._task = asyncio.create_task(self._sample())
        return self

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, await _rss_kib())
            await asyncio.sleep(0.02)

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.peak = max(self.peak, await _rss_kib())

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.base) / 1024


async def test_a_200_mb_file_goes_up_and_down_intact_with_bounded_memory(
    gateway: Gateway, session: SessionSocket, remote_dir: Path, sshd_server: SshServer, tmp_path: Path
) -> None:
    local = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with local.open("wb") as f:
        block = os.urandom(MiB)
        for i in range(200):
            chunk = block[i:] + block[:i]  # 200 distinct MiB without 200 MiB of urandom
            digest.update(chunk)
            f.write(chunk)
    size = local.stat().st_size

    async def body() -> AsyncIterator[bytes]:
        with local.open("rb") as f:
            while chunk := f.read(256 * 1024):
                yield chunk

    target = f"{remote_dir}/big.bin"
    async with (
        _PeakRss() as up,
        gateway.http.put(
            gateway.url + _files(session, "/upload"),
            params={"path": target},
            data=body(),
            headers={**gateway.headers, "Content-Length": str(size)},
        ) as resp,
    ):
        assert resp.status == 201, await resp.text()
        assert await resp.json() == {"path": target, "size": size}
    on_disk = hashlib.sha256()
    with open(target, "rb") as written:
        while chunk := written.read(MiB):
            on_disk.update(chunk)
    assert on_disk.hexdigest() == digest.hexdigest()

    down_digest = hashlib.sha256()
    async with (
        _PeakRss() as down,
        gateway.http.get(
            gateway.url + _files(session, "/download"), params={"path": target}, headers=gateway.headers
        ) as resp,
    ):
        assert resp.status == 200
        assert resp.headers["Content-Length"] == str(size)
        assert resp.headers["Content-Disposition"].startswith('attachment; filename="big.bin"')
        async for chunk in resp.content.iter_chunked(MiB):
            down_digest.update(chunk)
    assert down_digest.hexdigest() == digest.hexdigest()
    # console and Jumpoint each hold at most a flow-control window (1 MiB) plus batches; 200 MiB never sits in memory
    assert up.growth_mib < 48, f"upload grew RSS by {up.growth_mib:.1f} MiB"
    assert down.growth_mib < 48, f"download grew RSS by {down.growth_mib:.1f} MiB"
    print(f"RSS growth: upload {up.growth_mib:.1f} MiB, download {down.growth_mib:.1f} MiB")

    uploads = await _audit(gateway, "file.upload")
    downloads = await _audit(gateway, "file.download")
    assert uploads[0]["detail"] == {"path": target, "size": size, "result": "ok"}
    assert downloads[0]["detail"] == {"path": target, "size": size, "result": "ok"}
    assert uploads[0]["session_id"] == session.session_id


async def test_a_file_growing_while_it_is_downloaded_arrives_as_big_as_announced_and_is_audited_ok(
    gateway: Gateway, session: SessionSocket, remote_dir: Path
) -> None:
    log = remote_dir / "app.log"
    log.write_bytes(b"a" * 8 * MiB)
    url = gateway.url + _files(session, "/download")
    async with gateway.http.get(url, params={"path": str(log)}, headers=gateway.headers) as resp:
        assert resp.status == 200 and resp.headers["Content-Length"] == str(8 * MiB)
        received = await resp.content.readexactly(MiB)
        with log.open("ab") as f:  # a live log: written to while it is downloaded
            f.write(b"b" * MiB)
        received += await resp.content.read()
    assert received == b"a" * 8 * MiB
    downloads = await _audit(gateway, "file.download")
    assert downloads[0]["detail"] == {"path": str(log), "size": 8 * MiB, "result": "ok"}


async def test_a_listing_shows_directories_first_with_sizes_and_modes(
    gateway: Gateway, session: SessionSocket, remote_dir: Path, sshd_server: SshServer
) -> None:
    (remote_dir / "zeta").mkdir()
    (remote_dir / "alpha.txt").write_bytes(b"hello\n")
    (remote_dir / ".hidden").write_bytes(b"")
    (remote_dir / "link").symlink_to(remote_dir / "alpha.txt")
    os.chmod(remote_dir / "alpha.txt", 0o640)
    listing = await gateway.api("GET", _files(session) + f"?path={remote_dir}", expect=200)
    assert listing["path"] == str(remote_dir)
    assert listing["parent"] == str(remote_dir.parent)
    assert [(e["name"], e["kind"]) for e in listing["entries"]] == [
        ("zeta", "dir"),
        (".hidden", "file"),
        ("alpha.txt", "file"),
        ("link", "link"),
    ]
    alpha = next(e for e in listing["entries"] if e["name"] == "alpha.txt")
    assert (alpha["size"], alpha["mode"]) == (6, "-rw-r-----")
    assert alpha["mtime"] is not None
    assert (listing["can_upload"], listing["can_download"], listing["truncated"]) == (True, True, False)


async def test_browsing_starts_in_the_home_directory(
    gateway: Gateway, session: SessionSocket, sshd_server: SshServer
) -> None:
    listing = await gateway.api("GET", _files(session), expect=200)
    assert listing["path"] == pwd.getpwnam(sshd_server.username).pw_dir


async def test_rename_new_folder_and_delete_change_the_target(
    gateway: Gateway, session: SessionSocket, remote_dir: Path, sshd_server: SshServer
) -> None:
    (remote_dir / "old.txt").write_bytes(b"x")
    _own(remote_dir / "old.txt", sshd_server.username)
    moved = await gateway.api(
        "POST", _files(session, "/rename"), {"from": f"{remote_dir}/old.txt", "to": f"{remote_dir}/new.txt"}, expect=200
    )
    assert moved["path"] == f"{remote_dir}/new.txt"
    assert (remote_dir / "new.txt").read_bytes() == b"x" and not (remote_dir / "old.txt").exists()

    made = await gateway.api("POST", _files(session, "/mkdir"), {"path": f"{remote_dir}/sub"}, expect=201)
    assert made["path"] == f"{remote_dir}/sub" and (remote_dir / "sub").is_dir()
    again = await gateway.api("POST", _files(session, "/mkdir"), {"path": f"{remote_dir}/sub"}, expect=409)
    assert again["error"]["message"] == f"{remote_dir}/sub already exists"

    (remote_dir / "sub" / "inner").write_bytes(b"")
    refused = await gateway.api("DELETE", _files(session) + f"?path={remote_dir}/sub", expect=409)
    assert refused["error"]["message"] == f"{remote_dir}/sub is not empty"
    await gateway.api("DELETE", _files(session) + f"?path={remote_dir}/sub/inner", expect=204)
    await gateway.api("DELETE", _files(session) + f"?path={remote_dir}/sub", expect=204)
    await gateway.api("DELETE", _files(session) + f"?path={remote_dir}/new.txt", expect=204)
    assert list(remote_dir.iterdir()) == []
    missing = await gateway.api("DELETE", _files(session) + f"?path={remote_dir}/nothing", expect=404)
    assert missing["error"]["message"] == f"{remote_dir}/nothing does not exist on the target"

    deletes = await _audit(gateway, "file.delete")
    assert {"path": f"{remote_dir}/sub", "result": "failed", "error": f"{remote_dir}/sub is not empty"} in [
        d["detail"] for d in deletes
    ]
    events = await _system_events(session, str(remote_dir), 4)
    assert events == [
        f"admin renamed {remote_dir}/old.txt to {remote_dir}/new.txt",
        f"admin created the folder {remote_dir}/sub",
        f"admin deleted {remote_dir}/sub/inner",
        f"admin deleted {remote_dir}/sub",
    ]


async def test_an_upload_never_replaces_a_file_unless_asked(
    gateway: Gateway, session: SessionSocket, remote_dir: Path, sshd_server: SshServer
) -> None:
    target = remote_dir / "keep.txt"
    target.write_bytes(b"original")
    _own(target, sshd_server.username)
    url = gateway.url + _files(session, "/upload")
    async with gateway.http.put(url, params={"path": str(target)}, data=b"new", headers=gateway.headers) as resp:
        assert resp.status == 409
        assert (await resp.json())["error"]["message"] == f"{target} already exists"
    assert target.read_bytes() == b"original"
    params = {"path": str(target), "overwrite": "true"}
    async with gateway.http.put(url, params=params, data=b"new", headers=gateway.headers) as resp:
        assert resp.status == 201
    assert target.read_bytes() == b"new"
    assert [p.name for p in remote_dir.iterdir()] == ["keep.txt"]  # no temporary file left behind


async def test_a_cancelled_upload_leaves_nothing_on_the_target(
    gateway: Gateway, session: SessionSocket, remote_dir: Path
) -> None:
    sent = asyncio.Event()

    async def body() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"\0" * MiB
        sent.set()
        await asyncio.sleep(3600)  # the browser stalls, then goes away

    size = 64 * MiB
    request = asyncio.create_task(
        gateway.http.put(
            gateway.url + _files(session, "/upload"),
            params={"path": f"{remote_dir}/partial.bin"},
            data=body(),
            headers={**gateway.headers, "Content-Length": str(size)},
        )
    )
    await asyncio.wait_for(sent.wait(), 20)
    await asyncio.sleep(0.5)
    request.cancel()
    with pytest.raises((asyncio.CancelledError, aiohttp.ClientError)):
        await request
    async with asyncio.timeout(20):
        while not [d for d in await _audit(gateway, "file.upload") if d["detail"]["result"] != "ok"]:
            await asyncio.sleep(0.1)
    failed = (await _audit(gateway, "file.upload"))[0]["detail"]
    assert failed["path"] == f"{remote_dir}/partial.bin"
    assert failed["result"] == "cancelled" and failed["size"] >= 8 * MiB
    async with asyncio.timeout(10):
        while list(remote_dir.iterdir()):
            await asyncio.sleep(0.1)


async def test_a_user_without_upload_permission_is_refused(
    gateway: Gateway, session: SessionSocket, remote_dir: Path
) -> None:
    me = await gateway.api("GET", "/api/v1/me", expect=200)
    await gateway.api("PATCH", f"/api/v1/users/{me['id']}", {"file_upload": False, "file_download": False}, expect=200)
    url = gateway.url + _files(session, "/upload")
    async with gateway.http.put(url, params={"path": f"{remote_dir}/x"}, data=b"x", headers=gateway.headers) as resp:
        assert resp.status == 403
        assert (await resp.json())["error"]["message"] == "you may not upload files"
    refused = await gateway.api("GET", _files(session, "/download") + f"?path={remote_dir}", expect=403)
    assert refused["error"]["message"] == "you may not download files"
    listing = await gateway.api("GET", _files(session) + f"?path={remote_dir}", expect=200)
    assert (listing["can_upload"], listing["can_download"]) == (False, False)
    # renaming, deleting and new folders change the target like an upload: refused too
    (remote_dir / "kept.txt").write_bytes(b"kept")
    for method, tail, body in [
        ("POST", "/mkdir", {"path": f"{remote_dir}/new"}),
        ("POST", "/rename", {"from": f"{remote_dir}/kept.txt", "to": f"{remote_dir}/moved.txt"}),
        ("DELETE", f"?path={remote_dir}/kept.txt", None),
    ]:
        refused = await gateway.api(method, _files(session, tail), body, expect=403)
        assert refused["error"]["message"] == "you may not change files on the target"
    assert [p.name for p in remote_dir.iterdir()] == ["kept.txt"]


async def test_paths_outside_the_allowed_folders_are_refused_even_through_links(
    gateway: Gateway, session: SessionSocket, remote_dir: Path, sshd_server: SshServer
) -> None:
    allowed = remote_dir / "allowed"
    allowed.mkdir()
    _own(allowed, sshd_server.username)
    (remote_dir / "secret.txt").write_bytes(b"secret")
    (allowed / "escape").symlink_to(remote_dir / "secret.txt")
    me = await gateway.api("GET", "/api/v1/me", expect=200)
    await gateway.api("PATCH", f"/api/v1/users/{me['id']}", {"file_roots": [str(allowed)]}, expect=200)

    start = await gateway.api("GET", _files(session), expect=200)
    assert start["path"] == str(allowed) and start["roots"] == [str(allowed)]
    assert start["parent"] is None  # the user may not go above the allowed folder
    for path in (str(remote_dir), f"{allowed}/..", f"{allowed}/escape"):
        refused = await gateway.api("GET", _files(session, "/download") + f"?path={path}", expect=403)
        assert refused["error"]["message"] == f"{path} is outside the folders you may use"
    url = gateway.url + _files(session, "/upload")
    params = {"path": f"{allowed}/../planted.txt"}
    async with gateway.http.put(url, params=params, data=b"x", headers=gateway.headers) as resp:
        assert resp.status == 403
    assert not (remote_dir / "planted.txt").exists()
    # deleting the link itself is fine: it lies inside the allowed folder
    await gateway.api("DELETE", _files(session) + f"?path={allowed}/escape", expect=204)
    assert (remote_dir / "secret.txt").exists()


async def test_an_allowed_folder_cannot_be_moved_or_deleted_through_a_final_dot(
    gateway: Gateway, session: SessionSocket, remote_dir: Path, sshd_server: SshServer
) -> None:
    a, b = remote_dir / "a", remote_dir / "b"
    for folder in (a, b, a / "x", a / "x" / "y"):
        folder.mkdir()
        _own(folder, sshd_server.username)
    me = await gateway.api("GET", "/api/v1/me", expect=200)
    await gateway.api("PATCH", f"/api/v1/users/{me['id']}", {"file_roots": [str(a), str(b)]}, expect=200)
    for method, tail, body, message in [
        ("POST", "/rename", {"from": f"{a}/.", "to": f"{b}/a"}, f"{a}/. ends in '.'"),
        ("DELETE", f"?path={a}/.", None, f"{a}/. ends in '.'"),
        ("DELETE", f"?path={a}/x/y/..", None, f"{a}/x/y/.. ends in '..'"),
    ]:
        refused = await gateway.api(method, _files(session, tail), body, expect=400)
        assert refused["error"]["message"] == message
    assert (a / "x" / "y").is_dir() and list(b.iterdir()) == []

    await gateway.api("POST", _files(session, "/rename"), {"from": f"{a}/x/y/../y", "to": f"{b}/y"}, expect=200)
    assert (b / "y").is_dir()
    renames = await _audit(gateway, "file.rename")
    assert renames[0]["detail"] == {"from": f"{a}/x/y", "to": f"{b}/y", "result": "ok"}  # the canonical paths


async def test_observers_and_non_participants_cannot_transfer_files(
    gateway: Gateway, session: SessionSocket, sshd_server: SshServer
) -> None:
    _, outsider = await gateway.create_rep("olga")
    refused = await gateway.api_as(outsider, "GET", _files(session), expect=404)
    assert "does not exist or has ended" in refused["error"]["message"]
    bob_id, bob = await gateway.create_rep("bob")
    # an admin's own session is invisible to bob unless he is admitted: invite him, he accepts, then observe
    await gateway.api("POST", f"/api/v1/sessions/{session.session_id}/invitations", {"user_id": bob_id}, expect=201)
    invitation = (await gateway.api_as(bob, "GET", "/api/v1/invitations", expect=200))["items"][0]
    await gateway.api_as(bob, "POST", f"/api/v1/invitations/{invitation['id']}/accept", expect=200)
    watcher = await gateway.attach(session.session_id, token=bob)
    roster = await session.next_of("roster")
    while not any(p["name"] == "Bob" for p in roster["participants"]):
        roster = await session.next_of("roster")
    bob_seat = next(p["id"] for p in roster["participants"] if p["name"] == "Bob")
    await gateway.api_as(bob, "GET", _files(session), expect=200)  # a peer may
    await session.send_json({"t": "set_mode", "participant": bob_seat, "mode": "observer"})
    assert (await watcher.next_of("you"))["mode"] == "observer"
    refused = await gateway.api_as(bob, "GET", _files(session), expect=403)
    assert refused["error"]["message"] == "only the session's owner and peers (not observers) can transfer files"
    await watcher.close()


async def test_bad_file_requests_get_clear_errors(gateway: Gateway, session: SessionSocket, remote_dir: Path) -> None:
    cases: list[tuple[str, str, Any, int, str]] = [
        ("GET", _files(session, "/download"), None, 400, "path: Field required"),
        ("GET", _files(session, "/download") + f"?path={remote_dir}", None, 409, "is not a regular file"),
        ("GET", _files(session) + f"?path={remote_dir}/none", None, 404, "does not exist on the target"),
        ("POST", _files(session, "/mkdir"), {"path": f"{remote_dir}/a/b"}, 404, f"{remote_dir}/a does not exist"),
        ("POST", _files(session, "/mkdir"), {"path": f"{remote_dir}/.."}, 400, "'..' is not a valid file name"),
        ("POST", _files(session, "/rename"), {"from": f"{remote_dir}/x"}, 400, "to: Field required"),
        ("POST", _files(session, "/mkdir"), {"path": "a\nb"}, 400, "the path contains control characters"),
    ]
    for method, path, body, status, message in cases:
        answer = await gateway.api(method, path, body, expect=status)
        assert message in answer["error"]["message"], (path, answer)
    url = gateway.url + _files(session, "/upload")
    async with gateway.http.put(
        url, params={"path": f"{remote_dir}/f", "overwrite": "maybe"}, data=b"", headers=gateway.headers
    ) as resp:
        assert resp.status == 400
        assert "overwrite: Input should be a valid boolean" in (await resp.json())["error"]["message"]
