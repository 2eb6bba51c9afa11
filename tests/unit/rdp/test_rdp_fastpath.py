"""protocols.rdp.fastpath: fast-path output parsing and reassembly, and fast-path input encoding
(MS-RDPBCGR 2.2.9.1.2, 2.2.8.1.2)."""

from __future__ import annotations

import struct

import pytest

from protocols.rdp import fastpath
from protocols.rdp.wire import MalformedPdu
from tests.fixtures.malformed import flips, unexpected_failures

# --- output: updates -------------------------------------------------------------------------------------------------


def update(code: int, data: bytes, fragmentation: int = 0, compression_flags: int | None = None) -> bytes:
    """One TS_FP_UPDATE: header, the compression flags when compressed, the size and the data."""
    compression = fastpath.COMPRESSION_USED if compression_flags is not None else 0
    header = bytes((code | fragmentation << 4 | compression << 6,))
    flags = bytes((compression_flags,)) if compression_flags is not None else b""
    return header + flags + struct.pack("<H", len(data)) + data


UPDATES = [
    fastpath.FastPathUpdate(1, fastpath.FRAGMENT_SINGLE, None, b"bitmap data"),
    fastpath.FastPathUpdate(11, fastpath.FRAGMENT_FIRST, 0x61, b"compressed pointer"),
    fastpath.FastPathUpdate(5, fastpath.FRAGMENT_SINGLE, None, b""),
]
BODY = b"".join(update(u.code, u.data, u.fragmentation, u.compression_flags) for u in UPDATES)


def test_every_update_of_a_pdu_is_parsed_with_its_fragmentation_and_compression() -> None:
    assert list(fastpath.parse_updates(BODY)) == UPDATES


def parse_until_refused(body: bytes) -> tuple[list[fastpath.FastPathUpdate], MalformedPdu | None]:
    """The updates parsed before the parser refused the rest (and why), or all of them."""
    seen: list[fastpath.FastPathUpdate] = []
    try:
        seen.extend(fastpath.parse_updates(body))
    except MalformedPdu as exc:
        return seen, exc
    return seen, None


def test_a_pdu_cut_anywhere_yields_only_whole_updates_and_is_refused_unless_cut_between_updates() -> None:
    boundaries = {0}
    for u in UPDATES:
        boundaries.add(max(boundaries) + len(update(u.code, u.data, u.fragmentation, u.compression_flags)))

    for end in range(len(BODY)):
        seen, refused = parse_until_refused(BODY[:end])
        assert seen == UPDATES[: len(seen)]
        if end in boundaries:
            assert refused is None
        else:
            assert refused is not None
            assert "fast-path output is truncated" in str(refused)


def test_an_update_size_beyond_the_pdu_is_refused_before_it_is_read() -> None:
    with pytest.raises(MalformedPdu, match="fast-path output is truncated: 65535 more bytes needed, 3 present"):
        list(fastpath.parse_updates(b"\x01\xff\xffabc"))


def test_random_corruptions_of_a_pdu_raise_only_malformed_pdu() -> None:
    assert unexpected_failures(fastpath.parse_updates, flips(BODY), (MalformedPdu,)) == []


@pytest.mark.parametrize(("second", "offset"), [(0x05, 2), (0x80, 3)])
def test_the_output_header_gives_the_flags_and_where_the_updates_start(second: int, offset: int) -> None:
    assert fastpath.parse_output_header(bytes((0xC0, second, 0x10))) == (0xC0, offset)


@pytest.mark.parametrize("header", [b"", b"\xc0", b"\xc0\x80"])
def test_a_fast_path_output_header_cut_short_is_a_malformed_pdu(header: bytes) -> None:
    with pytest.raises(MalformedPdu, match="cut short"):
        fastpath.parse_output_header(header)


# --- output: reassembly ----------------------------------------------------------------------------------------------


def test_a_single_update_passes_through_and_fragments_are_joined_in_order() -> None:
    reassembler = fastpath.Reassembler(1000)

    assert reassembler.add(1, fastpath.FRAGMENT_SINGLE, b"whole") == b"whole"
    assert reassembler.add(1, fastpath.FRAGMENT_FIRST, b"ab") is None
    assert reassembler.add(1, fastpath.FRAGMENT_NEXT, b"cd") is None
    assert reassembler.add(1, fastpath.FRAGMENT_LAST, b"ef") == b"abcdef"
    assert reassembler.add(11, fastpath.FRAGMENT_FIRST, b"x") is None
    assert reassembler.add(11, fastpath.FRAGMENT_LAST, b"y") == b"xy"


def test_a_fragmented_update_may_reach_the_bound_but_not_exceed_it() -> None:
    at_bound = fastpath.Reassembler(1000)
    at_bound.add(1, fastpath.FRAGMENT_FIRST, bytes(600))
    assert at_bound.add(1, fastpath.FRAGMENT_LAST, bytes(400)) == bytes(1000)

    over = fastpath.Reassembler(1000)
    over.add(1, fastpath.FRAGMENT_FIRST, bytes(600))
    over.add(1, fastpath.FRAGMENT_NEXT, bytes(400))
    with pytest.raises(MalformedPdu, match="a fragmented update is larger than the 1000 bytes announced"):
        over.add(1, fastpath.FRAGMENT_NEXT, bytes(1))


def test_empty_fragments_count_against_the_bound_so_they_cannot_pile_up_under_it() -> None:
    reassembler = fastpath.Reassembler(1024)
    reassembler.add(1, fastpath.FRAGMENT_FIRST, b"a")

    # 17 fragments counting 64 bytes each fit (the last one of an update may be small), 18 do not
    for _ in range(1024 // fastpath.FRAGMENT_COST):
        assert reassembler.add(1, fastpath.FRAGMENT_NEXT, b"") is None

    with pytest.raises(MalformedPdu, match="counting each of its 18 fragments as at least 64 bytes"):
        reassembler.add(1, fastpath.FRAGMENT_NEXT, b"")


def test_an_update_at_the_bound_fits_with_a_small_last_fragment() -> None:
    reassembler = fastpath.Reassembler(1000)
    reassembler.add(1, fastpath.FRAGMENT_FIRST, bytes(999))

    assert reassembler.add(1, fastpath.FRAGMENT_LAST, bytes(1)) == bytes(1000)


def test_endless_fragments_are_refused_once_past_the_bound_without_keeping_more() -> None:
    reassembler = fastpath.Reassembler(64 * 1024)
    reassembler.add(1, fastpath.FRAGMENT_FIRST, bytes(0x4000))

    for _ in range(3):  # exactly the bound
        assert reassembler.add(1, fastpath.FRAGMENT_NEXT, bytes(0x4000)) is None

    with pytest.raises(MalformedPdu, match="larger than the 65536 bytes announced"):
        reassembler.add(1, fastpath.FRAGMENT_NEXT, bytes(1))


@pytest.mark.parametrize(
    ("first", "then", "said"),
    [
        (None, (1, fastpath.FRAGMENT_NEXT), "does not continue the update in progress"),
        (None, (1, fastpath.FRAGMENT_LAST), "does not continue the update in progress"),
        ((1, fastpath.FRAGMENT_FIRST), (11, fastpath.FRAGMENT_NEXT), "does not continue the update in progress"),
        ((1, fastpath.FRAGMENT_FIRST), (1, fastpath.FRAGMENT_FIRST), "started before the previous one ended"),
        ((1, fastpath.FRAGMENT_FIRST), (5, fastpath.FRAGMENT_SINGLE), "interrupted another update's fragments"),
    ],
)
def test_fragments_out_of_order_are_refused(first: tuple[int, int] | None, then: tuple[int, int], said: str) -> None:
    reassembler = fastpath.Reassembler(100)
    if first is not None:
        reassembler.add(first[0], first[1], b"part")

    with pytest.raises(MalformedPdu, match=said):
        reassembler.add(then[0], then[1], b"more")


# --- input ------------------------------------------------------------------------------------------------------------


def pdu_length(packet: bytes) -> int:
    """The length a fast-path input PDU's header states (one byte, or two with the high bit set)."""
    if packet[1] & 0x80:
        return ((packet[1] & 0x7F) << 8) | packet[2]
    return packet[1]


@pytest.mark.parametrize("body_size", [0x7C, 0x7D, 0x7E, 0x7F, 0x100, 0x7FF0])
@pytest.mark.parametrize("signature", [None, b"S" * 8])
def test_the_input_pdu_length_is_its_whole_size_across_the_one_to_two_byte_switch(
    body_size: int, signature: bytes | None
) -> None:
    body = bytes(body_size)

    packet = fastpath.input_pdu(body, 3, signature)

    assert pdu_length(packet) == len(packet)
    assert (packet[1] & 0x80 != 0) == (len(packet) > 0x7F)
    assert packet.endswith(body)
    assert packet[0] == (3 << 2 | (fastpath.FASTPATH_INPUT_ENCRYPTED if signature else 0))
    if signature is not None:
        start = 3 if packet[1] & 0x80 else 2
        assert packet[start : start + 8] == signature


def test_the_largest_one_byte_length_and_the_smallest_two_byte_length() -> None:
    assert fastpath.input_pdu(bytes(0x7D), 1)[1] == 0x7F
    assert fastpath.input_pdu(bytes(0x7E), 1)[1:3] == b"\x80\x81"


@pytest.mark.parametrize("count", [0, 16])
def test_an_input_pdu_carries_one_to_fifteen_events(count: int) -> None:
    with pytest.raises(ValueError, match="1 to 15 events"):
        fastpath.input_pdu(b"\x00", count)


@pytest.mark.parametrize(
    ("scancode", "down", "encoded"),
    [(0x1E, True, "001e"), (0x1E, False, "011e"), (0xE048, True, "0248"), (0xE048, False, "0348")],
)
def test_a_scancode_event_carries_release_and_extended_flags(scancode: int, down: bool, encoded: str) -> None:
    assert fastpath.scancode_event(scancode, down).hex() == encoded


def test_a_unicode_event_carries_the_code_unit_and_beyond_the_bmp_a_surrogate_pair() -> None:
    assert fastpath.unicode_events(0x20AC, True) == [bytes.fromhex("80ac20")]
    assert fastpath.unicode_events(0x20AC, False) == [bytes.fromhex("81ac20")]
    assert fastpath.unicode_events(0x1F600, True) == [bytes.fromhex("803dd8"), bytes.fromhex("8000de")]


def test_a_synchronize_event_carries_the_toggle_keys() -> None:
    assert fastpath.sync_event(0x5) == bytes((0x65,))


def mouse(event: bytes) -> tuple[int, int, int]:
    assert event[0] == fastpath.EVENT_MOUSE << 5
    flags, x, y = struct.unpack("<HHH", event[1:])
    return flags, x, y


def test_button_changes_follow_a_move_to_the_pointer_with_one_event_per_button() -> None:
    move = (fastpath.PTRFLAGS_MOVE, 10, 20)
    down = fastpath.PTRFLAGS_DOWN

    assert [mouse(e) for e in fastpath.button_events(10, 20, 0, 1)] == [move, (0x1000 | down, 10, 20)]
    assert [mouse(e) for e in fastpath.button_events(10, 20, 1, 0)] == [move, (0x1000, 10, 20)]
    assert [mouse(e) for e in fastpath.button_events(10, 20, 0, 2)] == [move, (0x4000 | down, 10, 20)]  # middle
    assert [mouse(e) for e in fastpath.button_events(10, 20, 0, 4)] == [move, (0x2000 | down, 10, 20)]  # right
    assert [mouse(e) for e in fastpath.button_events(10, 20, 5, 2)] == [
        move,
        (0x1000, 10, 20),
        (0x4000 | down, 10, 20),
        (0x2000, 10, 20),
    ]
    assert [mouse(e) for e in fastpath.button_events(10, 20, 3, 3)] == [move]


def rotation(flags: int) -> int:
    """The signed wheel rotation of MS-RDPBCGR 2.2.8.1.2.2.3: a nine-bit two's complement value."""
    value = flags & 0x01FF
    assert bool(value & 0x100) == bool(flags & fastpath.PTRFLAGS_WHEEL_NEGATIVE)
    return value - 0x200 if value & 0x100 else value


@pytest.mark.parametrize(
    ("dx", "dy", "flags"),
    [
        (0, 1, 0x0388),  # down: PTRFLAGS_WHEEL, negative, rotation 0x188 (-120)
        (0, -1, 0x0278),  # up: PTRFLAGS_WHEEL, rotation 0x78 (+120)
        (1, 0, 0x0478),  # right: PTRFLAGS_HWHEEL, positive
        (-1, 0, 0x0588),  # left: PTRFLAGS_HWHEEL, negative
    ],
)
def test_wheel_steps_carry_the_flags_and_signed_rotation_of_the_specification(dx: int, dy: int, flags: int) -> None:
    (event,) = fastpath.wheel_events(30, 40, dx, dy, horizontal=True)

    assert mouse(event) == (flags, 30, 40)
    assert abs(rotation(flags)) == fastpath.WHEEL_NOTCH


def test_scrolling_down_is_a_negative_rotation_and_up_a_positive_one() -> None:
    (down,) = fastpath.wheel_events(0, 0, 0, 1, horizontal=False)
    (up,) = fastpath.wheel_events(0, 0, 0, -1, horizontal=False)

    assert rotation(mouse(down)[0]) == -120
    assert rotation(mouse(up)[0]) == 120


def test_horizontal_steps_are_dropped_when_the_server_has_no_horizontal_wheel() -> None:
    events = fastpath.wheel_events(0, 0, 3, 1, horizontal=False)

    assert [mouse(e)[0] for e in events] == [0x0388]


def test_one_wheel_event_sends_at_most_twenty_steps_per_axis() -> None:
    events = fastpath.wheel_events(0, 0, -500, 500, horizontal=True)

    assert len(events) == 40
    assert {mouse(e)[0] for e in events} == {0x0388, 0x0588}
