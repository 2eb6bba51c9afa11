"""Desktop recordings: the ``.ojd`` / ``.didx`` format, the recorder, seeking, torn files, the backlog bound, the MP4
export and the REST routes that serve them."""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import random
import signal
import struct
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from console_web.config import ConsoleConfig
from console_web.db.models import AuditEvent, SessionParticipant, SessionRecord
from console_web.recording import desktop_file as df
from console_web.recording import mp4_export
from console_web.recording.appender import FileAppender
from console_web.recording.desktop_recorder import DesktopRecorder
from console_web.recording.recorder import FLUSH_INTERVAL
from console_web.recording.retention import delete_recording, sweep
from jumpoint.core import desktop_wire as dw
from jumpoint.core.desktop import CopyRect, DesktopSize, FrameEnd, Image
from jumpoint.core.errors import BadRequest, Conflict, InternalError

REPO = Path(__file__).resolve().parents[2]
Console = Any
Color = tuple[int, int, int]
W, H = 160, 120


# ---- streams made here ------------------------------------------------------------------------------------------
def png(width: int, height: int, color: Color) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def keyframe(color: Color, size: tuple[int, int] = (W, H)) -> bytes:
    """A complete picture of one colour, in four tiles (as the Jumpoint tiles large pictures)."""
    width, height = size
    hw, hh = width // 2, height // 2
    tiles = [(0, 0, hw, hh), (hw, 0, width - hw, hh), (0, hh, hw, height - hh), (hw, hh, width - hw, height - hh)]
    return b"".join(
        [
            dw.encode_keyframe_marker(),
            dw.encode_output(DesktopSize(width, height)),
            *(dw.encode_output(Image(x, y, w, h, "png", png(w, h, color))) for x, y, w, h in tiles),
            dw.encode_output(FrameEnd()),
        ]
    )


def square(x: int, y: int, color: Color, side: int = 10) -> bytes:
    """An update: a square of one colour, copied once to the right."""
    return b"".join(
        [
            dw.encode_output(Image(x, y, side, side, "png", png(side, side, color))),
            dw.encode_output(CopyRect(x, y, min(x + side, W - side), y, side, side)),
            dw.encode_output(FrameEnd()),
        ]
    )


class Picture:
    """The renderer's job in numpy (independent of the exporter's code): apply output messages."""

    def __init__(self) -> None:
        self.parser = dw.StreamParser(dw.OUTPUT_TYPES)
        self.pixels = np.zeros((0, 0, 3), np.uint8)
        self.kinds: list[int] = []

    def feed(self, data: bytes) -> None:
        for m in self.parser.feed(data):
            self.kinds.append(m.kind)
            if m.kind == dw.SIZE:
                width, height = dw.decode_size(m.body)
                self.pixels = np.zeros((height, width, 3), np.uint8)
            elif m.kind == dw.IMAGE:
                x, y, w, h = struct.unpack(">HHHH", m.body[:8])
                self.pixels[y : y + h, x : x + w] = np.asarray(PILImage.open(io.BytesIO(m.body[9:])).convert("RGB"))
            elif m.kind == dw.COPY:
                sx, sy, x, y, w, h = struct.unpack(">HHHHHH", m.body)
                self.pixels[y : y + h, x : x + w] = self.pixels[sy : sy + h, sx : sx + w].copy()


def script() -> list[tuple[float, bytes]]:
    """A session of 3 minutes: keyframes at 0, 60 and 120 s (red, green, blue), a square every 7 s in between."""
    rng = random.Random(7)
    timeline: list[tuple[float, bytes]] = []
    colors = [(220, 30, 40), (40, 170, 80), (30, 90, 200)]
    for n, color in enumerate(colors):
        timeline.append((n * 60.0, keyframe(color)))
        for k in range(1, 9):
            shade = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
            timeline.append((n * 60.0 + k * 7.0, square(rng.randrange(0, W - 10), rng.randrange(0, H - 10), shade)))
    return timeline


def record(directory: Path, timeline: list[tuple[float, bytes]], *, chunk: int | None = None) -> DesktopRecorder:
    """Record ``timeline`` (without an event loop: every call writes through), cut into chunks of random sizes
    (message headers cut anywhere) unless ``chunk`` is given; closed with a marker."""
    recorder = DesktopRecorder.start(directory, "d1", title="Lab desktop")
    now = [0.0]
    recorder._seconds = lambda: now[0]  # type: ignore[method-assign]
    rng = random.Random(3)
    for at, data in timeline:
        i = 0
        while i < len(data):
            step = chunk or rng.choice([1, 2, 3, 4, 5, 6, 17, 300, 4096, 70_000])
            now[0] = at + i / 1e6
            recorder.output(data[i : i + step])
            i += step
    now[0] = timeline[-1][0] + 5
    recorder.marker("ended: the owner ended the session")
    recorder.close()
    return recorder


def records(directory: Path) -> list[df.Record]:
    return list(df.stream_from(directory / "d1.ojd", 0))


def picture_from(path: Path, offset: int, until_ms: int) -> Picture:
    picture = Picture()
    for rec in df.stream_from(path, offset):
        if rec.ms > until_ms:
            break
        if rec.kind == df.OUTPUT:
            picture.feed(rec.data)
    return picture


# ---- the format -------------------------------------------------------------------------------------------------
def test_a_recording_holds_the_stream_byte_for_byte_with_its_times_and_markers(tmp_path: Path) -> None:
    timeline = script()
    recorder = record(tmp_path, timeline)
    assert recorder.path == tmp_path / "d1.ojd" and recorder.index_path == tmp_path / "d1.didx"
    assert oct(recorder.path.stat().st_mode & 0o777) == "0o600"
    with recorder.path.open("rb") as f:
        header, start = df.read_header(f)
    assert header["version"] == 1 and header["title"] == "Lab desktop"
    assert abs(header["started_at"] - time.time()) < 60
    recs = records(tmp_path)
    assert b"".join(r.data for r in recs if r.kind == df.OUTPUT) == b"".join(data for _, data in timeline)
    assert [r.ms for r in recs] == sorted(r.ms for r in recs), "times never go back"
    assert recs[0].offset == start and all(a.end == b.offset for a, b in itertools.pairwise(recs))
    assert recs[-1].kind == df.MARKER and recs[-1].data == b"ended: the owner ended the session"
    assert recs[-1].ms == 181_000
    # each square arrived at its time: the record holding its bytes says so (to the millisecond)
    arrival = {r.ms for r in recs if r.kind == df.OUTPUT}
    assert {int(at * 1000) for at, _ in timeline} <= arrival
    assert all(len(r.data) <= df.MAX_RECORD_DATA for r in recs)


def test_every_keyframe_starts_a_record_and_is_in_the_index(tmp_path: Path) -> None:
    record(tmp_path, script())
    index = df.read_index(tmp_path / "d1.ojd", tmp_path / "d1.didx")
    assert [k.ms for k in index.keyframes] == [0, 60_000, 120_000]
    assert index.duration_ms == 181_000
    assert index.end == (tmp_path / "d1.ojd").stat().st_size
    by_offset = {r.offset: r for r in records(tmp_path)}
    for entry in index.keyframes:
        assert by_offset[entry.offset].data.startswith(dw.encode_keyframe_marker())
        assert by_offset[entry.offset].ms == entry.ms
    assert index.keyframe_at(59_999) == index.keyframes[0]
    assert index.keyframe_at(60_000) == index.keyframes[1]
    assert index.keyframe_at(10**9) == index.keyframes[2]
    raw = (tmp_path / "d1.didx").read_bytes()
    assert raw[:8] == df.INDEX_MAGIC and len(raw) == 8 + 3 * df.INDEX_ENTRY.size


def test_a_keyframe_header_cut_between_two_chunks_still_starts_its_record(tmp_path: Path) -> None:
    first, second = keyframe((255, 0, 0)), keyframe((0, 0, 255))
    data = first + second
    cut = len(first) + 2  # the second KEYFRAME header: 2 bytes in one chunk, 3 in the next
    recorder = DesktopRecorder.start(tmp_path, "d1", title="t")
    now = [1.0]
    recorder._seconds = lambda: now[0]  # type: ignore[method-assign]
    recorder.output(data[:cut])
    now[0] = 2.0
    recorder.output(data[cut:])
    recorder.close()
    index = df.read_index(recorder.path, recorder.index_path)
    assert [k.ms for k in index.keyframes] == [1000, 2000]
    assert b"".join(r.data for r in records(tmp_path)) == data


def test_seeking_from_the_keyframe_before_a_time_shows_what_playing_from_the_start_shows(tmp_path: Path) -> None:
    record(tmp_path, script())
    path = tmp_path / "d1.ojd"
    index = df.read_index(path, tmp_path / "d1.didx")
    for t in (0, 3_500, 59_999, 60_000, 61_000, 99_000, 121_000, 180_000):
        keyframe_entry = index.keyframe_at(t)
        assert keyframe_entry is not None and keyframe_entry.ms <= t
        seeked = picture_from(path, keyframe_entry.offset, t)
        assert seeked.kinds[:2] == [dw.KEYFRAME, dw.SIZE], "a seek starts at a complete picture"
        played = picture_from(path, 0, t)
        assert np.array_equal(seeked.pixels, played.pixels), f"the picture at {t} ms"
    assert tuple(picture_from(path, index.keyframes[1].offset, 60_000).pixels[H - 1, W - 1]) == (40, 170, 80)


# ---- torn and crashed recordings --------------------------------------------------------------------------------
def test_a_torn_recording_and_index_are_read_up_to_the_last_whole_record(tmp_path: Path) -> None:
    record(tmp_path, script())
    path, index_path = tmp_path / "d1.ojd", tmp_path / "d1.didx"
    whole = df.read_index(path, index_path)
    third = whole.keyframes[2].offset
    # the crash cut the file inside the third keyframe's record, and the index inside an entry after it
    with path.open("r+b") as f:
        f.truncate(third + df.RECORD.size + 2)
    index_path.write_bytes(index_path.read_bytes() + b"\x00\x01\x02")
    torn = df.read_index(path, index_path)
    assert [k.ms for k in torn.keyframes] == [0, 60_000], "the keyframe whose record is torn is left out"
    assert torn.end == third and torn.duration_ms == max(r.ms for r in records(tmp_path))
    assert records(tmp_path)[-1].end == third
    # an index entry that points at no keyframe (garbage, or beyond the end) is ignored
    index_path.write_bytes(index_path.read_bytes()[:-3] + df.INDEX_ENTRY.pack(130_000, 12345))
    assert [k.ms for k in df.read_index(path, index_path).keyframes] == [0, 60_000]
    # without its index the recording is still seekable: the records are scanned
    index_path.unlink()
    assert [k.ms for k in df.read_index(path, index_path).keyframes] == [0, 60_000]
    # a header that is not ours
    (tmp_path / "bad.ojd").write_bytes(b"GIF89a" + bytes(100))
    with pytest.raises(df.DesktopFileError):
        df.read_index(tmp_path / "bad.ojd", tmp_path / "bad.didx")


_CHILD = """
import asyncio, sys
from pathlib import Path
from console_web.recording.desktop_recorder import DesktopRecorder
from tests.unit.test_desktop_recording import keyframe, square

async def main():
    recorder = DesktopRecorder.start(Path(sys.argv[1]), "crash", title="crash")
    number = 0
    while True:
        data = keyframe((number % 256, 0, 0)) if number % 50 == 0 else square(number % 100, 10, (0, number % 256, 0))
        recorder.output(data)
        print(number, flush=True)
        number += 1
        await asyncio.sleep(0.005)

asyncio.run(main())
"""


def test_a_sigkilled_recorder_leaves_a_seekable_recording(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True, bufsize=1
    )
    assert child.stdout is not None
    started = time.monotonic()
    sent = -1
    while time.monotonic() - started < 2.0:
        line = child.stdout.readline()
        assert line, "the child died"
        sent = int(line)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    index = df.read_index(tmp_path / "crash.ojd", tmp_path / "crash.didx")
    assert len(index.keyframes) >= 2 and index.keyframes[0].ms <= 100
    stream = b"".join(r.data for r in df.stream_from(tmp_path / "crash.ojd", 0))
    messages = list(dw.StreamParser(dw.OUTPUT_TYPES).feed(stream))
    frames = sum(m.kind == dw.FRAME_END for m in messages)
    assert frames >= sent * 0.5, f"{frames} frames recorded of {sent} sent (at most ~{FLUSH_INTERVAL} s is lost)"
    last = index.keyframes[-1]
    assert picture_from(tmp_path / "crash.ojd", last.offset, index.duration_ms).kinds[0] == dw.KEYFRAME


# ---- the recorder -----------------------------------------------------------------------------------------------
async def test_a_slow_disk_builds_a_bounded_backlog_and_nothing_is_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = DesktopRecorder.start(tmp_path, "d1", title="slow")
    written: list[int] = []
    recorder.on_written = lambda: written.append(recorder.backlog_bytes)
    gate = threading.Event()
    real_append = FileAppender.append

    def slow_append(self: FileAppender, parts: Any) -> None:
        gate.wait(10)
        real_append(self, parts)

    monkeypatch.setattr(FileAppender, "append", slow_append)
    frame = keyframe((1, 2, 3))
    for _ in range(40):
        recorder.output(frame)
    await asyncio.sleep(FLUSH_INTERVAL + 0.2)
    assert recorder.backlog_bytes == 40 * len(frame), "the disk is stuck: everything is held, nothing dropped"
    gate.set()
    deadline = time.monotonic() + 10
    while recorder.backlog_bytes and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert recorder.backlog_bytes == 0 and written, "the hub hears that the backlog went down"
    recorder.close()
    assert b"".join(r.data for r in records(tmp_path)) == frame * 40
    assert recorder.keyframes == 40

    # past the bound the recording fails, loudly, rather than grow without end
    monkeypatch.setattr("console_web.recording.recorder.MAX_BACKLOG_BYTES", 10 * len(frame))
    second = DesktopRecorder.start(tmp_path, "d2", title="stuck")
    gate.clear()

    def flood() -> None:
        for _ in range(20):
            second.output(frame)

    with pytest.raises(InternalError, match=r"recording cannot keep up: \d+ bytes behind \(.*d2\.ojd\)"):
        flood()
    assert "RECORDING FAILED" in caplog.text
    gate.set()
    with pytest.raises(InternalError):
        second.close()


def test_terminal_calls_do_nothing_and_a_recording_is_never_overwritten(tmp_path: Path) -> None:
    recorder = DesktopRecorder.start(tmp_path, "d1", title="t", cols=80, rows=24, record_input=True)
    recorder.output(keyframe((9, 9, 9)))
    recorder.input(b"secret typed keys")
    recorder.echo(False)
    recorder.resize(100, 30)
    recorder.close()
    recorder.output(b"after close: ignored")
    assert b"secret" not in recorder.path.read_bytes()
    assert [r.kind for r in records(tmp_path)] == [df.OUTPUT]
    with pytest.raises(InternalError, match="cannot create the recording file"):
        DesktopRecorder.start(tmp_path, "d1", title="again")
    with pytest.raises(BadRequest):
        DesktopRecorder.start(tmp_path, "../escape", title="x")


def test_retention_deletes_a_desktop_recording_with_its_index_and_exports(tmp_path: Path) -> None:
    record(tmp_path, script()[:3])
    for name in ("d1.mp4", "d1.mp4.part", "other.txt"):
        (tmp_path / name).write_bytes(b"x")
    old = time.time() - 10 * 86400
    os.utime(tmp_path / "d1.ojd", (old, old))
    assert sweep(tmp_path, 5) == ["d1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.txt"]
    record(tmp_path, script()[:3])
    assert delete_recording(tmp_path, "d1") is True
    assert not any(tmp_path.glob("d1.*"))


# ---- MP4 export -------------------------------------------------------------------------------------------------
def test_the_mp4_export_shows_each_moment_of_the_recording(tmp_path: Path) -> None:
    record(tmp_path, script())
    seen: list[float] = []
    result = mp4_export.export_mp4(tmp_path / "d1.ojd", tmp_path / "d1.didx", tmp_path / "d1.mp4", progress=seen.append)
    assert (result.width, result.height, result.duration_ms) == (W, H, 181_000)
    assert seen == sorted(seen) and seen[-1] == 1.0
    with av.open(str(tmp_path / "d1.mp4")) as container:
        video = container.streams.video[0]
        assert (video.codec_context.name, video.width, video.height) == ("h264", W, H)
        frames = [(float(f.time or 0), f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    assert len(frames) == result.frames
    assert 180.0 <= frames[-1][0] <= 181.1, "the video lasts as long as the recording"

    def at(seconds: float) -> np.ndarray[Any, Any]:
        return next(pixels for t, pixels in reversed(frames) if t <= seconds + 1e-6)

    for seconds, colour in ((1.0, (220, 30, 40)), (61.0, (40, 170, 80)), (121.0, (30, 90, 200))):
        corner = at(seconds)[H - 4 :, W - 4 :].reshape(-1, 3).mean(axis=0)
        assert np.abs(corner - colour).max() < 12, (seconds, corner)


def test_an_mp4_of_a_large_desktop_is_scaled_to_an_even_size() -> None:
    assert mp4_export.video_size(3841, 2161) == (1920, 1080)
    assert mp4_export.video_size(1023, 767) == (1022, 766)


async def test_one_export_per_session_runs_at_a_time_and_finishes(tmp_path: Path) -> None:
    record(tmp_path, script())
    jobs = mp4_export.ExportJobs(max_running=1)
    finished = threading.Event()
    job = jobs.start(tmp_path, "d1", on_finished=lambda _: finished.set())
    with pytest.raises(Conflict):
        jobs.start(tmp_path, "d1")
    assert await asyncio.to_thread(finished.wait, 60)
    assert job.state == "done" and job.progress == 1.0 and job.error is None
    assert job.path.is_file() and not (tmp_path / "d1.mp4.part").exists()
    failed = jobs.start(tmp_path, "missing")
    deadline = time.monotonic() + 10
    while failed.active and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert failed.state == "failed" and failed.error == "the session has no desktop recording"


# ---- the REST API -----------------------------------------------------------------------------------------------
T0 = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)


async def store(console: Console, session_id: str, owner: int, *, live: bool = False) -> None:
    async with console.db.session() as session:
        session.add(
            SessionRecord(
                id=session_id,
                item_id=1,
                item_name="Lab desktop",
                user_id=owner,
                jumpoint_id=1,
                protocol="vnc",
                target="10.0.0.5:5900",
                started_at=T0,
                ended_at=None if live else T0 + timedelta(minutes=3),
                recorded=True,
            )
        )
        session.add(
            SessionParticipant(
                session_id=session_id,
                participant_id="p0",
                user_id=owner,
                display_name="Alice",
                mode="owner",
                joined_at=T0,
            )
        )


async def test_the_report_index_file_and_export_of_a_desktop_recording(console: Console, tmp_path: Path) -> None:
    directory = ConsoleConfig(state_dir=tmp_path).recordings_dir
    directory.mkdir(parents=True, exist_ok=True)
    record(directory, script())
    await store(console, "d1", console.alice_id)
    await store(console, "empty", console.alice_id)
    csrf = await console.login_as("alice")
    client = console.client

    report = await (await client.get("/api/v1/session-history/d1")).json()
    size = (directory / "d1.ojd").stat().st_size
    assert report["recording"] == {
        "available": True,
        "deleted_at": None,
        "cast_bytes": None,
        "transcript_bytes": None,
        "kind": "desktop",
        "desktop_bytes": size,
    }
    empty = await (await client.get("/api/v1/session-history/empty")).json()
    assert empty["recording"]["available"] is False and empty["recording"]["kind"] == "desktop"

    index = await (await client.get("/api/v1/session-history/d1/recording-index")).json()
    assert index["duration_ms"] == 181_000 and index["end"] == size and index["live"] is False
    assert [k["ms"] for k in index["keyframes"]] == [0, 60_000, 120_000]

    second = index["keyframes"][1]["offset"]
    resp = await client.get("/api/v1/session-history/d1/recording.ojd", headers={"Range": f"bytes={second}-"})
    assert resp.status == 206 and resp.headers["Cache-Control"] == "no-store"
    tail = await resp.read()
    assert tail[9:14] == dw.encode_keyframe_marker() and len(tail) == size - second

    missing = await client.get("/api/v1/session-history/empty/recording.ojd")
    assert missing.status == 404
    none = await (await client.get("/api/v1/session-history/d1/export.mp4/status")).json()
    assert none == {**none, "state": "none", "progress": 0.0}
    assert (await client.get("/api/v1/session-history/d1/export.mp4")).status == 404

    started = await client.post("/api/v1/session-history/d1/export.mp4", headers={"X-CSRF-Token": csrf})
    assert started.status == 202, await started.text()
    assert (await started.json())["state"] in ("queued", "running")
    again = await client.post("/api/v1/session-history/d1/export.mp4", headers={"X-CSRF-Token": csrf})
    assert again.status in (202, 409)  # 409 while the first runs (it may already be done on a fast machine)
    deadline = time.monotonic() + 60
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = await (await client.get("/api/v1/session-history/d1/export.mp4/status")).json()
        if status["state"] in ("done", "failed"):
            break
        await asyncio.sleep(0.1)
    assert status["state"] == "done", status
    assert (status["width"], status["height"], status["progress"]) == (W, H, 1.0)
    mp4 = await client.get("/api/v1/session-history/d1/export.mp4")
    assert mp4.status == 200 and mp4.headers["Content-Type"] == "video/mp4"
    assert len(await mp4.read()) == status["bytes"]

    # bob was not in the session: nothing of it exists for him
    await console.login_as("bob")
    for path in ("recording-index", "recording.ojd", "export.mp4", "export.mp4/status"):
        assert (await client.get(f"/api/v1/session-history/d1/{path}")).status == 404

    async with console.db.session() as session:
        actions = (
            await session.execute(
                select(AuditEvent.action, AuditEvent.detail)
                .where(AuditEvent.session_id == "d1")
                .order_by(AuditEvent.id)
            )
        ).all()
    assert ("recording.accessed", {"file": "desktop"}) in actions
    assert ("recording.accessed", {"file": "mp4"}) in actions
    assert [a for a, _ in actions].count("recording.exported") >= 1
