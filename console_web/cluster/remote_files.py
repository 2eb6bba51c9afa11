"""File transfers for a session on another console node: one pipe per operation.

The node the request reached opens a pipe and asks the session's node to open the file channel
(``file.open``); the answer carries the channel's first ``file_result``. Then download bytes flow down the pipe and
upload bytes up it, each within the pipe's window, while the session's node moves them through its own file channel
(whose credit windows reach the Jumpoint) — so a 200 MB transfer still holds at most a window or two in memory on
each node. The operation ends with a ``done`` message (the last result and, for a listing, the entries) or an
``error`` message carrying the operation's error.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from pydantic import ValidationError

from console_web.cluster.envelope import BINARY, TEXT
from console_web.cluster.pipe import Pipe, PipeClosed
from console_web.hub.file_channel import FileChannel
from jumpoint.core import wire
from jumpoint.core.errors import JumpError, ProtocolViolation, ServiceError

log = logging.getLogger(__name__)

GONE = "the console node holding the session went away during the file operation"


def _message(kind: str, **body: Any) -> bytes:
    return json.dumps({"t": kind, **body}, separators=(",", ":")).encode()


async def serve_file_channel(channel: FileChannel, pipe: Pipe) -> None:
    """On the session's node: move the operation's bytes between its file channel and the pipe, then report the
    outcome; an early end of the pipe cancels the operation."""
    try:
        if channel.request.op == "upload":
            while (frame := await pipe.receive()) is not None:
                kind, payload = frame
                if kind == BINARY:
                    await channel.write(payload)
                elif json.loads(payload).get("t") == "finish":
                    await channel.finish()
                    break
            else:
                await channel.cancel()
                return
        elif channel.request.op == "download":
            while (chunk := await channel.read()) is not None:
                await pipe.send(BINARY, chunk)
        result = await channel.done() or channel.result
        body = {
            "result": result.model_dump(mode="json") if result is not None else None,
            "entries": [e.model_dump(mode="json") for e in channel.entries],
        }
        await pipe.send(TEXT, _message("done", **body))
        await pipe.close()
    except PipeClosed:
        await channel.cancel()
    except JumpError as exc:
        await channel.cancel()
        with contextlib.suppress(PipeClosed):
            await pipe.send(TEXT, _message("error", error=exc.to_dict()))
        await pipe.close()
    except Exception:
        log.exception("a file operation relayed for console node %s failed", pipe.peer)
        await channel.cancel()
        await pipe.close(1011, "file operation failed")


class RemoteFileChannel:
    """On the node the request reached: the same interface as :class:`FileChannel` (``result``, ``entries``,
    ``read``, ``write``, ``finish``, ``done``, ``cancel``), over the pipe to the session's node."""

    def __init__(self, pipe: Pipe, first: wire.FileResult) -> None:
        self._pipe = pipe
        self.result: wire.FileResult | None = first
        self.entries: list[wire.FileEntryMsg] = []
        self._outcome: wire.FileResult | None = None
        self._error: JumpError | None = None
        self._ended = False

    async def read(self) -> bytes | None:
        """The next chunk of a download, or None at its end (then :meth:`done` says whether it completed)."""
        while not self._ended:
            frame = await self._pipe.receive()
            if frame is None:
                self._end(None if self._outcome is not None else ServiceError(GONE))
                break
            kind, payload = frame
            if kind == BINARY:
                return payload
            self._on_message(payload)
        return None

    def _on_message(self, payload: bytes) -> None:
        try:
            body = json.loads(payload)
            if body.get("t") == "done":
                raw = body.get("result")
                self._outcome = wire.FileResult.model_validate(raw) if raw is not None else None
                self.entries = [wire.FileEntryMsg.model_validate(e) for e in body.get("entries", [])]
                self._end(None)
            elif body.get("t") == "error":
                self._end(JumpError.from_dict(body.get("error") or {}))
            else:
                raise ProtocolViolation(f"unexpected {body.get('t')!r} on a relayed file operation")
        except (ValueError, ValidationError, AttributeError) as exc:
            self._end(ProtocolViolation(f"a malformed message on a relayed file operation: {exc}"))

    def _end(self, error: JumpError | None) -> None:
        self._ended = True
        self._error = error

    async def done(self) -> wire.FileResult | None:
        """Wait for the outcome: the last result, or raise the operation's error."""
        while not self._ended:
            if await self.read() is not None:
                raise ProtocolViolation("download bytes after the end of a relayed file operation")
        if self._error is not None:
            raise self._error
        return self._outcome

    async def write(self, data: bytes) -> None:
        """Upload bytes, within the pipe's window."""
        try:
            await self._pipe.send(BINARY, bytes(data))
        except PipeClosed:
            await self.done()
            raise ServiceError(GONE) from None

    async def finish(self) -> wire.FileResult | None:
        """Every upload byte was written: commit and wait for the outcome."""
        try:
            await self._pipe.send(TEXT, _message("finish"))
        except PipeClosed:
            pass
        return await self.done()

    async def cancel(self) -> None:
        """Stop early; idempotent, never raises."""
        await self._pipe.close(1000, "cancelled")
