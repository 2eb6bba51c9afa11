"""The console's end of one file operation: a tunnel channel to the Jumpoint's FileRunner (see docs/protocol.md).

:meth:`FileChannel.open` sends ``file_open`` and waits for the first ``file_result`` (or the error in
``closed``). Then, for a download, :meth:`read` yields the bytes as they come, granting credit back only as
they are consumed, so at most one window (1 MiB) is buffered here whatever the file size; for an upload,
:meth:`write` sends within the Jumpoint's window and :meth:`finish` waits for the commit. :meth:`cancel`
closes the channel early (the Jumpoint then removes an unfinished upload).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, TypeVar

from jumpoint.core import wire
from jumpoint.core.errors import JumpError, JumpointUnavailable, ProtocolViolation, TargetTimeout
from jumpoint.core.flow import ReceiveWindow, SendWindow

if TYPE_CHECKING:
    from console_web.hub.link import JumpointLink

log = logging.getLogger(__name__)

_R = TypeVar("_R")
RESULT_TIMEOUT = 60.0
LIST_ENTRIES_MAX = 5000


@dataclass(frozen=True, slots=True)
class FileOp:
    """A file operation as the API asks for it (paths as the user gave them; ``roots``: the user's allowed ones)."""

    op: Literal["list", "download", "upload", "rename", "delete", "mkdir"]
    path: str = ""
    to: str | None = None
    size: int | None = None
    overwrite: bool = False
    roots: tuple[str, ...] = ()

    def to_wire(self, session_channel: int) -> wire.FileOpen:
        """The ``file_open`` message for the session on ``session_channel``."""
        return wire.FileOpen(
            session_channel=session_channel,
            op=self.op,
            path=self.path,
            to=self.to,
            size=self.size,
            overwrite=self.overwrite,
            roots=list(self.roots),
        )


class FileOperation(Protocol):
    """What the API uses of a file operation: this node's :class:`FileChannel`, or one relayed to the console node
    the session lives on (:class:`console_web.cluster.remote_files.RemoteFileChannel`)."""

    result: wire.FileResult | None
    entries: list[wire.FileEntryMsg]

    async def read(self) -> bytes | None:
        """The next chunk of a download, or None at its end."""
        ...

    async def write(self, data: bytes) -> None:
        """Upload bytes."""
        ...

    async def finish(self) -> wire.FileResult | None:
        """Commit an upload and wait for the outcome."""
        ...

    async def done(self) -> wire.FileResult | None:
        """The outcome, or raise the operation's error."""
        ...

    async def cancel(self) -> None:
        """Stop early; never raises."""
        ...


class FileChannel:
    """One file operation on ``link``; register/unregister itself in ``link.file_channels``."""

    def __init__(self, link: JumpointLink, request: wire.FileOpen) -> None:
        self.link = link
        self.request = request
        self.channel = link.allocate_channel()
        self.entries: list[wire.FileEntryMsg] = []
        self.result: wire.FileResult | None = None
        self._first: asyncio.Future[wire.FileResult] = asyncio.get_running_loop().create_future()
        self._done: asyncio.Future[wire.FileResult | None] = asyncio.get_running_loop().create_future()
        self._last_result: wire.FileResult | None = None
        self._data: asyncio.Queue[bytes | None] = asyncio.Queue()  # bounded by our receive window
        self._in_window = ReceiveWindow(wire.INITIAL_WINDOW)
        self._out_window = SendWindow(wire.INITIAL_WINDOW)
        self._open = False

    # --- frames from the Jumpoint (called by JumpointLink.serve) ---------------------------------
    def on_output(self, data: bytes) -> None:
        """Download bytes. ProtocolViolation before the download's ``file_result``, and for an empty DATA frame (it
        would count nothing against the window, so such frames could queue here without bound)."""
        if self.request.op != "download" or self.result is None:
            raise ProtocolViolation("file data arrived before the download's file_result")
        if not data:
            raise ProtocolViolation("an empty DATA frame on a file channel")
        self._in_window.received(len(data))
        self._data.put_nowait(data)

    def on_credit(self, grant: int) -> None:
        """The Jumpoint wrote upload bytes and grants more."""
        self._out_window.grant(grant)

    def on_control(self, msg: wire.ControlMessage) -> None:
        """``file_entries``, ``file_result`` and ``closed``."""
        if isinstance(msg, wire.FileEntries):
            if len(self.entries) + len(msg.entries) > LIST_ENTRIES_MAX:
                raise ProtocolViolation(f"a directory listing of more than {LIST_ENTRIES_MAX} entries")
            self.entries.extend(msg.entries)
        elif isinstance(msg, wire.FileResult):
            self._last_result = msg
            if self.result is None:
                self.result = msg
                self._first.set_result(msg)
        elif isinstance(msg, wire.Closed):
            error = JumpError.from_dict(msg.error.model_dump()) if msg.error is not None else None
            self._finish(error)
        else:
            raise ProtocolViolation(f"unexpected {msg.t!r} message on a file channel")

    def fail(self, error: JumpError) -> None:
        """The tunnel or the channel failed."""
        self._finish(error)

    def _finish(self, error: JumpError | None) -> None:
        self._unregister()
        self._out_window.close()
        self._data.put_nowait(None)
        no_result = ProtocolViolation("the Jumpoint ended the file operation without a result")
        _fail_once(self._first, error or no_result)
        if error is not None:
            _fail_once(self._done, error)
        elif not self._done.done():
            self._done.set_result(self._last_result)

    def _unregister(self) -> None:
        if self._open:
            self._open = False
            if self.link.file_channels.get(self.channel) is self:
                del self.link.file_channels[self.channel]

    # --- the operation ---------------------------------------------------------------------------
    async def open(self) -> wire.FileResult:
        """Send ``file_open`` and return the first ``file_result``; raise the operation's JumpError."""
        self.link.file_channels[self.channel] = self
        self._open = True
        try:
            await self.link.send(wire.encode_control(self.channel, self.request))
            async with asyncio.timeout(RESULT_TIMEOUT):
                return await asyncio.shield(self._first)
        except TimeoutError:
            await self.cancel()
            raise TargetTimeout("the Jumpoint did not answer the file request in time") from None
        except BaseException:
            await self.cancel()
            raise

    async def done(self) -> wire.FileResult | None:
        """Wait for ``closed``; return the last ``file_result`` or raise the operation's error."""
        try:
            async with asyncio.timeout(RESULT_TIMEOUT):
                return await asyncio.shield(self._done)
        except TimeoutError:
            await self.cancel()
            raise TargetTimeout("the Jumpoint did not finish the file operation in time") from None

    async def read(self) -> bytes | None:
        """The next chunk of a download, or None at its end (then :meth:`done` says whether it completed)."""
        chunk = await self._data.get()
        if chunk is None:
            self._data.put_nowait(None)
            return None
        grant = self._in_window.consumed(len(chunk))
        if grant and self._open:
            await self.link.send(wire.encode_credit(self.channel, grant))
        return chunk

    async def write(self, data: bytes) -> None:
        """Send upload bytes within the Jumpoint's window."""
        view = memoryview(data)
        while view:
            try:
                n = await self._out_window.acquire(min(len(view), wire.MAX_PAYLOAD))
            except JumpError:
                await self.done()  # the Jumpoint ended the upload: raise its reason
                raise
            await self.link.send(wire.encode_data(self.channel, bytes(view[:n])))
            view = view[n:]

    async def finish(self) -> wire.FileResult | None:
        """All upload bytes were written: ask the Jumpoint to commit and wait for it."""
        await self.link.send(wire.encode_control(self.channel, wire.FileEnd()))
        return await self.done()

    async def cancel(self) -> None:
        """Stop the operation early; idempotent, never raises."""
        if not self._open:
            return
        self._unregister()
        with contextlib.suppress(JumpError, JumpointUnavailable):
            await self.link.send(wire.encode_control(self.channel, wire.Close(reason="cancelled")))
        self._out_window.close()
        self._data.put_nowait(None)
        log.info("file %s on channel %d cancelled", self.request.op, self.channel)


def _fail_once(fut: asyncio.Future[_R], error: JumpError) -> None:
    """Fail ``fut`` unless it is done; the error is marked retrieved, since nobody may be waiting any more."""
    if not fut.done():
        fut.set_exception(error)
        fut.exception()
