"""Playing a desktop recording on the session report page in real Chromium, and exporting it to MP4.

The console is real (``openjump allinone``: login, the report page, its scripts and CSP, the history API and the
MP4 exporter). The recording is made here with the console's own :class:`DesktopRecorder` (pictures made with
Pillow, so every pixel is known) and its session written into the console's database, as the hub would have left
them after a VNC session.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import random
import re
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image as PILImage
from playwright.sync_api import BrowserContext, Page, expect

from console_web.config import ConsoleConfig
from console_web.db.database import Database
from console_web.db.models import SessionParticipant, SessionRecord
from console_web.recording.desktop_recorder import DesktopRecorder
from jumpoint.core import desktop_wire as dw
from jumpoint.core.desktop import DesktopSize, FrameEnd, Image
from tests.e2e.test_web_console import Api, no_csp_violations
from tests.fixtures.console import ConsoleServer

SESSION_ID = "desk-rec-1"
W, H = 1280, 800
RED, GREEN, BLUE = (220, 30, 40), (40, 170, 80), (30, 90, 200)
KEYFRAMES = [(0.0, RED), (10.0, GREEN), (20.0, BLUE)]
DURATION = 30.0
SQUARE = 64
PLAYBACK = "[data-testid=desktop-playback]"
CANVAS = "[data-testid=playback-canvas]"


def png(width: int, height: int, color: tuple[int, int, int] | None = None, seed: int = 0) -> bytes:
    """A PNG of one colour, or of noise (``color`` None: varied content for the video encoder)."""
    if color is None:
        noise = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
        img = PILImage.fromarray(noise)
    else:
        img = PILImage.new("RGB", (width, height), color)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def keyframe(color: tuple[int, int, int]) -> bytes:
    tiles = [(x, y, 640, 400) for y in (0, 400) for x in (0, 640)]
    return b"".join(
        [
            dw.encode_keyframe_marker(),
            dw.encode_output(DesktopSize(W, H)),
            *(dw.encode_output(Image(x, y, w, h, "png", png(w, h, color))) for x, y, w, h in tiles),
            dw.encode_output(FrameEnd()),
        ]
    )


def timeline() -> list[tuple[float, bytes]]:
    """Keyframes at 0, 10 and 20 s; a square of noise every 0.1 s in the top left 640x400 in between."""
    rng = random.Random(11)
    events: list[tuple[float, bytes]] = []
    for n in range(int(DURATION * 10)):
        at = n / 10
        for when, color in KEYFRAMES:
            if when == at:
                events.append((at, keyframe(color)))
        x, y = rng.randrange(0, 640 - SQUARE), rng.randrange(0, 400 - SQUARE)
        square = dw.encode_output(Image(x, y, SQUARE, SQUARE, "png", png(SQUARE, SQUARE, seed=n)))
        events.append((at + 0.05, square + dw.encode_output(FrameEnd())))
    return events


def expected_picture(events: list[tuple[float, bytes]], seconds: float) -> np.ndarray[Any, Any]:
    """The picture at ``seconds``, decoded here (numpy and Pillow), to compare with the browser's canvas."""
    pixels = np.zeros((H, W, 3), np.uint8)
    parser = dw.StreamParser(dw.OUTPUT_TYPES)
    for at, data in events:
        if at > seconds:
            break
        for m in parser.feed(data):
            if m.kind == dw.IMAGE:
                x, y, w, h = struct.unpack(">HHHH", m.body[:8])
                pixels[y : y + h, x : x + w] = np.asarray(PILImage.open(io.BytesIO(m.body[9:])).convert("RGB"))
    return pixels


def write_recording(server: ConsoleServer, events: list[tuple[float, bytes]]) -> None:
    """The recording file (with the console's recorder), and its session in the console's database."""
    config = ConsoleConfig(state_dir=server.state_dir)
    started = datetime.now(UTC) - timedelta(minutes=5)
    recorder = DesktopRecorder.start(
        config.recordings_dir, SESSION_ID, title="Lab desktop", started_at=started.timestamp()
    )
    clock = [0.0]
    recorder._seconds = lambda: clock[0]  # type: ignore[method-assign]
    for at, data in events:
        clock[0] = at
        recorder.output(data)
    clock[0] = DURATION
    recorder.marker("ended: the owner ended the session")
    recorder.close()

    async def store() -> None:
        db = await Database.open(config.database_url)
        try:
            async with db.session() as session:
                session.add(
                    SessionRecord(
                        id=SESSION_ID,
                        item_id=None,
                        item_name="Lab desktop",
                        user_id=1,
                        jumpoint_id=1,
                        protocol="vnc",
                        target="10.0.0.5:5900",
                        started_at=started,
                        ended_at=started + timedelta(seconds=DURATION),
                        end_reason="ended by admin",
                        recorded=True,
                    )
                )
                session.add(
                    SessionParticipant(
                        session_id=SESSION_ID,
                        participant_id="p0",
                        user_id=1,
                        display_name="Admin",
                        mode="owner",
                        joined_at=started,
                    )
                )
        finally:
            await db.close()

    # Playwright's sync API runs an event loop in this thread: the database write gets a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, store()).result(timeout=30)


def pixel(page: Page, x: int, y: int) -> tuple[int, int, int]:
    script = "([x, y]) => Array.from(document.querySelector('%s').getContext('2d').getImageData(x, y, 1, 1).data)"
    rgba = page.evaluate(script % CANVAS, [x, y])
    return (rgba[0], rgba[1], rgba[2])


def wait_paused_at(page: Page, ms: int) -> None:
    expect(page.locator(PLAYBACK)).to_have_attribute("data-state", "paused")
    expect(page.locator(PLAYBACK)).to_have_attribute("data-position", str(ms))


def seek(page: Page, ms: int) -> None:
    """Drag the seek bar to ``ms`` (what a user's drag ends with: input events, then change)."""
    page.get_by_test_id("playback-seek").evaluate(
        "(bar, ms) => { bar.value = String(ms); bar.dispatchEvent(new Event('input')); "
        "bar.dispatchEvent(new Event('change')); }",
        ms,
    )
    wait_paused_at(page, ms)


def assert_picture(page: Page, events: list[tuple[float, bytes]], seconds: float) -> None:
    """The canvas shows the recording's picture at ``seconds``: the corner colour and 40 sampled pixels."""
    expected = expected_picture(events, seconds)
    rng = random.Random(int(seconds * 1000))
    points = [(W - 5, H - 5), (700, 10)] + [(rng.randrange(0, 640), rng.randrange(0, 400)) for _ in range(40)]
    for x, y in points:
        assert pixel(page, x, y) == tuple(int(v) for v in expected[y, x]), f"pixel ({x}, {y}) at {seconds} s"


@pytest.fixture
def report_page(context: BrowserContext, console_server: ConsoleServer) -> tuple[Page, list[tuple[float, bytes]]]:
    events = timeline()
    write_recording(console_server, events)
    Api(context, console_server).login()
    page = context.new_page()
    page.goto(f"{console_server.url}/history/{SESSION_ID}")
    return page, events


def test_a_desktop_recording_plays_seeks_and_exports_to_mp4(
    report_page: tuple[Page, list[tuple[float, bytes]]], tmp_path: Path
) -> None:
    page, events = report_page
    expect(page.get_by_test_id("report-status")).to_have_text("ended")
    # the desktop player, not the terminal one
    expect(page.locator(PLAYBACK)).to_be_visible()
    expect(page.get_by_test_id("player")).to_be_empty()
    expect(page.locator("#download-desktop")).to_be_visible()
    expect(page.locator("#download-cast")).to_be_hidden()

    # it opens on the first keyframe
    wait_paused_at(page, 0)
    assert page.locator(CANVAS).evaluate("c => [c.width, c.height]") == [W, H]
    assert pixel(page, W - 5, H - 5) == RED
    assert_picture(page, events, 0.0)
    expect(page.get_by_test_id("playback-time")).to_have_text("0:00 / 0:30")

    # seeking restarts from the keyframe before the time and fast-forwards to it, in both directions
    for seconds, corner in ((15.3, GREEN), (25.0, BLUE), (4.2, RED), (10.0, GREEN)):
        seek(page, int(seconds * 1000))
        assert pixel(page, W - 5, H - 5) == corner, seconds
        assert_picture(page, events, seconds)
    expect(page.get_by_test_id("playback-time")).to_have_text("0:10 / 0:30")

    # play at 16x to the end
    page.get_by_test_id("playback-speed").select_option("16")
    page.get_by_test_id("playback-play").click()
    expect(page.locator(PLAYBACK)).to_have_attribute("data-state", "playing")
    wait_paused_at(page, int(DURATION * 1000))
    assert pixel(page, W - 5, H - 5) == BLUE
    assert_picture(page, events, DURATION)

    # export: the progress shows, then the download
    page.locator(PLAYBACK).evaluate(
        """host => {
          window.__exportSeen = [];
          new MutationObserver(() => window.__exportSeen.push([
            host.dataset.export,
            !host.querySelector('[data-testid=export-progress]').hidden,
            host.querySelector('[data-testid=export-status]').textContent,
          ])).observe(host, {attributes: true, attributeFilter: ['data-export'], subtree: true, characterData: true,
                             childList: true});
        }"""
    )
    page.get_by_test_id("export-mp4").click()
    download_link = page.get_by_test_id("export-download")
    expect(download_link).to_be_visible(timeout=90_000)
    seen = page.evaluate("window.__exportSeen")
    shown = [entry for entry in seen if entry[0] in ("queued", "running")]
    assert shown and all(visible for _, visible, _ in shown), seen
    assert any(text.startswith(("Exporting", "Export waiting")) for _, _, text in shown), seen
    expect(page.get_by_test_id("export-progress")).to_be_hidden()
    expect(download_link).to_have_text(re.compile(r"Download MP4 \(\d+(\.\d)? [KM]iB\)"))
    with page.expect_download() as info:
        download_link.click()
    target = tmp_path / "export.mp4"
    info.value.save_as(target)
    with av.open(str(target)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.name, video.width, video.height) == ("h264", W, H)
        frames = [(float(f.time or 0), f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    assert 29.0 <= frames[-1][0] <= 30.1
    middle = next(pixels for t, pixels in reversed(frames) if t <= 15.0)
    assert np.abs(middle[H - 20 :, W - 20 :].reshape(-1, 3).mean(axis=0) - GREEN).max() < 12
    no_csp_violations(page)
