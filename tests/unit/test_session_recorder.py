"""SessionRecorder writes the cast, the transcript and its time index while the session runs, survives a SIGKILL,
never records what is typed at a password prompt, and reports failures; retention deletes old recordings."""

from __future__ import annotations

import asyncio
import base64
import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from console_web.recording.asciicast import CastEvent, read_cast
from console_web.recording.recorder import FLUSH_INTERVAL, SessionRecorder
from console_web.recording.retention import delete_recording, sweep
from console_web.recording.transcript import search_transcript
from jumpoint.core.errors import BadRequest, InternalError

REPO = Path(__file__).parents[2]


def start(directory: Path, session_id: str = "s1", **options: object) -> SessionRecorder:
    settings: dict[str, object] = {"cols": 80, "rows": 24, "title": "web-01", "record_input": False, **options}
    return SessionRecorder.start(directory, session_id, **settings)  # type: ignore[arg-type]


def fill_the_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every write from now on fails with ENOSPC."""

    def disk_full(fd: int, buffers: object, offset: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("console_web.recording.appender.os.pwritev", disk_full)


def events(recorder: SessionRecorder) -> list[tuple[str, str]]:
    return [(e.code, e.data) for e in read_cast(recorder.cast_path)[1]]


async def test_a_session_is_recorded_as_a_cast_a_transcript_and_a_time_index(tmp_path: Path) -> None:
    recorder = start(tmp_path / "recordings", started_at=time.time() - 5)
    recorder.output(b"$ \x1b[1mls\x1b[0m\r\nfile1  file2\r\n$ ")
    recorder.resize(100, 30)
    recorder.marker("ended: logout")
    recorder.close()
    header, cast = read_cast(recorder.cast_path)
    assert (header["width"], header["height"], header["title"]) == (80, 24, "web-01")
    assert abs(header["timestamp"] - (time.time() - 5)) < 2
    assert [(e.code, e.data) for e in cast] == [
        ("o", "$ \x1b[1mls\x1b[0m\r\nfile1  file2\r\n$ "),
        ("r", "100x30"),
        ("m", "ended: logout"),
    ]
    assert 5 <= cast[0].time < 7  # seconds since started_at
    assert recorder.transcript_path.read_text() == "$ ls\nfile1  file2\n$\n"
    times = (tmp_path / "recordings" / "s1.tidx").read_text().split()
    assert len(times) == 3 and all(5 <= float(t) < 7 for t in times)
    assert search_transcript(tmp_path / "recordings", "s1", "FILE2", 5)[0].line == 2
    assert recorder.bytes_written == sum(p.stat().st_size for p in (tmp_path / "recordings").iterdir())


def test_the_directory_is_created_0700_and_the_files_0600(tmp_path: Path) -> None:
    recorder = start(tmp_path / "a" / "recordings")
    recorder.close()
    assert stat.S_IMODE((tmp_path / "a" / "recordings").stat().st_mode) == 0o700
    for path in (tmp_path / "a" / "recordings").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert sorted(p.name for p in (tmp_path / "a" / "recordings").iterdir()) == ["s1.cast", "s1.tidx", "s1.txt"]


@pytest.mark.parametrize("session_id", ["", "../x", "a/b", "x" * 65, "name.cast", "é"])
def test_a_session_id_that_is_not_a_plain_name_is_refused(tmp_path: Path, session_id: str) -> None:
    with pytest.raises(BadRequest):
        start(tmp_path, session_id)
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_an_existing_recording_is_never_overwritten(tmp_path: Path) -> None:
    start(tmp_path).close()
    before = (tmp_path / "s1.cast").read_bytes()
    with pytest.raises(InternalError, match=r"s1\.cast"):
        start(tmp_path)
    assert (tmp_path / "s1.cast").read_bytes() == before


async def test_input_is_recorded_only_when_asked_and_never_while_echo_is_off(tmp_path: Path) -> None:
    quiet = start(tmp_path, "quiet")
    quiet.input(b"ls\r")
    quiet.close()
    assert events(quiet) == []
    recorder = start(tmp_path, "keys", record_input=True)
    recorder.input(b"sudo -i\r")
    recorder.output(b"[sudo] password for alice: ")
    recorder.echo(False)
    recorder.input(b"hunter2\r")
    recorder.echo(True)
    recorder.input("é".encode()[:1])
    recorder.input("é".encode()[1:] + b"\r")
    recorder.close()
    assert events(recorder) == [("i", "sudo -i\r"), ("o", "[sudo] password for alice: "), ("i", "é\r")]
    assert b"hunter2" not in b"".join(p.read_bytes() for p in tmp_path.iterdir())


async def test_output_reaches_the_disk_within_half_a_second_without_any_flush(tmp_path: Path) -> None:
    recorder = start(tmp_path)
    written = asyncio.Event()
    recorder.on_written = written.set
    recorder.output(b"hello\r\n")
    assert recorder.backlog_bytes == 7
    assert events(recorder) == []  # only queued: the hot path does no I/O
    await asyncio.wait_for(written.wait(), FLUSH_INTERVAL + 0.5)
    assert events(recorder) == [("o", "hello\r\n")]
    assert recorder.transcript_path.read_text() == "hello\n"
    assert recorder.backlog_bytes == 0
    recorder.close()


async def test_a_large_burst_is_written_without_waiting_for_the_timer_and_in_order(tmp_path: Path) -> None:
    recorder = start(tmp_path)
    chunks = [b"%06d " % i + b"x" * 65000 + b"\r\n" for i in range(64)]
    for chunk in chunks:
        recorder.output(chunk)
        await asyncio.sleep(0)
    deadline = time.monotonic() + 5
    while recorder.backlog_bytes and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert "".join(data for code, data in events(recorder)) == b"".join(chunks).decode()
    recorder.close()
    assert len(recorder.transcript_path.read_text().splitlines()) == 64 * 16  # 65008-character lines, split


async def test_a_write_error_is_raised_by_the_next_call_with_the_path_and_never_silent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = start(tmp_path)

    fill_the_disk(monkeypatch)
    recorder.output(b"lost?\r\n")
    await asyncio.sleep(FLUSH_INTERVAL + 0.3)
    with pytest.raises(InternalError, match=r"s1\.cast: No space left on device"):
        recorder.output(b"more")
    assert "RECORDING FAILED" in caplog.text and "s1.cast" in caplog.text
    with pytest.raises(InternalError):
        recorder.close()
    recorder.close()  # idempotent: the failure was reported once


def test_close_is_idempotent_and_what_comes_after_it_is_ignored(tmp_path: Path) -> None:
    recorder = start(tmp_path)
    recorder.output(b"last words\r\n")
    recorder.close()
    recorder.close()
    recorder.output(b"late output after the end")
    recorder.input(b"x")
    recorder.marker("late")
    assert events(recorder) == [("o", "last words\r\n")]


def test_without_an_event_loop_every_call_writes_through(tmp_path: Path) -> None:
    recorder = start(tmp_path)
    recorder.output(b"now\r\n")
    assert events(recorder) == [("o", "now\r\n")]
    assert recorder.backlog_bytes == 0
    recorder.close()


def test_the_transcript_keeps_a_line_in_progress_until_close(tmp_path: Path) -> None:
    recorder = start(tmp_path)
    recorder.output(b"$ tail -f log\r\nwaiting")
    assert recorder.transcript_path.read_text() == "$ tail -f log\n"
    recorder.close()
    assert recorder.transcript_path.read_text() == "$ tail -f log\nwaiting\n"


_CHILD = """
import asyncio, sys
from pathlib import Path
from console_web.recording.recorder import SessionRecorder

async def main():
    recorder = SessionRecorder.start(Path(sys.argv[1]), "crash", cols=80, rows=24, title="crash", record_input=True)
    number, flood = 0, sys.argv[2] == "flood"  # a flood: 64 lines of 1 KiB per call, so batches go around the cache
    while True:
        for _ in range(64 if flood else 1):
            recorder.output(b"line %06d%s\\r\\n" % (number, b"." * 1012 if flood else b""))
            number += 1
        print(number - 1, flush=True)
        await asyncio.sleep(0.005)

asyncio.run(main())
"""


@pytest.mark.parametrize("output", ["lines", "flood"])
def test_a_sigkill_loses_at_most_the_last_second_and_leaves_readable_files(tmp_path: Path, output: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(tmp_path), output], cwd=REPO, stdout=subprocess.PIPE, text=True, bufsize=1
    )
    pad = "." * 1012 if output == "flood" else ""
    assert child.stdout is not None
    sent: list[tuple[float, int]] = []  # when the parent saw each line reported as recorded
    start_time = time.monotonic()
    while time.monotonic() - start_time < 2.0:
        line = child.stdout.readline()
        assert line, "the child died"
        sent.append((time.monotonic(), int(line)))
    os.kill(child.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    child.wait()
    assert child.returncode == -signal.SIGKILL

    _, cast = read_cast(tmp_path / "crash.cast")  # parses: a torn last line is ignored
    recorded = "".join(e.data for e in cast if e.code == "o").split("\r\n")[:-1]
    assert recorded == [f"line {n:06d}{pad}" for n in range(len(recorded))]  # in order, nothing missing
    one_second_before = max(n for at, n in sent if at <= killed_at - 1.0)
    assert len(recorded) > one_second_before, f"{len(recorded)} recorded, {one_second_before} sent 1 s earlier"
    lines = (tmp_path / "crash.txt").read_bytes().split(b"\n")
    complete = lines[:-1]  # anything after the last LF would be a torn line
    assert complete == [f"line {n:06d}{pad}".encode() for n in range(len(complete))]
    assert len(complete) > one_second_before


async def test_recorder_throughput_on_20_mb_of_base64_output(tmp_path: Path) -> None:
    random = os.urandom(57 * 370_000)
    data = b"".join(base64.b64encode(random[i : i + 57]) + b"\r\n" for i in range(0, len(random), 57))
    data = data[: 20 * 1024 * 1024]
    recorder = start(tmp_path)
    began = time.perf_counter()
    slowest = 0.0
    for offset in range(0, len(data), 65536):
        while recorder.backlog_bytes > 16 << 20:  # what the hub does: withhold credit while the disk is behind
            await asyncio.sleep(0.005)
        call = time.perf_counter()
        recorder.output(data[offset : offset + 65536])
        slowest = max(slowest, time.perf_counter() - call)
        await asyncio.sleep(0)
    while recorder.backlog_bytes:
        await asyncio.sleep(0.005)
    seconds = time.perf_counter() - began
    recorder.close()
    print(f"recorder: {len(data) / seconds / 1e6:.0f} MB/s end to end; slowest output() {slowest * 1000:.2f} ms")
    expected = data.replace(b"\r\n", b"\n").removesuffix(b"\r")
    assert recorder.transcript_path.read_bytes() == expected + (b"" if expected.endswith(b"\n") else b"\n")


async def test_output_arriving_within_a_few_ms_is_one_event_that_reads_the_same(tmp_path: Path) -> None:
    recorder = start(tmp_path)
    times = iter([1.0, 1.001, 1.003, 1.004, 1.5, 2.0])
    recorder._seconds = lambda: next(times)  # type: ignore[method-assign]
    for chunk in (b"one\r\n", b"tw", "o é\r\n".encode()[:-3], "o é\r\n".encode()[-3:], b"three\r\n"):
        recorder.output(chunk)
    recorder.close()
    cast = read_cast(recorder.cast_path)[1]
    # chunks within COALESCE_SECONDS of an event's first one join it (its time); a UTF-8 character split between
    # them stays whole; the event after the gap keeps its own time
    assert [(e.time, e.code, e.data) for e in cast] == [(1.0, "o", "one\r\ntwo é\r\n"), (1.5, "o", "three\r\n")]
    assert recorder.transcript_path.read_text() == "one\ntwo é\nthree\n"
    assert (tmp_path / "s1.tidx").read_text() == "1.000\n1.000\n1.500\n"


async def test_a_cr_lf_split_between_chunks_is_recorded_whole_and_a_last_lone_cr_is_kept(tmp_path: Path) -> None:
    recorder = start(tmp_path)
    times = iter([1.0, 1.5, 2.0, 2.5])
    recorder._seconds = lambda: next(times)  # type: ignore[method-assign]
    lines = b"".join(b"line %05d\r\n" % n for n in range(3000))  # 33 KB: large enough for the plain way
    cut = lines.index(b"\n", 20_000)  # the CR ends the first chunk, its LF starts the second (as Telnet servers send)
    for chunk in (lines[:cut], lines[cut:], b"progress 50%\r"):
        recorder.output(chunk)
    recorder.flush()
    recorder.close()
    cast = read_cast(recorder.cast_path)[1]
    # the CR travels with its LF (to the next event), the output as a whole is unchanged, and the last CR, with no
    # output after it, stays in its own event
    assert "".join(e.data for e in cast).encode() == lines + b"progress 50%\r"
    assert [e.time for e in cast] == [1.0, 1.5, 2.0]
    assert cast[0].data == lines[: cut - 1].decode() and cast[1].data == lines[cut - 1 :].decode()
    assert recorder.transcript_path.read_bytes() == lines.replace(b"\r\n", b"\n") + b"progress 50%\n"


# --- retention ------------------------------------------------------------------------------------------
def age(path: Path, days: float) -> None:
    then = time.time() - days * 86400
    os.utime(path, (then, then))


def test_delete_recording_removes_the_three_files_and_says_whether_there_were_any(tmp_path: Path) -> None:
    start(tmp_path).close()
    start(tmp_path, "other").close()
    assert delete_recording(tmp_path, "s1") is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.cast", "other.tidx", "other.txt"]
    assert delete_recording(tmp_path, "s1") is False
    with pytest.raises(BadRequest):
        delete_recording(tmp_path, "../other")


def test_sweep_deletes_recordings_whose_cast_is_older_than_the_period(tmp_path: Path) -> None:
    for session_id in ("old", "fresh", "live", "transcript-only"):
        start(tmp_path, session_id).close()
    age(tmp_path / "old.cast", 31)  # its transcript was touched later: the cast decides
    age(tmp_path / "fresh.cast", 29)
    age(tmp_path / "live.cast", 40)
    (tmp_path / "transcript-only.cast").unlink()
    age(tmp_path / "transcript-only.txt", 31)
    (tmp_path / "notes.md").write_text("not a recording")
    age(tmp_path / "notes.md", 400)
    assert sweep(tmp_path, 30, keep={"live"}) == ["old", "transcript-only"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fresh.cast",
        "fresh.tidx",
        "fresh.txt",
        "live.cast",
        "live.tidx",
        "live.txt",
        "notes.md",
    ]
    assert sweep(tmp_path / "missing", 30) == []
    with pytest.raises(BadRequest):
        sweep(tmp_path, 0)


def test_the_time_index_written_by_the_recorder_is_the_format_search_reads(tmp_path: Path) -> None:
    recorder = start(tmp_path)
    recorder.output(b"alpha\r\n")
    recorder.close()
    assert json.loads(recorder.cast_path.read_text().splitlines()[0])["version"] == 2
    (match,) = search_transcript(tmp_path, "s1", "ALPHA", 1)
    assert match.text == "alpha" and match.time == float((tmp_path / "s1.tidx").read_text())
    (event,) = read_cast(recorder.cast_path)[1]
    assert event == CastEvent(event.time, "o", "alpha\r\n") and abs(event.time - match.time) < 0.001


async def test_closing_at_the_end_of_a_session_never_waits_for_a_slow_disk_and_writes_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = start(tmp_path)
    recorder.output(b"first\r\n")
    await asyncio.sleep(FLUSH_INTERVAL + 0.3)  # on disk: the next writes are the slow ones
    real_pwritev = os.pwritev

    def slow_disk(fd: int, buffers: list[bytes], offset: int) -> int:
        time.sleep(0.5)
        return real_pwritev(fd, buffers, offset)

    monkeypatch.setattr("console_web.recording.appender.os.pwritev", slow_disk)
    recorder.output(b"last words\r\n")
    recorder.marker("ended: logout")
    started = time.perf_counter()
    closing = recorder.close_in_background()
    assert time.perf_counter() - started < 0.1  # the event loop goes on at once
    recorder.output(b"after the end")  # ignored, as after close()
    await asyncio.wrap_future(closing)
    assert events(recorder) == [("o", "first\r\n"), ("o", "last words\r\n"), ("m", "ended: logout")]
    assert recorder.transcript_path.read_text() == "first\nlast words\n"


async def test_a_disk_failure_while_closing_in_the_background_is_the_futures_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = start(tmp_path)

    fill_the_disk(monkeypatch)
    recorder.output(b"lost?\r\n")
    with pytest.raises(InternalError, match=r"s1\.cast: No space left on device"):
        await asyncio.wrap_future(recorder.close_in_background())
