"""protocols.rdp.channels: static virtual channel chunking and reassembly (MS-RDPBCGR 2.2.6.1, 3.1.5.2)."""

from __future__ import annotations

import struct

import pytest

from protocols.rdp import channels
from protocols.rdp.channels import ChannelReassembler, chunks
from protocols.rdp.wire import MalformedPdu
from tests.fixtures.malformed import flips, prefixes, unexpected_failures

FIRST, LAST, SHOW = channels.CHANNEL_FLAG_FIRST, channels.CHANNEL_FLAG_LAST, channels.CHANNEL_FLAG_SHOW_PROTOCOL


def chunk(total: int, flags: int, data: bytes) -> bytes:
    return struct.pack("<II", total, flags) + data


@pytest.mark.parametrize("size", [0, 1, 1599, 1600, 1601, 3200, 5000])
def test_a_message_cut_into_chunks_is_reassembled_whole(size: int) -> None:
    message = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    reassembler = ChannelReassembler("cliprdr", 10_000)

    pdus = chunks(message)
    results = [reassembler.add(p) for p in pdus]

    assert results[:-1] == [None] * (len(pdus) - 1)
    assert results[-1] == message
    assert len(pdus) == max(1, -(-size // channels.CHUNK_SIZE))


def test_each_chunk_announces_the_total_and_only_the_first_and_last_say_so() -> None:
    pdus = chunks(bytes(4000))

    headers = [struct.unpack_from("<II", p) for p in pdus]

    assert headers == [(4000, FIRST | SHOW), (4000, SHOW), (4000, LAST | SHOW)]
    assert [len(p) - 8 for p in pdus] == [1600, 1600, 800]


def test_consecutive_messages_are_reassembled_separately() -> None:
    reassembler = ChannelReassembler("cliprdr", 10_000)

    out = [reassembler.add(p) for message in (b"one" * 700, b"two") for p in chunks(message)]

    assert [m for m in out if m is not None] == [b"one" * 700, b"two"]


def test_a_message_announced_larger_than_the_bound_is_refused_at_its_first_chunk() -> None:
    reassembler = ChannelReassembler("cliprdr", 1000)

    with pytest.raises(MalformedPdu, match="a cliprdr message of 1001 bytes is larger than 1000"):
        reassembler.add(chunk(1001, FIRST, bytes(10)))


def test_chunks_carrying_more_than_announced_are_refused() -> None:
    reassembler = ChannelReassembler("cliprdr", 1000)
    reassembler.add(chunk(10, FIRST, bytes(6)))

    with pytest.raises(MalformedPdu, match="cliprdr chunks carry more than the 10 bytes announced"):
        reassembler.add(chunk(10, 0, bytes(6)))


def test_endless_middle_chunks_are_refused_once_past_the_total() -> None:
    reassembler = ChannelReassembler("cliprdr", 100_000)
    reassembler.add(chunk(100_000, FIRST, bytes(1600)))

    for _ in range(61):  # 99,200 bytes: still within the total
        assert reassembler.add(chunk(100_000, 0, bytes(1600))) is None

    with pytest.raises(MalformedPdu, match="carry more than the 100000 bytes announced"):
        reassembler.add(chunk(100_000, 0, bytes(1600)))


def test_empty_middle_chunks_count_against_the_total_so_they_cannot_pile_up_under_it() -> None:
    reassembler = ChannelReassembler("cliprdr", 100_000)
    reassembler.add(chunk(1024, FIRST, b"a"))

    # 17 chunks counting 64 bytes each fit (the last one of a message may be small), 18 do not
    for _ in range(1024 // channels.CHUNK_COST):
        assert reassembler.add(chunk(1024, 0, b"")) is None

    with pytest.raises(MalformedPdu, match="counting each of the message's 18 chunks as at least 64 bytes"):
        reassembler.add(chunk(1024, 0, b""))


def test_an_empty_message_is_one_empty_chunk_and_is_reassembled() -> None:
    assert ChannelReassembler("cliprdr", 1000).add(chunk(0, FIRST | LAST, b"")) == b""


@pytest.mark.parametrize("flags", [0, LAST])
def test_a_chunk_without_its_first_chunk_is_refused(flags: int) -> None:
    with pytest.raises(MalformedPdu, match="a cliprdr chunk without its first chunk"):
        ChannelReassembler("cliprdr", 1000).add(chunk(10, flags, b"data"))


def test_a_chunk_after_a_complete_message_needs_a_first_chunk_again() -> None:
    reassembler = ChannelReassembler("cliprdr", 1000)
    reassembler.add(chunk(4, FIRST | LAST, b"data"))

    with pytest.raises(MalformedPdu, match="without its first chunk"):
        reassembler.add(chunk(4, LAST, b"more"))


def test_compressed_channel_data_is_refused() -> None:
    with pytest.raises(MalformedPdu, match="the server compressed cliprdr channel data"):
        ChannelReassembler("cliprdr", 1000).add(chunk(4, FIRST | LAST | channels.CHANNEL_PACKET_COMPRESSED, b"data"))


def test_a_chunk_header_cut_short_is_refused_and_names_the_channel() -> None:
    for cut in prefixes(chunk(4, FIRST | LAST, b"")):
        with pytest.raises(MalformedPdu, match="cliprdr channel PDU is truncated"):
            ChannelReassembler("cliprdr", 1000).add(cut)


def test_random_corruptions_of_chunks_raise_only_malformed_pdu() -> None:
    reassembler = ChannelReassembler("cliprdr", 5000)

    def feed(data: bytes) -> None:
        reassembler.add(data)

    for pdu in chunks(bytes(range(256)) * 12):
        assert unexpected_failures(feed, flips(pdu, 100), (MalformedPdu,)) == []


def test_a_last_chunk_that_leaves_the_message_short_of_its_total_is_refused() -> None:
    reassembler = ChannelReassembler("cliprdr", 1000)
    reassembler.add(chunk(100, FIRST, bytes(10)))

    with pytest.raises(MalformedPdu, match="cliprdr"):
        reassembler.add(chunk(100, LAST, bytes(10)))
