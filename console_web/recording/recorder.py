"""``SessionRecorder``: what the session hub calls to record a terminal session while it runs.

The hot path (``output``) only queues the bytes in memory with their time. A batch (encoding into asciicast and
transcript lines, then appending to the files) runs in a thread of a small pool, one batch at a time per recording
and in order, so neither the encoding nor a slow or stuck disk blocks the event loop. A timer starts a batch at most
``FLUSH_INTERVAL`` seconds after data arrives (a crash of the console loses at most about that much); one starts at
once when ``FLUSH_BYTES`` are waiting. The files are append-only and written whole lines at a time, so a SIGKILL
leaves at most a torn last line, which the readers ignore. Within a batch, output chunks that arrived within
``COALESCE_SECONDS`` of an event's first chunk join that event (its time; up to ``COALESCE_BYTES``): one cast line
and one pass of the transcript, so a flood of output costs a few passes over its bytes at memory speed (plain lines
of text, one vectorised scan: :mod:`console_web.recording.plain_output`).

``backlog_bytes`` tells the hub when recording falls behind (it then withholds flow-control credit, so nothing is
dropped); past ``MAX_BACKLOG_BYTES`` the recording fails. A failure (disk full ...) is logged with the file's path
and raised as :class:`InternalError` by the next call.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from console_web.recording.appender import FileAppender, direct_io_supported
from console_web.recording.asciicast import CastWriter
from console_web.recording.files import CAST, SUFFIXES, TIME_INDEX, TRANSCRIPT, recording_path
from console_web.recording.plain_output import scan_plain
from console_web.recording.transcript import MAX_LINE, TranscriptWriter
from console_web.recording.vtstrip import has_controls
from jumpoint.core.errors import InternalError

log = logging.getLogger(__name__)

FLUSH_INTERVAL: Final = 0.5
COALESCE_SECONDS: Final = 0.005
"""Output chunks that arrive within this long of an output event's first chunk go into that event (one cast line
and one pass of the transcript for a whole flood of small chunks; playback times stay within this of the truth)..."""
COALESCE_BYTES: Final = 256 * 1024
"""... up to this size (the encoders' temporary copies stay small; larger events gain nothing measurable)."""
FLUSH_BYTES: Final = 1 << 20
MAX_BACKLOG_BYTES: Final = 256 << 20
WRITER_THREADS: Final = 4

Event = tuple[str, float, bytes | str]  # code ("o", "i", "r", "m"), seconds, data
_pool_lock = threading.Lock()
_pool: concurrent.futures.ThreadPoolExecutor | None = None


def _writer_pool() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(WRITER_THREADS, thread_name_prefix="recording-writer")
        return _pool


class _Files:
    """A recording's append-only files, one per suffix (0600, created exclusively; a terminal's three by default),
    each a :class:`~console_web.recording.appender.FileAppender`."""

    def __init__(self, directory: Path, session_id: str, suffixes: tuple[str, ...] = SUFFIXES) -> None:
        self.paths = {suffix: recording_path(directory, session_id, suffix) for suffix in suffixes}
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            direct = direct_io_supported(directory)
        except OSError as exc:
            raise InternalError(f"cannot create the recordings directory {directory}: {exc.strerror}") from None
        self.files: dict[str, FileAppender] = {}
        self.written = 0
        """Bytes appended so far, every file together."""
        try:
            for suffix, path in self.paths.items():
                self.files[suffix] = FileAppender(path, direct=direct)
        except InternalError:
            self.close(remove=True)
            raise

    def write(self, suffix: str, parts: list[bytes]) -> None:
        """Append ``parts`` to one file, in order (any thread; one caller at a time)."""
        file = self.files[suffix]
        before = file.size
        file.append(parts)
        self.written += file.size - before

    def close(self, *, remove: bool = False) -> None:
        """Close every open file; ``remove`` deletes them too (a recording that never started)."""
        failure: InternalError | None = None
        for suffix, file in self.files.items():
            try:
                file.close()
            except InternalError as exc:
                failure = failure or exc
            if remove:
                with contextlib.suppress(OSError):
                    self.paths[suffix].unlink()
        self.files.clear()
        if failure is not None:
            raise failure


class SessionRecorder:
    """Records one terminal session: ``<id>.cast`` (asciicast v2), ``<id>.txt`` (transcript), ``<id>.tidx``.

    Call it from the event loop's thread. The flush timer needs a running event loop when :meth:`start` is called;
    without one (a script, a synchronous test) every call encodes and writes at once. :meth:`flush` and
    :meth:`close` block until everything is written. Calls after :meth:`close` are ignored.
    """

    def __init__(self, files: _Files, cast: CastWriter, *, record_input: bool, clock_start: float) -> None:
        self._setup(files, clock_start)
        self._cast = cast  # the encoders are used by one batch at a time (a writer thread, or flush/close)
        self._transcript = TranscriptWriter()
        self._record_input = record_input
        self._echo = True

    def _setup(self, files: _Files, clock_start: float) -> None:
        """The queueing and batching state every kind of recording shares. A subclass that records another format
        calls this instead of ``__init__`` and overrides :meth:`_encode_and_write` and :attr:`_main_path`."""
        self._files = files
        self._clock_start = clock_start
        self._closed = False
        self._failure: InternalError | None = None
        self._events: list[Event] = []
        self._pending_bytes = 0
        self._in_flight: concurrent.futures.Future[None] | None = None
        self._in_flight_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self.on_written: Callable[[], None] | None = None
        """Called (in the event loop's thread) after each batch written in the background: the backlog went down,
        so a caller withholding flow-control credit can look again."""
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    @classmethod
    def start(
        cls,
        directory: Path,
        session_id: str,
        *,
        cols: int,
        rows: int,
        title: str,
        record_input: bool,
        started_at: float | None = None,
    ) -> SessionRecorder:
        """Create the files (the directory 0700 if needed, the files 0600; an existing recording of the same id is
        refused) and write the cast's header. ``started_at`` (epoch seconds, default now) is the header's timestamp
        and time zero of the events. An id that is not ``[A-Za-z0-9_-]{1,64}`` raises :class:`BadRequest`; a file
        that cannot be created or written :class:`InternalError`."""
        now = time.time()
        began = now if started_at is None else min(started_at, now)
        files = _Files(directory, session_id)
        cast = CastWriter(width=cols, height=rows, timestamp=began, title=title or None)
        recorder = cls(files, cast, record_input=record_input, clock_start=time.monotonic() - (now - began))
        try:
            recorder._write_now()
        except InternalError:
            files.close(remove=True)
            raise
        return recorder

    # --- what the hub calls ----------------------------------------------------------------------------
    @property
    def cast_path(self) -> Path:
        """The asciicast v2 file."""
        return self._files.paths[CAST]

    @property
    def transcript_path(self) -> Path:
        """The plain-text transcript."""
        return self._files.paths[TRANSCRIPT]

    @property
    def bytes_written(self) -> int:
        """Bytes handed to the operating system so far, the three files together."""
        return self._files.written

    @property
    def backlog_bytes(self) -> int:
        """Bytes recorded but not written yet (queued, or in the batch being encoded and written)."""
        return self._pending_bytes + self._in_flight_bytes

    def output(self, data: bytes) -> None:
        """What the terminal displayed. Hot path: queued in memory."""
        if data and self._usable():
            self._queue(("o", self._seconds(), data), len(data))

    def input(self, data: bytes) -> None:
        """Keys a participant typed: recorded only with ``record_input``, and only while the terminal echoes (never
        what is typed at a password prompt)."""
        if data and self._record_input and self._echo and self._usable():
            self._queue(("i", self._seconds(), data), len(data))

    def echo(self, on: bool) -> None:
        """The terminal stopped showing what is typed (a password prompt), or started again."""
        self._echo = on

    def resize(self, cols: int, rows: int) -> None:
        """The terminal's size changed."""
        if self._usable():
            self._queue(("r", self._seconds(), f"{cols}x{rows}"), 16)

    def marker(self, label: str) -> None:
        """A named point in the playback."""
        if self._usable():
            self._queue(("m", self._seconds(), label), len(label))

    def flush(self) -> None:
        """Encode and write everything recorded so far, now (blocking; waits for a batch being written)."""
        if self._usable():
            self._write_now()

    def close(self) -> None:
        """Write everything (the transcript's last line too) and close the files; blocking. Idempotent; raises
        :class:`InternalError` when something could not be written."""
        if not self._closed:
            self._finish_closing(*self._stop_taking())

    def close_in_background(self) -> concurrent.futures.Future[None]:
        """:meth:`close` without blocking the caller (the event loop's thread, with a running loop): from now on
        nothing more is recorded, and a writer thread waits for the batch in flight, writes the rest and closes the
        files. The future's exception is the :class:`InternalError` :meth:`close` would raise."""
        if self._closed or self._loop is None:
            done: concurrent.futures.Future[None] = concurrent.futures.Future()
            try:
                self.close()
                done.set_result(None)
            except InternalError as exc:
                done.set_exception(exc)
            return done
        return _writer_pool().submit(self._finish_closing, *self._stop_taking())

    def _stop_taking(self) -> tuple[concurrent.futures.Future[None] | None, list[Event]]:
        """Record nothing more; the batch in flight (if any) and what is queued, for :meth:`_finish_closing`."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        in_flight, self._in_flight, self._in_flight_bytes = self._in_flight, None, 0
        events, self._events, self._pending_bytes = self._events, [], 0
        return in_flight, events

    def _finish_closing(self, in_flight: concurrent.futures.Future[None] | None, events: list[Event]) -> None:
        """After ``in_flight``, the last batch (``final``) and the files' close (any thread, one at a time)."""
        try:
            if in_flight is not None:
                self._collect(in_flight)
            if self._failure is None:
                self._encode_and_write(events, final=True)
        except InternalError as exc:
            self._fail(exc)
        except Exception as exc:  # a bug: still loud, and the files are closed all the same
            log.exception("closing the recording failed")
            self._fail(InternalError(f"recording {self._main_path} failed: {exc!r}"))
        finally:
            try:
                self._files.close()
            except InternalError as exc:
                self._fail(exc)
        if self._failure is not None:
            raise self._failure

    # --- internals -------------------------------------------------------------------------------
    @property
    def _main_path(self) -> Path:
        """The file that names this recording in messages."""
        return self.cast_path

    def _usable(self) -> bool:
        if self._failure is not None:
            raise self._failure
        return not self._closed

    def _seconds(self) -> float:
        return max(0.0, time.monotonic() - self._clock_start)

    def _queue(self, event: Event, size: int) -> None:
        self._events.append(event)
        self._pending_bytes += size
        if self.backlog_bytes > MAX_BACKLOG_BYTES:
            failure = InternalError(f"recording cannot keep up: {self.backlog_bytes} bytes behind ({self._main_path})")
            self._fail(failure)
            raise failure
        if self._loop is None:
            self._write_now()
        elif self._pending_bytes >= FLUSH_BYTES:
            self._start_batch()
        elif self._timer is None:
            self._timer = self._loop.call_later(FLUSH_INTERVAL, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if not self._closed and self._failure is None:
            self._start_batch()

    def _start_batch(self) -> None:
        """Give what is queued to a writer thread, unless a batch is still running (its end comes back here)."""
        if self._in_flight is not None or self._failure is not None or not self._events:
            return
        events, self._events = self._events, []
        self._in_flight_bytes, self._pending_bytes = self._pending_bytes, 0
        self._in_flight = _writer_pool().submit(self._encode_and_write, events)
        self._in_flight.add_done_callback(self._report_done)

    def _report_done(self, future: concurrent.futures.Future[None]) -> None:
        """In the writer thread: tell the loop (closed at shutdown: then close() collects the result)."""
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._batch_done, future)

    def _batch_done(self, future: concurrent.futures.Future[None]) -> None:
        if future is not self._in_flight:
            return  # already collected by _write_now
        self._in_flight, self._in_flight_bytes = None, 0
        if not self._collect(future) or self._closed:
            return
        if self._pending_bytes >= FLUSH_BYTES or (self._events and self._timer is None):
            self._start_batch()
        if self.on_written is not None:
            self.on_written()

    def _collect(self, future: concurrent.futures.Future[None]) -> bool:
        try:
            future.result()
        except InternalError as exc:
            self._fail(exc)
            return False
        except Exception as exc:  # a bug: still loud, and the recording stops rather than lose data unnoticed
            log.exception("recording batch failed")
            self._fail(InternalError(f"recording {self._main_path} failed: {exc!r}"))
            return False
        return True

    def _write_now(self) -> None:
        """Encode and write in this thread, after the batch in flight (if any), so the order is kept."""
        if self._in_flight is not None:
            future, self._in_flight, self._in_flight_bytes = self._in_flight, None, 0
            self._collect(future)
        if self._failure is not None:
            raise self._failure
        events, self._events, self._pending_bytes = self._events, [], 0
        try:
            self._encode_and_write(events)
        except InternalError as exc:
            self._fail(exc)
            raise

    def _encode_and_write(self, events: list[Event], *, final: bool = False) -> None:
        """One batch (a writer thread, or the caller's): encode the events, then append to the three files."""
        cast, transcript = self._cast, self._transcript
        i, count = 0, len(events)
        while i < count:
            code, at, data = events[i]
            i += 1
            if code == "o":
                assert isinstance(data, bytes)
                if i < count and events[i][0] == "o" and events[i][1] - at <= COALESCE_SECONDS:
                    parts, size = [data], len(data)
                    while (
                        i < count
                        and events[i][0] == "o"
                        and events[i][1] - at <= COALESCE_SECONDS
                        and size + len(events[i][2]) <= COALESCE_BYTES
                    ):
                        parts.append(events[i][2])  # type: ignore[arg-type]
                        size += len(events[i][2])
                        i += 1
                    data = b"".join(parts)
                if data[-1:] == b"\r" and i < count and events[i][0] == "o":
                    # A CR LF split between two chunks (Telnet servers flush a CR alone, often): the CR goes with its
                    # LF, so both events stay plain lines instead of one taking the general way for a lone CR.
                    _, after, following = events[i]
                    assert isinstance(following, bytes)
                    events[i] = ("o", after, b"\r" + following)
                    data = data[:-1]
                    if not data:
                        continue
                plain = scan_plain(data, MAX_LINE)
                if plain is not None and cast.can_take_plain and transcript.can_take_plain:
                    cast.output_plain(plain, at)
                    transcript.output_plain(plain, at)
                    continue
                text = cast.decode_output(data)
                if text:
                    controls = has_controls(text)  # one scan for both encoders
                    cast.output_text(text, at, controls)
                    transcript.output(text, at, controls)
            elif code == "i":
                assert isinstance(data, bytes)
                cast.input(data, at)
            elif code == "r":
                assert isinstance(data, str)
                cols, rows = data.split("x")
                cast.resize(int(cols), int(rows), at)
            else:
                assert isinstance(data, str)
                cast.marker(data, at)
        if final:
            at = self._seconds()
            transcript.output(cast.finish(at), at)
            transcript.finish(at)
        lines, times = transcript.take()
        for suffix, parts in ((CAST, cast.take()), (TRANSCRIPT, lines), (TIME_INDEX, times)):
            self._files.write(suffix, parts)

    def _fail(self, exc: InternalError) -> None:
        if self._failure is None:
            self._failure = exc
            log.error("RECORDING FAILED: %s", exc.message)
