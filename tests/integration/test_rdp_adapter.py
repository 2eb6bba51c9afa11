"""The RDP adapter against real servers: FreeRDP's shadow server (NLA, TLS) and xrdp (TLS, classic RDP security).

Each test jumps like the Jumpoint does (a Target, an adapter context with the host-key cache and a scripted rep)
and checks what a rep would see: the desktop's pixels, text typed arriving in the session's shell, the
certificate question and the cache, and the error messages of a refused login.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pytest

from credential_store.local import LocalCredentialStore
from jumpoint.agent.hostkey_store import FileHostKeyStore
from jumpoint.core.adapter import AdapterContext, PromptField, Target
from jumpoint.core.desktop import Clipboard, CursorShape, Damage, DesktopOutput, DesktopSize, FrameEnd, Key, Pointer
from jumpoint.core.errors import HostKeyMismatch, HostKeyRejected, TargetAuthFailed, TargetProtocolError
from jumpoint.core.events import Notice
from jumpoint.core.hostkeys import certificate_host_key
from jumpoint.core.secret import Secret
from protocols.rdp.adapter import RdpAdapter, RdpDesktop
from tests.fixtures.rdp import RdpServer, ShadowServer, XrdpServer, start_rdp_shadow, start_xrdp, xrdp_tls
from tests.integration.adapters import ScriptedRep, make_ctx, typing

__all__ = ["start_rdp_shadow", "start_xrdp", "xrdp_tls"]  # the fixtures, imported for pytest

WAIT = 20.0


def rdp_target(server: RdpServer, **overrides: object) -> Target:
    fields: dict[str, object] = {
        "protocol": "rdp",
        "hostname": server.host,
        "port": server.port,
        "username": server.username,
        "connect_timeout": 15.0,
        "desktop_width": 1024,
        "desktop_height": 768,
    }
    fields.update(overrides)
    return Target.model_validate(fields)


def with_credential(ctx: AdapterContext, tmp_path: Path, server: RdpServer) -> str:
    store = LocalCredentialStore(tmp_path / "state")
    store.add("rdp/lab", "password", server.username, password=Secret(server.password), replace=True)
    ctx.credentials = store
    return "rdp/lab"


class Viewer:
    """Collects a desktop's events like the Jumpoint's desktop stream does."""

    def __init__(self, desktop: RdpDesktop) -> None:
        self.desktop = desktop
        self.events: AsyncIterator[DesktopOutput | Notice] = desktop.events()
        self.seen: list[DesktopOutput | Notice] = []
        self.size: tuple[int, int] | None = None

    async def until(self, done: object, timeout: float = WAIT) -> None:
        async with asyncio.timeout(timeout):
            while not done():  # type: ignore[operator]
                event = await anext(self.events)
                self.seen.append(event)
                if isinstance(event, DesktopSize):
                    self.size = (event.width, event.height)

    def damaged(self) -> int:
        return sum(1 for event in self.seen if isinstance(event, Damage))

    async def type_line(self, text: str) -> None:
        for char in text:
            await self.desktop.send(Key(ord(char), True))
            await self.desktop.send(Key(ord(char), False))
        await self.desktop.send(Key(0xFF0D, True))
        await self.desktop.send(Key(0xFF0D, False))

    def picture(self) -> np.ndarray:
        assert self.size is not None
        width, height = self.size
        return np.frombuffer(self.desktop.pixels(0, 0, width, height), np.uint8).reshape(height, width, 4)


@contextlib.asynccontextmanager
async def logged_in(server: RdpServer, tmp_path: Path) -> AsyncIterator[Viewer]:
    """A Jump to ``server`` with its password as the item's credential, the desktop drawn; closed afterwards."""
    ctx = make_ctx(tmp_path, ScriptedRep("save"))
    viewer = await jump(server, ctx, credential_ref=with_credential(ctx, tmp_path, server))
    try:
        yield viewer
    finally:
        await viewer.desktop.close()


async def resize(viewer: Viewer, width: int, height: int) -> None:
    """Ask for a new window size and wait until the desktop is drawn at it."""
    await viewer.desktop.send(DesktopSize(width, height))
    await viewer.until(lambda: viewer.size == (width, height))
    await viewer.until(lambda: isinstance(viewer.seen[-1], FrameEnd) and viewer.damaged() > 0)


async def session_clipboard(viewer: Viewer, server: XrdpServer, file: str) -> str:
    """What the session pastes: the xterm reads the CLIPBOARD (OSC 52 query) into ``file``."""
    await viewer.type_line(
        "printf '\\033]52;c;?\\a'; read -r -s -d $'\\a' reply; "
        f'text=$(printf %s "${{reply##*;}}" | base64 -d); echo "$text" > {file}'
    )
    # The client must keep serving the server's data request meanwhile: wait in a thread.
    return (await asyncio.to_thread(server.wait_for_file, file)).strip()


async def jump(server: RdpServer, ctx: AdapterContext, **overrides: object) -> Viewer:
    desktop = await RdpAdapter().connect(rdp_target(server, **overrides), ctx)
    viewer = Viewer(desktop)
    await viewer.until(lambda: viewer.size is not None and viewer.damaged() > 0)
    return viewer


async def test_nla_login_to_the_shadow_server_shows_its_xterm_and_takes_typing(
    start_rdp_shadow: object, tmp_path: Path
) -> None:
    server: ShadowServer = start_rdp_shadow(security="nla", width=1024, height=768)  # type: ignore[operator]
    rep = ScriptedRep("save")
    ctx = make_ctx(tmp_path, rep)
    viewer = await jump(server, ctx, credential_ref=with_credential(ctx, tmp_path, server))
    try:
        assert viewer.size == (1024, 768)
        # The server sends the whole desktop in several frames: wait until the xterm's area has come.
        await viewer.until(lambda: bool((viewer.picture()[200, 200, :3] > 200).all()))
        picture = viewer.picture()
        # The xterm (white, black text) at the top left of a black root window, as Xvfb shows it.
        assert (picture[200, 200, :3] > 200).all(), picture[200, 200]
        assert (picture[700, 1000, :3] < 40).all(), picture[700, 1000]
        await viewer.type_line("echo rdp-typed > typed.txt")
        assert server.wait_for_file("typed.txt").strip() == "rdp-typed"
        notices = [event.text for event in viewer.seen if isinstance(event, Notice)]
        assert any("rdp/lab' injected" in text for text in notices), notices
        assert any("saved" in text for text in notices), notices
    finally:
        await viewer.desktop.close()
    # The certificate was asked about once, then cached: the next Jump asks nothing.
    assert len(rep.host_keys) == 1
    assert server.certificate_sha256 is not None
    cached = FileHostKeyStore(tmp_path / "known_hosts").check(
        server.host, server.port, certificate_host_key(server.certificate_sha256)
    )
    assert cached.status == "valid"
    again = await jump(server, ctx, credential_ref="rdp/lab")
    await again.desktop.close()
    assert len(rep.host_keys) == 1


async def test_a_wrong_nla_password_is_reported_as_a_refused_login(start_rdp_shadow: object, tmp_path: Path) -> None:
    server: ShadowServer = start_rdp_shadow(security="nla")  # type: ignore[operator]
    ctx = make_ctx(tmp_path, ScriptedRep("once", answer=typing("not-the-password")))
    with pytest.raises(TargetAuthFailed) as caught:
        await RdpAdapter().connect(rdp_target(server), ctx)
    assert f"user {server.username}" in str(caught.value)
    assert "not-the-password" not in str(caught.value)


async def test_the_password_typed_at_jump_is_asked_after_the_certificate(
    start_rdp_shadow: object, tmp_path: Path
) -> None:
    server: ShadowServer = start_rdp_shadow(security="nla")  # type: ignore[operator]
    order: list[str] = []

    def answer(field: PromptField) -> str:
        order.append(field.text)
        return server.password

    rep = ScriptedRep("once", answer=answer)
    rep.on_host_key = lambda: order.append("certificate")
    ctx = make_ctx(tmp_path, rep)
    viewer = await jump(server, ctx)
    await viewer.desktop.close()
    assert order == ["certificate", "Password:"]
    # "Connect Only" does not cache the certificate.
    assert FileHostKeyStore(tmp_path / "known_hosts").list() == []


async def test_an_item_that_allows_only_tls_is_told_the_server_requires_nla(
    start_rdp_shadow: object, tmp_path: Path
) -> None:
    server: ShadowServer = start_rdp_shadow(security="nla")  # type: ignore[operator]
    ctx = make_ctx(tmp_path, ScriptedRep("once", answer=typing(server.password)))
    with pytest.raises(TargetProtocolError) as caught:
        await RdpAdapter().connect(rdp_target(server, rdp_security="tls"), ctx)
    assert "requires Network Level Authentication" in str(caught.value)


async def test_a_changed_certificate_is_refused_before_any_password_is_sent(
    start_rdp_shadow: object, tmp_path: Path
) -> None:
    server: ShadowServer = start_rdp_shadow(security="nla")  # type: ignore[operator]
    store = FileHostKeyStore(tmp_path / "known_hosts")
    store.trust(server.host, server.port, certificate_host_key(bytes(32)))
    rep = ScriptedRep("save", answer=typing(server.password))
    ctx = make_ctx(tmp_path, rep, store)
    with pytest.raises(HostKeyMismatch) as caught:
        await RdpAdapter().connect(rdp_target(server), ctx)
    assert "has changed" in str(caught.value)
    assert rep.prompts == [] and rep.host_keys == []


async def test_aborting_at_the_certificate_question_ends_the_jump(start_rdp_shadow: object, tmp_path: Path) -> None:
    server: ShadowServer = start_rdp_shadow(security="nla")  # type: ignore[operator]
    rep = ScriptedRep("abort", answer=typing(server.password))
    with pytest.raises(HostKeyRejected):
        await RdpAdapter().connect(rdp_target(server), make_ctx(tmp_path, rep))
    assert rep.prompts == []


async def test_ignore_untrusted_certificate_connects_without_asking_and_says_so(
    xrdp_tls: XrdpServer, tmp_path: Path
) -> None:
    rep = ScriptedRep("abort")
    ctx = make_ctx(tmp_path, rep)
    viewer = await jump(xrdp_tls, ctx, ignore_certificate=True, credential_ref=with_credential(ctx, tmp_path, xrdp_tls))
    await viewer.desktop.close()
    assert rep.host_keys == []
    notices = [event.text for event in viewer.seen if isinstance(event, Notice)]
    assert any("not verified" in text for text in notices), notices


async def test_xrdp_over_tls_types_into_the_session_and_sends_the_pointer_shape(
    xrdp_tls: XrdpServer, tmp_path: Path
) -> None:
    async with logged_in(xrdp_tls, tmp_path) as viewer:
        xrdp_tls.wait_session_ready()
        await viewer.type_line("echo over-tls > tls.txt")
        assert xrdp_tls.wait_for_file("tls.txt").strip() == "over-tls"
        await viewer.desktop.send(Pointer(100, 100, 0))
        await viewer.until(lambda: any(isinstance(event, CursorShape) for event in viewer.seen))


async def test_xrdp_with_classic_rdp_security_works_when_the_item_allows_it_and_says_it_is_weak(
    start_xrdp: object, tmp_path: Path
) -> None:
    server: XrdpServer = start_xrdp(security="rdp")  # type: ignore[operator]
    rep = ScriptedRep("save")
    ctx = make_ctx(tmp_path, rep)
    credential = with_credential(ctx, tmp_path, server)
    with pytest.raises(TargetProtocolError) as caught:
        await RdpAdapter().connect(rdp_target(server, credential_ref=credential), ctx)
    assert "only classic RDP security" in str(caught.value)
    viewer = await jump(server, ctx, credential_ref=credential, rdp_security="rdp")
    try:
        server.wait_session_ready()
        await viewer.type_line("echo classic > classic.txt")
        assert server.wait_for_file("classic.txt").strip() == "classic"
        notices = [event.text for event in viewer.seen if isinstance(event, Notice)]
        assert any("classic RDP security (RC4)" in text for text in notices), notices
        assert rep.host_keys and rep.host_keys[0][2].algorithm == "x509-sha256"
    finally:
        await viewer.desktop.close()


async def test_clipboard_text_goes_both_ways_with_xrdp(xrdp_tls: XrdpServer, tmp_path: Path) -> None:
    async with logged_in(xrdp_tls, tmp_path) as viewer:
        xrdp_tls.wait_session_ready()
        # The xterm sets the CLIPBOARD selection (OSC 52); xrdp's clipboard channel hands it to the client.
        await viewer.type_line("printf '\\033]52;c;%s\\a' $(printf from-remote | base64)")
        await viewer.until(lambda: any(isinstance(e, Clipboard) and e.text == "from-remote" for e in viewer.seen))
        # A participant's clipboard reaches the session: the xterm reads the CLIPBOARD back (OSC 52 query).
        await viewer.desktop.send(Clipboard("from-browser"))
        await asyncio.sleep(1.0)
        assert await session_clipboard(viewer, xrdp_tls, "clip.txt") == "from-browser"


async def test_the_participants_clipboard_survives_a_new_window_size(xrdp_tls: XrdpServer, tmp_path: Path) -> None:
    async with logged_in(xrdp_tls, tmp_path) as viewer:
        xrdp_tls.wait_session_ready()
        await viewer.desktop.send(Clipboard("copied-before-resize"))
        await asyncio.sleep(0.5)
        # The new size is a new connection: the text copied on the old one is still what the session pastes.
        await resize(viewer, 900, 600)
        await asyncio.sleep(1.0)
        assert await session_clipboard(viewer, xrdp_tls, "clip-resized.txt") == "copied-before-resize"


async def test_a_new_window_size_reconnects_xrdp_at_that_size(xrdp_tls: XrdpServer, tmp_path: Path) -> None:
    async with logged_in(xrdp_tls, tmp_path) as viewer:
        assert viewer.size == (1024, 768)
        await resize(viewer, 900, 600)
        await viewer.type_line("echo resized > resized.txt")
        assert xrdp_tls.wait_for_file("resized.txt").strip() == "resized"


async def test_the_shadow_server_keeps_its_size_and_the_rep_is_told_once(
    start_rdp_shadow: object, tmp_path: Path
) -> None:
    server: ShadowServer = start_rdp_shadow(security="nla", width=1024, height=768)  # type: ignore[operator]
    async with logged_in(server, tmp_path) as viewer:
        await viewer.desktop.send(DesktopSize(800, 600))
        await viewer.until(
            lambda: any(isinstance(e, Notice) and "keeps its desktop size of 1024x768" in e.text for e in viewer.seen)
        )
        assert viewer.size == (1024, 768)


async def test_a_wrong_password_over_tls_ends_the_session_as_a_refused_login(
    start_xrdp: Callable[..., XrdpServer], tmp_path: Path
) -> None:
    server = start_xrdp(security="tls")
    ctx = make_ctx(tmp_path, ScriptedRep("once", answer=typing("Not-It-1")))
    desktop = await RdpAdapter().connect(rdp_target(server), ctx)
    viewer = Viewer(desktop)
    try:
        with pytest.raises(TargetAuthFailed) as caught:
            await viewer.until(lambda: False)
        assert "without giving a reason" in str(caught.value)
        assert "Not-It-1" not in str(caught.value)
    finally:
        await desktop.close()


async def test_a_session_closed_soon_after_a_new_window_size_is_not_called_a_refused_login(
    start_xrdp: Callable[..., XrdpServer], tmp_path: Path
) -> None:
    server = start_xrdp(security="tls")
    async with logged_in(server, tmp_path) as viewer:
        server.wait_session_ready()
        await viewer.desktop.send(DesktopSize(900, 600))
        await viewer.until(lambda: viewer.size == (900, 600))
        # Seconds after the Jump, the session's only program exits and xrdp closes the connection: the logon was
        # proven on the first connection, so this is the session ending (no error), not a wrong password.
        await viewer.type_line("exit")
        with pytest.raises(StopAsyncIteration):
            await viewer.until(lambda: False)
