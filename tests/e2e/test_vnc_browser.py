"""A VNC desktop in real Chromium through the all-in-one console and its built-in Jumpoint, against a real Xvnc."""

from __future__ import annotations

import base64
import io
import re
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from playwright.sync_api import BrowserContext, Page, expect

from credential_store.local import LocalCredentialStore
from jumpoint.core.secret import Secret
from tests.e2e.test_web_console import Api, builtin_jumpoint, login_with_form, no_csp_violations, personal_group
from tests.fixtures.console import ConsoleServer
from tests.fixtures.vnc import VncServer, launch_vnc


def canvas_picture(page: Page) -> np.ndarray:
    """The desktop canvas as an RGB array (what the rep sees, at desktop resolution)."""
    data_url: str = page.get_by_test_id("desktop-canvas").evaluate("c => c.toDataURL('image/png')")
    raw = base64.b64decode(data_url.split(",", 1)[1])
    return np.asarray(PILImage.open(io.BytesIO(raw)).convert("RGB"))


def wait_for_desktop(page: Page, width: int, height: int) -> None:
    canvas = page.get_by_test_id("desktop-canvas")
    expect(canvas).to_be_visible(timeout=20_000)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        size = canvas.evaluate("c => [c.width, c.height]")
        if size == [width, height] and canvas_picture(page)[:200, :300].any():
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"the desktop never showed: canvas {canvas.evaluate('c => [c.width, c.height]')}")


def test_a_rep_jumps_to_a_vnc_desktop_types_into_it_and_a_second_viewer_sees_the_same(
    context: BrowserContext, console_server: ConsoleServer
) -> None:
    with tempfile.TemporaryDirectory(prefix="oj-vnc-e2e-") as tmp:
        server = launch_vnc(Path(tmp))
        try:
            _run(context, console_server, server, Path(tmp))
        finally:
            server.stop()


def _run(context: BrowserContext, console_server: ConsoleServer, server: VncServer, tmp: Path) -> None:
    LocalCredentialStore(console_server.state_dir / "jumpoint").add(
        "vnc/e2e", "password", None, password=Secret(server.password), replace=True
    )
    page = context.new_page()
    page.goto(console_server.url + "/console")
    login_with_form(page, console_server.admin_username, console_server.admin_password)
    page.wait_for_url(re.compile(r"/console$"))
    api = Api(context, console_server)

    # The item is made in the editor: protocol VNC shows the desktop fields and the VNC port.
    page.get_by_role("button", name="Create").click()
    form = page.locator("dialog form.item-form")
    form.locator("[name=name]").fill("Lab desktop")
    form.locator("[name=jumpoint_id]").select_option(label=builtin_jumpoint(api)["name"])
    form.locator("[name=hostname]").fill(server.host)
    form.locator("[name=protocol]").select_option("vnc")
    expect(form.get_by_test_id("vnc-fields")).to_be_visible()
    expect(form.locator("[name=port]")).to_have_value("5900")
    form.locator("[name=port]").fill(str(server.port))
    form.locator("[name=quality]").select_option("full_color")
    form.locator("[name=credential_ref]").fill("local:vnc/e2e")
    form.locator("[name=group_id]").select_option(value=str(personal_group(api)["id"]))
    form.get_by_role("button", name="Create").click()
    expect(page.locator("dialog")).to_have_count(0)

    with context.expect_page() as opened:
        page.locator("tr.item-row", has_text="Lab desktop").get_by_role("button", name="Jump").click()
    session = opened.value
    session.wait_for_url(re.compile(r"/sessions/[A-Za-z0-9_-]+$"))
    wait_for_desktop(session, 1280, 800)
    expect(session.locator("#session-state")).to_have_text("connected")

    # Typing in Chromium reaches the xterm on the remote display.
    marker = tmp / "typed-in-chromium"
    server.focus_xterm()
    session.get_by_test_id("desktop-canvas").click(position={"x": 60, "y": 60})
    session.keyboard.type(f"touch {marker}")
    session.keyboard.press("Enter")
    deadline = time.monotonic() + 15
    while not marker.exists():
        assert time.monotonic() < deadline, "the keys typed in the browser never reached the xterm"
        session.wait_for_timeout(100)

    # A second viewer (a late joiner) sees the same picture as the first.
    late = context.new_page()
    late.goto(session.url)
    wait_for_desktop(late, 1280, 800)
    session.wait_for_timeout(1500)  # both settle on the same, unchanging desktop
    first, second = canvas_picture(session), canvas_picture(late)
    difference = np.abs(first.astype(int) - second.astype(int)).mean()
    assert difference < 2.0, f"the late joiner's picture differs from the owner's by {difference:.2f} on average"
    no_csp_violations(session)
    no_csp_violations(late)
