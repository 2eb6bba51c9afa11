"""The console, with the recording of Jump Items named ``floor...`` cut down to writing the output as it came.

For ``bench_sessions --only recording``: a session of such an item queues and batches its output exactly like any
recording, in the same writer threads, and appends it unencoded to both the cast and the transcript file (no
asciicast escaping, no transcript, no scan). What that costs is the floor of any recorder that writes both files
while the session runs; what the real recorder costs above it is the encoding. Every other item records as
usual. Benchmark use only: the floor's files are not recordings.

Run as ``python -m benchmarks.recording_floor_console serve --config ...`` (the arguments of ``openjump``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from console_web import cli
from console_web.recording import recorder
from console_web.recording.files import CAST, TRANSCRIPT

FLOOR_PREFIX = "floor"

_encode_and_write = recorder.SessionRecorder._encode_and_write
_start = recorder.SessionRecorder.start.__func__  # type: ignore[attr-defined]


def _start_noting_floor(cls: type[recorder.SessionRecorder], directory: Path, session_id: str, /, **kwargs: Any) -> Any:
    started = _start(cls, directory, session_id, **kwargs)
    if str(kwargs.get("title", "")).startswith(FLOOR_PREFIX):
        started._bench_floor = True
    return started


def _write_raw_for_floor(self: recorder.SessionRecorder, events: list[Any], *, final: bool = False) -> None:
    if not getattr(self, "_bench_floor", False) or final:
        _encode_and_write(self, events, final=final)
        return
    output = [data for code, _, data in events if code == "o"]
    self._files.write(CAST, output)
    self._files.write(TRANSCRIPT, output)


def install() -> None:
    """Make this process's recorders treat ``floor...`` items as described above."""
    recorder.SessionRecorder.start = classmethod(_start_noting_floor)  # type: ignore[assignment,method-assign]
    recorder.SessionRecorder._encode_and_write = _write_raw_for_floor  # type: ignore[method-assign]


if __name__ == "__main__":
    install()
    sys.exit(cli.main())
