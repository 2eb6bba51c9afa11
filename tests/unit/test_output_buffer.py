"""The protocol-neutral output buffer both adapters use: bounded by pausing its source, events in order."""

from __future__ import annotations

import asyncio

from jumpoint.core.events import EchoChanged, Notice
from jumpoint.core.output_buffer import EVENT_COST, OutputBuffer


class Source:
    def __init__(self) -> None:
        self.reading = True
        self.pauses = 0

    def pause_reading(self) -> None:
        self.reading = False
        self.pauses += 1

    def resume_reading(self) -> None:
        self.reading = True


def test_the_source_pauses_at_the_limit_and_resumes_at_half() -> None:
    buf = OutputBuffer(4096)
    buf.source = source = Source()
    for _ in range(5):
        buf.append(b"x" * 1000)
    assert not source.reading
    assert buf.buffered == 5000
    assert buf.take(1500) == b"x" * 1000
    assert not source.reading
    buf.take(1500)
    buf.take(1500)
    assert source.reading
    assert source.pauses == 1


def test_without_a_source_nothing_pauses() -> None:
    buf = OutputBuffer(10)
    buf.append(b"x" * 100)
    assert buf.take(1000) == b"x" * 100
    assert buf.take(1000) is None


def test_chunks_are_joined_whole_and_split_only_past_the_limit_and_events_keep_their_place() -> None:
    buf = OutputBuffer(1 << 20, initial=(Notice("info", "first"),))
    buf.append(b"a" * 10)
    buf.append(b"b" * 10)
    buf.push(EchoChanged(False))
    buf.append(b"c" * 30)
    got = []
    while (item := buf.take(25)) is not None:
        got.append(item)
    assert got == [Notice("info", "first"), b"a" * 10 + b"b" * 10, EchoChanged(False), b"c" * 25, b"c" * 5]
    assert buf.buffered == 0


async def test_a_waiting_reader_wakes_on_output_and_on_close() -> None:
    buf = OutputBuffer()
    waiting = asyncio.create_task(buf.wait())
    await asyncio.sleep(0)
    assert not waiting.done()
    buf.append(b"hi")
    await asyncio.wait_for(waiting, 1)
    assert buf.take(10) == b"hi"
    waiting = asyncio.create_task(buf.wait())
    await asyncio.sleep(0)
    buf.close()
    await asyncio.wait_for(waiting, 1)
    await asyncio.wait_for(buf.wait(), 1)  # closed: returns at once


async def test_a_flood_of_small_chunks_is_held_briefly_and_taken_in_one_piece() -> None:
    buf = OutputBuffer()
    buf.source = source = Source()
    line = b"x" * 100 + b"\r\n"
    for _ in range(200):  # 20 KiB arriving a line at a time, the reader keeping up
        buf.append(line)
        assert buf.take(64 * 1024) == line or not source.reading
        if not source.reading:
            break
    assert not source.reading  # holding: the socket is not read, so the kernel gathers what arrives
    assert buf.take(64 * 1024) is None
    for _ in range(50):
        buf.append(line)  # what was already read still lands in the buffer
    assert buf.take(64 * 1024) is None
    await asyncio.wait_for(buf.wait(), 1)  # the hold ends on its own
    assert source.reading
    assert buf.take(64 * 1024) == line * 50


async def test_typing_echo_is_never_held() -> None:
    buf = OutputBuffer()
    buf.source = source = Source()
    for key in b"echo hello, this is a rep typing quickly":
        buf.append(bytes([key]))
        assert buf.take(64 * 1024) == bytes([key])
    assert source.reading
    assert source.pauses == 0


async def test_a_hold_during_a_flood_ends_at_once_when_the_connection_closes() -> None:
    buf = OutputBuffer()
    buf.source = Source()
    for _ in range(3):
        buf.append(b"y" * 8000)
        buf.take(64 * 1024)
    buf.append(b"last words")
    assert buf.take(64 * 1024) is None
    buf.close()
    await asyncio.wait_for(buf.wait(), 0.0005)
    assert buf.take(64 * 1024) == b"last words"


def test_an_echo_change_queued_right_after_another_replaces_it_and_one_after_output_does_not() -> None:
    buf = OutputBuffer(1 << 20)
    for echo in (False, True, False):
        buf.push(EchoChanged(echo))
    buf.append(b"Password: ")
    buf.push(EchoChanged(True))
    buf.push(EchoChanged(False))
    got = []
    while (item := buf.take(100)) is not None:
        got.append(item)
    assert got == [EchoChanged(False), b"Password: ", EchoChanged(False)]


def test_queued_events_count_against_the_limit_so_the_source_pauses_and_resumes() -> None:
    buf = OutputBuffer(4096)
    buf.source = source = Source()
    for i in range(4096 // EVENT_COST):
        assert source.reading
        buf.push(Notice("info", f"n{i}"))
    assert not source.reading
    assert buf.buffered == 0  # output bytes only
    for _ in range(4096 // EVENT_COST // 2 - 1):
        buf.take(100)
    assert not source.reading
    buf.take(100)
    assert source.reading
    assert source.pauses == 1


def test_events_and_output_together_count_against_the_limit() -> None:
    buf = OutputBuffer(4096)
    buf.source = source = Source()
    buf.append(b"x" * (4096 - EVENT_COST))
    assert source.reading
    buf.push(Notice("info", "one more"))
    assert not source.reading
