"""The desktop view of the session page in real Chromium, fed a desktop stream made here.

The console is real (login, the page, its scripts and CSP); only the session WebSocket (and the session REST call
the page would make if that socket failed) are faked with Playwright, so the test controls every byte of the
desktop stream (``jumpoint.core.desktop_wire``, pictures made with Pillow) and reads every input message the page
sends back.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image as PILImage
from PIL import ImageDraw
from playwright.sync_api import BrowserContext, Page, WebSocketRoute, expect

from jumpoint.core import desktop_wire as dw
from jumpoint.core.desktop import (
    Clipboard,
    CopyRect,
    DesktopInput,
    DesktopSize,
    FrameEnd,
    Image,
    Key,
    Pointer,
    Quality,
    Refresh,
    Wheel,
)
from tests.e2e.test_web_console import Api, no_csp_violations
from tests.fixtures.console import ConsoleServer

SESSION_ID = "desk-7f3a"
RED = (220, 30, 40)
WHITE = (255, 255, 255)
YELLOW = (250, 210, 0)
MAGENTA = (200, 0, 200)
JPEG_BLUE = (30, 90, 200)
JPEG_GREEN = (40, 170, 80)
JPEG_TOLERANCE = 10
CURSOR_HOT = (3, 4)
REMOTE_CLIPBOARD = "copied on the remote: ünïcödé ✓"


# ---- pictures and streams ----------------------------------------------------------------------------------


def png(width: int, height: int, color: tuple[int, int, int], square: tuple[int, int, int, int] | None = None) -> bytes:
    """A PNG of one colour, with an optional yellow square (x0, y0, x1, y1 inclusive)."""
    img = PILImage.new("RGB", (width, height), color)
    if square:
        ImageDraw.Draw(img).rectangle(square, fill=YELLOW)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def jpeg(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), color).save(out, "JPEG", quality=95)
    return out.getvalue()


def cursor_png() -> bytes:
    img = PILImage.new("RGBA", (16, 16), (0, 0, 0, 0))
    ImageDraw.Draw(img).polygon([(0, 0), (0, 15), (10, 10)], fill=(0, 0, 0, 255), outline=(255, 255, 255, 255))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def keyframe() -> bytes:
    """A complete 640x400 picture: red PNG, blue JPEG, green JPEG and a white PNG with a yellow square at 340..379,
    220..259."""
    return b"".join(
        [
            dw.encode_keyframe_marker(),
            dw.encode_output(DesktopSize(640, 400)),
            dw.encode_output(Image(0, 0, 320, 200, "png", png(320, 200, RED))),
            dw.encode_output(Image(320, 0, 320, 200, "jpeg", jpeg(320, 200, JPEG_BLUE))),
            dw.encode_output(Image(0, 200, 320, 200, "jpeg", jpeg(320, 200, JPEG_GREEN))),
            dw.encode_output(Image(320, 200, 320, 200, "png", png(320, 200, WHITE, (20, 20, 59, 59)))),
            dw.encode_output(FrameEnd()),
        ]
    )


def updates() -> bytes:
    """The yellow square copied into the green JPEG area, the pointer's shape, the remote clipboard."""
    return b"".join(
        [
            dw.encode_output(CopyRect(340, 220, 100, 300, 40, 40)),
            dw.encode_cursor(*CURSOR_HOT, 16, 16, cursor_png()),
            dw.encode_output(Clipboard(REMOTE_CLIPBOARD)),
            dw.encode_output(FrameEnd()),
        ]
    )


def resize() -> bytes:
    """The desktop grows to 800x500; a magenta column fills the new right part."""
    return b"".join(
        [
            dw.encode_output(DesktopSize(800, 500)),
            dw.encode_output(Image(640, 0, 160, 500, "png", png(160, 500, MAGENTA))),
            dw.encode_output(FrameEnd()),
        ]
    )


# ---- the fake session socket -------------------------------------------------------------------------------


class FakeSession:
    """Plays the console's side of ``/api/v1/sessions/{id}/ws`` for a desktop session."""

    def __init__(self, page: Page, mode: str = "owner") -> None:
        self.page = page
        self.mode = mode
        self.sockets: list[WebSocketRoute] = []
        self.urls: list[str] = []
        self.frames: list[bytes] = []  # binary frames from the page
        self.texts: list[dict[str, Any]] = []
        self.rest_calls: list[str] = []
        self.sent = 0  # stream bytes sent so far (the position after them)
        self.on_connect: Callable[[WebSocketRoute, int | None], None] | None = None
        page.route_web_socket(re.compile(r"/api/v1/sessions/[^/?]+/ws(\?.*)?$"), self._connect)
        page.route(re.compile(r"/api/v1/sessions/[^/?]+$"), self._rest)

    @property
    def ws(self) -> WebSocketRoute:
        return self.sockets[-1]

    def session(self) -> dict[str, Any]:
        return {
            "id": SESSION_ID,
            "item_name": "Lab desktop",
            "item_id": 1,
            "kind": "desktop",
            "protocol": "vnc",
            "hostname": "10.0.0.5",
            "port": 5900,
            "username": "",
        }

    def _rest(self, route: Any) -> None:
        self.rest_calls.append(route.request.url)
        route.fulfill(json={**self.session(), "state": "connected", "participants": []})

    def _connect(self, ws: WebSocketRoute) -> None:
        self.sockets.append(ws)
        self.urls.append(ws.url)
        ws.on_message(self._message)
        match = re.search(r"[?&]pos=(\d+)", ws.url)
        pos = int(match.group(1)) if match else None
        you = {"id": 7, "name": "Admin", "mode": self.mode, "external": False}
        ws.send(
            json.dumps(
                {
                    "t": "hello",
                    "you": you,
                    "session": self.session(),
                    "limits": {"max_participants": 10, "chat_max": 2048},
                }
            )
        )
        roster = {
            "t": "roster",
            "owner": 7 if self.mode == "owner" else 8,
            "participants": [{**you, "connected": True, "joined_at": "2024-01-01T00:00:00Z"}],
        }
        ws.send(json.dumps(roster))
        ws.send(json.dumps({"t": "state", "state": "connected", "session": self.session()}))
        if self.on_connect:
            self.on_connect(ws, pos)
        else:
            ws.send(json.dumps({"t": "stream", "pos": self.sent}))

    def _message(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self.frames.append(message)
        else:
            self.texts.append(json.loads(message))

    def stream(self, data: bytes, chunk: int | None = None) -> None:
        """Send stream bytes, cut into frames of ``chunk`` bytes (headers and bodies split anywhere)."""
        step = chunk or len(data)
        for i in range(0, len(data), step):
            self.ws.send(data[i : i + step])
        self.sent += len(data)

    def inputs(self) -> list[DesktopInput]:
        """Every input message the page sent, in order (frames may hold several)."""
        parser = dw.StreamParser(dw.INPUT_TYPES)
        return [dw.decode_input(m.kind, m.body) for frame in self.frames for m in parser.feed(frame)]

    def wait_inputs(
        self, check: Callable[[list[DesktopInput]], bool], what: str, timeout: float = 10.0
    ) -> list[DesktopInput]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.inputs()
            if check(got):
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"the page did not send {what}; it sent {got}")
            self.page.wait_for_timeout(50)


# ---- helpers ---------------------------------------------------------------------------------------------------

CANVAS = "[data-testid=desktop-canvas]"
Opener = Callable[..., tuple[Page, FakeSession]]


def pixel(page: Page, x: int, y: int) -> tuple[int, int, int]:
    script = "([x, y]) => Array.from(document.querySelector('%s').getContext('2d').getImageData(x, y, 1, 1).data)"
    rgba = page.evaluate(script % CANVAS, [x, y])
    return (rgba[0], rgba[1], rgba[2])


def assert_color(page: Page, x: int, y: int, expected: tuple[int, int, int], tolerance: int = 0) -> None:
    got = pixel(page, x, y)
    assert all(abs(a - b) <= tolerance for a, b in zip(got, expected, strict=True)), (
        f"pixel ({x}, {y}) is {got}, not {expected}"
    )


def canvas_size(page: Page) -> tuple[int, int]:
    width, height = page.locator(CANVAS).evaluate("c => [c.width, c.height]")
    return (width, height)


def wait_frames(page: Page, n: int) -> None:
    expect(page.get_by_test_id("desktop")).to_have_attribute("data-frames", str(n))


def clicked(inputs: list[DesktopInput]) -> bool:
    """A left button press followed by its release."""
    buttons = [e.buttons for e in inputs if isinstance(e, Pointer)]
    return 1 in buttons and 0 in buttons[buttons.index(1) :]


def keys(inputs: list[DesktopInput]) -> list[tuple[int, bool]]:
    return [(e.keysym, e.down) for e in inputs if isinstance(e, Key)]


@pytest.fixture
def open_desktop(context: BrowserContext, console_server: ConsoleServer) -> Opener:
    """Log in (the real console), then open /sessions/<id> with a fake desktop session socket."""
    Api(context, console_server).login()

    def opener(
        mode: str = "owner", on_connect: Callable[[WebSocketRoute, int | None], None] | None = None
    ) -> tuple[Page, FakeSession]:
        page = context.new_page()
        fake = FakeSession(page, mode)
        fake.on_connect = on_connect
        page.goto(f"{console_server.url}/sessions/{SESSION_ID}")
        expect(page.get_by_test_id("session-state")).to_have_text("connected")
        expect(page.get_by_test_id("desktop-toolbar")).to_be_visible()
        return page, fake

    return opener


def show_desktop(page: Page, fake: FakeSession) -> None:
    """The keyframe, in frames of 997 bytes: every header and body is cut somewhere."""
    fake.stream(keyframe(), chunk=997)
    wait_frames(page, 1)


# ---- tests ---------------------------------------------------------------------------------------------------


def test_the_desktop_is_drawn_copied_resized_and_gets_its_cursor_and_clipboard(open_desktop: Opener) -> None:
    page, fake = open_desktop()
    # a desktop session has no terminal and none of its tools
    expect(page.get_by_test_id("terminal")).to_be_hidden()
    expect(page.get_by_test_id("term-toolbar")).to_be_hidden()
    expect(page.get_by_test_id("files-toggle")).to_be_hidden()
    expect(page.locator(".xterm")).to_have_count(0)
    expect(page.get_by_test_id("desktop-waiting")).to_be_visible()

    show_desktop(page, fake)
    expect(page.get_by_test_id("desktop-waiting")).to_be_hidden()
    assert canvas_size(page) == (640, 400)
    assert_color(page, 10, 10, RED)
    assert_color(page, 319, 199, RED)
    assert_color(page, 480, 100, JPEG_BLUE, JPEG_TOLERANCE)
    assert_color(page, 160, 300, JPEG_GREEN, JPEG_TOLERANCE)
    assert_color(page, 360, 240, YELLOW)
    assert_color(page, 330, 210, WHITE)

    # one frame cut in 1-byte frames: the view keeps partial messages, whatever the cut
    fake.stream(updates(), chunk=1)
    wait_frames(page, 2)
    assert_color(page, 100, 300, YELLOW)  # the copy moved the square's pixels, exactly
    assert_color(page, 139, 339, YELLOW)
    assert_color(page, 140, 340, JPEG_GREEN, JPEG_TOLERANCE)
    assert_color(page, 360, 240, YELLOW)  # the source is still there
    cursor = page.locator(CANVAS).evaluate("c => c.style.cursor")
    assert cursor.startswith('url("data:image/png;base64,'), cursor
    assert cursor.endswith(f"{CURSOR_HOT[0]} {CURSOR_HOT[1]}, auto"), cursor
    page.get_by_test_id("desktop-clipboard-toggle").click()
    expect(page.get_by_test_id("desktop-clipboard-remote")).to_have_value(REMOTE_CLIPBOARD)

    fake.stream(resize(), chunk=4000)
    wait_frames(page, 3)
    assert canvas_size(page) == (800, 500)
    expect(page.get_by_test_id("desktop")).to_have_attribute("data-width", "800")
    assert_color(page, 10, 10, RED)  # SIZE keeps the picture
    assert_color(page, 700, 450, MAGENTA)
    assert_color(page, 10, 450, (0, 0, 0))  # nothing drawn there yet

    # a hidden pointer
    fake.stream(dw.encode_cursor(0, 0, 0, 0, b"") + dw.encode_output(FrameEnd()))
    wait_frames(page, 4)
    assert page.locator(CANVAS).evaluate("c => c.style.cursor") == "none"
    no_csp_violations(page)


def test_keys_pointer_wheel_and_the_toolbar_send_input_messages(open_desktop: Opener) -> None:
    page, fake = open_desktop()
    show_desktop(page, fake)
    canvas = page.locator(CANVAS)
    box = canvas.bounding_box()
    assert box is not None
    # Fit to window: the 640x400 desktop is scaled to the panel
    assert abs(box["width"] - 640) > 20, box

    # a click at a point of the scaled canvas: POINTER in desktop pixels, left button down then up
    canvas.click(position={"x": box["width"] * 0.25, "y": box["height"] * 0.5})
    want = (160, 200)
    got = fake.wait_inputs(clicked, "a click")
    pointers = [e for e in got if isinstance(e, Pointer)]
    down = next(e for e in pointers if e.buttons == 1)
    assert abs(down.x - want[0]) <= 1 and abs(down.y - want[1]) <= 1, pointers
    up = [e for e in pointers[pointers.index(down) + 1 :] if e.buttons == 0]
    assert up and abs(up[0].x - down.x) <= 1 and abs(up[0].y - down.y) <= 1, pointers

    # a right click is button bit 2
    fake.frames.clear()
    canvas.click(position={"x": box["width"] * 0.5, "y": box["height"] * 0.25}, button="right")
    fake.wait_inputs(lambda ev: any(isinstance(e, Pointer) and e.buttons == 4 for e in ev), "a right click")

    # typing "a": the keysym for a, down then up
    fake.frames.clear()
    page.keyboard.press("a")
    assert keys(fake.wait_inputs(lambda ev: len(keys(ev)) >= 2, "the key a")) == [(0x61, True), (0x61, False)]
    fake.frames.clear()
    page.keyboard.press("Shift+A")
    assert keys(fake.wait_inputs(lambda ev: len(keys(ev)) >= 4, "Shift+A")) == [
        (0xFFE1, True),
        (0x41, True),
        (0x41, False),
        (0xFFE1, False),
    ]

    # the wheel: steps at the pointer, positive dy scrolls down
    fake.frames.clear()
    page.mouse.move(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.75)
    page.mouse.wheel(0, 100)
    wheels = [
        e
        for e in fake.wait_inputs(lambda ev: any(isinstance(e, Wheel) for e in ev), "a wheel step")
        if isinstance(e, Wheel)
    ]
    assert wheels[0].dy == 2 and wheels[0].dx == 0, wheels
    assert abs(wheels[0].x - 480) <= 1 and abs(wheels[0].y - 300) <= 1, wheels

    # a key held while the desktop loses the focus is released on the remote
    fake.frames.clear()
    page.keyboard.down("Control")
    fake.wait_inputs(lambda ev: keys(ev) == [(0xFFE3, True)], "Control down")
    page.get_by_test_id("desktop-fit").focus()
    assert keys(fake.wait_inputs(lambda ev: len(keys(ev)) >= 2, "Control up on blur")) == [
        (0xFFE3, True),
        (0xFFE3, False),
    ]
    page.keyboard.up("Control")

    # Full screen, and back
    page.get_by_role("button", name="Full screen").click()
    page.wait_for_function("document.fullscreenElement && document.fullscreenElement.id === 'desktop'")
    page.get_by_role("button", name="Exit full screen").click()
    page.wait_for_function("document.fullscreenElement === null")

    # Send Ctrl-Alt-Del: six KEY messages
    fake.frames.clear()
    page.get_by_role("button", name="Send Ctrl-Alt-Del").click()
    cad = keys(fake.wait_inputs(lambda ev: len(keys(ev)) >= 6, "Ctrl-Alt-Del"))
    assert cad == [(0xFFE3, True), (0xFFE9, True), (0xFFFF, True), (0xFFFF, False), (0xFFE9, False), (0xFFE3, False)]

    # quality, refresh, clipboard
    fake.frames.clear()
    page.get_by_label("Quality").select_option(label="Video Optimized")
    assert fake.wait_inputs(lambda ev: bool(ev), "a quality") == [Quality("video")]
    page.get_by_label("Quality").select_option(label="Black and White")
    assert fake.wait_inputs(lambda ev: len(ev) >= 2, "a quality")[1] == Quality("black_and_white")
    fake.frames.clear()
    page.get_by_role("button", name="Refresh").click()
    assert fake.wait_inputs(lambda ev: bool(ev), "a refresh") == [Refresh()]
    fake.frames.clear()
    page.get_by_test_id("desktop-clipboard-toggle").click()
    page.get_by_label("Text for the remote clipboard").fill("pasted from the rep ✓")
    page.get_by_role("button", name="Send to remote").click()
    assert fake.wait_inputs(lambda ev: bool(ev), "clipboard text") == [Clipboard("pasted from the rep ✓")]

    # Actual size: one desktop pixel per CSS pixel, so the click lands where it is
    page.get_by_role("button", name="Actual size").click()
    expect(canvas).to_have_css("width", "640px")
    fake.frames.clear()
    canvas.click(position={"x": 33, "y": 44})
    got = fake.wait_inputs(
        lambda ev: any(isinstance(e, Pointer) and e.buttons == 1 for e in ev), "a click at actual size"
    )
    down = next(e for e in got if isinstance(e, Pointer) and e.buttons == 1)
    assert abs(down.x - 33) <= 1 and abs(down.y - 44) <= 1, down  # the canvas may sit at half a pixel
    assert fake.rest_calls == []  # the socket worked: the page asked the API nothing about the session
    no_csp_violations(page)


def test_an_observer_watches_and_sends_no_input(open_desktop: Opener) -> None:
    page, fake = open_desktop(mode="observer")
    expect(page.get_by_test_id("view-only")).to_be_visible()
    show_desktop(page, fake)
    assert_color(page, 10, 10, RED)
    for name in ("Send Ctrl-Alt-Del", "Refresh"):
        expect(page.get_by_role("button", name=name)).to_be_hidden()
    expect(page.get_by_label("Quality")).to_be_hidden()
    canvas = page.locator(CANVAS)
    canvas.click(position={"x": 50, "y": 50})
    canvas.click(position={"x": 60, "y": 60}, button="right")
    page.get_by_test_id("desktop-screen").focus()
    page.keyboard.type("abc")
    page.keyboard.press("Control+Alt+Delete")
    page.mouse.wheel(0, 300)
    page.get_by_test_id("desktop-clipboard-toggle").click()
    expect(page.get_by_role("button", name="Send to remote")).to_be_hidden()
    page.wait_for_timeout(500)
    assert fake.frames == [], fake.inputs()

    # made a peer: input flows
    fake.ws.send(json.dumps({"t": "you", "id": 7, "name": "Admin", "mode": "peer", "external": False}))
    expect(page.get_by_test_id("view-only")).to_be_hidden()
    canvas.click(position={"x": 50, "y": 50})
    fake.wait_inputs(lambda ev: any(isinstance(e, Pointer) and e.buttons == 1 for e in ev), "a click as a peer")


def test_a_malformed_stream_shows_an_error_and_reload_starts_from_a_keyframe(open_desktop: Opener) -> None:
    page, fake = open_desktop()
    show_desktop(page, fake)
    # an IMAGE header announcing 10 MiB: refused from the header alone, nothing waits for the body
    fake.stream(dw.HEADER.pack(dw.IMAGE, 10 * 1024 * 1024))
    error = page.get_by_test_id("desktop-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("over its")
    expect(error).to_contain_text("cap")

    # Reload: a new socket without a position; the console starts it at a keyframe
    def fresh(ws: WebSocketRoute, pos: int | None) -> None:
        assert pos is None
        ws.send(json.dumps({"t": "stream", "pos": 50_000}))
        fake.sent = 50_000

    fake.on_connect = fresh
    page.get_by_role("button", name="Reload the desktop").click()
    expect(page.get_by_test_id("desktop-error")).to_be_hidden()
    expect(page.get_by_test_id("session-state")).to_have_text("connected")
    fake.stream(
        keyframe() + dw.encode_output(CopyRect(340, 220, 0, 0, 40, 40)) + dw.encode_output(FrameEnd()), chunk=5000
    )
    wait_frames(page, 3)
    assert_color(page, 5, 5, YELLOW)
    assert len(fake.urls) == 2 and "pos=" not in fake.urls[1], fake.urls


def test_an_unknown_message_type_is_an_error_too(open_desktop: Opener) -> None:
    page, fake = open_desktop()
    fake.stream(dw.encode_keyframe_marker() + dw.HEADER.pack(0x42, 0))
    expect(page.get_by_test_id("desktop-error")).to_contain_text("unexpected desktop message type 0x42")


def test_a_reconnect_resumes_the_stream_mid_message_with_its_position(open_desktop: Opener) -> None:
    page, fake = open_desktop()
    stream = keyframe()
    cut = len(stream) // 2 + 3  # inside an image's body
    fake.stream(stream[:cut], chunk=1500)
    resumed: list[int | None] = []

    def resume(ws: WebSocketRoute, pos: int | None) -> None:
        resumed.append(pos)
        ws.send(json.dumps({"t": "stream", "pos": pos}))

    fake.on_connect = resume
    page.wait_for_timeout(200)
    fake.ws.close(code=1011, reason="console restarting")
    deadline = time.monotonic() + 10
    while not resumed and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert resumed == [cut], (resumed, fake.urls)
    fake.stream(stream[cut:], chunk=1500)
    wait_frames(page, 1)
    assert_color(page, 360, 240, YELLOW)
    assert_color(page, 10, 10, RED)


def test_screenshot_downloads_a_png_of_the_desktop(open_desktop: Opener, tmp_path: Path) -> None:
    page, fake = open_desktop()
    show_desktop(page, fake)
    with page.expect_download() as download:
        page.get_by_role("button", name="Screenshot", exact=True).click()
    saved = tmp_path / "shot.png"
    download.value.save_as(saved)
    assert download.value.suggested_filename.startswith("openjump-Lab_desktop-")
    assert download.value.suggested_filename.endswith(".png")
    with PILImage.open(saved) as img:
        assert img.format == "PNG"
        assert img.size == (640, 400)
        rgb = img.convert("RGB")
        assert rgb.getpixel((10, 10)) == RED
        assert rgb.getpixel((360, 240)) == YELLOW
    expect(page.get_by_test_id("desktop-status")).to_contain_text("640\u00d7400")

    # and to the clipboard, as a PNG image
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=page.url.split("/sessions/")[0])
    page.get_by_role("button", name="Copy a screenshot to the clipboard").click()
    expect(page.get_by_test_id("desktop-status")).to_contain_text("Copied a screenshot")
    size = page.evaluate(
        """async () => {
          const [item] = await navigator.clipboard.read();
          const bitmap = await createImageBitmap(await item.getType('image/png'));
          return [bitmap.width, bitmap.height];
        }"""
    )
    assert size == [640, 400]
