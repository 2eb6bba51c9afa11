"""A VNC session through the whole gateway (console, tunnel, Jumpoint) to a real Xvnc is recorded: the recording
starts with a keyframe, gets one at least every keyframe interval, seeks to any time with the picture the session
showed then, and exports to an MP4 that a decoder opens.

The recording is decoded with :class:`tests.integration.test_gateway_vnc.Canvas` (the browser renderer's job in
numpy), independently of the console's exporter.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from console_web.config import ConsoleConfig
from console_web.hub import output_pump
from console_web.recording import desktop_file as df
from jumpoint.core import desktop_wire as dw
from jumpoint.core.desktop import Key, Pointer
from tests.fixtures.gateway import Gateway, SessionSocket
from tests.fixtures.vnc import VncServer, start_vnc, xvnc
from tests.integration.desktop_view import Canvas, settle
from tests.integration.test_gateway_vnc import _jump

__all__ = ["start_vnc", "xvnc"]  # the fixtures, imported for pytest

KEYFRAME_SECONDS = 2.0


def typing(text: str) -> bytes:
    """KEY messages typing ``text`` (``\\r``: Return), after a pointer move into the xterm."""
    keys = b"".join(
        dw.encode_input(Key(ord(ch) if ch != "\r" else 0xFF0D, down)) for ch in text for down in (True, False)
    )
    return dw.encode_input(Pointer(100, 100, 0)) + keys


async def read_until(sock: SessionSocket, canvas: Canvas, done: Callable[[], bool], timeout: float = 15) -> None:
    """Read the session socket, feeding the canvas only what it has not seen yet, until ``done()``."""
    async with asyncio.timeout(timeout):
        while not done():
            fed = len(sock.output)
            await sock._read_one()
            canvas.feed(bytes(sock.output[fed:]))


def picture_at(path: Path, offset: int, until_ms: int) -> Canvas:
    """The picture the recording shows at ``until_ms``, played from the record at ``offset``."""
    canvas = Canvas()
    for record in df.stream_from(path, offset):
        if record.ms > until_ms:
            break
        if record.kind == df.OUTPUT:
            canvas.feed(record.data)
    return canvas


async def wait_for_marker(path: Path, timeout: float = 15.0) -> list[df.Record]:
    """The records, once the session's end marker is written (closing the recording is the hub's last step)."""
    deadline = time.monotonic() + timeout
    while True:
        records = list(df.stream_from(path, 0)) if path.exists() else []
        if records and records[-1].kind == df.MARKER:
            return records
        assert time.monotonic() < deadline, "the recording was not closed with its end marker"
        await asyncio.sleep(0.1)


async def test_a_vnc_session_is_recorded_seekable_and_exports_to_mp4(
    gateway: Gateway, xvnc: VncServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(output_pump, "RECORDING_KEYFRAME_SECONDS", KEYFRAME_SECONDS)
    xvnc.focus_xterm()
    sock = await _jump(gateway, xvnc)
    live = Canvas()
    try:
        await sock.next_of("stream")
        await read_until(sock, live, lambda: live.keyframes >= 1 and live.frames >= 1)
        await settle(sock, live)
        before_typing = time.time()
        await sock.ws.send_bytes(typing("echo RECORDED-$((6*7)) && printf '%0.s#' $(seq 1 400)\r"))
        await settle(sock, live)
        # the hub asks for a keyframe every KEYFRAME_SECONDS while recording: wait for two more
        await read_until(sock, live, lambda: live.keyframes >= 3, timeout=30)
        await settle(sock, live)
        await gateway.api("POST", f"/api/v1/sessions/{sock.session_id}/end", expect=204)
    finally:
        await sock.close()

    directory = ConsoleConfig(state_dir=gateway.state_dir / "console").recordings_dir
    path = directory / f"{sock.session_id}.ojd"
    records = await wait_for_marker(path)
    assert records[-1].data.startswith(b"ended: ")
    index = df.read_index(path, directory / f"{sock.session_id}.didx")

    # it starts with a keyframe: nothing is drawn before the first complete picture, which comes at once
    first = index.keyframes[0]
    assert first.ms < 5000
    before = Canvas()
    for record in df.stream_from(path, index.data_start, stop=first.offset):
        before.feed(record.data if record.kind == df.OUTPUT else b"")
    assert dw.IMAGE not in before.kinds and dw.COPY not in before.kinds, before.kinds
    assert picture_at(path, first.offset, first.ms).kinds[:2] == [dw.KEYFRAME, dw.SIZE]
    # and gets a keyframe at least every interval (a second of slack for the hub's one-second tick)
    assert len(index.keyframes) >= 3
    gaps = [b.ms - a.ms for a, b in itertools.pairwise(index.keyframes)]
    assert max(gaps) <= (KEYFRAME_SECONDS + 2.0) * 1000, gaps
    assert index.duration_ms >= index.keyframes[-1].ms

    # seeking: from the keyframe at or before T, the picture at T is exactly the one played from the start
    typed_ms = int((before_typing - index.started_at) * 1000)
    for t in (typed_ms - 100, typed_ms + 1500, index.keyframes[-1].ms + 10, index.duration_ms):
        keyframe = index.keyframe_at(t)
        assert keyframe is not None
        seeked = picture_at(path, keyframe.offset, t)
        played = picture_at(path, index.data_start, t)
        assert seeked.kinds[0] == dw.KEYFRAME
        assert np.array_equal(seeked.pixels, played.pixels), f"the picture at {t} ms"
    # ... and it is the picture the session showed: before the typing the xterm had no '#' line; at the end the
    # recording shows what the live viewer saw
    at_end = picture_at(path, index.keyframe_at(index.duration_ms).offset, index.duration_ms)  # type: ignore[union-attr]
    assert np.abs(at_end.pixels.astype(int) - live.pixels.astype(int)).mean() < 2.0
    earlier = picture_at(path, index.data_start, typed_ms - 100)
    assert np.abs(earlier.pixels[:300, :600].astype(int) - at_end.pixels[:300, :600].astype(int)).mean() > 0.5

    # the report says so, and the MP4 export completes and decodes
    report = await gateway.api("GET", f"/api/v1/session-history/{sock.session_id}", expect=200)
    assert report["recording"]["kind"] == "desktop" and report["recording"]["available"] is True
    assert report["recording"]["desktop_bytes"] == path.stat().st_size
    started = await gateway.api("POST", f"/api/v1/session-history/{sock.session_id}/export.mp4", expect=202)
    assert started["state"] in ("queued", "running", "done")
    progress: list[float] = []
    deadline = time.monotonic() + 120
    while True:
        status = await gateway.api("GET", f"/api/v1/session-history/{sock.session_id}/export.mp4/status", expect=200)
        progress.append(status["progress"])
        if status["state"] in ("done", "failed"):
            break
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.1)
    assert status["state"] == "done", status
    assert progress == sorted(progress) and progress[-1] == 1.0
    async with gateway.http.get(
        gateway.url + f"/api/v1/session-history/{sock.session_id}/export.mp4", headers=gateway.headers
    ) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "video/mp4"
        video = await resp.read()
    mp4 = tmp_path / "export.mp4"
    mp4.write_bytes(video)
    with av.open(str(mp4)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 1280, 800)
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(frames) == status["frames"] >= 2
    assert all(frame.shape == (800, 1280, 3) for frame in frames)
    assert np.abs(frames[-1].astype(int) - live.pixels.astype(int)).mean() < 6.0, "the last frame is the end picture"
