"""The browser renderer's job in the tests, in numpy: a desktop stream read from a session socket and applied to a
picture (Pillow in place of the canvas), for comparing with what the server shows."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable

import numpy as np
from PIL import Image as PILImage

from jumpoint.core import desktop_wire as dw
from tests.fixtures.gateway import SessionSocket


class Canvas:
    """The browser renderer's job, in numpy: apply the desktop stream's messages to a picture."""

    def __init__(self) -> None:
        self.parser = dw.StreamParser(dw.OUTPUT_TYPES)
        self.pixels = np.zeros((1, 1, 3), np.uint8)
        self.kinds: list[int] = []
        self.frames = 0
        self.keyframes = 0

    def feed(self, data: bytes) -> None:
        for message in self.parser.feed(data):
            self.kinds.append(message.kind)
            if message.kind == dw.SIZE:
                width, height = dw.decode_size(message.body)
                self.pixels = np.zeros((height, width, 3), np.uint8)
            elif message.kind == dw.IMAGE:
                x, y, w, h = (int.from_bytes(message.body[i : i + 2], "big") for i in range(0, 8, 2))
                tile = PILImage.open(io.BytesIO(message.body[9:])).convert("RGB")
                assert tile.size == (w, h)
                self.pixels[y : y + h, x : x + w] = np.asarray(tile)
            elif message.kind == dw.COPY:
                sx, sy, x, y, w, h = (int.from_bytes(message.body[i : i + 2], "big") for i in range(0, 12, 2))
                self.pixels[y : y + h, x : x + w] = self.pixels[sy : sy + h, sx : sx + w].copy()
            elif message.kind == dw.FRAME_END:
                self.frames += 1
            elif message.kind == dw.KEYFRAME:
                self.keyframes += 1


async def read_until(sock: SessionSocket, canvas: Canvas, done: Callable[[], bool], timeout: float = 15) -> None:
    fed = len(sock.output)
    canvas.feed(bytes(sock.output[:fed]))
    async with asyncio.timeout(timeout):
        while not done():
            await sock._read_one()
            canvas.feed(bytes(sock.output[fed:]))
            fed = len(sock.output)


async def settle(sock: SessionSocket, canvas: Canvas, quiet: float = 1.0) -> None:
    """Read until the stream stays quiet for ``quiet`` seconds (the desktop stopped changing)."""
    fed = len(sock.output)
    while True:
        try:
            async with asyncio.timeout(quiet):
                await sock._read_one()
        except TimeoutError:
            return
        canvas.feed(bytes(sock.output[fed:]))
        fed = len(sock.output)
