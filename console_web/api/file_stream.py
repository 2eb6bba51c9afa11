"""Streaming the complete lines of a file that may still be growing (a live cast) or torn (a crash mid-write).

The length is fixed when the response starts: the file's size then, cut after its last newline. Only
:data:`CHUNK` bytes are in memory at a time, whatever the file's size; disk reads run in a worker thread.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import BinaryIO

from aiohttp import web

from jumpoint.core.errors import NotFound

CHUNK = 64 * 1024


def complete_lines_length(handle: BinaryIO) -> int:
    """How many leading bytes of the open file are complete lines (0 when there is no newline), reading backwards
    from its current end one chunk at a time; the position is left at the start."""
    end = handle.seek(0, os.SEEK_END)
    length = 0
    while end > 0:
        start = max(0, end - CHUNK)
        handle.seek(start)
        newline = handle.read(end - start).rfind(b"\n")
        if newline >= 0:
            length = start + newline + 1
            break
        end = start
    handle.seek(0)
    return length


async def stream_complete_lines(request: web.Request, path: Path, headers: dict[str, str]) -> web.StreamResponse:
    """Answer with the complete lines of ``path`` (``Content-Length`` set), read and sent in chunks."""
    try:
        handle = await asyncio.to_thread(path.open, "rb")
    except FileNotFoundError:
        raise NotFound(f"{path.name} does not exist any more") from None
    try:
        length = await asyncio.to_thread(complete_lines_length, handle)
        response = web.StreamResponse(headers=headers)
        response.content_length = length
        await response.prepare(request)
        left = length
        while left > 0:
            block = await asyncio.to_thread(handle.read, min(CHUNK, left))
            if not block:  # the file shrank (deleted and replaced): stop rather than send a wrong length
                break
            await response.write(block)
            left -= len(block)
        await response.write_eof()
        return response
    finally:
        await asyncio.to_thread(handle.close)
