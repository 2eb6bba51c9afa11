"""VNC Jumps through the whole gateway (console, tunnel, Jumpoint) to a real Xvnc, as a browser sees them.

The session socket carries the desktop stream of ``jumpoint.core.desktop_wire``: these tests decode it like the
browser's renderer (Pillow in place of the canvas) and compare the picture with the server's own framebuffer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import numpy as np

from credential_store.local import LocalCredentialStore
from jumpoint.core import desktop_wire as dw
from jumpoint.core.desktop import Key, Pointer
from jumpoint.core.secret import Secret
from tests.fixtures.gateway import Gateway, SessionSocket
from tests.fixtures.vnc import VncServer, colour_animation, start_vnc, xvnc
from tests.integration.desktop_view import Canvas, read_until, settle

__all__ = ["start_vnc", "xvnc"]  # the fixtures, imported for pytest


async def _jump(gateway: Gateway, server: VncServer, **fields: object) -> SessionSocket:
    LocalCredentialStore(gateway.state_dir / "jumpoint").add(
        "vnc/lab", "password", None, password=Secret(server.password), replace=True
    )
    item = await gateway.create_item(
        name="desktop",
        protocol="vnc",
        hostname=f"{server.host}:{server.port}",
        credential_ref="local:vnc/lab",
        **fields,
    )
    sock = await gateway.jump(item["id"])
    hello = await sock.next_of("hello")
    assert hello["session"]["kind"] == "desktop" and hello["session"]["protocol"] == "vnc"
    await sock.until_connected()
    return sock


async def test_a_vnc_jump_shows_the_desktop_from_a_keyframe_with_the_injected_password(
    gateway: Gateway, xvnc: VncServer
) -> None:
    sock = await _jump(gateway, xvnc)
    try:
        await sock.next_of("stream")  # where the first complete picture starts
        canvas = Canvas()
        await read_until(sock, canvas, lambda: canvas.keyframes >= 1 and canvas.frames >= 1)
        assert canvas.kinds[:2] == [dw.KEYFRAME, dw.SIZE]
        assert canvas.pixels.shape == (800, 1280, 3)
        assert canvas.pixels[:200, :300].any(), "the xterm at the top left is drawn"
        timeline = [m for m in sock.messages if m["t"] == "timeline"]
        assert "credential 'local:vnc/lab' injected" in str(timeline)
    finally:
        await sock.close()


async def test_typing_reaches_the_xterm_and_a_late_joiner_starts_at_a_keyframe(
    gateway: Gateway, xvnc: VncServer, tmp_path: Path
) -> None:
    marker = tmp_path / "typed"
    xvnc.focus_xterm()
    sock = await _jump(gateway, xvnc)
    try:
        await sock.next_of("stream")
        canvas = Canvas()
        await read_until(sock, canvas, lambda: canvas.keyframes >= 1)
        text = f"touch {marker}\r"
        keys = b"".join(
            dw.encode_input(Key(ord(ch) if ch != "\r" else 0xFF0D, down)) for ch in text for down in (True, False)
        )
        await sock.ws.send_bytes(dw.encode_input(Pointer(100, 100, 0)) + keys)
        async with asyncio.timeout(10):
            while not marker.exists():
                await asyncio.sleep(0.1)

        late = await gateway.attach(sock.session_id)  # the admin's second browser tab: a late joiner
        try:
            await late.next_of("hello")
            start = await late.next_of("stream")
            assert start["pos"] > 0, "a late joiner starts at a keyframe, not at the beginning"
            late_canvas = Canvas()
            await read_until(late, late_canvas, lambda: late_canvas.keyframes >= 1 and late_canvas.frames >= 1)
            assert late_canvas.kinds[0] == dw.KEYFRAME
            await settle(sock, canvas)
            await settle(late, late_canvas)
            difference = np.abs(canvas.pixels.astype(int) - late_canvas.pixels.astype(int))
            assert difference.mean() < 2.0, "the late joiner sees what the owner sees"
            assert canvas.pixels[:200, :300].any()
        finally:
            await late.close()
    finally:
        await sock.close()


async def test_a_wrong_vnc_password_ends_the_jump_as_an_authentication_failure(
    gateway: Gateway, start_vnc: Callable[..., VncServer]
) -> None:
    server = start_vnc(xterm=None)
    LocalCredentialStore(gateway.state_dir / "jumpoint").add("vnc/bad", "password", None, password=Secret("wrong!"))
    item = await gateway.create_item(
        name="bad", protocol="vnc", hostname=f"{server.host}:{server.port}", credential_ref="local:vnc/bad"
    )
    sock = await gateway.jump(item["id"])
    try:
        error = await sock.until_ended()
        assert error["code"] == "target_auth_failed", error
        assert "wrong!" not in str(sock.messages)
    finally:
        await sock.close()


async def test_a_viewer_who_comes_back_after_the_keyframe_was_evicted_gets_a_new_one(
    gateway: Gateway, start_vnc: Callable[..., VncServer]
) -> None:
    server = start_vnc(xterm=colour_animation(cols=120, rows=40, delay=0.02))
    sock = await _jump(gateway, server)
    session_id = sock.session_id
    try:
        first_keyframe = (await sock.next_of("stream"))["pos"]
        canvas = Canvas()
        stream = gateway.hub.sessions[session_id].stream
        # watch until the first keyframe has left the console's log, then go away while the desktop keeps changing
        await read_until(sock, canvas, lambda: stream.start > first_keyframe, timeout=60)
    finally:
        await sock.close()
    await asyncio.sleep(5.0)  # output piles up to the window while nobody watches
    back = await gateway.attach(session_id)
    try:
        start = await back.next_of("stream", timeout=20)
        assert start["pos"] >= stream.start
        again = Canvas()
        await read_until(back, again, lambda: again.keyframes >= 1 and again.frames >= 1)
        assert again.kinds[0] == dw.KEYFRAME
    finally:
        await back.close()
