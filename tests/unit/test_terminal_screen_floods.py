"""TerminalScreen passes over the lines of a flood that no snapshot can show, and every snapshot stays the same.

Each test feeds the same output to two screens: one the way the hub does (large batches, where lines nobody will
see again are left out), one in small pieces that are each applied at once (so every byte reaches the emulator).
Their snapshots must be byte for byte equal, also after resizes and more output.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

import console_web.hub.screen as screen_module
from console_web.hub.screen import MAX_ROWS, TerminalScreen

PIECE = 16 * 1024


@contextmanager
def emulator_input() -> Iterator[list[int]]:
    """Counts the bytes that reach the emulator while the block runs: [total]."""
    count = [0]
    original = screen_module._Vt.write

    def write(vt: screen_module._Vt, data: bytes) -> None:
        count[0] += len(data)
        original(vt, data)

    screen_module._Vt.write = write  # type: ignore[method-assign,assignment]
    try:
        yield count
    finally:
        screen_module._Vt.write = original  # type: ignore[method-assign]


def every_byte(data: bytes, cols: int, rows: int, scrollback: int) -> TerminalScreen:
    screen = TerminalScreen(cols, rows, scrollback)
    for i in range(0, len(data), PIECE):
        screen.feed(data[i : i + PIECE])
        assert screen.cursor is not None  # applies the piece now: too short to pass anything over
    return screen


def as_the_hub_feeds(data: bytes, cols: int, rows: int, scrollback: int) -> TerminalScreen:
    screen = TerminalScreen(cols, rows, scrollback)
    for i in range(0, len(data), 32 * 1024):
        screen.feed(data[i : i + 32 * 1024])
    return screen


def assert_same_snapshots(hub: TerminalScreen, reference: TerminalScreen, later: bytes = b"") -> None:
    """Equal snapshots, after more output too, and after a resize to the tallest screen and then a narrower one.

    Not compared after a screen is made wider: lines then take fewer rows, and which rows the emulator's scrollback
    keeps depends on where its pages of memory begin (it trims whole pages to a byte budget), which differs with the
    bytes fed before, left out or not."""
    assert hub.snapshot() == reference.snapshot()
    hub.feed(later)
    reference.feed(later)
    assert hub.snapshot() == reference.snapshot(), "after more output"
    cols, rows = hub.size
    for size in ((cols, MAX_ROWS), (max(1, cols // 3), rows + 7)):
        hub.resize(*size)
        reference.resize(*size)
        assert hub.snapshot() == reference.snapshot(), f"after a resize to {size}"


def assert_same_rows(hub: TerminalScreen, reference: TerminalScreen) -> None:
    """The same screen and cursor; the same scrollback, except that the reference's may have fewer lines, its oldest
    row then being the end of the hub's row there (the emulator trims the scrollback by whole pages)."""
    assert hub.text() == reference.text()
    assert hub.cursor == reference.cursor
    mine, theirs = hub.scrollback_text().split("\n"), reference.scrollback_text().split("\n")
    assert len(mine) >= len(theirs)
    oldest = len(mine) - len(theirs)
    assert mine[oldest + 1 :] == theirs[1:]
    assert mine[oldest].endswith(theirs[0])


def base64_lines(count: int, width: int = 100, end: bytes = b"\r\n") -> bytes:
    rng = random.Random(count)
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return b"".join(bytes(rng.choices(alphabet, k=width)) + end for _ in range(count))


def test_a_base64_flood_reaches_the_emulator_only_in_its_last_lines_and_snapshots_are_unchanged() -> None:
    data = b"\x1b[1;32muser@host\x1b[0m:~$ base64\r\n" + base64_lines(30_000) + b"\x1b[1;32muser@host\x1b[0m:~$ "
    with emulator_input() as fed:
        hub = as_the_hub_feeds(data, 80, 24, 1000)
        assert hub.cursor is not None  # applies what is pending
    assert fed[0] < len(data) // 3
    reference = every_byte(data, 80, 24, 1000)
    assert_same_snapshots(hub, reference, later=b"ls\r\nfile\r\n")
    hub.resize(160, 24)
    reference.resize(160, 24)
    assert_same_rows(hub, reference)


@pytest.mark.parametrize(
    ("name", "prelude"),
    [
        ("a scrolling region", b"\x1b[5;10r\x1b[7;1H"),
        ("the cursor below the scrolling region", b"\x1b[3;8r\x1b[20;1H"),
        ("left and right margins", b"\x1b[?69h\x1b[5;30s"),
        ("an OSC string left open", b"text \x1b]2;title "),
        ("a character left open", b"euro \xe2\x82"),
    ],
)
def test_nothing_is_passed_over_where_earlier_output_still_shows(name: str, prelude: bytes) -> None:
    data = prelude + base64_lines(12_000, width=60)
    with emulator_input() as fed:
        hub = as_the_hub_feeds(data, 80, 24, 500)
        assert hub.cursor is not None  # applies what is pending
    assert fed[0] == len(data), name
    assert_same_snapshots(hub, every_byte(data, 80, 24, 500))


PRELUDES = [
    b"",
    b"\x1b[31mred \x1b[44m",
    b"\x1b[?1049h\x1b[Hfull screen",
    b"\x1b[20;5Hlow",
    b"\x1b[4hinsert ",
    b"\x1b[?7lno wrap ",
    b"\x1b[3g\x1b[5G\x1bH\x1b[13G\x1bH\r",
    b"\x0eline drawing ",
    b"\x1b[?45hreverse wrap ",
    b"\x1b]8;;https://example.com\x1b\\link ",
    b"\x1b]2;title\x07",
    b"\xe2\x82\xac euro \xf0\x9f\x98\x80 ",
    b"\x1b[20h",  # a line feed is also a CR
]


def random_lines(rng: random.Random, count: int, *, stateful: bool) -> bytes:
    """Lines of printable ASCII (some longer than the screen), with TABs, lone CRs, bare LFs and, if ``stateful``,
    BS, SGR colours, cursor moves and UTF-8 between them."""
    out = []
    for _ in range(count):
        line = bytearray(rng.choices(range(32, 127), k=rng.choice((0, 5, 30, 79, 80, 81, 150, 300))))
        for _ in range(rng.randrange(3)):
            line.insert(rng.randrange(len(line) + 1), rng.choice(b"\t\r"))
        if stateful and rng.random() < 0.05:
            line += rng.choice([b"\x08\x08x", b"\x1b[33m", b"\x1b[0m", b"\x1b[2A", b"\xc3\xa9", b"\x1b[K", b"\x0fok"])
        out.append(bytes(line) + (b"\n" if rng.random() < 0.1 else b"\r\n"))
    return b"".join(out)


@pytest.mark.parametrize("seed", range(16))
def test_random_floods_give_the_same_snapshots_fed_whole_or_passed_over(seed: int) -> None:
    rng = random.Random(seed)
    cols, rows, scrollback = rng.choice((20, 80, 133)), rng.choice((5, 24, 50)), rng.choice((0, 100, 400))
    parts = [rng.choice(PRELUDES)]
    for _ in range(rng.randrange(1, 4)):
        parts.append(random_lines(rng, rng.randrange(500, 4000), stateful=rng.random() < 0.3))
        parts.append(rng.choice(PRELUDES))
    data = b"".join(parts)
    hub = as_the_hub_feeds(data, cols, rows, scrollback)
    reference = every_byte(data, cols, rows, scrollback)
    assert_same_snapshots(hub, reference, later=random_lines(rng, 50, stateful=True))
