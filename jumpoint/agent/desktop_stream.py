"""A desktop connection as the desktop byte stream: what a desktop session's channel carries.

:class:`DesktopStream` wraps a :class:`~jumpoint.core.adapter.DesktopConnection` (VNC, RDP) into the byte-stream
shape the channel runner, the tunnel and the console already carry for terminals:

* output: each update is encoded for the browser (:class:`~jumpoint.desktop.FrameEncoder`: JPEG forwarded, text
  lossless, fast-changing regions JPEG) and framed as :mod:`jumpoint.core.desktop_wire` messages; the first
  complete update becomes a KEYFRAME (a marker, the size, tiles covering the desktop, FrameEnd), and so does the
  first update with pixels after a REFRESH or after the desktop's size changed (a SIZE message goes out at once, in
  its own frame if it came alone; the keyframe then shows the whole desktop at the new size, so a late joiner
  starting there needs nothing older). When nothing changes, the encoder's due lossless refreshes go out on time.
* clipboard text the target sends between updates goes out at once as its own CLIPBOARD message (a server sends
  no update while the screen stays still, and the text must not wait for one); within an update it keeps its place.
* input: the console's bytes are parsed as whole input messages (across any split) and delivered in order; a
  REFRESH asks the target for a full update and marks a keyframe due.

Flow control needs nothing extra: the next update is only taken from the connection when the previous one was
handed on, and the channel runner hands output on only within the tunnel's window. An update's events are held here
until its ``FrameEnd``, so the connection bounds one update (VNC: :mod:`protocols.vnc.updates` keeps one cursor
shape and refuses an update past its budget; RDP: its screen merges what changed into one bounded frame).

Pacing: frames go out at most :data:`MAX_FRAMES_PER_SECOND` a second, and after each frame the stream waits at least
its encoding's CPU time divided by :data:`ENCODE_SHARE` (smoothed over frames; keyframes left out), so encoding
takes at most that share of a core whatever the desktop does: cheap frames (copy-rects, what the server already
encoded) reach 60 a second, costly ones (pixels re-encoded) come less often. Meanwhile the server (VNC: it is not
asked for the next update) or the connection (RDP: its screen) merges what changes into the next frame, so nothing
queues; input is never delayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import AsyncIterator, Sequence
from typing import Literal

from PIL import Image as PILImage

from jumpoint.core import desktop_wire
from jumpoint.core.adapter import DesktopConnection, DesktopQuality
from jumpoint.core.desktop import (
    Clipboard,
    CopyRect,
    CursorShape,
    Damage,
    DesktopInput,
    DesktopOutput,
    DesktopSize,
    FrameEnd,
    Image,
    Quality,
    Refresh,
)
from jumpoint.core.events import Keys, Notice, Output, Resize
from jumpoint.desktop import FrameEncoder


def encode_messages(events: Sequence[DesktopOutput]) -> bytes:
    """The desktop-stream bytes of encoder output (images already encoded and within the cap)."""
    parts: list[bytes] = []
    for event in events:
        if isinstance(event, CursorShape):
            parts.append(_cursor_message(event))
        elif isinstance(event, DesktopSize | Image | CopyRect | FrameEnd | Clipboard):
            parts.append(desktop_wire.encode_output(event))
    return b"".join(parts)


def _cursor_message(cursor: CursorShape) -> bytes:
    if cursor.width == 0 or cursor.height == 0:
        return desktop_wire.encode_cursor(0, 0, 0, 0, b"")
    image = PILImage.frombuffer("RGBA", (cursor.width, cursor.height), cursor.rgba, "raw", "RGBA", 0, 1)
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return desktop_wire.encode_cursor(cursor.hot_x, cursor.hot_y, cursor.width, cursor.height, out.getvalue())


MAX_FRAMES_PER_SECOND = 60
ENCODE_SHARE = 0.5
"""Encoding a desktop's frames takes at most this share of a core (see the module docstring)."""
_COST_WEIGHT = 0.5
"""Weight of the newest frame in the smoothed encoding cost."""


class DesktopStream:
    """A desktop connection seen as a byte-stream connection (``kind = "desktop"``)."""

    kind: Literal["desktop"] = "desktop"

    def __init__(self, desktop: DesktopConnection, quality: DesktopQuality = "full_color") -> None:
        self._desktop = desktop
        self._encoder = FrameEncoder(Quality(quality))
        self._parser = desktop_wire.StreamParser(desktop_wire.INPUT_TYPES)
        self._keyframe_due = True
        self._size = (0, 0)
        self._cost = 0.0
        """Smoothed CPU seconds of encoding a frame (keyframes left out)."""

    async def events(self) -> AsyncIterator[Output | Notice]:
        """The desktop stream as ``Output`` events (one per update), and the connection's notices."""
        updates = aiter(self._desktop.events())
        frame: list[DesktopOutput] = []
        pending: asyncio.Task[DesktopOutput | Notice] | None = None
        last_frame = 0.0
        try:
            while True:
                if frame:
                    # Inside an update its events come back to back: take them directly (a task and a wait per
                    # event would let a busy connection run between every two of them).
                    try:
                        event = await anext(updates)
                    except StopAsyncIteration:
                        return
                else:
                    if pending is None:
                        pending = asyncio.ensure_future(anext(updates))
                    due = self._encoder.refresh_due_in
                    done, _ = await asyncio.wait({pending}, timeout=max(due, 0.0) if due is not None else None)
                    if not done:  # nothing changed for a while: the settled regions get their lossless refresh
                        refreshed = self._encoder.idle(self._desktop.pixels)
                        if refreshed:
                            yield Output(encode_messages(refreshed))
                        continue
                    try:
                        event = pending.result()
                    except StopAsyncIteration:
                        return
                    finally:
                        pending = None
                if isinstance(event, Notice):
                    yield event
                    continue
                if isinstance(event, Clipboard) and not frame:
                    yield Output(desktop_wire.encode_output(event))
                    continue
                if isinstance(event, DesktopSize):
                    if (event.width, event.height) != self._size:
                        self._keyframe_due = True
                    self._size = (event.width, event.height)
                frame.append(event)
                if isinstance(event, FrameEnd):
                    yield Output(self._encode_frame(frame))
                    frame = []
                    # Paced (see the module docstring): the server merges what changes meanwhile into the next
                    # update, so a fast-changing desktop costs a bounded amount of CPU and bandwidth.
                    now = time.monotonic()
                    wait = last_frame + self.frame_interval - now
                    last_frame = now + max(wait, 0.0)
                    if wait > 0:
                        await asyncio.sleep(wait)
        finally:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending

    @property
    def frame_interval(self) -> float:
        """The least time, in seconds, from one frame to the next now: 1 / :data:`MAX_FRAMES_PER_SECOND`, or the
        smoothed encoding cost of a frame over :data:`ENCODE_SHARE` when that is longer."""
        return max(1 / MAX_FRAMES_PER_SECOND, self._cost / ENCODE_SHARE)

    def _encode_frame(self, frame: list[DesktopOutput]) -> bytes:
        started = time.thread_time()
        encoded = self._encoder.encode(frame, self._desktop.pixels)
        # A keyframe waits for an update with pixels: a server may answer the first (or a full) request with only
        # its size, and a keyframe made before the pixels came would be blank.
        has_pixels = any(isinstance(event, Damage | Image | CopyRect) for event in frame)
        if not (self._keyframe_due and self._size[0] > 0 and has_pixels):
            data = encode_messages(encoded)
            cost = time.thread_time() - started
            self._cost += (cost - self._cost) * _COST_WEIGHT
            return data
        # The keyframe shows the whole desktop as it is now, so the frame's pictures need not go too; its clipboard
        # text does (the keyframe carries the cursor).
        self._keyframe_due = False
        width, height = self._size
        picture = self._encoder.keyframe(width, height, self._desktop.pixels)
        clipboard = [event for event in encoded if isinstance(event, Clipboard)]
        return encode_messages(clipboard) + desktop_wire.encode_keyframe_marker() + encode_messages(picture)

    async def send(self, event: Keys | Resize) -> None:
        """Input messages from the console (any split); a terminal resize means nothing to a desktop."""
        if not isinstance(event, Keys):
            return
        for message in self._parser.feed(event.data):
            decoded: DesktopInput = desktop_wire.decode_input(message.kind, message.body)
            if isinstance(decoded, Refresh):
                self._keyframe_due = True
            elif isinstance(decoded, Quality):
                self._encoder.quality = decoded
            await self._desktop.send(decoded)

    async def snapshot(self) -> dict[str, object]:
        """Desktops resynchronise with keyframes, not snapshots."""
        return {}

    async def close(self) -> None:
        """Close the desktop connection."""
        await self._desktop.close()
