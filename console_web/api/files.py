"""``/sessions/{id}/files``: SFTP file transfer on a live SSH session, for its owner and peers.

Each request opens one file channel through the session's Jumpoint (see console_web/hub/file_channel.py).
Downloads and uploads stream in bounded chunks: the console holds at most one flow-control window per
transfer. The user's permissions (upload, download, allowed folders) are read from the database on every
request; the folders are enforced on the Jumpoint against the target's canonical paths. Every transfer,
rename, delete and new folder, refused ones too, is an audit event with the path, the size and the result; the
transfers that began and the changes made are also a system event in the session's timeline.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import posixpath
import stat
import urllib.parse
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from console_web.api.bodies import json_model, no_content, read_body, read_query
from console_web.api.context import client_ip, db_of, principal_of
from console_web.api.files_schemas import (
    FileDoneOut,
    FileEntryOut,
    FileListOut,
    ListQuery,
    MkdirIn,
    PathQuery,
    RenameIn,
    UploadQuery,
)
from console_web.api.hubapi import hub_of
from console_web.api.routing import endpoint
from console_web.auth.principal import Principal
from console_web.db.models import User
from console_web.db.repo import add_audit
from console_web.hub.file_channel import FileOp, FileOperation
from jumpoint.core import wire
from jumpoint.core.errors import BadRequest, Cancelled, Forbidden, JumpError, NotFound

log = logging.getLogger(__name__)

UPLOAD_CHUNK = 256 * 1024
TAG = "files"


class _Permissions:
    def __init__(self, user: User) -> None:
        self.upload = bool(user.file_upload)
        self.download = bool(user.file_download)
        self.roots: tuple[str, ...] = tuple(user.file_roots or ())


async def _permissions(request: web.Request, principal: Principal) -> _Permissions:
    async with db_of(request).session() as session:
        user = await session.get(User, principal.user_id)
        if user is None:
            raise Forbidden("your account no longer exists")
        return _Permissions(user)


def _session_id(request: web.Request) -> str:
    session_id = request.match_info.get("id", "")
    if not 1 <= len(session_id) <= 64:
        raise NotFound("session does not exist")
    return session_id


async def _audit(request: web.Request, action: str, session_id: str, detail: dict[str, Any]) -> None:
    principal = principal_of(request)
    async with db_of(request).session() as session:
        add_audit(
            session,
            action=action,
            actor_user_id=principal.user_id,
            source_address=client_ip(request),
            session_id=session_id,
            detail=detail,
        )


def _size_text(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def _outcome(exc: BaseException | None) -> dict[str, Any]:
    if exc is None:
        return {"result": "ok"}
    if isinstance(exc, JumpError):
        if exc.code == "cancelled":
            return {"result": "cancelled"}
        return {"result": "failed", "error": exc.message}
    return {"result": "cancelled"}  # the browser went away


def _entry_out(entry: wire.FileEntryMsg) -> FileEntryOut:
    return FileEntryOut(
        name=entry.name,
        kind=entry.kind,
        size=entry.size,
        mtime=datetime.fromtimestamp(entry.mtime, UTC) if entry.mtime is not None else None,
        mode=stat.filemode(entry.mode) if entry.mode is not None else None,
    )


@endpoint(
    "GET",
    "/sessions/{id}/files",
    access="user",
    summary="List a directory on the session's target",
    tag=TAG,
    query=ListQuery,
    response=FileListOut,
)
async def list_files(request: web.Request) -> web.StreamResponse:
    """A directory listing (owner and peers of a live SSH session; within the user's allowed folders)."""
    principal = principal_of(request)
    query = read_query(request, ListQuery)
    perms = await _permissions(request, principal)
    channel = await hub_of(request).open_file_channel(
        _session_id(request), principal, FileOp("list", path=query.path, roots=perms.roots)
    )
    result = await channel.done()
    assert result is not None
    entries = sorted(channel.entries, key=lambda e: (e.kind != "dir", e.name))
    path = result.path
    at_top = path == "/" or path in perms.roots  # above an allowed folder is out of reach
    return json_model(
        FileListOut(
            path=path,
            parent=None if at_top else posixpath.dirname(path),
            entries=[_entry_out(e) for e in entries],
            truncated=result.truncated,
            can_upload=perms.upload,
            can_download=perms.download,
            roots=list(perms.roots),
        )
    )


@endpoint(
    "GET",
    "/sessions/{id}/files/download",
    access="user",
    summary="Download a file from the session's target",
    tag=TAG,
    query=PathQuery,
    description="The bytes, streamed (Content-Length, Content-Disposition attachment).",
)
async def download_file(request: web.Request) -> web.StreamResponse:
    """Stream a remote file to the browser; the attempt is audited with its outcome, even when refused."""
    principal = principal_of(request)
    session_id = _session_id(request)
    query = read_query(request, PathQuery)
    path, sent = query.path, 0
    channel: FileOperation | None = None
    failure: BaseException | None = None
    try:
        perms = await _permissions(request, principal)
        if not perms.download:
            raise Forbidden("you may not download files", hint="an administrator can allow it on your account")
        op = FileOp("download", path=query.path, roots=perms.roots)
        channel = await hub_of(request).open_file_channel(session_id, principal, op)
        assert channel.result is not None
        path, size = channel.result.path, channel.result.size or 0
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Length": str(size),
                "Content-Disposition": _attachment(posixpath.basename(path)),
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            }
        )
        await response.prepare(request)
        while (chunk := await channel.read()) is not None:
            await response.write(chunk)
            sent += len(chunk)
        await channel.done()
        if sent != size:
            raise BadRequest(f"the file changed size while it was downloaded ({sent} of {size} bytes)")
        await response.write_eof()
        return response
    except BaseException as exc:
        failure = exc
        if channel is not None:
            await channel.cancel()
        raise
    finally:
        moved = sent if channel is not None else None
        await _finish(request, "file.download", session_id, path, moved, failure, "downloaded")


@endpoint(
    "PUT",
    "/sessions/{id}/files/upload",
    access="user",
    summary="Upload a file to the session's target",
    tag=TAG,
    query=UploadQuery,
    response=FileDoneOut,
    status=201,
    streamed_body=True,
    description="The body is the file's bytes (Content-Length required). Nothing appears at `path` unless the "
    "whole file arrived; 409 when it exists and `overwrite` is false.",
)
async def upload_file(request: web.Request) -> web.StreamResponse:
    """Stream the request body to a remote file; the attempt is audited with its outcome, even when refused."""
    principal = principal_of(request)
    session_id = _session_id(request)
    query = read_query(request, UploadQuery)
    path, received = query.path, 0
    channel: FileOperation | None = None
    failure: BaseException | None = None
    try:
        size = request.content_length
        if size is None:
            raise BadRequest("an upload needs a Content-Length header", hint="send the file as the request body")
        perms = await _permissions(request, principal)
        if not perms.upload:
            raise Forbidden("you may not upload files", hint="an administrator can allow it on your account")
        op = FileOp("upload", path=query.path, size=size, overwrite=query.overwrite, roots=perms.roots)
        channel = await hub_of(request).open_file_channel(session_id, principal, op)
        assert channel.result is not None
        path = channel.result.path
        chunks = request.content.iter_chunked(UPLOAD_CHUNK)
        while chunk := await _body_chunk(chunks, received, size):
            received += len(chunk)
            await channel.write(chunk)
        if received != size:
            raise Cancelled(f"the upload was cancelled after {received} of {size} bytes")
        await channel.finish()
        return json_model(FileDoneOut(path=path, size=received), status=201)
    except BaseException as exc:
        failure = exc
        if channel is not None:
            await channel.cancel()
        raise
    finally:
        moved = received if channel is not None else None
        await _finish(request, "file.upload", session_id, path, moved, failure, "uploaded")


async def _body_chunk(chunks: AsyncIterator[bytes], received: int, size: int) -> bytes:
    """The next piece of an upload's body, ``b""`` at its end. Cancelled (audited ``cancelled``) when the browser
    aborted it; BadRequest when the body is malformed."""
    try:
        return await anext(chunks, b"")
    except (ConnectionError, asyncio.IncompleteReadError) as exc:
        raise Cancelled(f"the upload was cancelled after {received} of {size} bytes") from exc
    except Exception as exc:
        raise BadRequest(f"the upload was interrupted after {received} of {size} bytes") from exc


async def _finish(
    request: web.Request,
    action: str,
    session_id: str,
    path: str,
    size: int | None,
    failure: BaseException | None,
    verb: str,
) -> None:
    """Audit a transfer and tell the session; never lets an audit failure hide the transfer's own outcome.

    ``path``: the canonical path once the Jumpoint resolved it, else as asked. ``size``: the bytes moved, or None
    for an attempt refused before the transfer began (audited without a size, and not told to the session)."""
    outcome = _outcome(failure)
    principal = principal_of(request)
    detail = {"path": path, **({"size": size} if size is not None else {}), **outcome}
    try:
        await _audit(request, action, session_id, detail)
    except Exception:
        log.exception("could not write the audit event for %s of %s by %s", action, path, principal.username)
    if size is None:
        return
    if outcome["result"] == "ok":
        text = f"{principal.display_name or principal.username} {verb} {path} ({_size_text(size)})"
    else:
        text = f"{principal.display_name or principal.username}: {action.split('.')[1]} of {path} {outcome['result']}"
    await hub_of(request).note_file_event(session_id, text)


async def _changes_allowed(request: web.Request) -> tuple[str, ...]:
    """Rename, delete and new folders change the target like an upload does: they need the upload right.

    Returns the user's allowed folders."""
    perms = await _permissions(request, principal_of(request))
    if not perms.upload:
        raise Forbidden(
            "you may not change files on the target", hint="an administrator can allow uploads on your account"
        )
    return perms.roots


async def _simple(request: web.Request, op: FileOp) -> tuple[wire.FileResult, wire.FileResult]:
    """Rename, delete and mkdir (``op`` without the roots: they are the user's): the Jumpoint's first and last
    results (the same for delete and mkdir; for a rename, the source and the destination). Audited either way,
    even when refused, with the canonical paths the Jumpoint resolved (as asked until it resolved them)."""
    principal = principal_of(request)
    session_id = _session_id(request)
    detail: dict[str, Any] = {"from": op.path, "to": op.to} if op.op == "rename" else {"path": op.path}
    failure: BaseException | None = None
    try:
        roots = await _changes_allowed(request)
        channel = await hub_of(request).open_file_channel(session_id, principal, dataclasses.replace(op, roots=roots))
        first = channel.result
        assert first is not None
        detail["from" if op.op == "rename" else "path"] = first.path
        last = await channel.done() or first
        if op.op == "rename":
            detail["to"] = last.path
        return first, last
    except BaseException as exc:
        failure = exc
        raise
    finally:
        await _audit(request, f"file.{op.op}", session_id, {**detail, **_outcome(failure)})


@endpoint(
    "POST",
    "/sessions/{id}/files/rename",
    access="user",
    summary="Rename or move a file or directory on the session's target",
    tag=TAG,
    body=RenameIn,
    response=FileDoneOut,
)
async def rename_file(request: web.Request) -> web.StreamResponse:
    """Rename ``from`` to ``to`` (409 if ``to`` exists)."""
    body = await read_body(request, RenameIn)
    source, result = await _simple(request, FileOp("rename", path=body.from_, to=body.to))
    await hub_of(request).note_file_event(
        _session_id(request), f"{_name(request)} renamed {source.path} to {result.path}"
    )
    return json_model(FileDoneOut(path=result.path))


@endpoint(
    "POST",
    "/sessions/{id}/files/mkdir",
    access="user",
    summary="Create a directory on the session's target",
    tag=TAG,
    body=MkdirIn,
    response=FileDoneOut,
    status=201,
)
async def make_directory(request: web.Request) -> web.StreamResponse:
    """Create a directory (409 if something exists there)."""
    body = await read_body(request, MkdirIn)
    _, result = await _simple(request, FileOp("mkdir", path=body.path))
    await hub_of(request).note_file_event(_session_id(request), f"{_name(request)} created the folder {result.path}")
    return json_model(FileDoneOut(path=result.path), status=201)


@endpoint(
    "DELETE",
    "/sessions/{id}/files",
    access="user",
    summary="Delete a file, link or empty directory on the session's target (permanently)",
    tag=TAG,
    query=PathQuery,
    status=204,
)
async def delete_file(request: web.Request) -> web.StreamResponse:
    """Delete permanently; a directory that is not empty is a 409."""
    query = read_query(request, PathQuery)
    _, result = await _simple(request, FileOp("delete", path=query.path))
    await hub_of(request).note_file_event(_session_id(request), f"{_name(request)} deleted {result.path}")
    return no_content()


def _name(request: web.Request) -> str:
    principal = principal_of(request)
    return principal.display_name or principal.username


def _attachment(name: str) -> str:
    """A Content-Disposition header for any file name (ASCII fallback plus RFC 5987 UTF-8 form)."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(name, safe='')}"
