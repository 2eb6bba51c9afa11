"""The client against a scripted RFB server: the next update is asked for only once the consumer has taken the
previous FrameEnd; an over-cap server clipboard is skipped without breaking the stream; a clean close ends it."""

from __future__ import annotations

import asyncio
import io
import struct

import numpy as np
import pytest
from PIL import Image as PILImage

from jumpoint.core.desktop import Clipboard, DesktopSize, FrameEnd, Image, Key, Pointer, Refresh, Wheel
from jumpoint.core.errors import TargetClosed, TargetProtocolError
from protocols.vnc import RfbClient, updates
from protocols.vnc import messages as m


class ScriptedServer:
    """An RFB 3.8 server with no security and a 16x8 desktop; the test drives it message by message."""

    def __init__(self) -> None:
        self.connected: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.get_running_loop().create_future()
        )
        self.done = asyncio.Event()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"RFB 003.008\n")
        await reader.readexactly(12)
        writer.write(bytes([1, m.SEC_NONE]))
        await reader.readexactly(1)
        writer.write(struct.pack(">I", 0))
        await reader.readexactly(1)  # ClientInit
        writer.write(struct.pack(">HH", 16, 8) + m.RGBX.pack() + struct.pack(">I", 4) + b"test")
        assert await reader.readexactly(20) == m.set_pixel_format(m.RGBX)
        head = await reader.readexactly(4)
        await reader.readexactly(4 * struct.unpack(">H", head[2:])[0])  # SetEncodings
        self.connected.set_result((reader, writer))
        await self.done.wait()
        writer.close()


def fill_update(colour: bytes = b"\x10\x20\x30") -> bytes:
    rect = m.RectHeader(0, 0, 16, 8, m.ENC_TIGHT).pack() + b"\x80" + colour
    return struct.pack(">BxH", m.SMSG_FRAMEBUFFER_UPDATE, 1) + rect


async def read_request(reader: asyncio.StreamReader, timeout: float = 2) -> tuple[int, ...]:
    return struct.unpack(">BBHHHH", await asyncio.wait_for(reader.readexactly(10), timeout))


async def test_the_next_update_is_requested_only_after_the_consumer_took_the_frame_end() -> None:
    server = ScriptedServer()
    port = await server.start()
    client = await RfbClient.connect("127.0.0.1", port, password=None, connect_timeout=5)
    reader, writer = await server.connected
    try:
        assert await read_request(reader) == (3, 0, 0, 0, 16, 8)  # the first, full request
        writer.write(fill_update())
        updates = client.updates()
        assert await anext(updates) == DesktopSize(16, 8)
        fill = await anext(updates)  # a Tight fill, handed on as a PNG of its colour
        assert isinstance(fill, Image) and (fill.x, fill.y, fill.width, fill.height, fill.codec) == (0, 0, 16, 8, "png")
        with pytest.raises(TimeoutError):  # FrameEnd not taken yet: no new request
            await read_request(reader, timeout=0.3)
        assert await anext(updates) == FrameEnd()
        assert await read_request(reader) == (3, 1, 0, 0, 16, 8)  # incremental, now
        assert client.pixels(0, 0, 1, 1) == b"\x10\x20\x30\xff"
        await client.send(Refresh())
        assert await read_request(reader) == (3, 0, 0, 0, 16, 8)
    finally:
        await client.close()
        server.done.set()
        server.server.close()


async def test_input_events_are_encoded_with_wheel_steps_as_button_clicks() -> None:
    server = ScriptedServer()
    port = await server.start()
    client = await RfbClient.connect("127.0.0.1", port, password=None, connect_timeout=5)
    reader, _ = await server.connected
    try:
        await read_request(reader)
        await client.send(Pointer(3, 4, 0b001))
        await client.send(Wheel(3, 4, 0, 2))
        await client.send(Key(0x61, True))
        await client.send(Clipboard("hi"))
        expected = m.pointer_event(3, 4, 1)
        expected += (m.pointer_event(3, 4, 1 | 16) + m.pointer_event(3, 4, 1)) * 2  # button 5, left still held
        expected += m.key_event(0x61, True) + m.client_cut_text("hi")
        assert await asyncio.wait_for(reader.readexactly(len(expected)), 2) == expected
    finally:
        await client.close()
        server.done.set()
        server.server.close()


async def test_an_over_cap_server_clipboard_is_skipped_and_the_stream_goes_on() -> None:
    server = ScriptedServer()
    port = await server.start()
    client = await RfbClient.connect("127.0.0.1", port, password=None, connect_timeout=5)
    reader, writer = await server.connected
    try:
        await read_request(reader)
        big = b"x" * (m.MAX_CLIPBOARD_BYTES + 10)
        writer.write(struct.pack(">B3xI", m.SMSG_SERVER_CUT_TEXT, len(big)) + big)
        writer.write(struct.pack(">B3xI", m.SMSG_SERVER_CUT_TEXT, 5) + b"caf\xe9!")
        writer.write(bytes([m.SMSG_BELL]))
        updates = client.updates()
        assert await anext(updates) == DesktopSize(16, 8)
        assert await asyncio.wait_for(anext(updates), 2) == Clipboard("caf\u00e9!")
        writer.close()  # a clean close between messages ends the updates
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(updates), 2)
        with pytest.raises(TargetClosed):
            await client.send(Refresh())
    finally:
        await client.close()
        server.done.set()
        server.server.close()


async def test_a_colour_map_or_an_unknown_message_is_a_protocol_error() -> None:
    server = ScriptedServer()
    port = await server.start()
    client = await RfbClient.connect("127.0.0.1", port, password=None, connect_timeout=5)
    reader, writer = await server.connected
    try:
        await read_request(reader)
        writer.write(bytes([m.SMSG_SET_COLOUR_MAP_ENTRIES, 0, 0, 0, 0, 0]))
        updates = client.updates()
        assert await anext(updates) == DesktopSize(16, 8)
        with pytest.raises(TargetProtocolError, match="colour map"):
            await asyncio.wait_for(anext(updates), 2)
    finally:
        await client.close()
        server.done.set()
        server.server.close()


async def test_an_update_larger_than_its_budget_ends_the_session_as_the_servers_protocol_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(updates, "UPDATE_MIN_BUDGET", 1 << 20, raising=False)
    out = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 256, (8, 16, 3), np.uint8)
    PILImage.fromarray(noise).save(out, "JPEG", quality=95)
    jpeg = out.getvalue()
    length = bytes([len(jpeg) & 0x7F | 0x80, len(jpeg) >> 7])  # a Tight compact length of two bytes
    rect = m.RectHeader(0, 0, 16, 8, m.ENC_TIGHT).pack() + b"\x90" + length + jpeg
    server = ScriptedServer()
    port = await server.start()
    client = await RfbClient.connect("127.0.0.1", port, password=None, connect_timeout=5)
    reader, writer = await server.connected
    try:
        await read_request(reader)
        writer.write(struct.pack(">BxH", m.SMSG_FRAMEBUFFER_UPDATE, 0xFFFF) + rect * 2000)  # no LastRect: unfinished
        taken: list[object] = []

        async def take_all() -> None:
            async with asyncio.timeout(10):
                async for event in client.updates():
                    taken.append(event)

        with pytest.raises(TargetProtocolError, match=rf"VNC server 127.0.0.1:{port}: an update of more than 1 MiB"):
            await take_all()
        assert 1 < len(taken) < 2000  # the DesktopSize, then the images within the budget
    finally:
        await client.close()
        server.done.set()
        server.server.close()
