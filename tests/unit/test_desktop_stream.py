"""The Jumpoint's desktop stream: keyframes at the start, after a REFRESH and after a size change; clipboard text
between updates goes out at once; input messages reach the desktop whole and in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import numpy as np

from jumpoint.agent.desktop_stream import DesktopStream
from jumpoint.core import desktop_wire as dw
from jumpoint.core.desktop import (
    Clipboard,
    Damage,
    DesktopInput,
    DesktopOutput,
    DesktopSize,
    FrameEnd,
    Key,
    Refresh,
)
from jumpoint.core.events import Keys, Notice, Output


class FakeDesktop:
    """A scripted desktop: events come from a queue (``None`` ends them), pixels are a grey gradient."""

    kind = "desktop"

    def __init__(self, width: int = 64, height: int = 48) -> None:
        self.queue: asyncio.Queue[DesktopOutput | Notice | None] = asyncio.Queue()
        self.sent: list[DesktopInput] = []
        self.resize(width, height)

    def resize(self, width: int, height: int) -> None:
        ramp = np.arange(width * height, dtype=np.uint32).reshape(height, width) % 251
        self.rgba = np.dstack([ramp, ramp, ramp, np.full_like(ramp, 255)]).astype(np.uint8)

    def push(self, *events: DesktopOutput | Notice | None) -> None:
        for event in events:
            self.queue.put_nowait(event)

    async def events(self) -> AsyncIterator[DesktopOutput | Notice]:
        while (event := await self.queue.get()) is not None:
            yield event

    def pixels(self, x: int, y: int, width: int, height: int) -> bytes:
        return self.rgba[y : y + height, x : x + width].tobytes()

    async def send(self, event: DesktopInput) -> None:
        self.sent.append(event)

    async def close(self) -> None:
        self.push(None)


def kinds(data: bytes) -> list[int]:
    return [message.kind for message in dw.StreamParser(dw.OUTPUT_TYPES).feed(data)]


def sizes(data: bytes) -> list[tuple[int, int]]:
    parser = dw.StreamParser(dw.OUTPUT_TYPES)
    return [dw.decode_size(message.body) for message in parser.feed(data) if message.kind == dw.SIZE]


async def outputs(stream: DesktopStream, count: int) -> list[Output | Notice]:
    got: list[Output | Notice] = []
    events = aiter(stream.events())
    async with asyncio.timeout(5):
        while len(got) < count:
            got.append(await anext(events))
    return got


def data(items: Sequence[Output | Notice]) -> list[bytes]:
    return [item.data for item in items if isinstance(item, Output)]


async def test_the_first_update_with_pixels_is_a_keyframe_and_later_ones_are_not() -> None:
    desktop = FakeDesktop()
    stream = DesktopStream(desktop)  # type: ignore[arg-type]
    desktop.push(DesktopSize(64, 48), Damage(0, 0, 64, 48), FrameEnd(), Damage(0, 0, 16, 16), FrameEnd())
    first, second = data(await outputs(stream, 2))
    assert kinds(first)[:2] == [dw.KEYFRAME, dw.SIZE] and kinds(first)[-1] == dw.FRAME_END
    assert dw.KEYFRAME not in kinds(second) and kinds(second)[-1] == dw.FRAME_END


async def test_a_size_change_goes_out_at_once_and_the_next_picture_is_a_keyframe_at_the_new_size() -> None:
    desktop = FakeDesktop()
    stream = DesktopStream(desktop)  # type: ignore[arg-type]
    desktop.push(DesktopSize(64, 48), Damage(0, 0, 64, 48), FrameEnd())
    events = aiter(stream.events())
    async with asyncio.timeout(5):
        await anext(events)
        desktop.resize(32, 40)
        desktop.push(DesktopSize(32, 40), FrameEnd())  # a server's resize alone, then the full update it owes
        alone = await anext(events)
        desktop.push(Damage(0, 0, 32, 40), FrameEnd(), Damage(0, 0, 8, 8), FrameEnd())
        picture = await anext(events)
        after = await anext(events)
    assert isinstance(alone, Output) and kinds(alone.data) == [dw.SIZE, dw.FRAME_END]
    assert sizes(alone.data) == [(32, 40)]
    assert isinstance(picture, Output) and kinds(picture.data)[:2] == [dw.KEYFRAME, dw.SIZE]
    assert sizes(picture.data) == [(32, 40)]
    assert isinstance(after, Output) and dw.KEYFRAME not in kinds(after.data)


async def test_the_same_size_again_does_not_force_a_keyframe() -> None:
    desktop = FakeDesktop()
    stream = DesktopStream(desktop)  # type: ignore[arg-type]
    desktop.push(DesktopSize(64, 48), Damage(0, 0, 64, 48), FrameEnd())
    desktop.push(DesktopSize(64, 48), Damage(0, 0, 8, 8), FrameEnd())
    _, second = data(await outputs(stream, 2))
    assert dw.KEYFRAME not in kinds(second)


async def test_clipboard_text_between_updates_goes_out_without_waiting_for_one() -> None:
    desktop = FakeDesktop()
    stream = DesktopStream(desktop)  # type: ignore[arg-type]
    desktop.push(DesktopSize(64, 48), Damage(0, 0, 64, 48), FrameEnd(), Clipboard("from the server \u2603"))
    first, clip = data(await outputs(stream, 2))  # no update follows: the text must not wait
    assert dw.KEYFRAME in kinds(first)
    messages = list(dw.StreamParser(dw.OUTPUT_TYPES).feed(clip))
    assert [m.kind for m in messages] == [dw.CLIPBOARD]
    assert messages[0].body.decode() == "from the server \u2603"


async def test_notices_pass_and_input_messages_reach_the_desktop_in_order_a_refresh_making_a_keyframe() -> None:
    desktop = FakeDesktop()
    stream = DesktopStream(desktop)  # type: ignore[arg-type]
    desktop.push(DesktopSize(64, 48), Notice(kind="info", text="hello"), Damage(0, 0, 64, 48), FrameEnd())
    got = await outputs(stream, 2)
    assert got[0] == Notice(kind="info", text="hello")
    wire = dw.encode_input(Key(0x61, True)) + dw.encode_input(Refresh()) + dw.encode_input(Clipboard("paste"))
    await stream.send(Keys(wire[:3]))
    await stream.send(Keys(wire[3:]))
    assert desktop.sent == [Key(0x61, True), Refresh(), Clipboard("paste")]
    desktop.push(Damage(0, 0, 64, 48), FrameEnd())
    (after_refresh,) = data(await outputs(stream, 1))
    assert kinds(after_refresh)[:2] == [dw.KEYFRAME, dw.SIZE]
