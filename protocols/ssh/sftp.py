"""SFTP file access on a logged-in SSH connection, as the core :class:`~jumpoint.core.files.RemoteFiles`.

One SFTP subsystem channel per connection, opened on first use. Every asyncssh error leaves as a JumpError
that names the path: a missing path is the user's (NotFound), a refusal by the server is the target's
(TargetDenied), anything else is a TargetError. Uploads go to a hidden temporary name in the same directory
(created exclusively) and are renamed into place on commit, so an interrupted upload never leaves a partial
file under the real name; the temporary file is removed on abort.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import secrets
import stat
from collections.abc import Awaitable
from typing import TypeVar

import asyncssh

from jumpoint.core.errors import Conflict, JumpError, NotFound, TargetDenied, TargetError
from jumpoint.core.files import FileEntry, FileKind

_T = TypeVar("_T")

PART_SUFFIX = ".ojpart-"


def _kind(attrs: asyncssh.SFTPAttrs) -> FileKind:
    mode = attrs.permissions
    if mode is None:
        return "other"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "link"
    return "other"


def _entry(name: str, attrs: asyncssh.SFTPAttrs) -> FileEntry:
    return FileEntry(
        name=name,
        kind=_kind(attrs),
        size=attrs.size or 0,
        mtime=float(attrs.mtime) if attrs.mtime is not None else None,
        mode=attrs.permissions,
    )


def from_sftp_error(path: str, exc: BaseException) -> JumpError:
    """An asyncssh SFTP (or channel) failure on ``path`` as a JumpError a user can act on."""
    if isinstance(exc, asyncssh.SFTPNoSuchFile | asyncssh.SFTPNoSuchPath):
        return NotFound(f"{path} does not exist on the target")
    if isinstance(exc, asyncssh.SFTPPermissionDenied | asyncssh.SFTPWriteProtect):
        return TargetDenied(
            f"the target does not allow this login to do that with {path}",
            hint="the remote file permissions decide what the Jump Item's account may read and write",
        )
    if isinstance(exc, asyncssh.SFTPFileAlreadyExists):
        return Conflict(f"{path} already exists")
    if isinstance(exc, asyncssh.SFTPNoSpaceOnFilesystem | asyncssh.SFTPQuotaExceeded):
        return TargetError(f"the target has no space left for {path}", hint="free space on the target")
    reason = getattr(exc, "reason", "") or type(exc).__name__
    return TargetError(f"the target failed on {path}: {reason}")


async def _on(path: str, step: Awaitable[_T]) -> _T:
    try:
        return await step
    except (asyncssh.Error, OSError) as exc:
        raise from_sftp_error(path, exc) from exc


class SftpReader:
    """A remote file open for download."""

    def __init__(self, path: str, handle: asyncssh.SFTPClientFile, size: int) -> None:
        self.path = path
        self.size = size
        self._handle = handle
        self._closed = False

    async def read(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` (asyncssh pipelines the requests); ``b""`` at the end."""
        data = await _on(self.path, self._handle.read(max_bytes))
        return data if isinstance(data, bytes) else data.encode()

    async def close(self) -> None:
        """Close the handle; idempotent, never raises."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(Exception):
                await self._handle.close()


class SftpWriter:
    """An upload to ``final``, written to ``part`` until committed."""

    def __init__(self, sftp: asyncssh.SFTPClient, final: str, part: str, handle: asyncssh.SFTPClientFile) -> None:
        self._sftp = sftp
        self.final = final
        self.part = part
        self._handle = handle
        self._done = False

    async def write(self, data: bytes) -> None:
        """Append ``data`` to the temporary file."""
        await _on(self.final, self._handle.write(data))

    async def commit(self, *, overwrite: bool) -> None:
        """Close and move into place; without ``overwrite`` an existing file at the final path is a Conflict."""
        await _on(self.final, self._handle.close())
        try:
            if overwrite:
                await _on(self.final, self._sftp.posix_rename(self.part, self.final))
            else:
                # SFTPv3 RENAME refuses an existing destination, so a file that appeared meanwhile is not clobbered
                await _on(self.final, self._sftp.rename(self.part, self.final))
        except JumpError as exc:
            await self.abort()
            if not overwrite and await _exists(self._sftp, self.final):
                raise Conflict(f"{self.final} already exists", hint="choose Overwrite, or rename the file") from exc
            raise
        self._done = True

    async def abort(self) -> None:
        """Close and remove the temporary file; idempotent, never raises."""
        if self._done:
            return
        self._done = True
        with contextlib.suppress(Exception):
            await self._handle.close()
        with contextlib.suppress(Exception):
            await self._sftp.remove(self.part)


async def _exists(sftp: asyncssh.SFTPClient, path: str) -> bool:
    try:
        await sftp.lstat(path)
    except (asyncssh.Error, OSError):
        return False
    return True


class SftpFiles:
    """File access through one SFTP session; see the module docstring."""

    def __init__(self, sftp: asyncssh.SFTPClient) -> None:
        self._sftp = sftp

    async def home(self) -> str:
        """The login's home directory (SFTP resolves '.' there)."""
        return await self.realpath(".")

    async def realpath(self, path: str) -> str:
        """Canonical path of an existing ``path``; NotFound if it does not exist."""
        real = await _on(path, self._sftp.realpath(path))
        # OpenSSH's realpath does not check that the last component exists; stat does
        await _on(path, self._sftp.stat(real))
        return str(real)

    async def stat(self, path: str) -> FileEntry:
        """``path`` itself, links not followed."""
        attrs = await _on(path, self._sftp.lstat(path))
        return _entry(posixpath.basename(path) or path, attrs)

    async def listdir(self, path: str, limit: int) -> tuple[list[FileEntry], bool]:
        """At most ``limit`` entries of ``path`` (no ``.``/``..``) and whether there were more."""
        entries: list[FileEntry] = []
        try:
            async for name in self._sftp.scandir(path):
                filename = str(name.filename)
                if filename in (".", ".."):
                    continue
                if len(entries) >= limit:
                    return entries, True
                entries.append(_entry(filename, name.attrs))
        except (asyncssh.Error, OSError) as exc:
            raise from_sftp_error(path, exc) from exc
        return entries, False

    async def open_read(self, path: str) -> SftpReader:
        """Open a regular file (links followed) for download."""
        attrs = await _on(path, self._sftp.stat(path))
        if _kind(attrs) != "file":
            raise Conflict(f"{path} is not a regular file, so it cannot be downloaded")
        handle = await _on(path, self._sftp.open(path, "rb", encoding=None))
        return SftpReader(path, handle, attrs.size or 0)

    async def open_write(self, path: str, *, overwrite: bool) -> SftpWriter:
        """Start an upload to ``path`` (Conflict at once if it exists and ``overwrite`` is false)."""
        existing = await self._lstat_or_none(path)
        if existing is not None:
            if not overwrite:
                raise Conflict(f"{path} already exists", hint="choose Overwrite, or rename the file")
            if _kind(existing) == "dir":
                raise Conflict(f"{path} is a directory; a file cannot replace it")
        directory, name = posixpath.split(path)
        part = posixpath.join(directory, f".{name[:200]}{PART_SUFFIX}{secrets.token_hex(4)}")
        handle = await _on(path, self._sftp.open(part, "xb", encoding=None))
        return SftpWriter(self._sftp, path, part, handle)

    async def rename(self, old: str, new: str) -> None:
        """Rename; Conflict if ``new`` exists."""
        if await self._lstat_or_none(new) is not None:
            raise Conflict(f"{new} already exists")
        await _on(old, self._sftp.rename(old, new))

    async def remove(self, path: str) -> None:
        """Delete a file or link, or an empty directory (Conflict when it is not empty)."""
        attrs = await _on(path, self._sftp.lstat(path))
        if _kind(attrs) == "dir":
            entries, _ = await self.listdir(path, 1)
            if entries:
                raise Conflict(f"{path} is not empty", hint="delete what it holds first")
            await _on(path, self._sftp.rmdir(path))
        else:
            await _on(path, self._sftp.remove(path))

    async def mkdir(self, path: str) -> None:
        """Create a directory; Conflict if something exists at ``path``."""
        if await self._lstat_or_none(path) is not None:
            raise Conflict(f"{path} already exists")
        await _on(path, self._sftp.mkdir(path))

    async def close(self) -> None:
        """End the SFTP session (the SSH connection stays)."""
        self._sftp.exit()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._sftp.wait_closed(), 5.0)

    async def _lstat_or_none(self, path: str) -> asyncssh.SFTPAttrs | None:
        try:
            return await self._sftp.lstat(path)
        except asyncssh.SFTPNoSuchFile:
            return None
        except (asyncssh.Error, OSError) as exc:
            raise from_sftp_error(path, exc) from exc
