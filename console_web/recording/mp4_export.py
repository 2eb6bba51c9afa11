"""Exporting a desktop recording to an MP4 file (H.264 through PyAV), in the background with a progress figure.

:func:`export_mp4` replays the recording's desktop stream onto a numpy canvas exactly as the browser's renderer
does (SIZE keeps the picture, IMAGE tiles decoded with Pillow, COPY within the picture, and a frame is shown only at
FRAME_END) and samples it on a fixed grid of :data:`FPS` frames a second; a grid point whose picture did not change
is not encoded again (the MP4 has a variable frame rate on that grid: an idle hour costs nothing). The video's size
is the first picture's, scaled down to fit :data:`MAX_VIDEO_SIDE` and made even (H.264 4:2:0); a desktop that
changes size later is fitted into it with black bars. The pointer is not drawn (the stream carries its shape, not
where it is).

:class:`ExportJobs` runs exports in daemon threads, at most :data:`MAX_RUNNING` at a time for the whole console
(the others queue), one per session, at most :data:`MAX_JOBS` known at once; each thread lowers its own CPU
priority and x264 uses at most :data:`ENCODER_THREADS` threads, so exports never starve live sessions. An export
writes ``<id>.mp4.part`` and renames it to ``<id>.mp4`` when complete; it stops with an error after
:data:`MAX_EXPORT_SECONDS` or past :data:`MAX_EXPORT_BYTES`, and when cancelled.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Final, Literal

import av
import numpy as np
import numpy.typing as npt
from PIL import Image as PILImage

from console_web.recording import files
from console_web.recording.desktop_file import OUTPUT, read_index, stream_from
from jumpoint.core import desktop_wire
from jumpoint.core.errors import Busy, Cancelled, Conflict, InternalError, JumpError, ProtocolViolation

log = logging.getLogger(__name__)

FPS: Final = 10
FRAME_MS: Final = 1000 // FPS
MAX_VIDEO_SIDE: Final = 1920
"""The video's longer side at most (larger desktops are scaled down)."""
MAX_RUNNING: Final = 2
MAX_JOBS: Final = 16
MAX_EXPORT_SECONDS: Final = 3600.0
MAX_EXPORT_BYTES: Final = 8 << 30
MAX_PENDING_BYTES: Final = 64 << 20
"""A frame's messages are held until its FRAME_END; past this many bytes they are drawn anyway."""
ENCODER_THREADS: Final = 2
NICE: Final = 10
CRF: Final = "23"
PRESET: Final = "veryfast"

Pixels = npt.NDArray[np.uint8]
State = Literal["queued", "running", "done", "failed"]


class DesktopPicture:
    """The desktop's picture as the stream draws it (RGB, numpy). ``version`` grows with every frame shown."""

    def __init__(self) -> None:
        self.pixels: Pixels = np.zeros((0, 0, 3), np.uint8)
        self.version = 0
        self.decode_errors = 0
        self._parser = desktop_wire.StreamParser(desktop_wire.OUTPUT_TYPES)
        self._pending: list[desktop_wire.Message] = []
        self._pending_bytes = 0

    @property
    def size(self) -> tuple[int, int]:
        """(width, height); (0, 0) before the first SIZE."""
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])

    def feed(self, data: bytes, before_frame: Callable[[], None]) -> None:
        """Apply stream bytes; ``before_frame`` runs at each FRAME_END, before the frame is drawn (the picture is
        then still the previous frame). Raises :class:`ProtocolViolation` for a malformed stream."""
        for message in self._parser.feed(data):
            if message.kind == desktop_wire.FRAME_END:
                before_frame()
                self._draw_pending()
                self.version += 1
            elif message.kind in (desktop_wire.SIZE, desktop_wire.IMAGE, desktop_wire.COPY):
                self._pending.append(message)
                self._pending_bytes += len(message.body)
                if self._pending_bytes > MAX_PENDING_BYTES:
                    self._draw_pending()

    def _draw_pending(self) -> None:
        for message in self._pending:
            if message.kind == desktop_wire.SIZE:
                self._resize(*desktop_wire.decode_size(message.body))
            elif message.kind == desktop_wire.IMAGE:
                self._image(message.body)
            else:
                self._copy(message.body)
        self._pending.clear()
        self._pending_bytes = 0

    def _resize(self, width: int, height: int) -> None:
        old = self.pixels
        if old.shape[:2] == (height, width):
            return
        self.pixels = np.zeros((height, width, 3), np.uint8)
        h, w = min(height, old.shape[0]), min(width, old.shape[1])
        self.pixels[:h, :w] = old[:h, :w]

    def _image(self, body: bytes) -> None:
        if len(body) < 9:
            return
        x, y, w, h = (int.from_bytes(body[i : i + 2], "big") for i in range(0, 8, 2))
        ph, pw = self.pixels.shape[:2]
        if w == 0 or h == 0 or x >= pw or y >= ph:
            return
        try:
            with PILImage.open(io.BytesIO(body[9:])) as tile:
                if tile.width * tile.height > desktop_wire.MAX_IMAGE * 64:  # far beyond any real tile: a bomb
                    raise ValueError("image too large")
                picture = tile.convert("RGB")
        except (OSError, ValueError, PILImage.DecompressionBombError) as exc:
            self.decode_errors += 1
            if self.decode_errors <= 3:
                log.warning("MP4 export: an image could not be decoded (%s); it is left out", exc)
            return
        if picture.size != (w, h):
            picture = picture.resize((w, h))
        cw, ch = min(w, pw - x), min(h, ph - y)
        self.pixels[y : y + ch, x : x + cw] = np.asarray(picture)[:ch, :cw]

    def _copy(self, body: bytes) -> None:
        sx, sy, x, y, w, h = (int.from_bytes(body[i : i + 2], "big") for i in range(0, 12, 2))
        ph, pw = self.pixels.shape[:2]
        cw, ch = min(w, pw - sx, pw - x), min(h, ph - sy, ph - y)
        if cw > 0 and ch > 0:
            self.pixels[y : y + ch, x : x + cw] = self.pixels[sy : sy + ch, sx : sx + cw].copy()


def video_size(width: int, height: int) -> tuple[int, int]:
    """The MP4's size for a desktop of ``width`` x ``height``: scaled to fit :data:`MAX_VIDEO_SIDE`, even."""
    scale = min(1.0, MAX_VIDEO_SIDE / max(width, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _fit(pixels: Pixels, size: tuple[int, int]) -> Pixels:
    """``pixels`` in a picture of ``size`` (scaled keeping its proportions, black bars; unchanged when it fits)."""
    width, height = size
    ph, pw = pixels.shape[:2]
    if (pw, ph) == (width, height):
        return pixels
    if pw <= width and ph <= height and (width - pw) <= 1 and (height - ph) <= 1:
        out = np.zeros((height, width, 3), np.uint8)
        out[:ph, :pw] = pixels
        return out
    scale = min(width / pw, height / ph)
    sw, sh = max(1, round(pw * scale)), max(1, round(ph * scale))
    scaled = np.asarray(PILImage.fromarray(pixels).resize((sw, sh), PILImage.Resampling.BILINEAR))
    out = np.zeros((height, width, 3), np.uint8)
    top, left = (height - sh) // 2, (width - sw) // 2
    out[top : top + sh, left : left + sw] = scaled
    return out


@dataclass
class ExportResult:
    """What an export made: frames encoded, the video's size and length."""

    frames: int
    width: int
    height: int
    duration_ms: int


def export_mp4(
    source: Path,
    index_path: Path,
    target: Path,
    *,
    progress: Callable[[float], None] = lambda _: None,
    cancelled: Callable[[], bool] = lambda: False,
    deadline: float | None = None,
) -> ExportResult:
    """Encode the recording ``source`` (with its index ``index_path``) into the MP4 file ``target`` (overwritten).

    ``progress`` gets 0..1 as the recording is read; ``cancelled`` is asked between records (True: stop with
    :class:`Cancelled`); past ``deadline`` (``time.monotonic()``) it stops with :class:`InternalError`, as for
    a recording with no picture, a malformed stream, or a file that cannot be written. On error ``target`` may hold
    a partial file: the caller removes it.
    """
    index = read_index(source, index_path)
    end = max(1, index.end - index.data_start)
    picture = DesktopPicture()
    container: av.container.OutputContainer | None = None
    stream: av.video.stream.VideoStream | None = None
    state = {"next_ms": 0, "emitted": -1, "frames": 0, "last_pts": -1}

    def encode(pts: int) -> None:
        nonlocal container, stream
        if container is None:
            width, height = video_size(*picture.size)
            container = av.open(str(target), mode="w", format="mp4", options={"movflags": "+faststart"})
            stream = container.add_stream("libx264", rate=FPS, options={"preset": PRESET, "crf": CRF})
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = Fraction(1, FPS)
            stream.codec_context.thread_count = ENCODER_THREADS
        assert stream is not None
        frame = av.VideoFrame.from_ndarray(_fit(picture.pixels, (stream.width, stream.height)), format="rgb24")
        frame.pts = pts
        frame.time_base = Fraction(1, FPS)
        for packet in stream.encode(frame):
            container.mux(packet)
        state["frames"] += 1
        state["last_pts"] = pts
        state["emitted"] = picture.version

    def emit_until(ms: int, *, last: bool = False) -> None:
        """Frames for the grid points before ``ms`` (the picture as it is: the frame before the next one)."""
        while state["next_ms"] < ms:
            pts = state["next_ms"] // FRAME_MS
            state["next_ms"] += FRAME_MS
            has_picture = picture.version > 0 and picture.size[0] > 0
            closing = last and state["next_ms"] >= ms  # the last grid point: the video lasts as long as the recording
            if has_picture and (picture.version != state["emitted"] or (closing and pts > state["last_pts"])):
                encode(pts)

    done = 0
    try:
        for record in stream_from(source, index.data_start, stop=index.end):
            if cancelled():
                raise Cancelled("the export was cancelled")
            if deadline is not None and time.monotonic() > deadline:
                raise InternalError(f"the export took longer than {MAX_EXPORT_SECONDS:.0f} s and was stopped")
            if record.kind == OUTPUT:
                picture.feed(record.data, functools.partial(emit_until, record.ms))
            done = record.end - index.data_start
            progress(min(0.99, done / end))
            if state["frames"] % 100 == 99:
                with contextlib.suppress(OSError):
                    if target.stat().st_size > MAX_EXPORT_BYTES:
                        raise InternalError(f"the export is larger than {MAX_EXPORT_BYTES >> 30} GiB and was stopped")
        emit_until(index.duration_ms + 1, last=True)
        if container is None or stream is None:
            raise InternalError("the recording holds no picture to export")
        for packet in stream.encode(None):
            container.mux(packet)
    except ProtocolViolation as exc:
        raise InternalError(f"the recording's desktop stream is damaged: {exc.message}") from None
    except av.FFmpegError as exc:
        raise InternalError(f"the MP4 encoder failed: {exc}") from None
    finally:
        if container is not None:
            with contextlib.suppress(av.FFmpegError, OSError):
                container.close()
    progress(1.0)
    width, height = (stream.width, stream.height) if stream is not None else (0, 0)
    return ExportResult(frames=state["frames"], width=width, height=height, duration_ms=index.duration_ms)


# --- jobs --------------------------------------------------------------------------------------------------------
@dataclass
class ExportJob:
    """One export: its state (``queued``, ``running``, ``done``, ``failed``), progress 0..1 and error message."""

    directory: Path
    session_id: str
    state: State = "queued"
    progress: float = 0.0
    error: str | None = None
    result: ExportResult | None = None
    created: float = field(default_factory=time.monotonic)
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.state in ("queued", "running")

    @property
    def path(self) -> Path:
        """Where the finished MP4 is."""
        return files.recording_path(self.directory, self.session_id, files.EXPORT_MP4)


class ExportJobs:
    """The console's exports: at most ``max_running`` encode at once, one job per session, ``max_jobs`` known.

    Thread-safe. Finished jobs are forgotten after ``keep_seconds`` (their MP4 stays until the recording is deleted
    or exported again).
    """

    def __init__(self, *, max_running: int = MAX_RUNNING, max_jobs: int = MAX_JOBS, keep_seconds: float = 3600.0):
        self._slots = threading.BoundedSemaphore(max_running)
        self._max_jobs = max_jobs
        self._keep = keep_seconds
        self._lock = threading.Lock()
        self._jobs: dict[tuple[Path, str], ExportJob] = {}

    def get(self, directory: Path, session_id: str) -> ExportJob | None:
        """The session's current or last export (None: none known since the console started)."""
        with self._lock:
            self._forget_old()
            return self._jobs.get((directory, files.check_session_id(session_id)))

    def start(
        self, directory: Path, session_id: str, *, on_finished: Callable[[ExportJob], None] | None = None
    ) -> ExportJob:
        """Queue an export of the session's recording; :class:`Conflict` if one is queued or running for it,
        :class:`Busy` when :data:`MAX_JOBS` are. ``on_finished`` runs in the export's thread at the end."""
        key = (directory, files.check_session_id(session_id))
        with self._lock:
            self._forget_old()
            current = self._jobs.get(key)
            if current is not None and current.active:
                raise Conflict("this recording is being exported already", hint="wait for that export to finish")
            if sum(job.active for job in self._jobs.values()) >= self._max_jobs:
                raise Busy("too many exports are running on this console; try again in a few minutes")
            job = ExportJob(directory, session_id)
            self._jobs[key] = job
        thread = threading.Thread(
            target=self._run, args=(job, on_finished), name=f"mp4-export-{session_id[:16]}", daemon=True
        )
        thread.start()
        return job

    def cancel(self, directory: Path, session_id: str) -> None:
        """Ask the session's export (if one runs) to stop."""
        job = self.get(directory, session_id)
        if job is not None:
            job.cancel.set()

    def cancel_all(self) -> None:
        """Ask every export to stop (the console is stopping)."""
        with self._lock:
            for job in self._jobs.values():
                job.cancel.set()

    def _forget_old(self) -> None:
        now = time.monotonic()
        for key, job in list(self._jobs.items()):
            if job.finished is not None and now - job.finished > self._keep:
                del self._jobs[key]

    def _run(self, job: ExportJob, on_finished: Callable[[ExportJob], None] | None) -> None:
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)  # Linux: this thread only
        part = files.recording_path(job.directory, job.session_id, files.EXPORT_PART)
        try:
            while not self._slots.acquire(timeout=0.5):
                if job.cancel.is_set():
                    raise Cancelled("the export was cancelled")
            try:
                job.state = "running"
                source = files.recording_path(job.directory, job.session_id, files.DESKTOP)
                index = files.recording_path(job.directory, job.session_id, files.DESKTOP_INDEX)
                result = export_mp4(
                    source,
                    index,
                    part,
                    progress=lambda value: setattr(job, "progress", value),
                    cancelled=job.cancel.is_set,
                    deadline=time.monotonic() + MAX_EXPORT_SECONDS,
                )
                if not source.exists():
                    raise Cancelled("the recording was deleted during the export")
                os.replace(part, job.path)
            finally:
                self._slots.release()
            job.result = result
            job.state = "done"
            job.progress = 1.0
        except JumpError as exc:
            job.error, job.state = exc.message, "failed"
        except FileNotFoundError:
            job.error, job.state = "the session has no desktop recording", "failed"
        except Exception as exc:  # a bug: reported on the job and logged, never a stuck "running"
            log.exception("MP4 export of session %s failed", job.session_id)
            job.error, job.state = f"the export failed: {exc!r}", "failed"
        finally:
            job.finished = time.monotonic()
            if job.state != "done":
                with contextlib.suppress(OSError):
                    part.unlink()
                log.warning("MP4 export of session %s failed: %s", job.session_id, job.error)
            else:
                log.info("MP4 export of session %s done (%s)", job.session_id, job.result)
            if on_finished is not None:
                try:
                    on_finished(job)
                except Exception:
                    log.exception("after the MP4 export of session %s", job.session_id)


EXPORTS: Final = ExportJobs()
"""The console process's exports (the API uses this one)."""
