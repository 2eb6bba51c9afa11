"""``DesktopRecorder``: what the session hub calls to record a desktop session (VNC, later RDP) while it runs.

It records the desktop stream into ``<id>.ojd`` with a keyframe index ``<id>.didx`` (the format is described in
:mod:`console_web.recording.desktop_file`). It is a :class:`SessionRecorder` with another encoder: the same hot path
(``output`` only queues the bytes with their time), the same background batches in the shared writer pool (one at a
time per recording, in order), the same flush timer, backlog and failure rules: ``backlog_bytes`` lets the hub
withhold flow-control credit so nothing is dropped, past ``MAX_BACKLOG_BYTES`` the recording fails, and a failure
(disk full ...) is logged with the file's path and raised as :class:`InternalError` by the next call.

Keyframes come from the stream itself: the Jumpoint sends one when the session starts, and the hub asks for one at
least every ``RECORDING_KEYFRAME_SECONDS`` while recording (``OutputPump.keyframe_due``), so playback can seek.
Terminal-only calls (``input``, ``echo``, ``resize``) do nothing: a desktop's input is never recorded, and its size
travels in the stream.
"""

from __future__ import annotations

import time
from pathlib import Path

from console_web.recording.desktop_file import INDEX_MAGIC, DesktopFileEncoder, encode_header
from console_web.recording.files import DESKTOP, DESKTOP_INDEX, DESKTOP_SUFFIXES
from console_web.recording.recorder import Event, SessionRecorder, _Files
from jumpoint.core.errors import InternalError


class DesktopRecorder(SessionRecorder):
    """Records one desktop session: ``<id>.ojd`` (timed desktop stream) and ``<id>.didx`` (keyframe index).

    Call it from the event loop's thread; the same contract as :class:`SessionRecorder` (a flush timer with a
    running loop, synchronous writes without one; :meth:`flush` and :meth:`close` block; calls after :meth:`close`
    are ignored).
    """

    def __init__(self, files: _Files, encoder: DesktopFileEncoder, *, clock_start: float) -> None:
        self._setup(files, clock_start)
        self._encoder = encoder  # used by one batch at a time (a writer thread, or flush/close)

    @classmethod
    def start(
        cls,
        directory: Path,
        session_id: str,
        *,
        cols: int = 0,
        rows: int = 0,
        title: str = "",
        record_input: bool = False,
        started_at: float | None = None,
    ) -> DesktopRecorder:
        """Create the two files (the directory 0700 if needed, the files 0600; an existing recording of the same id
        is refused) and write their headers. ``started_at`` (epoch seconds, default now) is time zero of the
        records. ``cols``, ``rows`` and ``record_input`` are the terminal's and are ignored. An invalid id raises
        :class:`BadRequest`; a file that cannot be created or written :class:`InternalError`."""
        now = time.time()
        began = now if started_at is None else min(started_at, now)
        files = _Files(directory, session_id, DESKTOP_SUFFIXES)
        header = encode_header(began, title)
        recorder = cls(files, DesktopFileEncoder(len(header)), clock_start=time.monotonic() - (now - began))
        try:
            files.write(DESKTOP, [header])
            files.write(DESKTOP_INDEX, [INDEX_MAGIC])
        except InternalError:
            files.close(remove=True)
            raise
        return recorder

    # --- what the hub calls (the rest is SessionRecorder's) ------------------------------------------
    @property
    def path(self) -> Path:
        """The desktop recording file (``.ojd``)."""
        return self._files.paths[DESKTOP]

    @property
    def index_path(self) -> Path:
        """The keyframe index (``.didx``)."""
        return self._files.paths[DESKTOP_INDEX]

    @property
    def cast_path(self) -> Path:
        """A desktop recording has no cast: its playable file, the ``.ojd``."""
        return self.path

    @property
    def transcript_path(self) -> Path:
        """A desktop recording has no transcript: its keyframe index stands in its place."""
        return self.index_path

    @property
    def keyframes(self) -> int:
        """Keyframes recorded so far (written, or in the batch being written)."""
        return self._encoder.keyframes

    def input(self, data: bytes) -> None:
        """A desktop's input is never recorded."""

    def echo(self, on: bool) -> None:
        """Terminals only."""

    def resize(self, cols: int, rows: int) -> None:
        """Terminals only (a desktop's size is in its stream)."""

    # --- internals ---------------------------------------------------------------------------------
    @property
    def _main_path(self) -> Path:
        return self.path

    def _encode_and_write(self, events: list[Event], *, final: bool = False) -> None:
        """One batch (a writer thread, or the caller's): encode the events, append the records, then their index
        entries (an index entry never points past the data on disk)."""
        data, index = self._encoder.add(events)
        if final:
            tail, tail_index = self._encoder.flush()
            data += tail
            index += tail_index
        self._files.write(DESKTOP, data)
        self._files.write(DESKTOP_INDEX, index)
