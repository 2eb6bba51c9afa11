"""One file operation on the Jumpoint: a tunnel channel bridged to the SFTP (or other) files of a live session.

The console opens a channel with ``file_open`` naming the session's channel; the runner resolves every path on
the target within the user's allowed roots (:class:`~jumpoint.core.files.ScopedFiles`), answers ``file_result``,
moves the bytes within the channel's flow-control windows (so memory stays bounded whatever the file size), and
always ends with ``closed`` (carrying the error if the operation failed). A ``close`` from the console cancels:
an unfinished upload is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from jumpoint.core import wire
from jumpoint.core.errors import BadRequest, Cancelled, InternalError, JumpError, ProtocolViolation
from jumpoint.core.files import LIST_MAX, FileEntry, FileWriter, RemoteFiles, ScopedFiles, SupportsFiles
from jumpoint.core.flow import ReceiveWindow, SendWindow

log = logging.getLogger(__name__)

SendFrame = Callable[[bytes], Awaitable[None]]
READ_CHUNK = 256 * 1024
WRITE_BATCH = 256 * 1024
ENTRIES_BATCH_BYTES = 48 * 1024
ENTRIES_BATCH_MAX = 1000


class FileRunner:
    """Runs one ``file_open`` on its channel; see the module docstring."""

    def __init__(self, channel: int, msg: wire.FileOpen, *, connection: object, send_frame: SendFrame) -> None:
        self.channel = channel
        self.msg = msg
        self._connection = connection
        self._send_frame = send_frame
        self._out_window = SendWindow(wire.INITIAL_WINDOW)
        self._in_window = ReceiveWindow(wire.INITIAL_WINDOW)
        self._incoming: asyncio.Queue[bytes | None] = asyncio.Queue()  # bounded by the receive window
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self.log = logging.LoggerAdapter(log, {"channel": channel, "op": msg.op})

    # --- frames from the console -----------------------------------------------------------------
    def on_data(self, payload: bytes) -> None:
        """Upload bytes (only ``upload`` takes DATA). ProtocolViolation for an empty DATA frame: it would count
        nothing against the window, so such frames could queue here without bound."""
        if self.msg.op != "upload":
            raise ProtocolViolation(f"DATA on a {self.msg.op} file channel")
        if not payload:
            raise ProtocolViolation("an empty DATA frame on a file channel")
        self._in_window.received(len(payload))
        self._incoming.put_nowait(payload)

    def on_credit(self, grant: int) -> None:
        """The console consumed download bytes."""
        self._out_window.grant(grant)

    def on_control(self, msg: wire.ControlMessage) -> None:
        """``file_end`` finishes an upload; ``close`` cancels."""
        if isinstance(msg, wire.FileEnd) and self.msg.op == "upload":
            self._incoming.put_nowait(None)
        elif isinstance(msg, wire.Close):
            self.abort()
        else:
            raise ProtocolViolation(f"unexpected {msg.t!r} message on a file channel")

    def abort(self) -> None:
        """Cancel the operation (console request, tunnel loss, shutdown)."""
        if self._closed:
            return
        self._closed = True
        self._out_window.close()
        if self._task is not None:
            self._task.cancel()

    # --- the operation ---------------------------------------------------------------------------
    async def run(self) -> None:
        """Do the operation and always end with ``closed``."""
        error: JumpError | None = None
        self._task = asyncio.current_task()
        try:
            if not isinstance(self._connection, SupportsFiles):
                raise BadRequest("this session's protocol has no file transfer")
            scoped = ScopedFiles(await self._connection.files(), list(self.msg.roots))
            await self._dispatch(scoped)
        except asyncio.CancelledError:
            error = Cancelled("the file transfer was cancelled")
        except JumpError as exc:
            error = exc
            self.log.info("file %s of %s failed: %s", self.msg.op, self.msg.path, exc.message)
        except Exception:
            self.log.exception("file %s failed unexpectedly", self.msg.op)
            error = InternalError("the Jumpoint failed during the file operation; its log has the details")
        self._closed = True
        body = wire.ErrorBody(**error.to_dict()) if error is not None else None
        with contextlib.suppress(Exception):
            await self._control(wire.Closed(reason=error.message[:4096] if error else "", error=body))

    async def _dispatch(self, scoped: ScopedFiles) -> None:
        msg, files = self.msg, scoped.files
        if msg.op == "list":
            await self._list(scoped, await scoped.existing(msg.path) if msg.path else await scoped.start())
        elif msg.op == "download":
            await self._download(files, await scoped.existing(msg.path))
        elif msg.op == "upload":
            await self._upload(files, await scoped.new(msg.path))
        elif msg.op == "rename":
            if msg.to is None:
                raise BadRequest("rename needs 'to'")
            old, entry = await scoped.entry(msg.path)
            new = await scoped.new(msg.to)
            await self._control(wire.FileResult(path=old, kind=entry.kind))  # what is renamed, for the audit
            await files.rename(old, new)
            self.log.info("renamed %s to %s", old, new)
            await self._control(wire.FileResult(path=new, kind=entry.kind))
        elif msg.op == "delete":
            path, entry = await scoped.entry(msg.path)
            await files.remove(path)
            self.log.info("deleted %s", path)
            await self._control(wire.FileResult(path=path, kind=entry.kind, size=entry.size))
        elif msg.op == "mkdir":
            path = await scoped.new(msg.path)
            await files.mkdir(path)
            self.log.info("created directory %s", path)
            await self._control(wire.FileResult(path=path, kind="dir"))

    async def _list(self, scoped: ScopedFiles, path: str) -> None:
        entry = await scoped.files.stat(path)
        if entry.kind != "dir":
            raise BadRequest(f"{path} is not a directory")
        entries, truncated = await scoped.files.listdir(path, LIST_MAX)
        batch: list[wire.FileEntryMsg] = []
        size = 0
        for item in entries:
            msg = _entry_msg(item)
            batch.append(msg)
            size += len(msg.model_dump_json()) + 1  # exact: names with control characters grow when escaped
            if size >= ENTRIES_BATCH_BYTES or len(batch) >= ENTRIES_BATCH_MAX:
                await self._control(wire.FileEntries(entries=batch))
                batch, size = [], 0
        if batch:
            await self._control(wire.FileEntries(entries=batch))
        await self._control(wire.FileResult(path=path, kind="dir", truncated=truncated))

    async def _download(self, files: RemoteFiles, path: str) -> None:
        """Send the file's first ``size`` bytes, the size announced: of a file growing meanwhile (a live log), what
        it held when opened; one that shrank arrives short, and the console reports it."""
        reader = await files.open_read(path)
        try:
            await self._control(wire.FileResult(path=path, kind="file", size=reader.size))
            sent = 0
            while sent < reader.size:
                data = await reader.read(min(READ_CHUNK, reader.size - sent))
                if not data:
                    break
                view = memoryview(data)
                while view:
                    n = await self._out_window.acquire(min(len(view), wire.MAX_PAYLOAD))
                    await self._send_frame(wire.encode_data(self.channel, bytes(view[:n])))
                    view = view[n:]
                sent += len(data)
            self.log.info("sent %s (%d bytes)", path, sent)
        finally:
            await reader.close()

    async def _upload(self, files: RemoteFiles, path: str) -> None:
        expected = self.msg.size
        if expected is None:
            raise BadRequest("an upload needs its size")
        writer: FileWriter = await files.open_write(path, overwrite=self.msg.overwrite)
        try:
            await self._control(wire.FileResult(path=path, kind="file", size=expected))
            received = await self._receive_into(writer, expected)
            if received != expected:
                raise BadRequest(f"the upload sent {received} bytes but announced {expected}")
            await writer.commit(overwrite=self.msg.overwrite)
        except BaseException:
            await writer.abort()
            raise
        self.log.info("received %s (%d bytes)", path, received)
        await self._control(wire.FileResult(path=path, kind="file", size=received))

    async def _receive_into(self, writer: FileWriter, expected: int) -> int:
        received = 0
        pending: list[bytes] = []
        pending_size = 0
        while True:
            chunk = await self._incoming.get()
            if chunk is not None:
                pending.append(chunk)
                pending_size += len(chunk)
                received += len(chunk)
                if received > expected:
                    raise BadRequest(f"the upload sent more than the {expected} bytes it announced")
            if pending and (chunk is None or pending_size >= WRITE_BATCH):
                await writer.write(b"".join(pending))
                grant = self._in_window.consumed(pending_size)
                pending, pending_size = [], 0
                if grant:
                    await self._send_frame(wire.encode_credit(self.channel, grant))
            if chunk is None:
                return received

    async def _control(self, msg: Any) -> None:
        await self._send_frame(wire.encode_control(self.channel, msg))


def _entry_msg(entry: FileEntry) -> wire.FileEntryMsg:
    return wire.FileEntryMsg(
        name=entry.name[:1024], kind=entry.kind, size=max(0, entry.size), mtime=entry.mtime, mode=entry.mode
    )
