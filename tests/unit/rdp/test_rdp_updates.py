"""protocols.rdp.updates: bitmap and pointer updates applied to the Screen (MS-RDPBCGR 2.2.9.1), through FreeRDP's
codecs."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterator

import pytest

from jumpoint.core.desktop import MAX_CURSOR_SIDE, CursorShape, Damage, DesktopOutput
from jumpoint.core.events import Notice
from protocols.rdp import updates
from protocols.rdp.codecs.pointer import and_mask_length, xor_mask_length
from protocols.rdp.screen import Screen
from protocols.rdp.updates import HIDDEN_POINTER, POINTER_CACHE_SIZE, UpdateHandler, default_arrow
from protocols.rdp.wire import MalformedPdu
from tests.fixtures.malformed import flips, prefixes, unexpected_failures

RED = (255, 0, 0, 255)
BLUE = (0, 0, 255, 255)
BLACK = (0, 0, 0, 255)


@pytest.fixture
def handler() -> Iterator[UpdateHandler]:
    h = UpdateHandler(Screen(100, 80))
    yield h
    h.close()


def rectangle(
    left: int,
    top: int,
    width: int,
    height: int,
    rows: list[tuple[int, int, int]] | None = None,
    *,
    right: int | None = None,
    bottom: int | None = None,
    data: bytes | None = None,
    flags: int = 0,
) -> bytes:
    """One uncompressed 32 bpp TS_BITMAP_DATA; ``rows`` are top-down (R, G, B) colours, one per row (red if not
    given); the destination is the bitmap's size unless ``right``/``bottom`` say otherwise (inclusive)."""
    if data is None:
        colours = rows if rows is not None else [(255, 0, 0)] * height
        data = b"".join(bytes((b, g, r, 0)) * width for r, g, b in reversed(colours))  # bottom-up BGRX
    right = left + width - 1 if right is None else right
    bottom = top + height - 1 if bottom is None else bottom
    return struct.pack("<9H", left, top, right, bottom, width, height, 32, flags, len(data)) + data


def bitmap_update(*rectangles: bytes, count: int | None = None) -> bytes:
    return struct.pack("<HH", updates.UPDATETYPE_BITMAP, len(rectangles) if count is None else count) + b"".join(
        rectangles
    )


def pixel(handler: UpdateHandler, x: int, y: int) -> tuple[int, ...]:
    return tuple(int(v) for v in handler.screen.pixels[y, x])


def painted(handler: UpdateHandler) -> set[tuple[int, int]]:
    """Every pixel that is no longer opaque black."""
    pixels = handler.screen.pixels
    ys, xs = ((pixels[..., :3] != 0).any(axis=2)).nonzero()
    return {(int(x), int(y)) for x, y in zip(xs, ys, strict=True)}


async def taken(handler: UpdateHandler) -> list[DesktopOutput | Notice]:
    events = await asyncio.wait_for(handler.screen.take(), 1)
    assert events is not None
    return events


async def nothing_pending(handler: UpdateHandler) -> bool:
    try:
        await asyncio.wait_for(handler.screen.take(), 0.05)
    except TimeoutError:
        return True
    return False


# --- bitmaps ---------------------------------------------------------------------------------------------------------


async def test_a_bitmap_is_drawn_where_it_says_and_damages_exactly_that(handler: UpdateHandler) -> None:
    handler.fast_path_update(updates.FASTPATH_UPDATETYPE_BITMAP, bitmap_update(rectangle(10, 20, 8, 4)))

    assert painted(handler) == {(x, y) for x in range(10, 18) for y in range(20, 24)}
    assert pixel(handler, 10, 20) == RED
    assert await taken(handler) == [Damage(10, 20, 8, 4)]


async def test_a_bitmap_s_rows_are_bottom_up_on_the_wire(handler: UpdateHandler) -> None:
    handler.fast_path_update(
        updates.FASTPATH_UPDATETYPE_BITMAP, bitmap_update(rectangle(0, 0, 4, 2, [(255, 0, 0), (0, 0, 255)]))
    )

    assert (pixel(handler, 0, 0), pixel(handler, 0, 1)) == (RED, BLUE)


async def test_a_bitmap_crossing_the_right_and_bottom_edges_is_clipped(handler: UpdateHandler) -> None:
    handler.fast_path_update(updates.FASTPATH_UPDATETYPE_BITMAP, bitmap_update(rectangle(90, 70, 16, 16)))

    assert painted(handler) == {(x, y) for x in range(90, 100) for y in range(70, 80)}
    assert await taken(handler) == [Damage(90, 70, 10, 10)]


async def test_a_destination_narrower_than_the_padded_bitmap_draws_only_the_destination(
    handler: UpdateHandler,
) -> None:
    handler.fast_path_update(updates.FASTPATH_UPDATETYPE_BITMAP, bitmap_update(rectangle(0, 0, 8, 2, right=5)))

    assert painted(handler) == {(x, y) for x in range(6) for y in range(2)}
    assert await taken(handler) == [Damage(0, 0, 6, 2)]


@pytest.mark.parametrize(
    "rect",
    [
        rectangle(100, 0, 4, 4),  # starts right of the desktop
        rectangle(0, 80, 4, 4),  # starts below it
        rectangle(50, 50, 4, 4, right=40),  # right before left
        rectangle(50, 50, 4, 4, bottom=10),  # bottom above top
        rectangle(5, 5, 0, 0, data=b""),  # empty
    ],
    ids=["right-of", "below", "right-before-left", "bottom-above-top", "empty"],
)
async def test_a_bitmap_with_nothing_on_the_desktop_is_skipped_and_the_rest_still_drawn(
    handler: UpdateHandler, rect: bytes
) -> None:
    handler.fast_path_update(updates.FASTPATH_UPDATETYPE_BITMAP, bitmap_update(rect, rectangle(0, 0, 2, 2)))

    assert painted(handler) == {(0, 0), (1, 0), (0, 1), (1, 1)}
    assert await taken(handler) == [Damage(0, 0, 2, 2)]


def test_a_bitmap_whose_data_does_not_match_its_size_is_refused_naming_it(handler: UpdateHandler) -> None:
    with pytest.raises(MalformedPdu, match="a 8x4 bitmap at 10,20 \\(32 bpp\\)"):
        handler.bitmaps(bitmap_update(rectangle(10, 20, 8, 4, data=bytes(8 * 4 * 4 - 1))))


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (struct.pack("<HH", updates.UPDATETYPE_BITMAP, updates.MAX_RECTANGLES + 1), "a bitmap update with 4097 rect"),
        (bitmap_update(rectangle(0, 0, 2, 2), count=3), "bitmap update is truncated"),
        (struct.pack("<HH", updates.UPDATETYPE_PALETTE, 0), "a bitmap update does not say it is one"),
        (
            bitmap_update(rectangle(0, 0, 2, 2, data=bytes(4), flags=updates.BITMAP_COMPRESSION)),
            "bitmap update is truncated",
        ),
    ],
    ids=["too-many-rectangles", "fewer-than-counted", "palette", "compressed-shorter-than-its-header"],
)
def test_a_malformed_bitmap_update_is_refused(handler: UpdateHandler, data: bytes, said: str) -> None:
    with pytest.raises(MalformedPdu, match=said):
        handler.bitmaps(data)


def test_random_corruptions_and_prefixes_of_a_bitmap_update_raise_only_malformed_pdu(handler: UpdateHandler) -> None:
    valid = bitmap_update(rectangle(10, 20, 8, 4), rectangle(90, 70, 16, 16))

    assert unexpected_failures(handler.bitmaps, flips(valid), (MalformedPdu,)) == []
    assert unexpected_failures(handler.bitmaps, prefixes(valid), (MalformedPdu,)) == []


def test_a_slow_path_bitmap_update_draws_like_a_fast_path_one(handler: UpdateHandler) -> None:
    handler.slow_path_update(bitmap_update(rectangle(1, 1, 2, 2)))

    assert painted(handler) == {(1, 1), (2, 1), (1, 2), (2, 2)}


def test_fast_path_drawing_orders_are_refused_since_the_client_supports_none(handler: UpdateHandler) -> None:
    with pytest.raises(MalformedPdu, match="drawing orders although the client supports none"):
        handler.fast_path_update(updates.FASTPATH_UPDATETYPE_ORDERS, b"\x01\x00")


def test_slow_path_drawing_orders_are_refused_since_the_client_supports_none(handler: UpdateHandler) -> None:
    with pytest.raises(MalformedPdu, match="drawing orders although the client supports none"):
        handler.slow_path_update(struct.pack("<HH", updates.UPDATETYPE_ORDERS, 1))


# --- pointers ---------------------------------------------------------------------------------------------------------


def colour_pointer(index: int, width: int, height: int, hot: tuple[int, int] = (0, 0), xor_bpp: int = 24) -> bytes:
    """TS_COLORPOINTERATTRIBUTE of a pointer in one opaque colour (AND mask all zero)."""
    xor_mask = bytes((0x30,)) * xor_mask_length(xor_bpp, width, height)
    and_mask = bytes(and_mask_length(width, height))
    head = struct.pack("<7H", index, hot[0], hot[1], width, height, len(and_mask), len(xor_mask))
    return head + xor_mask + and_mask


def large_pointer(index: int, side: int) -> bytes:
    xor_mask = bytes(xor_mask_length(32, side, side))
    head = struct.pack("<6HII", 32, index, 0, 0, side, side, 0, len(xor_mask))
    return head + xor_mask


async def test_a_colour_pointer_becomes_the_cursor_with_its_hot_spot(handler: UpdateHandler) -> None:
    handler.fast_path_update(updates.FASTPATH_UPDATETYPE_COLOR, colour_pointer(0, 3, 2, hot=(1, 1)))

    (shape,) = await taken(handler)
    assert isinstance(shape, CursorShape)
    assert (shape.width, shape.height, shape.hot_x, shape.hot_y) == (3, 2, 1, 1)
    assert shape.rgba == bytes((0x30, 0x30, 0x30, 255)) * 6


async def test_a_hot_spot_outside_the_pointer_is_moved_onto_it(handler: UpdateHandler) -> None:
    handler.fast_path_update(updates.FASTPATH_UPDATETYPE_COLOR, colour_pointer(0, 3, 2, hot=(500, 9)))

    (shape,) = await taken(handler)
    assert isinstance(shape, CursorShape)
    assert (shape.hot_x, shape.hot_y) == (2, 1)


async def test_a_cached_pointer_shows_the_shape_stored_at_its_index(handler: UpdateHandler) -> None:
    handler.fast_path_update(
        updates.FASTPATH_UPDATETYPE_POINTER, struct.pack("<H", 32) + colour_pointer(3, 2, 2, xor_bpp=32)
    )
    handler.fast_path_update(updates.FASTPATH_UPDATETYPE_COLOR, colour_pointer(4, 5, 5))
    first, second = await taken(handler)

    handler.fast_path_update(updates.FASTPATH_UPDATETYPE_CACHED, struct.pack("<H", 3))

    assert await taken(handler) == [first]
    assert first != second


def test_a_cached_pointer_the_server_never_sent_is_refused(handler: UpdateHandler) -> None:
    with pytest.raises(MalformedPdu, match="the server asked for pointer 7, which it never sent"):
        handler.fast_path_update(updates.FASTPATH_UPDATETYPE_CACHED, struct.pack("<H", 7))


@pytest.mark.parametrize("index", [POINTER_CACHE_SIZE, 0xFFFF])
def test_a_pointer_index_beyond_the_announced_cache_is_refused(handler: UpdateHandler, index: int) -> None:
    with pytest.raises(MalformedPdu, match=f"pointer cache index {index} is beyond the {POINTER_CACHE_SIZE} announced"):
        handler.fast_path_update(updates.FASTPATH_UPDATETYPE_COLOR, colour_pointer(index, 2, 2))


def test_a_cached_pointer_index_beyond_the_cache_is_refused(handler: UpdateHandler) -> None:
    with pytest.raises(MalformedPdu, match=f"pointer {POINTER_CACHE_SIZE}, which it never sent"):
        handler.fast_path_update(updates.FASTPATH_UPDATETYPE_CACHED, struct.pack("<H", POINTER_CACHE_SIZE))


async def test_a_large_pointer_beyond_what_a_browser_shows_becomes_the_default_arrow(handler: UpdateHandler) -> None:
    handler.fast_path_update(updates.FASTPATH_UPDATETYPE_LARGE_POINTER, large_pointer(1, MAX_CURSOR_SIDE + 44))
    handler.fast_path_update(updates.FASTPATH_UPDATETYPE_LARGE_POINTER, large_pointer(2, 100))

    arrow, large = await taken(handler)
    assert arrow == default_arrow()
    assert isinstance(large, CursorShape)
    assert (large.width, large.height) == (100, 100)


async def test_the_null_and_default_pointers_hide_and_reset_the_cursor(handler: UpdateHandler) -> None:
    handler.fast_path_update(updates.FASTPATH_UPDATETYPE_PTR_NULL, b"")
    handler.fast_path_update(updates.FASTPATH_UPDATETYPE_PTR_DEFAULT, b"")
    handler.fast_path_update(updates.FASTPATH_UPDATETYPE_COLOR, colour_pointer(0, 0, 0))

    assert await taken(handler) == [HIDDEN_POINTER, default_arrow(), HIDDEN_POINTER]


def test_the_default_arrow_is_a_valid_cursor_with_its_hot_spot_at_the_tip() -> None:
    arrow = default_arrow()

    assert (arrow.hot_x, arrow.hot_y) == (0, 0)
    assert len(arrow.rgba) == arrow.width * arrow.height * 4
    assert arrow.rgba[:4] == b"\0\0\0\xff"


def test_a_pointer_whose_masks_do_not_match_its_size_is_refused_naming_it(handler: UpdateHandler) -> None:
    head = struct.pack("<7H", 0, 0, 0, 2, 2, 4, 5)

    with pytest.raises(MalformedPdu, match="a 2x2 pointer \\(24 bpp\\)"):
        handler.fast_path_update(updates.FASTPATH_UPDATETYPE_COLOR, head + bytes(9))


@pytest.mark.parametrize(
    "code",
    [
        updates.FASTPATH_UPDATETYPE_PTR_POSITION,
        updates.FASTPATH_UPDATETYPE_SYNCHRONIZE,
        updates.FASTPATH_UPDATETYPE_PALETTE,
    ],
)
async def test_updates_without_anything_to_show_are_ignored(handler: UpdateHandler, code: int) -> None:
    handler.fast_path_update(code, b"\x01\x02\x03\x04")

    assert await nothing_pending(handler)


async def test_slow_path_pointer_pdus_hide_reset_colour_and_recall_pointers(handler: UpdateHandler) -> None:
    handler.pointer_pdu(struct.pack("<HHI", updates.TS_PTRMSGTYPE_SYSTEM, 0, updates.SYSPTR_NULL))
    handler.pointer_pdu(struct.pack("<HHI", updates.TS_PTRMSGTYPE_SYSTEM, 0, updates.SYSPTR_DEFAULT))
    handler.pointer_pdu(struct.pack("<HH", updates.TS_PTRMSGTYPE_COLOR, 0) + colour_pointer(5, 2, 2))
    handler.pointer_pdu(struct.pack("<HHH", updates.TS_PTRMSGTYPE_CACHED, 0, 5))
    handler.pointer_pdu(struct.pack("<HHHH", updates.TS_PTRMSGTYPE_POSITION, 0, 10, 10))

    hidden, arrow, colour, recalled = await taken(handler)
    assert (hidden, arrow) == (HIDDEN_POINTER, default_arrow())
    assert recalled == colour


def test_random_corruptions_and_prefixes_of_pointer_updates_raise_only_malformed_pdu(handler: UpdateHandler) -> None:
    cases = [
        (updates.FASTPATH_UPDATETYPE_COLOR, colour_pointer(1, 4, 3, hot=(1, 2))),
        (updates.FASTPATH_UPDATETYPE_POINTER, struct.pack("<H", 32) + colour_pointer(2, 4, 3, xor_bpp=32)),
        (updates.FASTPATH_UPDATETYPE_LARGE_POINTER, large_pointer(3, 20)),
        (updates.FASTPATH_UPDATETYPE_CACHED, struct.pack("<H", 1)),
    ]
    for code, valid in cases:

        def apply(data: bytes, code: int = code) -> None:
            handler.fast_path_update(code, data)

        assert unexpected_failures(apply, flips(valid, 200), (MalformedPdu,)) == []
        assert unexpected_failures(apply, prefixes(valid), (MalformedPdu,)) == []


def test_the_end_of_a_surface_frame_is_acknowledged_with_its_id(handler: UpdateHandler) -> None:
    ended: list[int] = []
    handler.on_frame_end = ended.append
    begin = struct.pack("<HHI", updates.CMDTYPE_FRAME_MARKER, 0, 41)
    end = struct.pack("<HHI", updates.CMDTYPE_FRAME_MARKER, updates.FRAME_END, 41)

    handler.fast_path_update(updates.FASTPATH_UPDATETYPE_SURFCMDS, begin + end)

    assert ended == [41]


def test_surface_bits_in_a_codec_never_announced_are_refused(handler: UpdateHandler) -> None:
    command = struct.pack("<HHHHHBBBBHHI", updates.CMDTYPE_SET_SURFACE_BITS, 0, 0, 8, 8, 32, 0, 0, 9, 8, 8, 4)

    with pytest.raises(MalformedPdu, match="codec 9"):
        handler.fast_path_update(updates.FASTPATH_UPDATETYPE_SURFCMDS, command + bytes(4))


def test_an_unknown_surface_command_and_a_cut_one_are_refused(handler: UpdateHandler) -> None:
    with pytest.raises(MalformedPdu, match="unknown surface command"):
        handler.fast_path_update(updates.FASTPATH_UPDATETYPE_SURFCMDS, struct.pack("<H", 0x77) + bytes(8))
    command = struct.pack("<HHHHHBBBBHHI", updates.CMDTYPE_SET_SURFACE_BITS, 0, 0, 8, 8, 32, 0, 0, 1, 8, 8, 400)
    with pytest.raises(MalformedPdu, match="truncated"):
        handler.fast_path_update(updates.FASTPATH_UPDATETYPE_SURFCMDS, command + bytes(10))


async def test_corrupt_nscodec_data_is_refused_and_nothing_is_marked_changed(handler: UpdateHandler) -> None:
    command = struct.pack("<HHHHHBBBBHHI", updates.CMDTYPE_SET_SURFACE_BITS, 0, 0, 16, 16, 32, 0, 0, 1, 16, 16, 20)

    with pytest.raises(MalformedPdu, match="NSCodec"):
        handler.fast_path_update(updates.FASTPATH_UPDATETYPE_SURFCMDS, command + bytes(20))
    assert await nothing_pending(handler)
