"""VNC Jumps through the whole gateway (console, tunnel, Jumpoint): VeNCrypt certificate trust like SSH host keys,
anonymous TLS, wrong passwords under TLS, the clipboard both ways, resizing both ways, and x11vnc.

Sessions are driven through the gateway fixture's session socket as a browser would (see ``test_gateway_vnc.py``,
whose ``Canvas`` decodes the desktop stream); the servers are real (``tests/fixtures/vnc.py``).
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

from credential_store.local import LocalCredentialStore
from jumpoint.core import desktop_wire as dw
from jumpoint.core.desktop import Clipboard, DesktopSize, Key, Pointer, Refresh
from jumpoint.core.secret import Secret
from tests.fixtures.gateway import Gateway, SessionSocket
from tests.fixtures.vnc import VncServer, start_vnc, xvnc
from tests.integration.desktop_view import Canvas, read_until, settle

__all__ = ["start_vnc", "xvnc"]  # the fixtures, imported for pytest

StartVnc = Callable[..., VncServer]
RETURN = 0xFF0D


def cert_fingerprint(server: VncServer) -> str:
    """The server certificate's SHA-256 as the rep is shown it (``openssl x509 -fingerprint -sha256``)."""
    assert server.ca_file is not None
    der = ssl.PEM_cert_to_DER_cert(server.ca_file.read_text())
    return "SHA256:" + hashlib.sha256(der).digest().hex(":").upper()


async def make_item(gateway: Gateway, server: VncServer, *, password: str | None = None, name: str = "desktop") -> int:
    """A VNC item with a password credential (the server's unless ``password`` is given)."""
    ref = f"vnc/{name}"
    LocalCredentialStore(gateway.state_dir / "jumpoint").add(
        ref, "password", None, password=Secret(password or server.password), replace=True
    )
    item = await gateway.create_item(
        name=name, protocol="vnc", hostname=f"{server.host}:{server.port}", credential_ref=f"local:{ref}"
    )
    return int(item["id"])


async def until_state(sock: SessionSocket, *, decision: str | None = None, timeout: float = 30) -> tuple[str, int]:
    """Read until the session is ``connected`` or ``ended``, answering host-key prompts with ``decision`` (None:
    a prompt fails the test); the final state and how many host-key prompts came."""
    prompts = 0
    async with asyncio.timeout(timeout):
        while True:
            msg = await sock.next_of("prompt_host_key", "prompt_text", "state")
            if msg["t"] == "prompt_host_key":
                assert decision is not None, f"unexpected host-key prompt: {msg}"
                prompts += 1
                await sock.send_json({"t": "answer_host_key", "id": msg["id"], "decision": decision})
            elif msg["t"] == "prompt_text":
                raise AssertionError(f"unexpected text prompt: {msg}")
            elif msg["state"] in ("connected", "ended"):
                return msg["state"], prompts


async def end(gateway: Gateway, sock: SessionSocket) -> None:
    """End the session (the next Jump to the item starts a new one, with a new connection) and close the socket."""
    try:
        await gateway.api("POST", f"/api/v1/sessions/{sock.session_id}/end")
    finally:
        await sock.close()


def error_of(sock: SessionSocket) -> dict[str, Any]:
    return dict(next(m for m in sock.messages if m["t"] == "error")["error"])


def timeline_text(sock: SessionSocket) -> str:
    return str([m for m in sock.messages if m["t"] == "timeline"])


async def first_picture(sock: SessionSocket) -> Canvas:
    await sock.next_of("stream")
    canvas = Canvas()
    await read_until(sock, canvas, lambda: canvas.keyframes >= 1 and canvas.frames >= 1)
    return canvas


async def type_keys(sock: SessionSocket, text: str) -> None:
    keys = b"".join(
        dw.encode_input(Key(RETURN if ch == "\n" else ord(ch), down)) for ch in text for down in (True, False)
    )
    await sock.ws.send_bytes(keys)


async def wait_for_file(path: Path, timeout: float = 10) -> str:
    async with asyncio.timeout(timeout):
        while not path.exists() or not path.read_text().endswith("\n"):
            await asyncio.sleep(0.1)
    return path.read_text()


async def wait_for_timeline(sock: SessionSocket, needle: str, timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while needle not in timeline_text(sock):
            await sock._read_one()


# --- VeNCrypt certificate trust --------------------------------------------------------------------------------
async def test_an_unknown_self_signed_certificate_asks_the_rep_and_save_key_and_connect_caches_it(
    gateway: Gateway, start_vnc: StartVnc
) -> None:
    server = start_vnc(security="X509Vnc", xterm=None)
    item_id = await make_item(gateway, server)
    first = await gateway.jump(item_id)
    try:
        prompt = await first.next_of("prompt_host_key")
        assert prompt["key"] == {"algorithm": "x509-sha256", "fingerprint": cert_fingerprint(server)}
        assert (prompt["host"], prompt["port"]) == (server.host, server.port)
        assert "injected" not in timeline_text(first), "no credential before the server's identity is settled"
        await first.send_json({"t": "answer_host_key", "id": prompt["id"], "decision": "save"})
        assert await until_state(first) == ("connected", 0)
        canvas = await first_picture(first)
        assert canvas.pixels.shape == (800, 1280, 3)
        await wait_for_timeline(
            first, f"TLS certificate {cert_fingerprint(server)} of {server.host}:{server.port} saved"
        )
    finally:
        await end(gateway, first)

    second = await gateway.jump(item_id)
    try:
        assert await until_state(second) == ("connected", 0), "a cached certificate is not asked about again"
        await first_picture(second)
    finally:
        await end(gateway, second)
    keys = await gateway.api("GET", f"/api/v1/jumpoints/{gateway.jumpoint_id}/host-keys", expect=200)
    listed = keys["items"] if isinstance(keys, dict) else keys
    assert any(k["port"] == server.port and k["algorithm"] == "x509-sha256" for k in listed)


async def test_a_changed_certificate_is_refused_with_both_fingerprints_and_no_password_sent(
    gateway: Gateway, start_vnc: StartVnc
) -> None:
    server = start_vnc(security="X509Vnc", xterm=None)
    item_id = await make_item(gateway, server)
    old = cert_fingerprint(server)
    first = await gateway.jump(item_id)
    try:
        assert await until_state(first, decision="save") == ("connected", 1)
    finally:
        await end(gateway, first)
    server.rotate_certificate()
    new = cert_fingerprint(server)
    assert new != old
    second = await gateway.jump(item_id)
    try:
        assert await until_state(second, decision=None) == ("ended", 0), "a changed certificate is never asked about"
        error = error_of(second)
        assert error["code"] == "host_key_mismatch", error
        assert old in error["message"] and new in error["message"]
        assert "injected" not in timeline_text(second)
    finally:
        await end(gateway, second)


async def test_abort_on_an_unknown_certificate_ends_the_jump_without_using_the_password(
    gateway: Gateway, start_vnc: StartVnc
) -> None:
    server = start_vnc(security="X509Vnc", xterm=None)
    sock = await gateway.jump(await make_item(gateway, server))
    try:
        assert await until_state(sock, decision="abort") == ("ended", 1)
        error = error_of(sock)
        assert error["code"] == "host_key_rejected", error
        assert cert_fingerprint(server) in error["message"]
        assert "injected" not in timeline_text(sock)
    finally:
        await end(gateway, sock)


async def test_connect_only_connects_without_caching_so_the_next_jump_asks_again(
    gateway: Gateway, start_vnc: StartVnc
) -> None:
    server = start_vnc(security="X509Vnc", xterm=None)
    item_id = await make_item(gateway, server)
    for _ in range(2):
        sock = await gateway.jump(item_id)
        try:
            assert await until_state(sock, decision="once") == ("connected", 1)
            await first_picture(sock)
            await wait_for_timeline(sock, "accepted for this session only")
        finally:
            await end(gateway, sock)


async def test_tlsvnc_connects_without_a_question_and_is_announced_as_unauthenticated(
    gateway: Gateway, start_vnc: StartVnc
) -> None:
    server = start_vnc(security="TLSVnc", xterm=None)
    sock = await gateway.jump(await make_item(gateway, server))
    try:
        assert await until_state(sock) == ("connected", 0)
        await first_picture(sock)
        await wait_for_timeline(sock, "not authenticated")
    finally:
        await end(gateway, sock)


async def test_a_wrong_password_under_vencrypt_ends_the_jump_as_an_authentication_failure(
    gateway: Gateway, start_vnc: StartVnc
) -> None:
    for security, decision in (("X509Vnc", "once"), ("TLSVnc", None)):
        server = start_vnc(security=security, xterm=None)
        sock = await gateway.jump(await make_item(gateway, server, password="wrong!!", name=security))
        try:
            assert await until_state(sock, decision=decision) == ("ended", 1 if decision else 0)
            error = error_of(sock)
            assert error["code"] == "target_auth_failed", error
            assert "wrong!!" not in str(sock.frames)
        finally:
            await end(gateway, sock)


# --- clipboard -------------------------------------------------------------------------------------------------
async def test_a_participants_clipboard_reaches_the_servers_clipboard(gateway: Gateway, xvnc: VncServer) -> None:
    xvnc.focus_xterm()
    target = xvnc.workdir / "pasted-through-gateway.txt"
    sock = await gateway.jump(await make_item(gateway, xvnc))
    try:
        assert await until_state(sock) == ("connected", 0)
        await first_picture(sock)
        await sock.ws.send_bytes(dw.encode_input(Clipboard("through the gateway caf\u00e9 \u2603")))
        await type_keys(sock, f"cat > {target}\n")
        await asyncio.sleep(0.3)
        # a middle click pastes PRIMARY, which Xvnc now owns; then Return and Ctrl-D end cat
        await sock.ws.send_bytes(dw.encode_input(Pointer(30, 30, 0b010)) + dw.encode_input(Pointer(30, 30, 0)))
        await asyncio.sleep(0.3)
        await type_keys(sock, "\n")
        await sock.ws.send_bytes(
            dw.encode_input(Key(0xFFE3, True))
            + dw.encode_input(Key(ord("d"), True))
            + dw.encode_input(Key(ord("d"), False))
            + dw.encode_input(Key(0xFFE3, False))
        )
        # UTF-8 end to end (Extended Clipboard): the snowman is not replaced as plain RFB's Latin-1 would
        assert await wait_for_file(target) == "through the gateway caf\u00e9 \u2603\n"
    finally:
        await end(gateway, sock)


async def test_the_servers_clipboard_arrives_as_a_clipboard_message_in_the_stream(
    gateway: Gateway, xvnc: VncServer
) -> None:
    xvnc.focus_xterm()
    script = xvnc.workdir / "setclip-gateway.sh"
    script.write_text("printf '\\033]52;c;%s\\007' \"$(printf 'from the server desktop \\342\\230\\203' | base64)\"\n")
    sock = await gateway.jump(await make_item(gateway, xvnc))
    try:
        assert await until_state(sock) == ("connected", 0)
        await first_picture(sock)
        parser = dw.StreamParser(dw.OUTPUT_TYPES)
        fed = len(sock.output)
        parser.feed(bytes(sock.output[:fed]))
        await type_keys(sock, f"sh {script}\n")
        texts: list[str] = []
        async with asyncio.timeout(15):
            while "from the server desktop \u2603" not in texts:
                await sock._read_one()
                for message in parser.feed(bytes(sock.output[fed:])):
                    if message.kind == dw.CLIPBOARD:
                        texts.append(message.body.decode())
                fed = len(sock.output)
    finally:
        await end(gateway, sock)


async def size_then_keyframe(sock: SessionSocket, canvas: Canvas, start: int, size: tuple[int, int]) -> None:
    """Read until the stream, from byte ``start`` on, has said the new ``size`` and then drawn a complete picture at
    it (a KEYFRAME up to its FrameEnd); the first size said must be the new one, alone or as the keyframe's own."""
    parser = dw.StreamParser(dw.OUTPUT_TYPES)
    after: list[tuple[int, bytes]] = []
    fed = start

    def done() -> bool:
        nonlocal fed
        after.extend((m.kind, m.body) for m in parser.feed(bytes(sock.output[fed:])))
        fed = len(sock.output)
        kinds = [kind for kind, _ in after]
        sizes = [dw.decode_size(body) for kind, body in after if kind == dw.SIZE]
        return size in sizes and dw.KEYFRAME in kinds[max(0, kinds.index(dw.SIZE) - 1) :] and kinds[-1] == dw.FRAME_END

    await read_until(sock, canvas, done, timeout=20)
    kinds = [kind for kind, _ in after]
    first_size = kinds.index(dw.SIZE)
    assert dw.decode_size(after[first_size][1]) == size, "the first size after the change is the new one"
    assert first_size <= kinds.index(dw.KEYFRAME) + 1, "SIZE alone, or as the keyframe's first message"
    assert canvas.pixels.shape == (size[1], size[0], 3)


# --- resize ----------------------------------------------------------------------------------------------------
async def test_a_server_side_resize_shows_as_a_size_message_then_a_keyframe_at_the_new_size(
    gateway: Gateway, start_vnc: StartVnc
) -> None:
    server = start_vnc()
    sock = await gateway.jump(await make_item(gateway, server))
    try:
        assert await until_state(sock) == ("connected", 0)
        canvas = await first_picture(sock)
        await settle(sock, canvas)  # the console may have asked for a second keyframe at the start
        start = len(sock.output)
        server.x("xrandr", "-s", "1024x768")
        await size_then_keyframe(sock, canvas, start, (1024, 768))
        assert canvas.pixels.shape == (768, 1024, 3)
        await settle(sock, canvas)
        assert canvas.pixels[:200, :300].any(), "the xterm is drawn at the new size"

        late = await gateway.attach(sock.session_id)  # a late joiner starts at the keyframe at the new size
        try:
            await late.next_of("hello")
            await late.next_of("stream")
            late_canvas = Canvas()
            await read_until(late, late_canvas, lambda: late_canvas.keyframes >= 1 and late_canvas.frames >= 1)
            assert late_canvas.kinds[0] == dw.KEYFRAME
            assert late_canvas.pixels.shape == (768, 1024, 3)
        finally:
            await late.close()
    finally:
        await end(gateway, sock)


async def test_a_size_asked_for_by_a_participant_resizes_xvnc(gateway: Gateway, start_vnc: StartVnc) -> None:
    server = start_vnc()
    sock = await gateway.jump(await make_item(gateway, server))
    try:
        assert await until_state(sock) == ("connected", 0)
        canvas = await first_picture(sock)
        await settle(sock, canvas)
        start = len(sock.output)
        await sock.ws.send_bytes(dw.encode_input(DesktopSize(1000, 700)))
        await size_then_keyframe(sock, canvas, start, (1000, 700))
        assert "current 1000 x 700" in server.x("xrandr")
    finally:
        await end(gateway, sock)


# --- x11vnc ----------------------------------------------------------------------------------------------------
async def test_an_x11vnc_session_shows_its_desktop_and_a_refused_resize_is_a_notice_not_a_failure(
    gateway: Gateway, start_vnc: StartVnc
) -> None:
    server = start_vnc(kind="x11vnc")
    sock = await gateway.jump(await make_item(gateway, server))
    try:
        assert await until_state(sock) == ("connected", 0)
        canvas = await first_picture(sock)
        assert canvas.pixels.shape == (800, 1280, 3)
        assert canvas.pixels[5:200, 5:400].max() > 200, "the xterm's white background, top left"
        await sock.ws.send_bytes(dw.encode_input(DesktopSize(800, 600)) + dw.encode_input(Refresh()))
        keyframes = canvas.keyframes
        await read_until(sock, canvas, lambda: canvas.keyframes > keyframes)
        await type_keys(sock, "echo still-here > x11vnc-gateway.txt\n")  # the session goes on
        assert await wait_for_file(server.workdir / "x11vnc-gateway.txt") == "still-here\n"
        await wait_for_timeline(sock, "stays 1280x800")
        assert canvas.pixels.shape == (800, 1280, 3)
        assert not any(m["t"] == "error" for m in sock.messages)
    finally:
        await end(gateway, sock)
