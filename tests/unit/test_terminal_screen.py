"""TerminalScreen: a joiner fed the snapshot sees what a participant watching since the start sees.

Each test feeds a realistic stream to a screen, replays its snapshot into a fresh emulator of the same size and
compares everything a person would see: the text, every cell's style, the cursor, the modes that change what keys
send, the scrollback; and then feeds the same live output to both, which must stay equal.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pyghostty  # type: ignore[import-untyped]
import pytest

from console_web.hub.screen import CellStyle, TerminalScreen
from jumpoint.core.errors import BadRequest, InternalError

MODES = (1, 6, 7, 25, 47, 1000, 1002, 1006, 1047, 1049, 2004)
XTERM = Path(__file__).parents[2] / "console_web/frontend/node_modules/@xterm/xterm"


def screen_of(data: bytes, cols: int = 20, rows: int = 6, scrollback: int = 100) -> TerminalScreen:
    screen = TerminalScreen(cols, rows, scrollback)
    screen.feed(data)
    return screen


def replay(screen: TerminalScreen, scrollback: int = 100) -> TerminalScreen:
    """A fresh emulator of the same size fed only the snapshot."""
    cols, rows = screen.size
    joiner = TerminalScreen(cols, rows, scrollback)
    joiner.feed(screen.snapshot())
    return joiner


def assert_same(a: TerminalScreen, b: TerminalScreen) -> None:
    cols, rows = a.size
    assert b.size == (cols, rows)
    assert b.text() == a.text()
    assert b.cursor == a.cursor
    assert b.cursor_visible == a.cursor_visible
    assert b.alternate_screen == a.alternate_screen
    assert b.scrollback_text() == a.scrollback_text()
    assert [b.mode(m) for m in MODES] == [a.mode(m) for m in MODES]
    assert b.mode(4, ansi=True) == a.mode(4, ansi=True)
    for y in range(rows):
        assert [b.cell(x, y) for x in range(cols)] == [a.cell(x, y) for x in range(cols)], f"row {y}"


def assert_joins_and_follows(data: bytes, live: bytes = b"", **size: int) -> TerminalScreen:
    """The joiner equals the original after the snapshot, and again after both receive ``live``."""
    screen = screen_of(data, **size)
    joiner = replay(screen)
    assert_same(screen, joiner)
    if live:
        screen.feed(live)
        joiner.feed(live)
        assert_same(screen, joiner)
    return screen


# --- what the screen shows ---------------------------------------------------------------------------
def test_colours_and_attributes_are_reproduced_exactly() -> None:
    stream = (
        b"\x1b[31mred\x1b[0m \x1b[1;92mbright\x1b[0m \x1b[38;5;208morange\x1b[0m\r\n"
        b"\x1b[38;2;10;20;30;48;2;200;100;50mrgb\x1b[0m \x1b[4:3;58;5;9mcurly\x1b[0m \x1b[7mrev\x1b[27m\r\n"
        b"\x1b[1mB\x1b[2mF\x1b[3mI\x1b[5mK\x1b[9mS\x1b[53mO\x1b[0m \x1b[44m blue bg \x1b[0m"
    )
    screen = assert_joins_and_follows(stream, b" and more\x1b[32m green")
    assert screen.cell(0, 0).style == CellStyle(fg=1)
    assert screen.cell(0, 1).style == CellStyle(fg=(10, 20, 30), bg=(200, 100, 50))
    assert screen.cell(4, 1).style == CellStyle(underline=3, underline_color=9)


def test_a_fresh_pyghostty_terminal_fed_the_snapshot_shows_the_same_text_styles_cursor_and_modes() -> None:
    stream = b"$ \x1b[1;34mls\x1b[0m\r\n\x1b[44mdir\x1b[0m  file\r\n\x1b[?2004h\x1b[?1h$ \x1b[32mok\x1b[0m"
    screen = screen_of(stream)
    joiner = pyghostty.Terminal(20, 6)
    joiner.feed(screen.snapshot())
    original = pyghostty.Terminal(20, 6)
    original.feed(stream)
    assert joiner.text() == original.text()
    assert joiner.cursor == original.cursor == screen.cursor
    for x, y in ((2, 0), (0, 1), (3, 1), (5, 1), (2, 2)):
        assert joiner.style(x, y) == original.style(x, y)
    for mode in (1, 2004, 25, 1049):
        assert joiner.mode(mode) == original.mode(mode)


def test_cursor_moves_and_erasures_keep_their_background() -> None:
    stream = (
        b"\x1b[44m\x1b[2K\x1b[0m\r\n"  # a row of background only
        b"\x1b[41mA\x1b[0m\x1b[5CB\r\n"  # a gap after a styled cell stays unstyled
        b"abc\x1b[45m\x1b[K\x1b[0m\r\n"  # erase to the end of the line in a colour
        b"\x1b[5;3H\x1b[46m  hi  \x1b[0m\x1b[2;10H"
    )
    screen = assert_joins_and_follows(stream, b"\x1b[1Kxy")
    assert screen.cell(3, 1).style.bg is None
    assert screen.cell(19, 0).style.bg == 4


def test_a_clear_leaves_only_the_prompt() -> None:
    stream = b"".join(b"out %d\r\n" % i for i in range(12)) + b"$ clear\r\n\x1b[H\x1b[2J\x1b[3J$ "
    screen = assert_joins_and_follows(stream, b"ls\r\n")
    assert screen.text().startswith("$ ls\n")
    assert screen.scrollback_text() == ""


def test_long_lines_wrap_the_same_and_reflow_the_same_after_a_resize() -> None:
    stream = b"".join(b"line %d is long enough to wrap twice\r\n" % i for i in range(9)) + b"$ echo " + b"x" * 25
    screen = screen_of(stream, cols=15, rows=5)
    joiner = replay(screen)
    assert_same(screen, joiner)
    for cols, rows in ((40, 5), (12, 7)):
        screen.resize(cols, rows)
        joiner.resize(cols, rows)
        assert_same(screen, joiner)


def test_the_scrollback_is_carried_and_bounded_by_scrollback_lines() -> None:
    stream = b"".join(b"\x1b[3%dmline %d\x1b[0m\r\n" % (i % 8, i) for i in range(300)) + b"$ "
    screen = screen_of(stream, cols=20, rows=5, scrollback=50)
    joiner = replay(screen, scrollback=50)
    assert_same(screen, joiner)
    history = joiner.scrollback_text().split("\n")
    assert len(history) == 50
    assert history[-1] == "line 295"


def test_vim_on_the_alternate_screen_is_joined_and_the_primary_screen_comes_back_on_exit() -> None:
    shell = b"".join(b"\x1b[32muser@host\x1b[0m:~$ ls %d\r\nfile%d\r\n" % (i, i) for i in range(6))
    vim = (
        b"\x1b[32muser@host\x1b[0m:~$ vim notes\r\n\x1b[?1049h\x1b[?1h\x1b=\x1b[H\x1b[2J\x1b[1;5r\x1b[?25l"
        b"\x1b[1;1Hline one\r\n\x1b[1;34m~\x1b[0m\r\n\x1b[1;34m~\x1b[0m\r\n\x1b[1;34m~\x1b[0m\r\n\x1b[1;34m~\x1b[0m"
        b'\x1b[6;1H\x1b[7m"notes" 1L\x1b[0m\x1b[1;5H\x1b[?25h'
    )
    screen = screen_of(shell + vim, cols=20, rows=6)
    joiner = replay(screen)
    assert_same(screen, joiner)
    assert joiner.alternate_screen and joiner.mode(1)
    for live in (
        b"\x1b[2;1Hinserted",
        b"\x1b[?25l\x1b[5;1H\r\n\x1b[5;1Hscrolled\x1b[?25h",  # scrolls inside the region
        b"\x1b[r\x1b[?1l\x1b>\x1b[?1049l",  # :q
        b"\x1b[32muser@host\x1b[0m:~$ ",
    ):
        screen.feed(live)
        joiner.feed(live)
        assert_same(screen, joiner)
    assert "user@host:~$ vim not\nes\n" in joiner.text() and not joiner.alternate_screen


def test_less_entered_with_1047_and_its_saved_cursor_come_back_the_same() -> None:
    stream = b"$ less f\r\n\x1b7\x1b[?1047h\x1b[?1h\x1b=\rline 1\r\nline 2\r\n\x1b[7mf (END)\x1b[27m\x1b[K"
    assert_joins_and_follows(stream, b"\r\x1b[K\x1b[?1l\x1b>\x1b[?1047l\x1b8$ ", rows=5)


def test_a_scrolling_region_and_a_saved_cursor_keep_scrolling_the_same_lines() -> None:
    apt = b"Reading...\r\n\x1b7\x1b[1;5r\x1b8\x1b[1A\x1b[J"
    progress = b"\x1b7\x1b[6;1H\x1b[42m\x1b[30mProgress: [%3d%%]\x1b[49m\x1b[39m\x1b8Unpacking %d\r\n"
    live = b"".join(progress % (p, p) for p in range(20, 100, 10))
    assert_joins_and_follows(apt + progress % (10, 10), live, cols=30, rows=6)


def test_utf8_split_across_feeds_is_decoded_whole() -> None:
    screen = TerminalScreen(20, 3)
    for byte in "héllo 世界 ✓".encode():
        screen.feed(bytes([byte]))
    assert screen.text().split("\n")[0] == "héllo 世界 ✓"
    assert_same(screen, replay(screen))


def test_a_sequence_split_by_the_snapshot_is_completed_by_the_live_output() -> None:
    assert_joins_and_follows(b"abc\x1b[3", b"1mred\x1b[0m")
    assert_joins_and_follows("abc中".encode()[:-1], "中".encode()[-1:] + b"x")
    assert_joins_and_follows(b"\x1b]2;title\x07\x1b]0;half", b"\x07after")


def test_wide_cjk_characters_keep_their_cells_even_at_the_margin() -> None:
    stream = "日本語のテキストを折り返す\r\n123456789中文\r\n".encode()
    screen = assert_joins_and_follows(stream, "続き".encode(), cols=10, rows=5)
    assert screen.cell(0, 0).width == 2 and screen.cell(1, 0).width == 0


def test_the_modes_a_joiner_needs_to_type_correctly_are_set() -> None:
    stream = b"\x1b[?1h\x1b[?2004h\x1b[?1000h\x1b[?1006h\x1b[?25l\x1b[4h$ "
    screen = assert_joins_and_follows(stream, b"typed")
    joiner = replay(screen)
    assert joiner.mode(1) and joiner.mode(2004) and joiner.mode(1000) and joiner.mode(1006)
    assert not joiner.cursor_visible and joiner.mode(4, ansi=True)


def test_a_cursor_waiting_at_the_margin_wraps_the_next_character_in_both() -> None:
    screen = assert_joins_and_follows(b"\x1b[31m" + b"0123456789" * 2, b"X", cols=20, rows=4)
    assert screen.cursor == (1, 1)
    assert_joins_and_follows("1234567890123456789中".encode()[:21], b"", cols=20, rows=4)


def test_origin_mode_keeps_the_cursor_relative_to_the_region() -> None:
    assert_joins_and_follows(b"\x1b[2;4r\x1b[?6h\x1b[2;3Hx", b"\x1b[1;1Hy")


def test_palette_changes_and_the_title_are_carried() -> None:
    screen = screen_of("\x1b]4;1;rgb:12/34/56\x1b\\\x1b]2;deploy\u009b on prod\x07\x1b[31mred".encode())
    snapshot = screen.snapshot()
    assert b"\x1b]4;1;rgb:12/34/56\x1b\\" in snapshot
    assert b"\x1b]2;deploy on prod\x1b\\" in snapshot  # without the C1 control character
    assert_same(screen, replay(screen))


def test_basic_colours_are_written_as_sgr_30_to_47_so_xterm_js_brightens_bold_text() -> None:
    snapshot = screen_of(b"\x1b[1;34mbold blue\x1b[0m \x1b[41mred bg\x1b[0m \x1b[38;5;208morange").snapshot()
    assert b"\x1b[34m" in snapshot and b"\x1b[41m" in snapshot and b"\x1b[38;5;208m" in snapshot
    assert b"38;5;4m" not in snapshot and b"48;5;1m" not in snapshot


def test_the_snapshot_starts_with_a_full_reset_and_resynchronises_a_terminal_with_other_content() -> None:
    screen = screen_of(b"\x1b[32mhello\x1b[0m\r\nworld")
    snapshot = screen.snapshot()
    assert snapshot.startswith(b"\x1bc")
    joiner = TerminalScreen(20, 6)
    joiner.feed(b"\x1b[?1049h\x1b[41mstale \x1b[?2004h" + b"junk\r\n" * 30 + b"\x1b]2;unfinished")
    joiner.feed(snapshot)
    assert_same(screen, joiner)


# --- the screen itself ----------------------------------------------------------------------------
def test_resize_changes_the_size_and_the_snapshot_follows() -> None:
    screen = screen_of(b"".join(b"row %d with some text\r\n" % i for i in range(10)) + b"$ ", cols=30, rows=6)
    screen.resize(12, 4)
    assert screen.size == (12, 4)
    joiner = replay(screen)
    assert joiner.size == (12, 4)
    assert_same(screen, joiner)


def test_queries_apply_output_still_batched() -> None:
    screen = TerminalScreen(20, 3)
    screen.feed(b"ab")
    screen.feed(b"c\r\nd")
    assert screen.cursor == (1, 1)
    assert screen.text() == "abc\nd\n"


def test_sizes_outside_the_bounds_are_refused() -> None:
    with pytest.raises(BadRequest):
        TerminalScreen(0, 24)
    screen = TerminalScreen()
    with pytest.raises(BadRequest):
        screen.resize(80, 501)
    with pytest.raises(BadRequest):
        screen.cell(80, 0)


def test_a_closed_screen_refuses_use_and_closes_twice() -> None:
    screen = TerminalScreen()
    screen.close()
    screen.close()
    with pytest.raises(InternalError):
        screen.feed(b"x")
    with pytest.raises(InternalError):
        screen.snapshot()


def test_feed_throughput_on_20_mb_of_base64_output() -> None:
    random = os.urandom(57 * 370_000)
    data = b"".join(base64.b64encode(random[i : i + 57]) + b"\r\n" for i in range(0, len(random), 57))
    data = data[: 20 * 1024 * 1024]
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]
    screen = TerminalScreen(80, 24)
    start = time.perf_counter()
    for chunk in chunks:
        screen.feed(chunk)
    screen.cursor  # noqa: B018 (applies what is pending)
    seconds = time.perf_counter() - start
    print(f"feed: {len(data) / seconds / 1e6:.0f} MB/s")
    assert len(data) / seconds > 50e6
    start = time.perf_counter()
    replayed = replay(screen, scrollback=1000)
    print(
        f"snapshot of 80x24 with {len(screen.scrollback_text().splitlines())} lines: "
        f"{(time.perf_counter() - start) * 1000:.1f} ms"
    )
    assert_same(screen, replayed)


# --- against the real xterm.js (when the front-end's node_modules are there) ---------------------------
_XTERM_DUMP = """
const {Terminal} = require(process.argv[1]);
const feed = (t, b) => new Promise(r => t.write(Buffer.from(b, 'base64'), r));
let input = ''; process.stdin.on('data', d => input += d); process.stdin.on('end', async () => {
  const req = JSON.parse(input); const out = [];
  for (const stream of [req.original, req.snapshot]) {
    const t = new Terminal({cols: req.cols, rows: req.rows, scrollback: 1000, allowProposedApi: true});
    await feed(t, stream); await feed(t, req.live);
    const b = t.buffer.active, lines = [];
    for (let y = 0; y < b.length; y++) {
      const l = b.getLine(y), cells = [];
      for (let x = 0; x < t.cols; x++) {
        const c = l.getCell(x);
        cells.push([c.getChars(), c.getWidth(), c.getFgColorMode(), c.getFgColor(), c.getBgColorMode(),
                    c.getBgColor(), c.isBold(), c.isUnderline(), c.isInverse()]);
      }
      lines.push([l.translateToString(true), l.isWrapped, cells]);
    }
    out.push({type: b.type, x: b.cursorX, y: b.cursorY, modes: t.modes, lines});
  }
  process.stdout.write(JSON.stringify(out));
});
"""


@pytest.mark.skipif(shutil.which("node") is None or not XTERM.is_dir(), reason="needs node and the front-end built")
@pytest.mark.parametrize(
    ("stream", "live"),
    [
        (b"".join(b"\x1b[1;3%dmline %d is long enough to wrap\x1b[0m\r\n" % (i % 8, i) for i in range(40)), b"$ "),
        (b"$ vim\r\n\x1b[?1049h\x1b[?1h\x1b[H\x1b[2J\x1b[1;34m~\x1b[0m\r\n\x1b[44m\x1b[2K\x1b[0m", b"\x1b[?1049l$ "),
        (b"\x1b[41mA\x1b[0m\x1b[5CB\r\nabc\x1b[45m\x1b[K\x1b[0m\r\n" + "日本語のテキスト".encode() * 2, b"x"),
    ],
)
def test_xterm_js_fed_the_snapshot_equals_xterm_js_fed_the_whole_stream(stream: bytes, live: bytes) -> None:
    screen = screen_of(stream, cols=13, rows=5, scrollback=1000)
    request = {
        "cols": 13,
        "rows": 5,
        "original": base64.b64encode(stream).decode(),
        "snapshot": base64.b64encode(screen.snapshot()).decode(),
        "live": base64.b64encode(live).decode(),
    }
    done = subprocess.run(
        ["node", "-e", _XTERM_DUMP, str(XTERM)], input=json.dumps(request).encode(), capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    original, joined = json.loads(done.stdout)
    assert joined == original, _first_difference(original, joined)


def _first_difference(a: dict[str, Any], b: dict[str, Any]) -> str:
    for key in ("type", "x", "y", "modes"):
        if a[key] != b[key]:
            return f"{key}: {a[key]} != {b[key]}"
    for y, (la, lb) in enumerate(zip(a["lines"], b["lines"], strict=False)):
        if la != lb:
            return f"line {y}: {la[:2]} != {lb[:2]}"
    return f"{len(a['lines'])} lines != {len(b['lines'])} lines"


@pytest.mark.parametrize("opener", [b"\x1b]2;", b"\x1bP"], ids=["OSC", "DCS"])
def test_a_joiner_gets_the_screen_while_a_long_string_is_left_open(opener: bytes) -> None:
    lines = b"".join(b"line %d of a binary file\r\n" % i for i in range(400))
    screen = screen_of(b"before\r\n" + opener + lines, cols=40, rows=10)
    joiner = replay(screen)
    assert joiner.text().startswith("before")
    screen.feed(b"\x07\x1b\\\r\nafter")
    joiner.feed(b"\x07\x1b\\\r\nafter")
    assert "after" in joiner.text()
    assert joiner.text() == screen.text()


def test_a_joiner_gets_the_screen_after_a_wide_character_is_squeezed_into_one_column() -> None:
    screen = screen_of(b"\x1b[?7l\xf0\x9f\x98\x80 no wrap", cols=133, rows=50)
    screen.resize(1, 45)  # Ghostty's own snapshot codec refuses the state this leaves
    joiner = replay(screen)
    assert joiner.size == (1, 45)
    assert joiner.cursor == screen.cursor


_FUZZ_PIECES = [
    *(b"\x1b[", b"\x1b]", b"\x1bP", b"\x1b_", b"\x1b^", b"\x07", b"\x1b\\", b"\x9b", b"\x90", b"\x1b[?1049h"),
    *(b"\x1b[?1049l", b"\x1b[5;10r", b"\x1b[?69h", b"\x1b[2;30s", b"\x1b[?6h", b"\x1b(0", b"\x0e", b"\x0f"),
    *(b"\x1b[4h", b"\x1b[?7l", b"\x1b[?45h", b"\x1b[1;31;4;7m", b"\x1b]8;;http://x\x1b\\", b"\x1b]0;title\x07"),
    *(b"\x1b]4;1;rgb:ff/00/00\x07", b"\x1b7", b"\x1b8", b"\x1bc", b"\x1b[20;70H", b"\x1b[2J", b"\x1b[L", b"\x1b[P"),
    *(b"\x1b[3g", b"\x1bH", b"\t", b"\r", b"\n", b"\x08", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b"\xcc\x81", b"\xff"),
    *(b"\x1b[?2004h", b"\x1b[6n", b"\x1b#8", b"\x1b[?1000h", b"\x1b[5 q", b"\x1b_Gf=100;AAAA\x1b\\", b"\x1bM"),
]


@pytest.mark.parametrize("seed", range(150))
def test_a_joiner_always_gets_a_snapshot_whatever_the_target_printed(seed: int) -> None:
    rng = random.Random(seed)
    cols, rows = rng.choice([(1, 1), (2, 3), (20, 6), (80, 24), (133, 50)])
    screen = TerminalScreen(cols, rows, rng.choice([0, 10, 100]))
    pieces = []
    for _ in range(rng.randrange(10, 400)):
        kind = rng.random()
        if kind < 0.55:
            pieces.append(rng.choice(_FUZZ_PIECES))
        elif kind < 0.75:
            pieces.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20))))
        else:
            pieces.append(b"text " * rng.randrange(1, 30))
    data = b"".join(pieces)
    for i in range(0, len(data), 7):
        screen.feed(data[i : i + 7])
        if rng.random() < 0.02:
            screen.resize(rng.randrange(1, 200), rng.randrange(1, 80))
    joiner = replay(screen)
    assert joiner.size == screen.size
    assert joiner.cursor == screen.cursor
