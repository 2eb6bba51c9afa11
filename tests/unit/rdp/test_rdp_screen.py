"""protocols.rdp.screen: the desktop's pixels, its pending damage (exact, then tiles) and its bounded side events."""

from __future__ import annotations

import asyncio
import random

import numpy as np
import numpy.typing as npt
import pytest

from jumpoint.core.desktop import Clipboard, CursorShape, Damage, DesktopOutput, DesktopSize
from jumpoint.core.errors import TargetClosed
from jumpoint.core.events import Notice
from protocols.rdp.screen import MAX_RECTS, MAX_SIDE_EVENTS, TILE, Screen


def cursor(n: int) -> CursorShape:
    return CursorShape(0, 0, 1, 1, bytes((n, 0, 0, 255)))


def coverage(width: int, height: int, rects: list[tuple[int, int, int, int]]) -> npt.NDArray[np.bool_]:
    mask = np.zeros((height, width), np.bool_)
    for x, y, w, h in rects:
        mask[y : y + h, x : x + w] = True
    return mask


async def take_now(screen: Screen) -> list[DesktopOutput | Notice] | None:
    return await asyncio.wait_for(screen.take(), 1)


def damages(events: list[DesktopOutput | Notice] | None) -> list[Damage]:
    assert events is not None
    return [e for e in events if isinstance(e, Damage)]


# --- damage -----------------------------------------------------------------------------------------------------------


async def test_up_to_max_rects_damage_is_handed_on_exactly_and_in_order() -> None:
    screen = Screen(800, 600)
    rects = [(i * 10, i * 5, 7, 3) for i in range(MAX_RECTS)]
    for rect in rects:
        screen.damage(*rect)

    assert damages(await take_now(screen)) == [Damage(*rect) for rect in rects]


async def test_damage_beyond_max_rects_collapses_to_tiles_that_cover_every_damaged_pixel_and_no_clean_tile() -> None:
    rng = random.Random(7)
    screen = Screen(1000, 700)  # not a multiple of the tile: the last row and column of tiles are partial
    rects = []
    for _ in range(MAX_RECTS * 3):
        x, y = rng.randrange(1000), rng.randrange(700)
        rects.append((x, y, rng.randint(1, 90), rng.randint(1, 90)))
    for rect in rects:
        screen.damage(*rect)

    handed = damages(await take_now(screen))

    damaged = coverage(1000, 700, rects)
    covered = coverage(1000, 700, [(d.x, d.y, d.width, d.height) for d in handed])
    assert not (damaged & ~covered).any()  # nothing damaged is left out
    tiles = np.zeros(((700 + TILE - 1) // TILE, (1000 + TILE - 1) // TILE), np.bool_)
    for x, y, w, h in rects:
        tiles[y // TILE : (min(y + h, 700) - 1) // TILE + 1, x // TILE : (min(x + w, 1000) - 1) // TILE + 1] = True
    assert np.array_equal(covered, np.kron(tiles, np.ones((TILE, TILE), np.bool_))[:700, :1000])
    assert all(d.x % TILE == 0 and d.y % TILE == 0 and d.height <= TILE for d in handed)


async def test_after_a_collapse_the_next_frame_starts_exact_again() -> None:
    screen = Screen(640, 480)
    for i in range(MAX_RECTS + 1):
        screen.damage(i, i, 1, 1)
    await take_now(screen)

    screen.damage(5, 6, 7, 8)

    assert damages(await take_now(screen)) == [Damage(5, 6, 7, 8)]


@pytest.mark.parametrize(
    ("rect", "expected"),
    [
        ((-10, -20, 30, 40), Damage(0, 0, 20, 20)),
        ((630, 470, 50, 50), Damage(630, 470, 10, 10)),
        ((0, 0, 640, 480), Damage(0, 0, 640, 480)),
    ],
)
async def test_damage_is_clipped_to_the_desktop(rect: tuple[int, int, int, int], expected: Damage) -> None:
    screen = Screen(640, 480)
    screen.damage(*rect)

    assert damages(await take_now(screen)) == [expected]


@pytest.mark.parametrize("rect", [(640, 0, 10, 10), (0, 480, 10, 10), (-20, 0, 20, 10), (5, 5, 0, 10), (5, 5, 10, -1)])
async def test_damage_outside_the_desktop_or_empty_wakes_nobody(rect: tuple[int, int, int, int]) -> None:
    screen = Screen(640, 480)
    screen.damage(*rect)

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(screen.take(), 0.05)
    assert not screen.drawn.is_set()


async def test_damage_marks_the_screen_drawn_and_wakes_a_waiting_consumer() -> None:
    screen = Screen(640, 480)
    waiting = asyncio.create_task(screen.take())
    await asyncio.sleep(0)
    assert not waiting.done()

    screen.damage(1, 2, 3, 4)

    assert damages(await asyncio.wait_for(waiting, 1)) == [Damage(1, 2, 3, 4)]
    assert screen.drawn.is_set()


# --- side events ------------------------------------------------------------------------------------------------------


async def test_side_events_come_in_order_before_the_damage() -> None:
    screen = Screen(640, 480)
    screen.damage(0, 0, 1, 1)
    screen.add_side(cursor(1))
    screen.add_side(Clipboard("copied"))

    assert await take_now(screen) == [cursor(1), Clipboard("copied"), Damage(0, 0, 1, 1)]


async def test_side_events_are_bounded_by_dropping_the_oldest_cursor_first() -> None:
    screen = Screen(640, 480)
    notices = [Notice(kind="info", text=f"notice {i}") for i in range(10)]
    for i in range(MAX_SIDE_EVENTS - 10):
        screen.add_side(cursor(i))
    for notice in notices:
        screen.add_side(notice)
    for i in range(100, 120):
        screen.add_side(cursor(i))

    events = await take_now(screen)

    assert events is not None
    assert len(events) == MAX_SIDE_EVENTS
    assert [e for e in events if isinstance(e, Notice)] == notices  # nothing but cursors was dropped
    cursors = [e for e in events if isinstance(e, CursorShape)]
    assert cursors == [cursor(i) for i in range(20, MAX_SIDE_EVENTS - 10)] + [cursor(i) for i in range(100, 120)]


async def test_without_cursors_to_drop_the_oldest_side_event_goes() -> None:
    screen = Screen(640, 480)
    for i in range(MAX_SIDE_EVENTS + 5):
        screen.add_side(Clipboard(f"clip {i}"))

    events = await take_now(screen)

    assert events == [Clipboard(f"clip {i}") for i in range(5, MAX_SIDE_EVENTS + 5)]


# --- end --------------------------------------------------------------------------------------------------------------


async def test_after_end_what_is_pending_is_handed_on_then_none() -> None:
    screen = Screen(640, 480)
    screen.add_side(cursor(1))
    screen.damage(0, 0, 2, 2)
    screen.end()

    assert await take_now(screen) == [cursor(1), Damage(0, 0, 2, 2)]
    assert await take_now(screen) is None
    assert await take_now(screen) is None


async def test_after_end_with_an_error_what_is_pending_comes_first_then_the_error_is_raised() -> None:
    screen = Screen(640, 480)
    error = TargetClosed("RDP server h:3389 closed the connection: an administrator logged the session off")
    screen.damage(0, 0, 2, 2)
    screen.end(error)
    screen.end(None)  # a later end keeps the first reason

    assert damages(await take_now(screen)) == [Damage(0, 0, 2, 2)]
    with pytest.raises(TargetClosed, match="an administrator logged the session off") as caught:
        await take_now(screen)
    assert caught.value is error


async def test_end_wakes_a_consumer_waiting_for_changes() -> None:
    screen = Screen(640, 480)
    waiting = asyncio.create_task(screen.take())
    await asyncio.sleep(0)

    screen.end()

    assert await asyncio.wait_for(waiting, 1) is None


# --- resize -----------------------------------------------------------------------------------------------------------


async def test_a_resize_drops_old_damage_and_sizes_and_emits_the_new_size_after_other_events() -> None:
    screen = Screen(640, 480)
    screen.add_side(DesktopSize(800, 600))
    screen.add_side(cursor(3))
    for i in range(MAX_RECTS + 5):
        screen.damage(i, i, 10, 10)  # collapsed into tiles
    screen.pixels[:] = 7

    screen.resize(1024, 768)

    assert (screen.width, screen.height) == (1024, 768)
    assert screen.pixels.shape == (768, 1024, 4)
    assert (screen.pixels[..., :3] == 0).all() and (screen.pixels[..., 3] == 255).all()
    assert await take_now(screen) == [cursor(3), DesktopSize(1024, 768)]


async def test_a_resize_to_the_same_size_changes_nothing() -> None:
    screen = Screen(640, 480)
    screen.damage(0, 0, 5, 5)
    screen.pixels[0, 0] = (1, 2, 3, 255)

    screen.resize(640, 480)

    assert await take_now(screen) == [Damage(0, 0, 5, 5)]
    assert tuple(screen.pixels[0, 0]) == (1, 2, 3, 255)


async def test_a_new_screen_is_opaque_black_of_the_size_asked() -> None:
    screen = Screen(320, 200)

    assert screen.pixels.shape == (200, 320, 4)
    assert (screen.pixels[..., 3] == 255).all() and not screen.pixels[..., :3].any()
