"""The browser encoder (``jumpoint.desktop``) on a real RFB stream: TigerVNC Xvnc with an xterm, read by our
``RfbClient``; painting every emitted event onto a canvas must reproduce ``client.snapshot()``."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from PIL import Image as PILImage

from jumpoint.core.desktop import (
    CopyRect,
    DesktopOutput,
    DesktopSize,
    FrameEnd,
    Image,
    Key,
    Quality,
)
from jumpoint.core.secret import Secret
from jumpoint.desktop import IMAGE_BUDGET, FrameEncoder
from protocols.vnc import RfbClient
from tests.fixtures.vnc import VncServer, colour_animation, glyph_animation, start_vnc, xvnc

__all__ = ["start_vnc", "xvnc"]  # fixtures

Pixels = npt.NDArray[np.uint8]
StartVnc = Callable[..., VncServer]
RETURN = 0xFF0D


class Canvas:
    """What the browser does with the encoder's output."""

    def __init__(self) -> None:
        self.pixels: Pixels = np.zeros((1, 1, 4), np.uint8)
        self.codecs: dict[str, int] = {}
        self.biggest = 0

    def paint(self, events: list[DesktopOutput]) -> None:
        for event in events:
            if isinstance(event, DesktopSize):
                self.pixels = np.zeros((event.height, event.width, 4), np.uint8)
            elif isinstance(event, Image):
                assert event.codec != "rgba"
                self.codecs[event.codec] = self.codecs.get(event.codec, 0) + 1
                self.biggest = max(self.biggest, len(event.data))
                with PILImage.open(io.BytesIO(event.data)) as pil:
                    tile = np.asarray(pil.convert("RGBA"))
                self.pixels[event.y : event.y + event.height, event.x : event.x + event.width] = tile
            elif isinstance(event, CopyRect):
                src = self.pixels[event.src_y : event.src_y + event.height, event.src_x : event.src_x + event.width]
                self.pixels[event.y : event.y + event.height, event.x : event.x + event.width] = src.copy()


def snapshot(client: RfbClient) -> Pixels:
    picture = client.snapshot()
    return np.frombuffer(picture.data, np.uint8).reshape(picture.height, picture.width, 4)


class Session:
    """One client, its event iterator, an encoder and the canvas it paints."""

    def __init__(self, client: RfbClient, quality: str) -> None:
        self.client = client
        self.updates = client.updates()
        self.encoder = FrameEncoder(Quality(quality))  # type: ignore[arg-type]
        self.canvas = Canvas()

    async def run(self, seconds: float, quiet: float = 1.0) -> int:
        """Encode and paint every frame for ``seconds``, then until a frame ends or nothing came for ``quiet``
        seconds between frames; the frames painted. The last frame's pixels stay valid until the next event."""
        frames = 0
        pending: list[DesktopOutput] = []
        deadline = time.monotonic() + seconds
        async with asyncio.timeout(seconds + 15):
            while True:
                wait = max(quiet, deadline - time.monotonic()) if not pending else None
                try:
                    event = await asyncio.wait_for(anext(self.updates), wait)
                except TimeoutError:
                    return frames  # between frames, nothing changes any more
                pending.append(event)
                if isinstance(event, FrameEnd):
                    self.canvas.paint(self.encoder.encode(pending, self.client.pixels))
                    pending = []
                    frames += 1
                    if time.monotonic() >= deadline:
                        return frames


async def type_text(client: RfbClient, text: str) -> None:
    for char in text:
        keysym = RETURN if char == "\n" else ord(char)
        await client.send(Key(keysym, True))
        await client.send(Key(keysym, False))


async def connect(server: VncServer, quality: str) -> Session:
    client = await RfbClient.connect(
        server.host,
        server.port,
        password=Secret(server.password),
        quality=Quality(quality),  # type: ignore[arg-type]
        connect_timeout=10,
    )
    return Session(client, quality)


async def test_an_xterm_session_is_reproduced_exactly_at_full_color(xvnc: VncServer) -> None:
    session = await connect(xvnc, "full_color")
    client, canvas = session.client, session.canvas
    try:
        await session.run(0.5)
        await type_text(client, "ls -la /; seq 1 300; echo encoder-done\n")
        assert await session.run(2.0) >= 1
        assert np.array_equal(canvas.pixels, snapshot(client))
        assert set(canvas.codecs) <= {"png", "webp"}
        assert canvas.biggest <= IMAGE_BUDGET
        # a late joiner's keyframe is the same picture
        late = Canvas()
        late.paint(session.encoder.keyframe(client.width, client.height, client.pixels))
        assert np.array_equal(late.pixels, canvas.pixels)
    finally:
        await client.close()


async def test_the_colour_animation_with_server_jpeg_passed_through(start_vnc: StartVnc) -> None:
    server = start_vnc(xterm=colour_animation(cols=40, rows=20, delay=0.03))
    session = await connect(server, "more_colors")
    try:
        assert await session.run(2.0) >= 5
        assert session.encoder.stats.passthrough_images > 0  # Tight JPEG, forwarded as is
        error = np.abs(session.canvas.pixels.astype(np.int16) - snapshot(session.client)).mean()
        assert error < 2.0, error
        assert session.canvas.biggest <= IMAGE_BUDGET
    finally:
        await session.client.close()


async def test_moving_mixed_content_goes_jpeg_at_full_color_and_ends_sharp(start_vnc: StartVnc) -> None:
    server = start_vnc(xterm=glyph_animation(cols=60, rows=20, delay=0.03))
    session = await connect(server, "full_color")
    canvas = session.canvas
    try:
        await session.run(2.5)
        stats = session.encoder.stats
        assert stats.fast_jpeg_images > 0
        assert stats.webp_images > 0  # before it counted as fast
        error = np.abs(canvas.pixels.astype(np.int16) - snapshot(session.client)).mean()
        assert error < 4.0, error
        # what went lossy because it moved is refreshed losslessly (forced here: it is still moving); then the
        # picture is exact
        canvas.paint(session.encoder.idle(session.client.pixels, force=True))
        assert session.encoder.stats.refresh_images > 0
        assert np.array_equal(canvas.pixels, snapshot(session.client))
    finally:
        await session.client.close()
