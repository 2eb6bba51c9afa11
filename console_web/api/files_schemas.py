"""Request and response models of the file-transfer API (``/sessions/{id}/files``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from console_web.api.schemas import Body, Out

RemotePath = Annotated[str, Field(min_length=1, max_length=4096)]


class ListQuery(Body):
    """``path`` empty: where browsing starts (the home directory, or the first allowed folder)."""

    path: Annotated[str, Field(max_length=4096)] = ""


class PathQuery(Body):
    """One remote path."""

    path: RemotePath


class UploadQuery(Body):
    """Where the uploaded file goes (its full path), and whether an existing file may be replaced."""

    path: RemotePath
    overwrite: bool = False


class RenameIn(Body):
    """Rename (or move) ``from`` to ``to``; ``to`` must not exist."""

    from_: RemotePath = Field(alias="from")
    to: RemotePath


class MkdirIn(Body):
    """A new directory."""

    path: RemotePath


class FileEntryOut(Out):
    """A directory entry: ``mode`` like ``-rw-r--r--``; ``mtime`` is null when the target does not say."""

    name: str
    kind: Literal["file", "dir", "link", "other"]
    size: int
    mtime: datetime | None
    mode: str | None


class FileListOut(Out):
    """A directory: entries sorted directories first, then by name; at most 5000 (``truncated``). ``parent`` is
    null at ``/`` and at an allowed folder (the user may not go above it)."""

    path: str
    parent: str | None
    entries: list[FileEntryOut]
    truncated: bool
    can_upload: bool
    can_download: bool
    roots: list[str]


class FileDoneOut(Out):
    """The canonical path an operation acted on (and the size, for uploads)."""

    path: str
    size: int | None = None
