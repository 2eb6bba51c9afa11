"""The Extended Clipboard extension: caps answered with ours, notify -> request -> provide both ways as UTF-8,
every length bounded; and the client against a scripted server speaking it."""

from __future__ import annotations

import asyncio
import random
import socket
import string
import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from jumpoint.core.desktop import Clipboard, DesktopOutput, DesktopSize, FrameEnd
from jumpoint.core.write_backlog import WRITE_BACKLOG_LIMIT
from protocols.vnc import RfbClient
from protocols.vnc import client as vnc_client
from protocols.vnc import messages as m
from protocols.vnc.clipboard import (
    ACTION_CAPS,
    ACTION_NOTIFY,
    ACTION_PEEK,
    ACTION_PROVIDE,
    ACTION_REQUEST,
    ENC_EXTENDED_CLIPBOARD,
    FORMAT_TEXT,
    ExtendedClipboard,
    decode_provided_text,
    encode_provide,
)

SERVER_CAPS = ACTION_CAPS | ACTION_REQUEST | ACTION_PEEK | ACTION_NOTIFY | ACTION_PROVIDE | FORMAT_TEXT


def parse(message: bytes) -> tuple[int, bytes]:
    """The flags and data of an extended ClientCutText."""
    kind, length = struct.unpack(">B3xi", message[:8])
    assert kind == m.MSG_CLIENT_CUT_TEXT and length == -(len(message) - 8)
    return struct.unpack(">I", message[8:12])[0], message[12:]


def provide(text: bytes, flags: int = ACTION_PROVIDE | FORMAT_TEXT) -> tuple[int, bytes]:
    return flags, zlib.compress(struct.pack(">I", len(text)) + text)


def test_the_servers_caps_are_answered_with_ours_and_switch_the_extension_on() -> None:
    clip = ExtendedClipboard()
    assert not clip.active
    reply, text = clip.handle(SERVER_CAPS, struct.pack(">I", 1 << 20))
    flags, data = parse(reply)
    assert text is None and clip.active
    assert flags & ACTION_CAPS and flags & FORMAT_TEXT and flags & ACTION_PROVIDE and flags & ACTION_NOTIFY
    assert struct.unpack(">I", data) == (m.MAX_CLIPBOARD_BYTES,)


def test_server_text_is_requested_when_notified_and_decoded_as_utf8_with_lf_line_ends() -> None:
    clip = ExtendedClipboard(server_flags=SERVER_CAPS)
    reply, _ = clip.handle(ACTION_NOTIFY | FORMAT_TEXT, b"")
    assert parse(reply) == (ACTION_REQUEST | FORMAT_TEXT, b"")
    assert clip.handle(ACTION_NOTIFY, b"") == (b"", None), "nothing to request when no text is announced"
    reply, text = clip.handle(*provide("caf\u00e9 \u2603\r\nline two\0".encode()))
    assert reply == b"" and text == "caf\u00e9 \u2603\nline two"


def test_our_text_is_announced_then_provided_when_requested_and_a_peek_is_answered() -> None:
    clip = ExtendedClipboard(server_flags=SERVER_CAPS)
    assert parse(clip.handle(ACTION_PEEK, b"")[0]) == (ACTION_NOTIFY, b"")
    assert parse(clip.announce("snow \u2603\nman")) == (ACTION_NOTIFY | FORMAT_TEXT, b"")
    flags, data = parse(clip.handle(ACTION_REQUEST | FORMAT_TEXT, b"")[0])
    assert flags == ACTION_PROVIDE | FORMAT_TEXT
    raw = zlib.decompress(data)
    assert raw[4:] == "snow \u2603\r\nman\0".encode() and struct.unpack(">I", raw[:4]) == (len(raw) - 4,)
    assert parse(clip.handle(ACTION_PEEK, b"")[0]) == (ACTION_NOTIFY | FORMAT_TEXT, b"")


def test_a_server_that_cannot_be_notified_gets_the_text_at_once() -> None:
    clip = ExtendedClipboard(server_flags=ACTION_CAPS | ACTION_PROVIDE | FORMAT_TEXT)
    flags, _ = parse(clip.announce("x"))
    assert flags == ACTION_PROVIDE | FORMAT_TEXT


def test_provided_text_over_the_cap_or_malformed_is_dropped_without_inflating_it_all() -> None:
    bomb = zlib.compress(struct.pack(">I", m.MAX_CLIPBOARD_BYTES + 1) + b"a" * (m.MAX_CLIPBOARD_BYTES + 1))
    assert decode_provided_text(ACTION_PROVIDE | FORMAT_TEXT, bomb) is None
    assert decode_provided_text(ACTION_PROVIDE | FORMAT_TEXT, b"not zlib") is None
    assert decode_provided_text(ACTION_PROVIDE | FORMAT_TEXT, zlib.compress(b"\0\0")) is None
    assert decode_provided_text(ACTION_PROVIDE, zlib.compress(b"\0\0\0\0")) is None, "no text format"
    short = zlib.compress(struct.pack(">I", 10) + b"abc")
    assert decode_provided_text(ACTION_PROVIDE | FORMAT_TEXT, short) is None
    try:
        encode_provide("a" * m.MAX_CLIPBOARD_BYTES)
    except ValueError:
        pass
    else:
        raise AssertionError("text over the cap is refused")


def extended(flags: int, data: bytes = b"") -> bytes:
    payload = struct.pack(">I", flags) + data
    return struct.pack(">B3xi", m.SMSG_SERVER_CUT_TEXT, -len(payload)) + payload


async def test_the_client_speaks_it_with_a_server_that_offers_it() -> None:
    got: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"RFB 003.008\n")
        await reader.readexactly(12)
        writer.write(bytes([1, m.SEC_NONE]))
        await reader.readexactly(1)
        writer.write(struct.pack(">I", 0))
        await reader.readexactly(1)
        writer.write(struct.pack(">HH", 16, 8) + m.RGBX.pack() + struct.pack(">I", 0))
        await reader.readexactly(20)
        head = await reader.readexactly(4)
        encodings = struct.unpack(f">{struct.unpack('>H', head[2:])[0]}i", await reader.readexactly(4 * head[3]))
        assert ENC_EXTENDED_CLIPBOARD in encodings
        got.set_result((reader, writer))
        await done.wait()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        client = await RfbClient.connect("127.0.0.1", port, password=None, connect_timeout=5, extended_clipboard=True)
        reader, writer = await got
        try:
            await reader.readexactly(10)  # the first FramebufferUpdateRequest
            updates = client.updates()
            assert await anext(updates) == DesktopSize(16, 8)
            writer.write(extended(SERVER_CAPS, struct.pack(">I", 1 << 20)))
            writer.write(struct.pack(">B3xi", m.SMSG_SERVER_CUT_TEXT, -(10 << 20)))  # over the cap: skipped
            writer.write(b"\0" * (10 << 20))
            writer.write(extended(*provide("\u2603\0".encode())))
            writer.write(struct.pack(">BxH", m.SMSG_FRAMEBUFFER_UPDATE, 0))
            async with asyncio.timeout(5):
                caps = await reader.readexactly(16)
                assert parse(caps)[0] & ACTION_CAPS
                assert await anext(updates) == Clipboard("\u2603")
                assert await anext(updates) == FrameEnd()
            assert client.extended_clipboard
            await client.send(Clipboard("back \u2603"))
            async with asyncio.timeout(5):
                while (await reader.readexactly(1))[0] != m.MSG_CLIENT_CUT_TEXT:
                    await reader.readexactly(9)  # the next FramebufferUpdateRequest
                notify = b"\x06" + await reader.readexactly(11)
            assert parse(notify) == (ACTION_NOTIFY | FORMAT_TEXT, b"")
        finally:
            done.set()
            await client.close()


Updates = AsyncIterator[DesktopOutput]


@asynccontextmanager
async def flooding_server() -> AsyncIterator[tuple[RfbClient, Updates, asyncio.StreamReader, asyncio.StreamWriter]]:
    """A client with the extension on (its updates, the first DesktopSize taken), connected to a server that sent its
    caps and whose socket receives into a small kernel buffer; the server's reader and writer (it reads nothing more
    unless the test does)."""
    got: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.get_running_loop().create_future()
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"RFB 003.008\n")
        await reader.readexactly(12)
        writer.write(bytes([1, m.SEC_NONE]))
        await reader.readexactly(1)
        writer.write(struct.pack(">I", 0))
        await reader.readexactly(1)
        writer.write(struct.pack(">HH", 16, 8) + m.RGBX.pack() + struct.pack(">I", 0))
        await reader.readexactly(20)
        head = await reader.readexactly(4)
        await reader.readexactly(4 * struct.unpack(">H", head[2:])[0])
        await reader.readexactly(10)  # the first FramebufferUpdateRequest
        writer.write(extended(SERVER_CAPS, struct.pack(">I", 1 << 20)))
        await reader.readexactly(16)  # our caps, once the consumer took the first DesktopSize
        got.set_result((reader, writer))
        await done.wait()
        writer.close()

    listening = socket.socket()
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    server = await asyncio.start_server(handle, sock=listening)
    async with server:
        port = listening.getsockname()[1]
        client = await RfbClient.connect("127.0.0.1", port, password=None, connect_timeout=5, extended_clipboard=True)
        try:
            updates = client.updates()
            assert await anext(updates) == DesktopSize(16, 8)
            reader, writer = await asyncio.wait_for(got, 5)
            yield client, updates, reader, writer
        finally:
            done.set()
            await client.close()


async def settled(client: RfbClient, timeout: float = 10) -> None:
    """Wait until the client has read nothing more for half a second."""
    last, still = -1, 0
    async with asyncio.timeout(timeout):
        while still < 5:
            await asyncio.sleep(0.1)
            read = client.stats.bytes_read
            still = still + 1 if read == last else 0
            last = read


async def test_a_server_that_requests_our_text_but_never_reads_is_not_read_past_the_backlog_limit() -> None:
    text = "".join(random.Random(0).choices(string.ascii_letters, k=60_000))  # about 45 KB provided, each time
    answer = len(encode_provide(text))
    requests = 500  # 6 KB asking for 22 MB
    async with flooding_server() as (client, updates, reader, writer):
        await client.send(Clipboard(text))
        request = extended(ACTION_REQUEST | FORMAT_TEXT)
        writer.write(request * requests)
        await settled(client)

        assert 0 < client.stats.unsent_bytes <= WRITE_BACKLOG_LIMIT + answer
        assert client.stats.bytes_read < 16 + 8 + 12 + len(request) * requests  # it stopped reading the requests

        # Once the server reads, the client answers the rest and reads on.
        answers = asyncio.ensure_future(reader.read(-1))
        writer.write(extended(*provide(b"read\0")))
        assert await asyncio.wait_for(anext(updates), 10) == Clipboard("read")
        answers.cancel()


async def test_skipped_extended_clipboard_messages_are_logged_once_a_minute_with_how_many(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with flooding_server() as (_, updates, _, writer):
        skipped = struct.pack(">B3xi", m.SMSG_SERVER_CUT_TEXT, -2) + b"\0\0"  # too short to carry flags
        writer.write(skipped * 200 + extended(*provide(b"one\0")))
        assert await asyncio.wait_for(anext(updates), 5) == Clipboard("one")
        lines = [r.getMessage() for r in caplog.records if "skipping an extended clipboard" in r.getMessage()]
        assert len(lines) == 1

        monkeypatch.setattr(vnc_client, "SKIPPED_LOG_INTERVAL", 0.0)  # the minute has passed
        writer.write(skipped + extended(*provide(b"two\0")))
        assert await asyncio.wait_for(anext(updates), 5) == Clipboard("two")
        lines = [r.getMessage() for r in caplog.records if "skipping an extended clipboard" in r.getMessage()]
        assert len(lines) == 2 and lines[1].endswith("(199 more since the last such line)")
