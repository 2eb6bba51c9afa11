"""An RDP desktop in real Chromium through the all-in-one console and its built-in Jumpoint, against a real xrdp:
the desktop made at the size of the session page, typing by scancode, a second viewer, and the desktop following
the window when it is resized."""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import BrowserContext, Locator, Page, expect

from credential_store.local import LocalCredentialStore
from jumpoint.core.secret import Secret
from tests.e2e.test_desktop_playback_browser import CANVAS, PLAYBACK, pixel
from tests.e2e.test_vnc_browser import canvas_picture
from tests.e2e.test_web_console import (
    Api,
    accept_host_key,
    answer_password,
    builtin_jumpoint,
    login_with_form,
    no_csp_violations,
    personal_group,
)
from tests.fixtures.console import ConsoleServer
from tests.fixtures.rdp import XrdpServer, launch_xrdp

_SHIFTED_US = {
    "!": "Digit1", "@": "Digit2", "#": "Digit3", "$": "Digit4", "%": "Digit5", "^": "Digit6", "&": "Digit7",
    "*": "Digit8", "(": "Digit9", ")": "Digit0", "_": "Minus", "+": "Equal", "{": "BracketLeft",
    "}": "BracketRight", "|": "Backslash", ":": "Semicolon", '"': "Quote", "~": "Backquote", "<": "Comma",
    ">": "Period", "?": "Slash",
}  # fmt: skip


def type_like_a_person(page: Page, text: str) -> None:
    """Type ``text`` on a US keyboard as fingers do: Shift held for capitals and shifted symbols (Playwright's
    ``type`` sends those characters without Shift, which a scancode-based remote reads as the unshifted key)."""
    for char in text:
        if char in _SHIFTED_US:
            page.keyboard.press(f"Shift+{_SHIFTED_US[char]}")
        elif char.isascii() and char.isupper():
            page.keyboard.press(f"Shift+Key{char}")
        else:
            page.keyboard.type(char)


def desktop_room(page: Page) -> tuple[int, int]:
    room = page.evaluate(
        "(() => { const s = document.querySelector('.desktop-screen'); return [s.clientWidth, s.clientHeight]; })()"
    )
    return int(room[0]), int(room[1])


def wait_for_canvas(page: Page, check: object, timeout: float = 30) -> tuple[int, int]:
    canvas = page.get_by_test_id("desktop-canvas")
    expect(canvas).to_be_visible(timeout=20_000)
    deadline = time.monotonic() + timeout
    size: tuple[int, int] = (0, 0)
    while time.monotonic() < deadline:
        width, height = canvas.evaluate("c => [c.width, c.height]")
        size = (int(width), int(height))
        if check(size) and canvas_picture(page)[:100, :100].any():  # type: ignore[operator]
            return size
        page.wait_for_timeout(200)
    raise AssertionError(f"the desktop never showed as expected: canvas {size}")


def console_with_item(
    context: BrowserContext, console_server: ConsoleServer, server: XrdpServer, name: str, **fields: object
) -> tuple[Api, Locator]:
    """The admin logged in on the console page (1300x850) with an RDP item ``name`` for ``server`` made through the
    API; the API and the item's row (on that page)."""
    page = context.new_page()
    page.set_viewport_size({"width": 1300, "height": 850})
    page.goto(console_server.url + "/console")
    login_with_form(page, console_server.admin_username, console_server.admin_password)
    page.wait_for_url(re.compile(r"/console$"))
    api = Api(context, console_server)
    api.login()
    item = {
        "name": name,
        "group_id": personal_group(api)["id"],
        "jumpoint_id": builtin_jumpoint(api)["id"],
        "protocol": "rdp",
        "hostname": f"{server.host}:{server.port}",
        "username": server.username,
    }
    api.call("POST", "/jump-items", item | fields)
    page.reload()
    return api, page.locator("tr.item-row", has_text=name)


def test_a_rep_jumps_to_an_rdp_desktop_types_into_it_and_the_desktop_follows_the_window(
    context: BrowserContext, console_server: ConsoleServer
) -> None:
    with tempfile.TemporaryDirectory(prefix="oj-rdp-e2e-") as tmp:
        server = launch_xrdp(Path(tmp), security="tls")
        try:
            _run(context, console_server, server)
        finally:
            server.stop()


def _run(context: BrowserContext, console_server: ConsoleServer, server: XrdpServer) -> None:
    LocalCredentialStore(console_server.state_dir / "jumpoint").add(
        "rdp/e2e", "password", server.username, password=Secret(server.password), replace=True
    )
    api, row = console_with_item(
        context, console_server, server, "Linux RDP", credential_ref="local:rdp/e2e", ignore_certificate=True
    )
    with context.expect_page() as opened:
        row.get_by_role("button", name="Jump").click()
    session = opened.value
    session.set_viewport_size({"width": 1300, "height": 850})
    session.wait_for_url(re.compile(r"/sessions/[A-Za-z0-9_-]+$"))
    expect(session.locator("#session-state")).to_have_text("connected", timeout=20_000)
    # The desktop is made at the room the session page gives it (the console page's estimate at Jump, then exactly
    # the room once the session page measured it).
    room = desktop_room(session)
    size = wait_for_canvas(session, lambda s: abs(s[0] - room[0]) <= 1 and abs(s[1] - room[1]) <= 1)
    assert size[0] % 2 == 0

    # Typing in Chromium reaches the xterm by scancode (the physical keys, whatever the browser's layout).
    server.wait_session_ready()
    session.get_by_test_id("desktop-canvas").click(position={"x": 60, "y": 60})
    type_like_a_person(session, "echo Typed-in-chromium > chromium.txt")
    session.keyboard.press("Enter")
    assert server.wait_for_file("chromium.txt", timeout=15).strip() == "Typed-in-chromium"

    # A second viewer sees the same picture.
    late = context.new_page()
    late.set_viewport_size({"width": 1300, "height": 850})
    late.goto(session.url)
    wait_for_canvas(late, lambda s: s == size)
    session.wait_for_timeout(1500)
    difference = np.abs(canvas_picture(session).astype(int) - canvas_picture(late).astype(int)).mean()
    assert difference < 2.0, f"the second viewer's picture differs by {difference:.2f} on average"
    late.close()

    # The owner's window shrinks: the desktop is made again at the new room.
    session.set_viewport_size({"width": 1000, "height": 700})
    session.wait_for_timeout(600)
    smaller = desktop_room(session)
    resized = wait_for_canvas(session, lambda s: abs(s[0] - smaller[0]) <= 1 and abs(s[1] - smaller[1]) <= 1)
    assert resized[0] < size[0] and resized[1] < size[1]
    session.get_by_test_id("desktop-canvas").click(position={"x": 60, "y": 60})
    type_like_a_person(session, "echo after-resize > resized.txt")
    session.keyboard.press("Enter")
    assert server.wait_for_file("resized.txt", timeout=15).strip() == "after-resize"
    no_csp_violations(session)

    # The session was recorded: its report page plays the desktop, starting from a picture of the xterm.
    session_id = session.url.rsplit("/", 1)[1]
    api.call("POST", f"/sessions/{session_id}/end")
    expect(session.locator("#session-state")).to_have_text("ended", timeout=15_000)
    report = context.new_page()
    report.goto(f"{console_server.url}/history/{session_id}")
    expect(report.get_by_test_id("report-status")).to_have_text("ended")
    expect(report.locator(PLAYBACK)).to_be_visible()
    expect(report.locator(PLAYBACK)).to_have_attribute("data-state", "paused", timeout=15_000)
    width, height = report.locator(CANVAS).evaluate("c => [c.width, c.height]")
    assert width == size[0] and height > 0, "the recording starts at the size the desktop had at Jump"
    # At the end of the recording, the xterm with its white background.
    report.get_by_test_id("playback-seek").evaluate(
        "bar => { bar.value = bar.max; bar.dispatchEvent(new Event('input')); bar.dispatchEvent(new Event('change')); }"
    )
    expect(report.locator(PLAYBACK)).not_to_have_attribute("data-position", "0")
    expect(report.locator(PLAYBACK)).to_have_attribute("data-state", "paused")
    assert pixel(report, 300, 300) == (255, 255, 255), "the xterm is in the last picture"


def test_an_rdp_jump_asks_about_the_certificate_refuses_a_wrong_password_and_shares_the_clipboard(
    context: BrowserContext, console_server: ConsoleServer
) -> None:
    with tempfile.TemporaryDirectory(prefix="oj-rdp-e2e-") as tmp:
        server = launch_xrdp(Path(tmp), security="tls")
        try:
            _run_prompts(context, console_server, server)
        finally:
            server.stop()


def _run_prompts(context: BrowserContext, console_server: ConsoleServer, server: XrdpServer) -> None:
    _api, row = console_with_item(context, console_server, server, "Typed password")

    # The certificate comes first, with the fingerprint the server's own tools show; then the password. A wrong one
    # ends the session with a refused login.
    with context.expect_page() as opened:
        row.get_by_role("button", name="Jump").click()
    first = opened.value
    shown = accept_host_key(first, "Connect Only")
    assert shown == f"SHA256:{server.certificate_fingerprint}"
    answer_password(first, "Not-The-Password-1")
    expect(first.locator("#session-state")).to_have_text("ended", timeout=30_000)
    expect(first.locator("body")).to_contain_text("refused the login")
    assert "Not-The-Password-1" not in first.content()

    # "Connect Only" cached nothing: the next Jump asks again; this time the key is saved and the password right.
    with context.expect_page() as opened:
        row.get_by_role("button", name="Jump").click()
    session = opened.value
    accept_host_key(session)
    answer_password(session, server.password)
    expect(session.locator("#session-state")).to_have_text("connected", timeout=20_000)
    wait_for_canvas(session, lambda s: s[0] > 0)
    server.wait_session_ready()

    # The remote clipboard reaches the rep's clipboard panel ...
    session.get_by_test_id("desktop-canvas").click(position={"x": 60, "y": 60})
    type_like_a_person(session, "printf '\\033]52;c;%s\\a' $(printf from-remote | base64)")
    session.keyboard.press("Enter")
    session.get_by_test_id("desktop-clipboard-toggle").click()
    expect(session.get_by_test_id("desktop-clipboard-remote")).to_have_value("from-remote", timeout=15_000)
    # ... and text the rep gives reaches the remote clipboard (the xterm reads it back).
    session.get_by_label("Text for the remote clipboard").fill("from-the-rep")
    session.get_by_test_id("desktop-clipboard-send").click()
    session.wait_for_timeout(1000)
    session.get_by_test_id("desktop-canvas").click(position={"x": 60, "y": 60})
    type_like_a_person(
        session,
        "printf '\\033]52;c;?\\a'; read -r -s -d $'\\a' reply; "
        'text=$(printf %s "${reply##*;}" | base64 -d); echo "$text" > clip.txt',
    )
    session.keyboard.press("Enter")
    assert server.wait_for_file("clip.txt", timeout=15).strip() == "from-the-rep"
    no_csp_violations(session)
