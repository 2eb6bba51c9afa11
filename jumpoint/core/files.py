"""Remote file access for a live session: what an adapter offers (SFTP for SSH), and the allowed-roots scope.

A connection that can move files implements :class:`SupportsFiles`; its :class:`RemoteFiles` works on the
target's own paths. :class:`ScopedFiles` wraps it for one request: every path is made canonical *on the target*
(so ``..`` and symbolic links cannot lead outside) and must lie under one of the user's allowed roots. Readers
and writers move data in bounded chunks, so a large file is never held in memory.
"""

from __future__ import annotations

import contextlib
import posixpath
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from jumpoint.core.errors import BadRequest, Forbidden, NotFound

FileKind = Literal["file", "dir", "link", "other"]
PATH_MAX = 4096
NAME_MAX = 255
LIST_MAX = 5000


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One directory entry, as the target reports it (``mode`` holds the type and permission bits)."""

    name: str
    kind: FileKind
    size: int
    mtime: float | None
    mode: int | None


class FileReader(Protocol):
    """An open remote file being downloaded."""

    size: int

    async def read(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` bytes; ``b""`` at the end of the file."""
        ...

    async def close(self) -> None:
        """Close the remote file; idempotent."""
        ...


class FileWriter(Protocol):
    """A remote file being uploaded: nothing appears at its final path until :meth:`commit`."""

    async def write(self, data: bytes) -> None:
        """Append ``data``."""
        ...

    async def commit(self, *, overwrite: bool) -> None:
        """Close the file and move it to its final path (Conflict if something is there and not ``overwrite``)."""
        ...

    async def abort(self) -> None:
        """Close and remove what was written so far; idempotent."""
        ...


class RemoteFiles(Protocol):
    """File operations on the target. Paths are the target's; errors are JumpErrors naming the path."""

    async def home(self) -> str:
        """The login's home directory (where a browser starts)."""
        ...

    async def realpath(self, path: str) -> str:
        """The canonical absolute path of an existing ``path`` (links resolved)."""
        ...

    async def stat(self, path: str) -> FileEntry:
        """``path`` itself (links not followed)."""
        ...

    async def listdir(self, path: str, limit: int) -> tuple[list[FileEntry], bool]:
        """At most ``limit`` entries of a directory (without ``.`` and ``..``), and whether more exist."""
        ...

    async def open_read(self, path: str) -> FileReader:
        """Open a regular file for download."""
        ...

    async def open_write(self, path: str, *, overwrite: bool) -> FileWriter:
        """Start an upload to ``path``; Conflict if it exists and ``overwrite`` is false."""
        ...

    async def rename(self, old: str, new: str) -> None:
        """Rename ``old`` to ``new``; Conflict if ``new`` exists."""
        ...

    async def remove(self, path: str) -> None:
        """Delete a file, a link or an empty directory; Conflict for a directory that is not empty."""
        ...

    async def mkdir(self, path: str) -> None:
        """Create a directory; Conflict if something exists there."""
        ...


@runtime_checkable
class SupportsFiles(Protocol):
    """A connection that can transfer files."""

    async def files(self) -> RemoteFiles:
        """The connection's file access, opened on first use and closed with the connection."""
        ...


def check_name(name: str) -> str:
    """A single path component a user typed: not empty, not ``.``/``..``, no ``/`` or NUL, at most 255 bytes."""
    if name in ("", ".", "..") or "/" in name or "\x00" in name:
        raise BadRequest(
            f"{name[:64]!r} is not a valid file name", hint="a name cannot be empty, '.', '..' or hold '/'"
        )
    if len(name.encode()) > NAME_MAX:
        raise BadRequest(f"the file name is longer than {NAME_MAX} bytes")
    return name


def check_path(path: str) -> str:
    """A path a user sent: at most 4096 bytes, no NUL, no control characters."""
    if len(path.encode()) > PATH_MAX:
        raise BadRequest(f"the path is longer than {PATH_MAX} bytes")
    if any(ord(ch) < 32 for ch in path):
        raise BadRequest("the path contains control characters")
    return path


def within(path: str, root: str) -> bool:
    """Whether canonical ``path`` is ``root`` or lies under it."""
    return root == "/" or path == root or path.startswith(root.rstrip("/") + "/")


class ScopedFiles:
    """One user's view of a target's files: paths resolved on the target and kept under the allowed roots.

    ``roots`` empty means anywhere. Existing paths are resolved with the target's ``realpath``; a path that does
    not exist yet (an upload, a new directory, a rename's destination) is its resolved parent plus a checked name.
    """

    def __init__(self, files: RemoteFiles, roots: list[str]) -> None:
        self.files = files
        self.roots = [posixpath.normpath(r) for r in roots]
        self._real_roots: list[str] | None = None

    async def start(self) -> str:
        """Where browsing starts: the home directory if allowed, else the first root."""
        home = await self.files.home()
        if await self._allowed(home):
            return home
        return (await self._resolved_roots())[0]

    async def existing(self, path: str) -> str:
        """The canonical path of an existing ``path`` the user may reach; Forbidden outside the roots."""
        real = await self.files.realpath(check_path(path) or ".")
        if not await self._allowed(real):
            raise Forbidden(f"{path} is outside the folders you may use", hint=f"allowed: {', '.join(self.roots)}")
        return real

    async def new(self, path: str) -> str:
        """The canonical path for something to be created at ``path`` (its parent must exist and be allowed).

        BadRequest for a bad final name (``.``, ``..`` ...); Forbidden for an allowed folder itself."""
        check_path(path)
        parent, name = posixpath.split(path.rstrip("/") or "/")
        check_name(name)
        return await self._not_a_root(posixpath.join(await self.existing(parent or "."), name))

    async def entry(self, path: str) -> tuple[str, FileEntry]:
        """An existing path to rename or delete, and its entry, without following a final link (so deleting a link
        deletes the link).

        The final name must be a real one: a path ending in ``.`` or ``..`` is a BadRequest, since resolving it
        would name its parent or grandparent. Forbidden for an allowed folder itself (or ``/``)."""
        check_path(path)
        parent, name = posixpath.split(path.rstrip("/") or "/")
        if name in (".", ".."):
            raise BadRequest(
                f"{path} ends in {name!r}", hint="name the file or folder itself, without a final '.' or '..'"
            )
        if name:
            real = posixpath.join(await self.existing(parent or "."), check_name(name))
        else:  # the path is "/"
            real = await self.existing("/")
        await self._not_a_root(real)
        return real, await self.files.stat(real)

    async def _not_a_root(self, real: str) -> str:
        """``real``, unless it is an allowed folder (or ``/``): those cannot be renamed, deleted or replaced."""
        roots = {"/", *self.roots, *(await self._resolved_roots() if self.roots else [])}
        if real in roots:
            raise Forbidden(
                f"{real} is an allowed folder: it cannot itself be renamed, deleted or replaced",
                hint="work on the files and folders inside it",
            )
        return real

    async def _allowed(self, real: str) -> bool:
        if not self.roots:
            return True
        return any(within(real, root) for root in await self._resolved_roots())

    async def _resolved_roots(self) -> list[str]:
        if self._real_roots is None:
            resolved: list[str] = []
            for root in self.roots:
                with contextlib.suppress(NotFound):  # a root missing on this target allows nothing there
                    resolved.append(await self.files.realpath(root))
            if not resolved:
                raise Forbidden(
                    "none of the folders you may use exists on this target",
                    hint=f"allowed: {', '.join(self.roots)}; ask an administrator",
                )
            self._real_roots = resolved
        return self._real_roots
