"""RDP Jumps through the whole gateway (console, tunnel, Jumpoint) to real RDP servers, as a browser sees them.

The session socket carries the same desktop stream as VNC; these tests decode it like the browser's renderer and
check the picture, typing, a late joiner, and the errors a rep sees.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np

from credential_store.local import LocalCredentialStore
from jumpoint.core import desktop_wire as dw
from jumpoint.core.desktop import Key
from jumpoint.core.secret import Secret
from tests.fixtures.gateway import Gateway, SessionSocket
from tests.fixtures.rdp import RdpServer, ShadowServer, XrdpServer, start_rdp_shadow, xrdp_tls
from tests.integration.desktop_view import Canvas, read_until, settle

__all__ = ["start_rdp_shadow", "xrdp_tls"]  # the fixtures, imported for pytest


async def _jump(gateway: Gateway, server: RdpServer, password: str | None = None, **fields: object) -> SessionSocket:
    LocalCredentialStore(gateway.state_dir / "jumpoint").add(
        "rdp/lab", "password", server.username, password=Secret(password or server.password), replace=True
    )
    item = await gateway.create_item(
        name="windows",
        protocol="rdp",
        hostname=f"{server.host}:{server.port}",
        credential_ref="local:rdp/lab",
        ignore_certificate=True,
        **fields,
    )
    sock = await gateway.jump(item["id"])
    hello = await sock.next_of("hello")
    assert hello["session"]["kind"] == "desktop" and hello["session"]["protocol"] == "rdp"
    return sock


def _typing(text: str) -> bytes:
    keys = [(0xFF0D if ch == "\r" else ord(ch)) for ch in text]
    return b"".join(dw.encode_input(Key(keysym, down)) for keysym in keys for down in (True, False))


async def test_an_rdp_jump_shows_the_desktop_takes_typing_and_a_late_joiner_sees_the_same(
    gateway: Gateway, xrdp_tls: XrdpServer
) -> None:
    sock = await _jump(gateway, xrdp_tls)
    try:
        await sock.until_connected()
        await sock.next_of("stream")
        canvas = Canvas()
        await read_until(sock, canvas, lambda: canvas.keyframes >= 1 and canvas.frames >= 1)
        assert canvas.kinds[:2] == [dw.KEYFRAME, dw.SIZE]
        xrdp_tls.wait_session_ready()
        await sock.ws.send_bytes(_typing("echo through-the-gateway > gw.txt\r"))
        assert (await asyncio.to_thread(xrdp_tls.wait_for_file, "gw.txt")).strip() == "through-the-gateway"
        timeline = str([m for m in sock.messages if m["t"] == "timeline"])
        assert "rdp/lab' injected" in timeline
        assert xrdp_tls.password not in str(sock.messages)

        late = await gateway.attach(sock.session_id)
        try:
            await late.next_of("hello")
            await late.next_of("stream")
            late_canvas = Canvas()
            await read_until(late, late_canvas, lambda: late_canvas.keyframes >= 1 and late_canvas.frames >= 1)
            assert late_canvas.kinds[0] == dw.KEYFRAME
            await settle(sock, canvas)
            await settle(late, late_canvas)
            difference = np.abs(canvas.pixels.astype(int) - late_canvas.pixels.astype(int))
            assert difference.mean() < 2.0, "the late joiner sees what the owner sees"
            assert (canvas.pixels[100:300, 100:300] > 200).all(), "the xterm's white background is drawn"
        finally:
            await late.close()
    finally:
        await sock.close()


async def test_a_wrong_rdp_password_ends_the_jump_as_an_authentication_failure(
    gateway: Gateway, start_rdp_shadow: Callable[..., ShadowServer]
) -> None:
    server = start_rdp_shadow(security="nla")
    sock = await _jump(gateway, server, password="Wrong-Pass1")
    try:
        error = await sock.until_ended()
        assert error["code"] == "target_auth_failed", error
        assert "Wrong-Pass1" not in str(sock.messages)
    finally:
        await sock.close()
