"""protocols.rdp.wire: the bounded reader every parser is built on, and the little writers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from protocols.rdp.wire import MalformedPdu, Reader, fixed_utf16, u8, u16, u16be, u32, utf16z


def test_fields_are_read_in_order_with_their_byte_order() -> None:
    reader = Reader(b"\x01" + b"\x02\x01" + b"\x01\x02" + b"\xfe\xff" + b"\x04\x03\x02\x01" + b"\x01\x02\x03\x04")

    assert reader.u8() == 1
    assert reader.u16() == 0x0102
    assert reader.u16be() == 0x0102
    assert reader.s16() == -2
    assert reader.u32() == 0x01020304
    assert reader.u32be() == 0x01020304
    assert reader.remaining == 0
    assert reader.position == 15


@pytest.mark.parametrize(
    ("read", "size"),
    [
        (Reader.u8, 1),
        (Reader.u16, 2),
        (Reader.u16be, 2),
        (Reader.s16, 2),
        (Reader.u32, 4),
        (Reader.u32be, 4),
    ],
)
def test_a_field_cut_short_is_malformed_and_says_what_was_read(read: Callable[[Reader], int], size: int) -> None:
    reader = Reader(bytes(size - 1), "Widget PDU")

    with pytest.raises(MalformedPdu, match=rf"Widget PDU is truncated: {size} more bytes needed, {size - 1} present"):
        read(reader)


def test_a_failed_read_consumes_nothing() -> None:
    reader = Reader(b"\x01\x02\x03")

    with pytest.raises(MalformedPdu):
        reader.u32()

    assert reader.position == 0
    assert reader.take(3) == b"\x01\x02\x03"


def test_a_length_larger_than_the_pdu_is_refused_before_anything_is_allocated() -> None:
    reader = Reader(b"\xff\xff\xff\xff" + bytes(10), "certificate")

    with pytest.raises(MalformedPdu, match="certificate is truncated: 4294967295 more bytes needed, 10 present"):
        reader.take(reader.u32())


def test_a_negative_count_is_malformed_not_a_backwards_read() -> None:
    reader = Reader(b"abcdef")
    reader.skip(4)

    with pytest.raises(MalformedPdu):
        reader.take(-2)
    with pytest.raises(MalformedPdu):
        reader.skip(-4)
    assert reader.rest() == b"ef"


def test_a_sub_reader_is_bounded_by_its_own_length_and_named_for_errors() -> None:
    reader = Reader(b"\x02\x00\xaa\xbb\xcc", "outer")
    inner = reader.sub(reader.u16(), "inner block")

    assert inner.u16() == 0xBBAA
    with pytest.raises(MalformedPdu, match="inner block is truncated"):
        inner.u8()
    assert reader.rest() == b"\xcc"


def test_a_sub_reader_longer_than_the_outer_data_is_refused() -> None:
    reader = Reader(b"\x10\x00abc", "outer")

    with pytest.raises(MalformedPdu, match="outer is truncated: 16 more bytes needed, 3 present"):
        reader.sub(reader.u16(), "inner")


def test_view_returns_the_bytes_without_copying_and_advances() -> None:
    data = bytearray(b"hello world")
    reader = Reader(memoryview(data))

    view = reader.view(5)
    data[0] = ord("J")

    assert bytes(view) == b"Jello"
    assert reader.rest() == b" world"


def test_utf16_text_is_cut_at_its_first_nul_and_odd_bytes_are_replaced() -> None:
    assert Reader(utf16z("héllo") + b"x\0y\0").utf16z(16) == "héllo"
    assert Reader(b"a\0b").utf16z(3) == "a\ufffd"


def test_writers_encode_little_and_big_endian() -> None:
    assert u8(0xAB) == b"\xab"
    assert u16(0x0102) == b"\x02\x01"
    assert u16be(0x0102) == b"\x01\x02"
    assert u32(0x01020304) == b"\x04\x03\x02\x01"
    assert utf16z("A") == b"A\0\0\0"


def test_fixed_utf16_pads_short_text_and_cuts_long_text_leaving_a_nul() -> None:
    assert fixed_utf16("ab", 8) == b"a\0b\0\0\0\0\0"
    long = fixed_utf16("abcdefgh", 8)
    assert len(long) == 8
    assert long == b"a\0b\0c\0\0\0"
