"""The session stream: positions, merging, eviction and flow-control accounting."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable

from console_web.hub.stream import StreamLog


def _event(log: StreamLog, name: str) -> int:
    return log.append_event(json.dumps({"t": name}))


def test_output_and_events_take_positions_in_order() -> None:
    log = StreamLog(1024)
    log.append_output(b"abc")
    pos = _event(log, "resize")
    log.append_output(b"de")
    assert pos == 3
    assert log.head == 6
    batch = log.read(0, log.head, 1024)
    assert batch is not None
    assert batch.entries == [b"abc", '{"t": "resize"}', b"de"]
    assert batch.end == 6


def test_consecutive_output_is_merged_into_one_chunk() -> None:
    log = StreamLog(1024)
    for part in (b"a", b"b", b"c"):
        log.append_output(part)
    batch = log.read(0, log.head, 1024)
    assert batch is not None and batch.entries == [b"abc"]


def test_a_reader_resumes_in_the_middle_of_a_chunk() -> None:
    log = StreamLog(1024)
    log.append_output(b"hello world")
    batch = log.read(6, log.head, 1024)
    assert batch is not None and batch.entries == [b"world"] and batch.end == 11


def test_reads_stop_at_the_limit_and_the_size_bound() -> None:
    log = StreamLog(1 << 20)
    log.append_output(b"x" * 100)
    _event(log, "bell")
    limited = log.read(0, 50, 1024)
    assert limited is not None and limited.entries == [b"x" * 50] and limited.end == 50
    small = log.read(0, log.head, 30)
    assert small is not None and small.entries == [b"x" * 30] and small.end == 30


def test_old_entries_are_evicted_past_the_capacity() -> None:
    log = StreamLog(100)
    for _ in range(10):
        log.append_output(b"y" * 30)
    assert log.start > 0
    assert log.evicted(0)
    assert log.read(0, log.head, 1024) is None
    assert log.read(log.start, log.head, 1024) is not None


def test_output_at_counts_only_output_bytes() -> None:
    log = StreamLog(1024)
    log.append_output(b"abc")
    _event(log, "title")
    log.append_output(b"defg")
    assert log.output_at(0) == 0
    assert log.output_at(2) == 2
    assert log.output_at(4) == 3
    assert log.output_at(6) == 5
    assert log.output_at(log.head) == 7


def test_many_appends_stay_bounded_after_compaction() -> None:
    log = StreamLog(4096)
    for i in range(20000):
        log.append_output(bytes([65 + i % 26]) * 10)
    assert log.head == 200000
    batch = log.read(log.start, log.head, 1 << 20)
    assert batch is not None
    assert sum(len(e) for e in batch.entries) <= 4096
    assert batch.end == log.head


def test_readers_in_step_share_one_merged_batch_and_it_stays_right_as_the_log_moves() -> None:
    log = StreamLog(1024)  # room for three small entries (each costs ENTRY_OVERHEAD too), too small to merge them
    for part in (b"ab", b"cd", b"ef"):
        log.append_output(part)
    first = log.read(0, log.head, 1024)
    assert first is not None and first.entries == [b"abcdef"]
    assert log.read(0, log.head, 1024) is first  # merged once for every socket at the same cursor
    log.append_output(b"gh")
    again = log.read(0, log.head, 1024)
    assert again is not None and again.entries == [b"abcdefgh"] and again.end == 8
    partial = log.read(2, 6, 1024)
    assert partial is not None and partial.entries == [b"cdef"] and partial.end == 6
    log.append_output(b"x" * 1024)  # evicts the start: a cached read of it must not come back
    assert log.read(0, 8, 1024) is None


def _traced_size_of_a_log_fed(capacity: int, feed: Callable[[StreamLog], None]) -> tuple[StreamLog, int]:
    """The log after ``feed``, and the memory it holds (traced allocations still alive)."""
    tracemalloc.start()
    try:
        log = StreamLog(capacity)
        feed(log)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return log, held


def test_a_flood_of_one_byte_outputs_holds_about_the_capacity_in_memory_not_a_hundred_times_it() -> None:
    capacity = 64 * 1024

    def feed(log: StreamLog) -> None:
        for _ in range(100_000):
            log.append_output(b"x")

    log, held = _traced_size_of_a_log_fed(capacity, feed)
    assert held < 2 * capacity  # each retained entry used to cost ~90 bytes for its one byte: ~5.6 MiB here
    assert log.head == log.output_total == 100_000
    batch = log.read(log.start, log.head, 1 << 20)
    assert batch is not None and batch.entries == [b"x" * (log.head - log.start)]


def test_a_flood_of_tiny_events_is_charged_each_entrys_overhead() -> None:
    capacity = 64 * 1024

    def feed(log: StreamLog) -> None:
        for i in range(30_000):
            log.append_event(f'{{"t":"bell","pos":{2 * i}}}')
            log.append_output(b"\x07")  # events and output alternate: nothing can be merged

    log, held = _traced_size_of_a_log_fed(capacity, feed)
    assert held < 2 * capacity
    assert log.read(log.start, log.head, 1 << 30) is not None


def test_a_target_writing_small_pieces_does_not_evict_a_socket_one_window_behind() -> None:
    log = StreamLog(2 * 1024 * 1024)  # the session's smallest log: twice the flow-control window
    data = bytes(range(256)) * 4096  # 1 MiB, one window
    for i in range(0, len(data), 100):
        log.append_output(data[i : i + 100])
    assert log.start == 0
    batch = log.read(0, log.head, 2 * len(data))
    assert batch is not None and batch.entries == [data]


def test_merged_output_keeps_its_positions_and_output_counts() -> None:
    log = StreamLog(1 << 20)
    log.append_output(b"ab")
    log.append_output(b"cd")
    pos = _event(log, "bell")
    log.append_output(b"ef")
    log.append_output(b"gh")
    assert pos == 4 and log.head == 9
    assert log.output_at(3) == 3 and log.output_at(5) == 4 and log.output_at(7) == 6
    middle = log.read(1, 7, 1024)
    assert middle is not None and middle.entries == [b"bcd", '{"t": "bell"}', b"ef"] and middle.end == 7
    whole = log.read(0, log.head, 1024)
    assert whole is not None and whole.entries == [b"abcd", '{"t": "bell"}', b"efgh"]
