"""The VNC client against real servers: TigerVNC Xvnc (VNC authentication, VeNCrypt X509Vnc and TLSVnc) and x11vnc
on Xvfb, each with a focused xterm (see ``tests/fixtures/vnc.py``)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import ssl
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

from jumpoint.core.desktop import (
    Clipboard,
    CopyRect,
    CursorShape,
    Damage,
    DesktopOutput,
    DesktopSize,
    FrameEnd,
    Image,
    Key,
    Pointer,
    Quality,
    Refresh,
    Wheel,
)
from jumpoint.core.errors import TargetAuthFailed, TargetProtocolError, TargetUnreachable
from jumpoint.core.secret import Secret
from protocols.vnc import RfbClient
from protocols.vnc.queue import MAX_BYTES, MAX_EVENTS
from tests.fixtures.servers import free_port
from tests.fixtures.vnc import COLOUR_ANIMATION, VncServer, start_vnc, xvnc

__all__ = ["start_vnc", "xvnc"]  # fixtures

StartVnc = Callable[..., VncServer]
RETURN = 0xFF0D


async def connect(server: VncServer, **options: object) -> RfbClient:
    options.setdefault("password", Secret(server.password))
    return await RfbClient.connect(server.host, server.port, connect_timeout=10, **options)  # type: ignore[arg-type]


async def frames(client: RfbClient, count: int, timeout: float = 10) -> list[DesktopOutput]:
    """The events up to the ``count``-th FrameEnd."""
    events: list[DesktopOutput] = []
    updates = _updates(client)
    async with asyncio.timeout(timeout):
        while count:
            event = await anext(updates)
            events.append(event)
            count -= isinstance(event, FrameEnd)
    return events


def _updates(client: RfbClient) -> AsyncIterator[DesktopOutput]:
    cached = getattr(client, "_test_updates", None)
    if cached is None:
        cached = client.updates()
        client._test_updates = cached  # type: ignore[attr-defined]
    return cached


async def until(client: RfbClient, predicate: Callable[[DesktopOutput], bool], timeout: float = 10) -> DesktopOutput:
    """Read events until one matches."""
    updates = _updates(client)
    async with asyncio.timeout(timeout):
        while True:
            event = await anext(updates)
            if predicate(event):
                return event


async def drain(client: RfbClient, seconds: float) -> list[DesktopOutput]:
    """Everything that arrives within ``seconds``."""
    events: list[DesktopOutput] = []
    updates = _updates(client)
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            events.append(await asyncio.wait_for(anext(updates), left))
        except TimeoutError:
            break
    return events


async def type_text(client: RfbClient, text: str) -> None:
    for char in text:
        keysym = RETURN if char == "\n" else ord(char)
        await client.send(Key(keysym, True))
        await client.send(Key(keysym, False))


async def wait_for_file(path: Path, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().endswith("\n"):
            return path.read_text()
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} did not appear")


def pixels_of(image: Image) -> np.ndarray:
    if image.codec == "rgba":
        return np.frombuffer(image.data, np.uint8).reshape(image.height, image.width, 4)
    return np.asarray(PILImage.open(io.BytesIO(image.data)).convert("RGBA"))


# --- logging in ------------------------------------------------------------------------------------------------
async def test_vnc_authentication_logs_in_and_reports_the_desktop_size_and_name(xvnc: VncServer) -> None:
    client = await connect(xvnc)
    try:
        assert (client.width, client.height) == (1280, 800)
        assert client.name
        assert client.security.name == "VncAuth"
        assert not client.security.encrypted
        assert client.security.warning and "not encrypted" in client.security.warning
        events = await frames(client, 2)
        assert events[0] == DesktopSize(1280, 800)
        assert any(isinstance(e, Damage | Image) for e in events)  # pixels (Tight fills and palettes as PNG)
        assert any(isinstance(e, CursorShape) for e in events)
        assert client.can_resize
    finally:
        await client.close()


async def test_a_wrong_password_is_reported_as_an_authentication_failure(xvnc: VncServer) -> None:
    with pytest.raises(TargetAuthFailed) as caught:
        await connect(xvnc, password=Secret("not-the-password"))
    assert "the VNC password" in caught.value.message
    assert "Authentication failure" in caught.value.message  # TigerVNC's reason string
    assert caught.value.hint and "VNC password" in caught.value.hint


async def test_a_closed_port_is_unreachable() -> None:
    with pytest.raises(TargetUnreachable, match="connection refused"):
        await RfbClient.connect("127.0.0.1", free_port(), password=None, connect_timeout=5)


async def test_vencrypt_x509vnc_verifies_the_server_certificate_with_the_ca_file(start_vnc: StartVnc) -> None:
    server = start_vnc(security="X509Vnc,TLSVnc", xterm=None)
    assert server.ca_file is not None
    client = await connect(server, tls_ca_file=server.ca_file, allow_unencrypted=False)
    try:
        assert client.security.name == "VeNCrypt/X509Vnc"
        assert client.security.encrypted and client.security.server_verified
        der = ssl.PEM_cert_to_DER_cert(server.ca_file.read_text())
        assert client.security.certificate_sha256 == "SHA256:" + hashlib.sha256(der).digest().hex(":").upper()
        assert client.security.warning is None
        events = await frames(client, 2)
        assert events[0] == DesktopSize(1280, 800)
    finally:
        await client.close()


async def test_a_certificate_signed_by_another_ca_is_refused(start_vnc: StartVnc) -> None:
    server = start_vnc(security="X509Vnc", xterm=None)
    with pytest.raises(TargetProtocolError, match=r"TLS certificate .* was refused") as caught:
        await connect(server, tls_ca_file=server.wrong_ca_file)
    assert caught.value.hint and "CA certificate" in caught.value.hint


async def test_tlsvnc_encrypts_anonymously_and_says_the_server_is_not_verified(start_vnc: StartVnc) -> None:
    server = start_vnc(security="TLSVnc", xterm=None)
    client = await connect(server, allow_unencrypted=False)
    try:
        assert client.security.name == "VeNCrypt/TLSVnc"
        assert client.security.encrypted and not client.security.server_verified
        assert client.security.tls and client.security.tls.startswith("TLSv1.2")
        await frames(client, 2)
    finally:
        await client.close()
    with pytest.raises(TargetAuthFailed):
        await connect(server, password=Secret("wrong-pw"))


async def test_a_plain_server_is_refused_when_unencrypted_sessions_are_not_allowed(xvnc: VncServer) -> None:
    with pytest.raises(TargetProtocolError, match="only unencrypted"):
        await connect(xvnc, allow_unencrypted=False)


async def test_x11vnc_serves_the_xterm_in_zrle(start_vnc: StartVnc) -> None:
    server = start_vnc(kind="x11vnc")
    client = await connect(server, preferred_encoding="zrle")
    try:
        await frames(client, 1)
        await until(
            client, lambda e: isinstance(e, FrameEnd) and client.stats.rectangles.by_encoding.get("ZRLE", 0) > 0
        )
        picture = pixels_of(client.snapshot())
        assert picture[5:200, 5:400, :3].max() > 200  # the xterm's white background, top left
        await client.send(DesktopSize(800, 600))  # x11vnc on Xvfb cannot resize: refused (or ignored), no harm
        await client.send(Refresh())
        await until(client, lambda e: isinstance(e, FrameEnd))
        assert client.resize_refused is not None or not client.can_resize
        assert (client.width, client.height) == (1280, 800)
        await type_text(client, "echo from-x11vnc > x11vnc.txt\n")
        assert await wait_for_file(server.workdir / "x11vnc.txt") == "from-x11vnc\n"
    finally:
        await client.close()


# --- input -----------------------------------------------------------------------------------------------------
async def test_typed_keys_reach_the_focused_xterm(xvnc: VncServer) -> None:
    client = await connect(xvnc)
    try:
        await frames(client, 1)
        await type_text(client, "echo hello > typed.txt\n")
        assert await wait_for_file(xvnc.workdir / "typed.txt") == "hello\n"
    finally:
        await client.close()


async def test_pointer_and_wheel_events_keep_the_stream_going(xvnc: VncServer) -> None:
    client = await connect(xvnc)
    try:
        await frames(client, 1)
        for x in range(600, 700, 10):
            await client.send(Pointer(x, 500, 0))
        await client.send(Pointer(700, 500, 1))
        await client.send(Pointer(700, 500, 0))
        await client.send(Wheel(100, 100, 0, 3))
        await client.send(Wheel(100, 100, -1, -2))
        await client.send(Pointer(5000, 5000, 0))  # clamped to the desktop
        await client.send(Refresh())
        events = await until(client, lambda e: isinstance(e, Damage | Image) and e.width * e.height > 10_000)
        assert isinstance(events, Damage | Image)
        await client.send(Key(ord("x"), True))
        await client.send(Key(ord("x"), False))
        await client.send(Key(0xFF08, True))  # BackSpace
        await client.send(Key(0xFF08, False))
        await until(client, lambda e: isinstance(e, FrameEnd))
    finally:
        await client.close()


async def test_the_clipboard_travels_from_the_client_to_the_server(xvnc: VncServer) -> None:
    client = await connect(xvnc)
    try:
        await frames(client, 1)
        await client.send(Clipboard("pasted-from-the-client caf\u00e9 \u2603"))
        await type_text(client, "cat > pasted.txt\n")
        await asyncio.sleep(0.3)
        await client.send(Pointer(30, 30, 0b010))  # a middle click pastes PRIMARY, which Xvnc now owns
        await client.send(Pointer(30, 30, 0))
        await asyncio.sleep(0.3)
        await type_text(client, "\n")
        await client.send(Key(0xFFE3, True))  # Ctrl-D ends cat
        await type_text(client, "d")
        await client.send(Key(0xFFE3, False))
        text = (await wait_for_file(xvnc.workdir / "pasted.txt")).encode("utf-8")
        assert text == "pasted-from-the-client caf\u00e9 ?\n".encode()
    finally:
        await client.close()


async def test_the_clipboard_travels_from_the_server_to_the_client(xvnc: VncServer) -> None:
    # xterm sets the CLIPBOARD selection from an OSC 52 sequence; Xvnc sends it as ServerCutText
    (xvnc.workdir / "setclip.sh").write_text("printf '\\033]52;c;%s\\007' \"$(printf 'from the server' | base64)\"\n")
    client = await connect(xvnc)
    try:
        await frames(client, 1)
        await type_text(client, "sh setclip.sh\n")
        event = await until(client, lambda e: isinstance(e, Clipboard))
        assert event == Clipboard("from the server")
    finally:
        await client.close()


# --- resize ----------------------------------------------------------------------------------------------------
async def test_a_server_side_resize_reallocates_the_framebuffer(start_vnc: StartVnc) -> None:
    server = start_vnc(xterm=None)
    client = await connect(server)
    try:
        await frames(client, 1)
        server.x("xrandr", "-s", "1024x768")
        assert await until(client, lambda e: isinstance(e, DesktopSize)) == DesktopSize(1024, 768)
        assert (client.width, client.height) == (1024, 768)
        assert client.framebuffer.pixels.shape == (768, 1024, 4)
        await until(client, lambda e: isinstance(e, FrameEnd))
        assert client.snapshot().width == 1024
    finally:
        await client.close()


async def test_a_client_resize_asks_the_server_and_the_framebuffer_follows(start_vnc: StartVnc) -> None:
    server = start_vnc()
    client = await connect(server)
    try:
        await frames(client, 2)
        assert client.can_resize
        await client.send(DesktopSize(1000, 700))
        assert await until(client, lambda e: isinstance(e, DesktopSize)) == DesktopSize(1000, 700)
        assert (client.width, client.height) == (1000, 700)
        assert client.resize_refused is None
        assert "current 1000 x 700" in server.x("xrandr")
    finally:
        await client.close()


# --- pixels ----------------------------------------------------------------------------------------------------
async def test_a_snapshot_shows_the_xterm_where_it_is(xvnc: VncServer) -> None:
    client = await connect(xvnc)
    try:
        await frames(client, 2)
        await type_text(client, "clear; printf 'SNAPSHOT'\n")
        await drain(client, 0.5)
        picture = pixels_of(client.snapshot())
        assert picture.shape == (800, 1280, 4)
        assert (picture[:, :, 3] == 255).all()
        assert picture[5:250, 5:400, :3].max() > 200  # the xterm (white) at the top left
        assert picture[5:250, 5:400, :3].min() < 60  # its text (black)
        assert picture[600:, 700:, :3].max() == 0  # the bare root window
        png = pixels_of(client.snapshot("png"))
        assert np.array_equal(png[:, :, :3], picture[:, :, :3])
        assert client.pixels(0, 0, 4, 2) == picture[0:2, 0:4].tobytes()
    finally:
        await client.close()


async def test_jpeg_quality_gives_jpeg_images_and_lossless_gives_damage_or_png(start_vnc: StartVnc) -> None:
    server = start_vnc(xterm=COLOUR_ANIMATION)
    lossless = await connect(server, quality=Quality("full_color"))
    try:
        events = await frames(lossless, 8)
        assert not any(isinstance(e, Image) and e.codec == "jpeg" for e in events)
        assert sum(isinstance(e, Damage | Image) for e in events) >= 8
        for image in [e for e in events if isinstance(e, Image)][:5]:  # Tight fills and palettes, as they came
            assert image.codec == "png"
            assert PILImage.open(io.BytesIO(image.data)).size == (image.width, image.height)
        await lossless.send(Quality("video"))  # switched in the session
        events = await drain(lossless, 1.0)
        assert [e for e in events if isinstance(e, Image) and e.codec == "jpeg"]
    finally:
        await lossless.close()
    client = await connect(server, quality=Quality("more_colors"))
    try:
        events = await frames(client, 8)
        jpegs = [e for e in events if isinstance(e, Image) and e.codec == "jpeg"]
        assert jpegs
        for image in jpegs[:5]:
            assert image.data[:2] == b"\xff\xd8"  # a complete JPEG file, forwarded unchanged
            assert PILImage.open(io.BytesIO(image.data)).size == (image.width, image.height)
        assert client.framebuffer.pending > 0  # not decoded on arrival
        picture = pixels_of(client.snapshot())
        assert client.framebuffer.pending == 0
        assert len(np.unique(picture[10:300, 10:400, :3].reshape(-1, 3), axis=0)) > 50  # the colours are there
    finally:
        await client.close()


async def test_a_consumer_that_stops_reading_holds_the_server_back(start_vnc: StartVnc) -> None:
    server = start_vnc(xterm=COLOUR_ANIMATION)
    client = await connect(server, quality=Quality("video"))
    try:
        await frames(client, 5)
        before = client.stats
        await asyncio.sleep(2.0)  # the animation goes on; nobody reads
        during = client.stats
        assert during.updates - before.updates <= 1  # at most the update already requested
        assert during.queued_events <= MAX_EVENTS and during.queued_bytes <= MAX_BYTES
        assert during.requests - before.requests <= 1
        await asyncio.sleep(1.0)
        after = client.stats
        assert after.updates == during.updates and after.bytes_read - during.bytes_read < 1 << 20
        events = await frames(client, 3)  # reading again resumes the stream
        assert sum(isinstance(e, FrameEnd) for e in events) == 3
    finally:
        await client.close()


async def test_copyrect_is_forwarded_when_the_server_moves_pixels(start_vnc: StartVnc) -> None:
    server = start_vnc(xterm=("bash", "--norc", "--noprofile"))
    client = await connect(server)
    try:
        await frames(client, 2)
        server.x("xdotool", "search", "--class", "xterm", "windowmove", "300", "200")
        events = await drain(client, 1.0)
        copies = [e for e in events if isinstance(e, CopyRect)]
        assert copies  # TigerVNC sends a window move as a CopyRect
        picture = pixels_of(client.snapshot())
        assert picture[210:400, 310:600, :3].max() > 200  # the xterm's pixels followed
        assert picture[0:150, 0:250, :3].max() == 0  # and left the root window behind
    finally:
        await client.close()
