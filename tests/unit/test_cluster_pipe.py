"""Pipes between console nodes (``console_web/cluster/pipe.py``), without Redis: two ends wired back to back, each
end's frames decoded from their bytes and handed to the other end, as a node's bus reader would."""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field

import pytest

from console_web.cluster import envelope
from console_web.cluster.envelope import ACK, BINARY, CLOSE, TEXT, Frame
from console_web.cluster.pipe import (
    ACK_EVERY,
    CLOSE_UNREACHABLE,
    FRAME_COST_MIN,
    WINDOW,
    Pipe,
    PipeClosed,
    SendRaw,
    new_pipe_id,
)

QUARTER = WINDOW // 4


@dataclass
class Wire:
    """Two ends of one pipe, ``a`` on node "a" and ``b`` on node "b", and what each end published."""

    a: Pipe = field(init=False)
    b: Pipe = field(init=False)
    published: dict[str, list[Frame]] = field(default_factory=lambda: {"a": [], "b": []})
    done: list[Pipe] = field(default_factory=list)
    connected: bool = True

    def __post_init__(self) -> None:
        pipe_id = new_pipe_id()
        self.a = Pipe(pipe_id, "b", self._send_from("a"), self.done.append)
        self.b = Pipe(pipe_id, "a", self._send_from("b"), self.done.append)

    def _send_from(self, node: str) -> SendRaw:
        async def send_raw(peer: str, data: bytes) -> None:
            frame = envelope.decode(data)
            assert isinstance(frame, Frame)
            self.published[node].append(frame)
            if not self.connected:
                raise ConnectionError(f"console node {peer} is not running")
            (self.b if peer == "b" else self.a).on_frame(frame)

        return send_raw

    def kinds(self, node: str) -> list[int]:
        return [frame.kind for frame in self.published[node]]


async def _blocked(task: asyncio.Task[None]) -> bool:
    """Whether the task is still waiting after everything runnable ran (and a moment more)."""
    done, _ = await asyncio.wait({task}, timeout=0.05)
    return not done


def _recorder() -> tuple[Pipe, list[Frame], list[Pipe]]:
    """One end whose frames go nowhere (the other end never acknowledges), what it sent, and its on_done calls."""
    sent: list[Frame] = []
    done: list[Pipe] = []

    async def send_raw(peer: str, data: bytes) -> None:
        frame = envelope.decode(data)
        assert isinstance(frame, Frame)
        sent.append(frame)

    return Pipe(new_pipe_id(), "b", send_raw, done.append), sent, done


def _data(seq: int, payload: bytes, kind: int = BINARY) -> Frame:
    return Frame("0123456789abcdef", seq, kind, payload)


# --- delivery --------------------------------------------------------------------------------------
async def test_a_pipe_id_is_16_hex_characters_and_fresh_each_time() -> None:
    ids = {new_pipe_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)


async def test_frames_arrive_in_the_order_they_were_sent_with_their_kinds() -> None:
    wire = Wire()
    sent = [(TEXT, b'{"t":"hello"}'), (BINARY, b"\x00\x01\x02"), (BINARY, b""), (TEXT, "grüß".encode())]
    for kind, payload in sent:
        await wire.a.send(kind, payload)
    received = [await wire.b.receive() for _ in sent]
    assert received == sent
    assert [frame.seq for frame in wire.published["a"]] == [0, 1, 2, 3]


async def test_both_directions_carry_frames_at_once() -> None:
    wire = Wire()
    await wire.a.send(TEXT, b"from a")
    await wire.b.send(TEXT, b"from b")
    assert await wire.b.receive() == (TEXT, b"from a")
    assert await wire.a.receive() == (TEXT, b"from b")


async def test_a_receiver_waits_for_the_next_frame() -> None:
    wire = Wire()
    waiting = asyncio.create_task(wire.b.receive())
    done, _ = await asyncio.wait({waiting}, timeout=0.05)
    assert not done
    await wire.a.send(BINARY, b"late")
    async with asyncio.timeout(1):
        assert await waiting == (BINARY, b"late")


async def test_the_receiver_acknowledges_what_its_consumer_took() -> None:
    wire = Wire()
    await wire.a.send(BINARY, b"x" * 1000)
    await wire.a.send(BINARY, b"y" * 10)
    assert wire.kinds("b") == []  # nothing taken yet, nothing acknowledged
    await wire.b.receive()
    await wire.b.receive()
    acks = [frame for frame in wire.published["b"] if frame.kind == ACK]
    assert acks, "the receiver acknowledged nothing"
    assert struct.unpack(">Q", acks[-1].payload)[0] == 1000 + FRAME_COST_MIN


# --- the window ------------------------------------------------------------------------------------
async def test_the_sender_waits_once_a_window_is_unacknowledged_and_resumes_when_the_receiver_takes() -> None:
    wire = Wire()
    for i in range(4):
        await wire.a.send(BINARY, bytes([i]) * QUARTER)
    fifth = asyncio.create_task(wire.a.send(BINARY, b"5" * QUARTER))
    assert await _blocked(fifth)
    assert len(wire.published["a"]) == 4

    assert await wire.b.receive() == (BINARY, b"\0" * QUARTER)  # a quarter taken: acknowledged at once
    async with asyncio.timeout(1):
        await fifth
    assert [await wire.b.receive() for _ in range(4)] == [(BINARY, bytes([i]) * QUARTER) for i in (1, 2, 3)] + [
        (BINARY, b"5" * QUARTER)
    ]


async def test_a_sender_with_a_frame_that_fits_the_window_does_not_wait() -> None:
    pipe, sent, _ = _recorder()
    await pipe.send(BINARY, b"x" * (WINDOW - 100))
    async with asyncio.timeout(1):
        await pipe.send(BINARY, b"y" * 100)
    assert len(sent) == 2
    last = asyncio.create_task(pipe.send(BINARY, b"z"))
    assert await _blocked(last)
    last.cancel()


async def test_tiny_frames_count_as_the_minimum_frame_cost() -> None:
    pipe, sent, _ = _recorder()
    fits = WINDOW // FRAME_COST_MIN
    for _ in range(fits):
        await pipe.send(TEXT, b"k")
    assert len(sent) == fits
    one_more = asyncio.create_task(pipe.send(TEXT, b""))
    assert await _blocked(one_more)
    assert len(sent) == fits
    pipe.on_frame(Frame(pipe.id, 0, ACK, struct.pack(">Q", FRAME_COST_MIN)))
    async with asyncio.timeout(1):
        await one_more
    assert len(sent) == fits + 1


async def test_acknowledgements_are_batched_while_the_consumer_keeps_up_with_a_backlog() -> None:
    wire = Wire()
    count = 2 * ACK_EVERY // 1024
    for _ in range(count):
        await wire.a.send(BINARY, b"." * 1024)
    for _ in range(count):
        await wire.b.receive()
    acks = [struct.unpack(">Q", f.payload)[0] for f in wire.published["b"] if f.kind == ACK]
    assert acks == [ACK_EVERY, 2 * ACK_EVERY]


async def test_a_stale_acknowledgement_does_not_shrink_what_was_acknowledged() -> None:
    pipe, _, _ = _recorder()
    for _ in range(4):
        await pipe.send(BINARY, b"x" * QUARTER)
    pipe.on_frame(Frame(pipe.id, 0, ACK, struct.pack(">Q", 2 * QUARTER)))
    pipe.on_frame(Frame(pipe.id, 1, ACK, struct.pack(">Q", QUARTER)))  # older, overtaken
    pipe.on_frame(Frame(pipe.id, 2, ACK, b"junk"))  # malformed: ignored
    async with asyncio.timeout(1):
        await pipe.send(BINARY, b"y" * QUARTER)
        await pipe.send(BINARY, b"y" * QUARTER)
    assert not pipe.closed


async def test_a_peer_sending_beyond_its_window_ends_the_pipe() -> None:
    pipe, _, done = _recorder()
    chunk = 64 * 1024
    for seq in range(WINDOW // chunk):
        pipe.on_frame(_data(seq, b"x" * chunk))
    assert not pipe.closed
    pipe.on_frame(_data(WINDOW // chunk, b"x" * (FRAME_COST_MIN + 1)))
    assert pipe.closed
    assert (pipe.close_code, pipe.close_reason) == (CLOSE_UNREACHABLE, "console node unreachable")
    assert done == [pipe]


async def test_a_peer_sending_too_many_tiny_frames_ends_the_pipe() -> None:
    pipe, _, done = _recorder()
    limit = WINDOW // FRAME_COST_MIN + 1  # the window plus one frame's minimum cost
    for seq in range(limit):
        pipe.on_frame(_data(seq, b""))
    assert not pipe.closed
    pipe.on_frame(_data(limit, b""))
    assert pipe.closed and pipe.close_code == CLOSE_UNREACHABLE
    assert done == [pipe]


async def test_frames_within_the_window_after_the_consumer_took_some_are_accepted() -> None:
    pipe, _, _ = _recorder()
    for seq in range(4):
        pipe.on_frame(_data(seq, b"x" * QUARTER))
    await pipe.receive()
    pipe.on_frame(_data(4, b"x" * QUARTER))
    assert not pipe.closed


# --- lost frames -----------------------------------------------------------------------------------
async def test_a_frame_with_a_gap_in_its_numbers_ends_the_pipe() -> None:
    pipe, _, done = _recorder()
    pipe.on_frame(_data(0, b"first"))
    pipe.on_frame(_data(2, b"third"))
    assert pipe.closed
    assert (pipe.close_code, pipe.close_reason) == (1012, "console node unreachable")
    assert done == [pipe]
    assert await pipe.receive() == (BINARY, b"first")  # what arrived before the gap is still delivered
    assert await pipe.receive() is None


async def test_a_repeated_frame_ends_the_pipe_too() -> None:
    pipe, _, _ = _recorder()
    pipe.on_frame(_data(0, b"once"))
    pipe.on_frame(_data(0, b"once"))
    assert pipe.closed and pipe.close_code == CLOSE_UNREACHABLE


async def test_frames_after_the_pipe_ended_are_ignored() -> None:
    pipe, _, done = _recorder()
    pipe.fail("gone")
    pipe.on_frame(_data(0, b"late"))
    pipe.on_frame(_data(0, envelope.close_payload(1000, "late"), kind=CLOSE))
    assert await pipe.receive() is None
    assert pipe.close_code == CLOSE_UNREACHABLE
    assert done == [pipe]


# --- ending ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("closer", ["a", "b"])
async def test_a_close_from_either_end_ends_both_with_its_code_and_reason(closer: str) -> None:
    wire = Wire()
    this, other = (wire.a, wire.b) if closer == "a" else (wire.b, wire.a)
    await this.close(4001, "the session ended")
    for end in (this, other):
        assert end.closed
        assert (end.close_code, end.close_reason) == (4001, "the session ended")
        assert await end.receive() is None
    assert sorted(id(p) for p in wire.done) == sorted([id(wire.a), id(wire.b)])
    assert wire.kinds(closer) == [CLOSE]


async def test_the_receiver_drains_what_was_queued_before_the_close() -> None:
    wire = Wire()
    await wire.a.send(TEXT, b"one")
    await wire.a.send(BINARY, b"two")
    await wire.a.close(1000, "bye")
    assert wire.b.closed
    assert await wire.b.receive() == (TEXT, b"one")
    assert await wire.b.receive() == (BINARY, b"two")
    assert await wire.b.receive() is None
    assert await wire.b.receive() is None


async def test_a_waiting_receiver_returns_none_when_the_other_end_closes() -> None:
    wire = Wire()
    waiting = asyncio.create_task(wire.b.receive())
    await asyncio.sleep(0)
    await wire.a.close(1001, "console node stopping")
    async with asyncio.timeout(1):
        assert await waiting is None
    assert wire.b.close_code == 1001


async def test_a_sender_waiting_for_the_window_gets_pipe_closed_when_the_other_end_closes() -> None:
    wire = Wire()
    for _ in range(4):
        await wire.a.send(BINARY, b"x" * QUARTER)
    waiting = asyncio.create_task(wire.a.send(BINARY, b"x"))
    assert await _blocked(waiting)
    await wire.b.close(1000, "the browser left")
    async with asyncio.timeout(1):
        with pytest.raises(PipeClosed, match="the browser left"):
            await waiting


async def test_sending_after_the_close_raises_pipe_closed() -> None:
    wire = Wire()
    await wire.a.close(1000, "done here")
    with pytest.raises(PipeClosed, match="done here"):
        await wire.a.send(TEXT, b"more")
    with pytest.raises(PipeClosed, match="done here"):
        await wire.b.send(TEXT, b"more")


async def test_a_close_is_sent_once_even_when_closed_twice() -> None:
    wire = Wire()
    await wire.a.close(4000, "first")
    await wire.a.close(4001, "second")
    assert wire.kinds("a") == [CLOSE]
    assert (wire.a.close_code, wire.a.close_reason) == (4000, "first")
    assert len(wire.done) == 2


async def test_a_close_that_cannot_reach_the_other_node_still_ends_this_end() -> None:
    wire = Wire()
    wire.connected = False
    await wire.a.close(1000, "bye")
    assert wire.a.closed and (wire.a.close_code, wire.a.close_reason) == (1000, "bye")
    assert wire.done == [wire.a]


async def test_a_malformed_close_from_the_other_end_reads_as_a_protocol_error() -> None:
    pipe, _, _ = _recorder()
    pipe.on_frame(_data(0, b"\x03", kind=CLOSE))
    assert pipe.closed and (pipe.close_code, pipe.close_reason) == (1002, "malformed close")


async def test_fail_is_idempotent_and_tells_the_owner_once() -> None:
    pipe, sent, done = _recorder()
    pipe.fail("first reason")
    pipe.fail("second reason")
    await pipe.close(1000, "too late")
    assert done == [pipe]
    assert (pipe.close_code, pipe.close_reason) == (CLOSE_UNREACHABLE, "console node unreachable")
    assert sent == []  # a failed pipe does not try to tell the other end
    with pytest.raises(PipeClosed):
        await pipe.send(TEXT, b"x")


async def test_an_acknowledgement_that_cannot_reach_the_other_node_ends_the_pipe() -> None:
    wire = Wire()
    await wire.a.send(TEXT, b"hello")
    wire.connected = False
    assert await wire.b.receive() == (TEXT, b"hello")  # what arrived is still delivered
    assert wire.b.closed and wire.b.close_code == CLOSE_UNREACHABLE
    assert await wire.b.receive() is None


async def test_one_frame_larger_than_the_window_arrives_whole_when_nothing_else_waits() -> None:
    wire = Wire()
    snapshot = b"s" * (2 * WINDOW + 5)  # a terminal snapshot with a long scrollback
    await wire.a.send(BINARY, snapshot)
    assert await wire.b.receive() == (BINARY, snapshot)
    assert not wire.b.closed
    await wire.a.send(TEXT, b"after")  # and the window works again after it
    assert await wire.b.receive() == (TEXT, b"after")
