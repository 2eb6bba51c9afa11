"""The terminal state of a live session, kept by a headless Ghostty emulator, and its VT snapshot for joiners.

This is the only module that imports ``pyghostty`` (libghostty-vt through cffi, no type hints): ``_Vt`` is the
narrow typed wrapper over the raw ABI and :class:`TerminalScreen` is what the hub uses.

:meth:`TerminalScreen.snapshot` is built with Ghostty's VT formatter, plus the fixes a joiner needs that the
formatter does not do by itself:

- the scrollback is written first and then pushed off the screen with line feeds, so the joiner's scrollback holds
  it and its screen starts blank; the screen is then written row by row at absolute positions;
- runs of empty cells are repainted with ECH in their own background (the formatter drops rows that hold only
  background colour and paints gaps after a styled cell in that cell's style);
- soft-wrapped rows are re-joined by letting the joiner's terminal wrap, so a later resize reflows them alike;
- the state (modes, tabstops, scrolling region, cursor, its style and charsets) comes from a copy of the terminal
  whose screen was erased, so it is emitted after the content and never disturbs it; origin and insert mode are
  applied last;
- on the alternate screen, the primary screen is written first, then the alternate screen is entered the way the
  program entered it, so the joiner also gets the primary screen back when the program exits;
- the saved cursor (DECSC), colour overrides (OSC 4/10/11/12), the title, a pending wrap, and the bytes of an escape
  sequence left unfinished by the last output (so the live output that follows parses the same) are carried over;
- palette colours 0-15 are written as SGR 30-37/40-47/90-97/100-107, as programs write them, because xterm.js draws
  bold text in those in the bright colours but not in 38;5;N.

Known limits. In the scrollback (never on the screen), cells that were never written, between a cell with a
background or underline and later text on the same row, take that cell's style. Widths: Ghostty lays out emoji by
Unicode 15, xterm.js 6 without its unicode11 addon by Unicode 6, so a row with emoji can differ from what the other
participants' xterm.js shows (xterm.js's unicode11 or unicode-graphemes addon brings the two much closer). A
string (OSC, DCS) left open for more than ``CONTINUATION_MAX_BYTES`` when a snapshot is taken is ended there (CAN)
in the hub's emulator: its rest then shows as text there and to later joiners, but not to those who watched it begin.
"""

from __future__ import annotations

import re
import unicodedata
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import pyghostty._ffi as _ghostty  # type: ignore[import-untyped]
import pyghostty.core as _ghostty_core  # type: ignore[import-untyped]

from jumpoint.core.errors import BadRequest, InternalError

_ffi: Any = _ghostty.ffi
_lib: Any = _ghostty.lib
_sized: Callable[[str], Any] = _ghostty_core.init_sized

MAX_COLS: Final = 1000
MAX_ROWS: Final = 500
MAX_SCROLLBACK_LINES: Final = 100_000
BATCH_BYTES: Final = 1024 * 1024
"""feed() hands output to the emulator once this much is pending (fewer, larger native calls, and a flood's lines
that nobody will see again can be passed over: see :meth:`TerminalScreen._apply_pending`)."""
PASS_OVER_MIN_BYTES: Final = 256 * 1024
"""Pending output shorter than this is fed whole (looking for lines to pass over would cost more than it saves)."""
CONTINUATION_MAX_BYTES: Final = 4096
"""An escape sequence left open longer than this is not carried into a snapshot (its tail may then show as text)."""

_SUCCESS: Final = 0
_OUT_OF_SPACE: Final = -3
_NO_VALUE: Final = -4
_WIDE: Final = 1
_WIDE_SPACER_TAIL: Final = 2
_WIDE_SPACER_HEAD: Final = 3
_STATEFUL_ASCII: Final = (b"\x1b", b"\x08", b"\x0e", b"\x0f")
"""The ASCII bytes that change more than cells and the cursor's place on its row or below: ESC starts every sequence
that does; BS may go up a line (reverse wrap); SO and SI switch charsets."""
_RUNS_LOOKED_AT: Final = 16
"""How many runs of plain text before the end of a batch are looked at for lines to pass over (a bound on the work
for output that is escape sequences throughout)."""
_ALT_SCREEN_MODES: Final = (1049, 1047, 47)
_ORIGIN_MODE: Final = 6
_INSERT_MODE: Final = 4  # an ANSI mode
_SGR_RESET: Final = b"\x1b[0m"
_SAVE_CURSOR: Final = b"\x1b7"
_CHARSETS_DEFAULT: Final = b"\x1b(B\x1b)B\x1b*B\x1b+B\x0f"
_CHARSET_SEQUENCE = re.compile(rb"\x1b[()*+][^B]|\x0e|\x1b[no~|]")
_MARGINS_TOP_BOTTOM = re.compile(rb"\x1b\[(\d+);(\d+)r")
_MARGINS_LEFT_RIGHT = re.compile(rb"\x1b\[(\d+);(\d+)s")
_MARGINS_SET = re.compile(rb"\x1b\[\d+;\d+[rs]")
_NON_ASCII = re.compile(rb"[\x80-\xff]")
_SGR_256 = re.compile(rb"\x1b\[([34])8;5;(\d+)m")
_SGR = re.compile(rb"\x1b\[[0-9;:]*m")

Color = int | tuple[int, int, int]
"""A palette index (0-255) or an RGB triple."""


@dataclass(frozen=True, slots=True)
class CellStyle:
    """How a cell is drawn: colours (``None`` = the terminal's default) and attributes.

    ``underline`` is 0 for none, 1 single, 2 double, 3 curly, 4 dotted, 5 dashed.
    """

    fg: Color | None = None
    bg: Color | None = None
    underline_color: Color | None = None
    bold: bool = False
    italic: bool = False
    faint: bool = False
    blink: bool = False
    inverse: bool = False
    invisible: bool = False
    strikethrough: bool = False
    overline: bool = False
    underline: int = 0


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell of the screen: its text ("" when empty; a whole grapheme cluster), its width (2 for a wide character,
    0 for the right half of one) and its style (an erased cell keeps the background it was erased with)."""

    text: str
    width: int
    style: CellStyle


def _check(result: int, what: str) -> None:
    if result != _SUCCESS:
        raise InternalError(f"the terminal emulator failed: {what} returned {result}")


def _read_sized(call: Callable[[Any, int, Any], int], what: str) -> bytes:
    """Run a libghostty "query the size, then fill the buffer" call and return the bytes."""
    size = _ffi.new("size_t*")
    result = call(_ffi.NULL, 0, size)
    if result == _SUCCESS or (result == _OUT_OF_SPACE and size[0] == 0):
        return b""
    if result != _OUT_OF_SPACE:
        _check(result, what)
    buf = _ffi.new("uint8_t[]", size[0])
    _check(call(buf, size[0], size), what)
    return bytes(_ffi.buffer(buf, size[0]))


def _sgr_16(match: re.Match[bytes]) -> bytes:
    index = int(match.group(2))
    if index >= 16:
        return match.group(0)
    base = (30 if match.group(1) == b"3" else 40) + (60 if index >= 8 else 0)
    return b"\x1b[%dm" % (base + index % 8)


def _ansi_colours(vt_bytes: bytes) -> bytes:
    """The formatter writes palette colours 0-15 as 38;5;N / 48;5;N; write them as 30-37/90-97 and 40-47/100-107,
    the form programs use: xterm.js draws bold text in those (not in 38;5;N) in the bright colours."""
    return _SGR_256.sub(_sgr_16, vt_bytes)


def _cup(x: int, y: int) -> bytes:
    return b"\x1b[%d;%dH" % (y + 1, x + 1)


def _bg_sgr(bg: Color | None) -> bytes:
    if bg is None:
        return _SGR_RESET
    if isinstance(bg, int):
        return b"\x1b[0m" + _ansi_colours(b"\x1b[48;5;%dm" % bg)
    return b"\x1b[0;48;2;%d;%d;%dm" % bg


def _style_color(c: Any) -> Color | None:
    if c.tag == _lib.GHOSTTY_STYLE_COLOR_PALETTE:
        return int(c.value.palette)
    if c.tag == _lib.GHOSTTY_STYLE_COLOR_RGB:
        rgb = c.value.rgb
        return (int(rgb.r), int(rgb.g), int(rgb.b))
    return None


class _Vt:
    """One native Ghostty terminal. Every call into libghostty-vt goes through this class."""

    _grid_ref_fn: Any = None

    def __init__(self, handle: Any) -> None:
        self._handle = handle  # a GhosttyTerminal* whose [0] is the terminal
        self._free = weakref.finalize(self, _lib.ghostty_terminal_free, handle[0])

    @classmethod
    def new(cls, cols: int, rows: int) -> _Vt:
        handle = _ffi.new("GhosttyTerminal*")
        _check(_lib.ghostty_terminal_new(_ffi.NULL, handle, cols, rows), "terminal_new")
        return cls(handle)

    def clone(self) -> _Vt:
        """An independent copy (Ghostty's own snapshot codec), to change freely while formatting.

        The codec cannot copy a parser inside a string (OSC, DCS) longer than ``CONTINUATION_MAX_BYTES``: such a
        string is first cut short here (CAN), as no snapshot could carry it either. Nor can it copy a few states
        Ghostty reaches by itself (a wide character on a screen resized to one column, autowrap off): then the copy
        is a new terminal given this one's screen and state as the formatter writes them (no scrollback)."""
        data = self._encoded()
        if data is None and not self.in_ground_state:
            self.write(b"\x18")
            data = self._encoded()
        if data is None:
            return self._redrawn()
        decoder = _ffi.new("GhosttySnapshotDecoder*")
        _check(_lib.ghostty_snapshot_decoder_new_buf(_ffi.NULL, decoder, data, len(data)), "snapshot_decoder_new")
        try:
            handle = _ffi.new("GhosttyTerminal*")
            _check(_lib.ghostty_snapshot_decoder_decode(decoder[0], handle), "snapshot_decode")
        finally:
            _lib.ghostty_snapshot_decoder_free(decoder[0])
        return _Vt(handle)

    def _encoded(self) -> bytes | None:
        """The terminal in Ghostty's snapshot encoding, or None when the codec refuses its state."""
        try:
            return _read_sized(lambda b, n, o: _lib.ghostty_snapshot_encode_buf(self._t, b, n, o), "snapshot_encode")
        except InternalError:
            return None

    def _redrawn(self) -> _Vt:
        """A new terminal of this size given this one's active screen and state, as the formatter writes them."""
        cols, rows = self.size
        copy = _Vt.new(cols, rows)
        copy.write(self.format(self.selection(_lib.GHOSTTY_POINT_TAG_ACTIVE, 0, 0, cols - 1, rows - 1), state="all"))
        return copy

    def close(self) -> None:
        self._free()

    @property
    def _t(self) -> Any:
        return self._handle[0]

    # --- input and options ------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        _lib.ghostty_terminal_vt_write(self._t, data, len(data))

    def set_size_t(self, option: int, value: int) -> None:
        _check(_lib.ghostty_terminal_set(self._t, option, _ffi.new("size_t*", value)), f"terminal_set {option}")

    def resize(self, cols: int, rows: int) -> None:
        _check(_lib.ghostty_terminal_resize(self._t, cols, rows, 8, 16), "terminal_resize")

    def set_mode(self, number: int, value: bool, *, ansi: bool = False) -> None:
        config = _ffi.new("GhosttyTerminalModeConfig*")
        config.mode = (number & 0x7FFF) | (ansi << 15)  # ghostty_mode_new's packing (a static inline in C)
        config.value = value
        _check(_lib.ghostty_terminal_set(self._t, _lib.GHOSTTY_TERMINAL_OPT_MODE, config), f"set mode {number}")

    # --- queries ---------------------------------------------------------------------------------
    def get(self, key: int, ctype: str) -> Any:
        out = _ffi.new(ctype + "*")
        _check(_lib.ghostty_terminal_get(self._t, key, out), f"terminal_get {key}")
        return out[0]

    def get_optional(self, key: int, ctype: str) -> Any:
        out = _ffi.new(ctype + "*")
        result = _lib.ghostty_terminal_get(self._t, key, out)
        if result == _NO_VALUE:
            return None
        _check(result, f"terminal_get {key}")
        return out[0]

    def mode(self, number: int, *, ansi: bool = False) -> bool:
        config = _ffi.new("GhosttyTerminalModeConfig*")
        config.mode = (number & 0x7FFF) | (ansi << 15)
        _check(_lib.ghostty_terminal_get(self._t, _lib.GHOSTTY_TERMINAL_DATA_MODE, config), f"get mode {number}")
        return bool(config.value)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.get(_lib.GHOSTTY_TERMINAL_DATA_COLS, "uint16_t")), int(
            self.get(_lib.GHOSTTY_TERMINAL_DATA_ROWS, "uint16_t")
        )

    @property
    def cursor(self) -> tuple[int, int]:
        return int(self.get(_lib.GHOSTTY_TERMINAL_DATA_CURSOR_X, "uint16_t")), int(
            self.get(_lib.GHOSTTY_TERMINAL_DATA_CURSOR_Y, "uint16_t")
        )

    @property
    def in_ground_state(self) -> bool:
        """Whether the parser is between sequences and characters (nothing left unfinished by the last write)."""
        return bool(self.get(_lib.GHOSTTY_TERMINAL_DATA_VT_GROUND, "bool"))

    @property
    def pending_wrap(self) -> bool:
        return bool(self.get(_lib.GHOSTTY_TERMINAL_DATA_CURSOR_PENDING_WRAP, "bool"))

    @property
    def cursor_visible(self) -> bool:
        return bool(self.get(_lib.GHOSTTY_TERMINAL_DATA_CURSOR_VISIBLE, "bool"))

    @property
    def alternate(self) -> bool:
        screen = self.get(_lib.GHOSTTY_TERMINAL_DATA_ACTIVE_SCREEN, "GhosttyTerminalScreen")
        return bool(screen == _lib.GHOSTTY_TERMINAL_SCREEN_ALTERNATE)

    @property
    def history_rows(self) -> int:
        """Rows of scrollback above the active screen."""
        return int(self.get(_lib.GHOSTTY_TERMINAL_DATA_SCROLLBACK_ROWS, "size_t"))

    def title(self) -> bytes:
        s = self.get(_lib.GHOSTTY_TERMINAL_DATA_TITLE, "GhosttyString")
        return bytes(_ffi.buffer(s.ptr, s.len)) if s.len else b""

    def palette(self, key: int) -> bytes:
        out = _ffi.new("GhosttyColorRgb[256]")
        _check(_lib.ghostty_terminal_get(self._t, key, out), "terminal_get palette")
        return bytes(_ffi.buffer(out))

    def rgb(self, key: int) -> tuple[int, int, int] | None:
        c = self.get_optional(key, "GhosttyColorRgb")
        return None if c is None else (int(c.r), int(c.g), int(c.b))

    def continuation(self) -> bytes:
        """The bytes of an escape sequence or UTF-8 character left unfinished by the last write (may be empty)."""
        try:
            return _read_sized(lambda b, n, o: _lib.ghostty_terminal_continuation_buf(self._t, b, n, o), "continuation")
        except InternalError:
            return b""  # longer than CONTINUATION_MAX_BYTES: not tracked

    # --- the grid --------------------------------------------------------------------------------
    def _grid_ref(self, tag: int, x: int, y: int, out: Any) -> None:
        if _Vt._grid_ref_fn is None:
            _Vt._grid_ref_fn = _ghostty.union_fn(
                "ghostty_terminal_grid_ref", "GhosttyResult(*)(GhosttyTerminal, GhosttyPointS, GhosttyGridRef*)"
            )
        point = _ffi.new("GhosttyPointS*")
        point.tag = tag
        point.value.x, point.value.y = x, y
        _check(_Vt._grid_ref_fn(self._t, point[0], out), f"grid_ref {x},{y}")

    def selection(self, tag: int, x0: int, y0: int, x1: int, y1: int) -> Any:
        sel = _sized("GhosttySelection")
        self._grid_ref(tag, x0, y0, _ffi.addressof(sel[0], "start"))
        self._grid_ref(tag, x1, y1, _ffi.addressof(sel[0], "end"))
        return sel

    def row_selection(self, y: int) -> Any:
        cols = self.size[0]
        return self.selection(_lib.GHOSTTY_POINT_TAG_ACTIVE, 0, y, cols - 1, y)

    def raw_cell(self, tag: int, x: int, y: int) -> int:
        """One cell as its raw 64-bit GhosttyCell value."""
        ref = _sized("GhosttyGridRef")
        self._grid_ref(tag, x, y, ref)
        raw = _ffi.new("GhosttyCell*")
        _check(_lib.ghostty_grid_ref_cell(ref, raw), "grid_ref_cell")
        return int(raw[0])

    def row_wrapped(self, tag: int, y: int) -> bool:
        """Whether row ``y`` is soft-wrapped (continues on the next row)."""
        ref = _sized("GhosttyGridRef")
        self._grid_ref(tag, 0, y, ref)
        row = _ffi.new("GhosttyRow*")
        _check(_lib.ghostty_grid_ref_row(ref, row), "grid_ref_row")
        wrap = _ffi.new("bool*")
        _check(_lib.ghostty_row_get(row[0], _lib.GHOSTTY_ROW_DATA_WRAP, wrap), "row wrap")
        return bool(wrap[0])

    def raw_rows(self) -> list[tuple[bool, list[int]]]:
        """Each row of the active screen: (soft-wrapped, its cells as raw 64-bit GhosttyCell values)."""
        state = _ffi.new("GhosttyRenderState*")
        _check(_lib.ghostty_render_state_new(_ffi.NULL, state), "render_state_new")
        rows: list[tuple[bool, list[int]]] = []
        try:
            _check(_lib.ghostty_render_state_update(state[0], self._t), "render_state_update")
            iterator = _ffi.new("GhosttyRenderStateRowIterator*")
            _check(_lib.ghostty_render_state_row_iterator_new(_ffi.NULL, iterator), "row_iterator_new")
            try:
                key = _lib.GHOSTTY_RENDER_STATE_DATA_ROW_ITERATOR
                _check(_lib.ghostty_render_state_get(state[0], key, iterator), "row_iterator")
                view = _ffi.new("GhosttyCellsView*")
                raw = _ffi.new("GhosttyRow*")
                wrap = _ffi.new("bool*")
                while _lib.ghostty_render_state_row_iterator_next(iterator[0]):
                    key = _lib.GHOSTTY_RENDER_STATE_ROW_DATA_CELLS_RAW
                    _check(_lib.ghostty_render_state_row_get(iterator[0], key, view), "row cells")
                    key = _lib.GHOSTTY_RENDER_STATE_ROW_DATA_RAW
                    _check(_lib.ghostty_render_state_row_get(iterator[0], key, raw), "row")
                    _check(_lib.ghostty_row_get(raw[0], _lib.GHOSTTY_ROW_DATA_WRAP, wrap), "row wrap")
                    rows.append((bool(wrap[0]), list(_ffi.unpack(view.ptr, view.len))))
            finally:
                _lib.ghostty_render_state_row_iterator_free(iterator[0])
        finally:
            _lib.ghostty_render_state_free(state[0])
        return rows

    def cell(self, x: int, y: int) -> Cell:
        ref = _sized("GhosttyGridRef")
        self._grid_ref(_lib.GHOSTTY_POINT_TAG_ACTIVE, x, y, ref)
        raw = _ffi.new("GhosttyCell*")
        _check(_lib.ghostty_grid_ref_cell(ref, raw), "grid_ref_cell")
        st = _sized("GhosttyStyle")
        _check(_lib.ghostty_grid_ref_style(ref, st), "grid_ref_style")
        style = CellStyle(
            fg=_style_color(st.fg_color),
            bg=_style_color(st.bg_color),
            underline_color=_style_color(st.underline_color),
            bold=bool(st.bold),
            italic=bool(st.italic),
            faint=bool(st.faint),
            blink=bool(st.blink),
            inverse=bool(st.inverse),
            invisible=bool(st.invisible),
            strikethrough=bool(st.strikethrough),
            overline=bool(st.overline),
            underline=int(st.underline),
        )
        value = int(raw[0])
        kind, bg = _classify(value)
        if kind == _BG:
            return Cell("", 1, CellStyle(bg=bg))
        wide = (value >> 42) & 3
        width = {0: 1, 1: 2, _WIDE_SPACER_TAIL: 0}.get(wide, 1)
        if kind == _BLANK:
            return Cell("", width, style)
        n = _ffi.new("size_t*")
        result = _lib.ghostty_grid_ref_graphemes(ref, _ffi.NULL, 0, n)
        codepoints = [(value >> 2) & 0x1FFFFF]
        if result in (_SUCCESS, _OUT_OF_SPACE) and n[0] > 1:
            buf = _ffi.new("uint32_t[]", n[0])
            _check(_lib.ghostty_grid_ref_graphemes(ref, buf, n[0], n), "grid_ref_graphemes")
            codepoints = list(_ffi.unpack(buf, n[0]))
        return Cell("".join(map(chr, codepoints)), width, style)

    # --- the formatter ---------------------------------------------------------------------------
    def format(self, selection: Any, *, plain: bool = False, unwrap: bool = False, state: str = "") -> bytes:
        """Ghostty's formatter over ``selection``: VT (or plain text) with no extra state, ``state="all"`` for the
        modes, tabstops, scrolling region, keyboard modes and the cursor (position, style, charsets, hyperlink,
        protection, kitty flags), ``state="cursor"`` for the cursor's position, style and charsets only,
        ``state="margins"`` for the scrolling region alone (DECSTBM and DECSLRM when not the whole screen)."""
        opts = _sized("GhosttyFormatterTerminalOptions")
        opts.emit = _lib.GHOSTTY_FORMATTER_FORMAT_PLAIN if plain else _lib.GHOSTTY_FORMATTER_FORMAT_VT
        opts.unwrap = unwrap
        opts.trim = True
        opts.selection = selection
        extra = opts.extra
        if state == "margins":
            extra.scrolling_region = True
        elif state:
            everything = state == "all"
            extra.modes = extra.scrolling_region = extra.tabstops = extra.keyboard = everything
            screen = extra.screen
            screen.cursor = screen.style = screen.charsets = True
            screen.hyperlink = screen.protection = screen.kitty_keyboard = everything
        formatter = _ffi.new("GhosttyFormatter*")
        _check(_lib.ghostty_formatter_terminal_new(_ffi.NULL, formatter, self._t, opts[0]), "formatter_new")
        try:
            out = _read_sized(lambda b, n, o: _lib.ghostty_formatter_format_buf(formatter[0], b, n, o), "format")
        finally:
            _lib.ghostty_formatter_free(formatter[0])
        return out if plain else _ansi_colours(out)


_TEXT, _BLANK, _BG = 0, 1, 2


def _classify(value: int) -> tuple[int, Color | None]:
    """A raw cell as (kind, background): text (incl. the right half of a wide character), a blank cell, or a cell
    erased in a background colour (Ghostty keeps that colour in the cell itself)."""
    tag = value & 3
    if tag == _lib.GHOSTTY_CELL_CONTENT_BG_COLOR_PALETTE:
        return _BG, (value >> 2) & 0xFF
    if tag == _lib.GHOSTTY_CELL_CONTENT_BG_COLOR_RGB:
        return _BG, ((value >> 2) & 0xFF, (value >> 10) & 0xFF, (value >> 18) & 0xFF)
    if (value >> 2) & 0x1FFFFF or (value >> 42) & 3 == _WIDE_SPACER_TAIL:
        return _TEXT, None
    return _BLANK, None


class TerminalScreen:
    """The screen of one live session as every participant sees it, fed with the session's terminal output.

    Not thread-safe: call it from one thread (the event loop's). ``feed`` is cheap (it batches); every other method
    first applies what is pending. ``snapshot`` takes a few milliseconds (more with a long scrollback).
    Sizes outside 1..MAX_COLS x 1..MAX_ROWS raise :class:`BadRequest`; a native failure raises
    :class:`InternalError`; any use after :meth:`close` raises :class:`InternalError`.
    """

    def __init__(self, cols: int = 80, rows: int = 24, scrollback_lines: int = 1000) -> None:
        _check_size(cols, rows)
        if not 0 <= scrollback_lines <= MAX_SCROLLBACK_LINES:
            raise BadRequest(f"scrollback_lines must be 0..{MAX_SCROLLBACK_LINES}, not {scrollback_lines}")
        self._scrollback_lines = scrollback_lines
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._vt: _Vt | None = _Vt.new(cols, rows)
        # A line limit makes Ghostty trim the scrollback row by row (five times slower); a byte budget trims
        # whole pages, so give it bytes for twice the lines wanted and cut to scrollback_lines when formatting.
        self._vt.set_size_t(_lib.GHOSTTY_TERMINAL_OPT_SCROLLBACK_MAX_LINES, 2**62)
        self._set_scrollback_budget(cols)
        self._vt.set_size_t(_lib.GHOSTTY_TERMINAL_OPT_CONTINUATION_MAX_BYTES, CONTINUATION_MAX_BYTES)

    # --- input -----------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Take terminal output (any bytes, sequences may be split across calls). Hot path: usually an append."""
        if self._vt is None:
            raise InternalError("the terminal screen is closed")
        if not data:
            return
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes >= BATCH_BYTES:
            self._apply_pending()

    def resize(self, cols: int, rows: int) -> None:
        """Resize the screen (Ghostty reflows the primary screen's soft-wrapped lines, as xterm.js does)."""
        _check_size(cols, rows)
        vt = self._ready()
        vt.resize(cols, rows)
        self._set_scrollback_budget(cols)

    def close(self) -> None:
        """Free the emulator. Idempotent."""
        if self._vt is not None:
            self._vt.close()
            self._vt = None
            self._pending.clear()

    # --- queries ---------------------------------------------------------------------------------
    @property
    def size(self) -> tuple[int, int]:
        """(cols, rows)."""
        return self._ready().size

    @property
    def cursor(self) -> tuple[int, int]:
        """The cursor position (x, y), 0-based, on the active screen."""
        return self._ready().cursor

    @property
    def cursor_visible(self) -> bool:
        """Whether the cursor is shown (DECTCEM)."""
        return self._ready().cursor_visible

    @property
    def alternate_screen(self) -> bool:
        """Whether the alternate screen (full-screen programs: vim, less, top) is active."""
        return self._ready().alternate

    def mode(self, number: int, *, ansi: bool = False) -> bool:
        """Whether a DEC private mode (e.g. 1 application cursor keys, 2004 bracketed paste), or with ``ansi`` an
        ANSI mode (e.g. 4 insert), is set. An unknown mode raises :class:`InternalError`."""
        return self._ready().mode(number, ansi=ansi)

    def cell(self, x: int, y: int) -> Cell:
        """The cell at (x, y) of the active screen, 0-based."""
        vt = self._ready()
        cols, rows = vt.size
        if not (0 <= x < cols and 0 <= y < rows):
            raise BadRequest(f"cell ({x}, {y}) is outside the {cols}x{rows} screen")
        return vt.cell(x, y)

    def text(self) -> str:
        """The active screen as plain text: one line per row joined by "\\n", trailing spaces trimmed."""
        vt = self._ready()
        cols, rows = vt.size
        sel = vt.selection(_lib.GHOSTTY_POINT_TAG_ACTIVE, 0, 0, cols - 1, rows - 1)
        return _plain_rows(vt.format(sel, plain=True), rows)

    def scrollback_text(self) -> str:
        """The scrollback above the screen as plain text, oldest first, one line per row (soft wraps kept), at most
        ``scrollback_lines`` rows: what a snapshot carries."""
        vt = self._ready()
        n = min(vt.history_rows, self._scrollback_lines)
        if n == 0:
            return ""
        cols = vt.size[0]
        total = vt.history_rows
        sel = vt.selection(_lib.GHOSTTY_POINT_TAG_HISTORY, 0, total - n, cols - 1, total - 1)
        return _plain_rows(vt.format(sel, plain=True), n)

    def snapshot(self) -> bytes:
        """VT bytes that turn a fresh terminal of the same size (xterm.js) into what a participant watching since the
        start sees, scrollback included; they start with a full reset (RIS), so they also resynchronise a terminal
        that already has content. The live output that follows the snapshot continues it exactly."""
        vt = self._ready()
        head = [b"\x1bc", _colour_overrides(vt), _title(vt)]
        scratch = _scratch(vt)  # one copy (it includes the scrollback, the costly part); changed step by step
        try:
            if vt.alternate:
                entered_with = next((m for m in _ALT_SCREEN_MODES if vt.mode(m)), 47)
                alternate = [_content(vt, 0), *_state(scratch, vt)]
                scratch.write(b"\x1b[?%dl" % entered_with)  # leave as the program will; 1049 restores the cursor
                primary = _content(scratch, self._scrollback_lines)
                cursor = _cursor_state(scratch)
                scratch.write(b"\x1b8")
                saved = _cursor_state(scratch)  # the primary screen's own DECSC (1049 entered it with this cursor)
                body = [
                    primary,
                    saved,
                    _SAVE_CURSOR,
                    _CHARSETS_DEFAULT,
                    cursor,
                    b"\x1b[?%dh" % entered_with,
                    *alternate,
                ]
            else:
                body = [_content(vt, self._scrollback_lines), *_state(scratch, vt)]
        finally:
            scratch.close()
        return b"".join([*head, *body, vt.continuation()])

    # --- internals -------------------------------------------------------------------------------
    def _ready(self) -> _Vt:
        if self._vt is None:
            raise InternalError("the terminal screen is closed")
        if self._pending:
            self._apply_pending()
        return self._vt

    def _apply_pending(self) -> None:
        """Hand the pending output to the emulator, leaving out the lines of a flood that no snapshot can show.

        A flood (a log, ``base64``) is mostly lines nobody will see again: only the screen and the scrollback a
        snapshot carries are ever read. Plain text (ASCII without the bytes of ``_STATEFUL_ASCII``) changes cells
        only where the cursor goes, and moves it right, down or back to column 0. From a CR, the same bytes move the
        cursor through the same columns whatever came before. After ``rows - 1`` line feeds it is on the bottom row;
        from then on every line feed scrolls in a blank row, which the same bytes fill the same way. So when enough
        line feeds of plain text follow a CR for their rows to fill the largest screen and the scrollback (no later
        resize can then bring up an older row), the plain text before that CR changes no row a snapshot shows, and
        is left out. That needs line feeds that scroll the whole screen and a parser between sequences where the
        left-out text starts (``_lines_scroll_the_whole_screen``). The tests compare snapshots fed both ways.
        """
        vt = self._vt
        assert vt is not None
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        if len(data) >= PASS_OVER_MIN_BYTES:
            need = self._scrollback_lines + vt.size[1] + MAX_ROWS + 1
            start, cut = max(((s, _cut_before_lines(data, s, e, need)) for s, e in _plain_runs(data)), key=_length)
            if cut > start:
                if start:
                    vt.write(data[:start])
                data = data[cut:] if _lines_scroll_the_whole_screen(vt) else data[start:]
        vt.write(data)

    def _set_scrollback_budget(self, cols: int) -> None:
        assert self._vt is not None
        # Ghostty's pages hold about 8 bytes per cell plus row overhead; it prunes whole pages.
        budget = max(512 * 1024, self._scrollback_lines * (cols * 8 + 64) * 2)
        self._vt.set_size_t(_lib.GHOSTTY_TERMINAL_OPT_SCROLLBACK_MAX_BYTES, budget)


def _check_size(cols: int, rows: int) -> None:
    if not (1 <= cols <= MAX_COLS and 1 <= rows <= MAX_ROWS):
        raise BadRequest(f"terminal size {cols}x{rows} is outside 1x1..{MAX_COLS}x{MAX_ROWS}")


def _plain_rows(data: bytes, rows: int) -> str:
    lines = [line.rstrip(" ") for line in data.decode("utf-8", "replace").split("\n")] if data else []
    lines += [""] * (rows - len(lines))
    return "\n".join(lines)


def _colour_overrides(vt: _Vt) -> bytes:
    """OSC 4 for each palette entry a program changed, OSC 10/11/12 for changed default colours."""
    out: list[bytes] = []
    current = vt.palette(_lib.GHOSTTY_TERMINAL_DATA_COLOR_PALETTE)
    default = vt.palette(_lib.GHOSTTY_TERMINAL_DATA_COLOR_PALETTE_DEFAULT)
    if current != default:
        for i in range(256):
            entry = current[3 * i : 3 * i + 3]
            if entry != default[3 * i : 3 * i + 3]:
                out.append(b"\x1b]4;%d;rgb:%02x/%02x/%02x\x1b\\" % (i, *entry))
    for osc, key, default_key in (
        (10, _lib.GHOSTTY_TERMINAL_DATA_COLOR_FOREGROUND, _lib.GHOSTTY_TERMINAL_DATA_COLOR_FOREGROUND_DEFAULT),
        (11, _lib.GHOSTTY_TERMINAL_DATA_COLOR_BACKGROUND, _lib.GHOSTTY_TERMINAL_DATA_COLOR_BACKGROUND_DEFAULT),
        (12, _lib.GHOSTTY_TERMINAL_DATA_COLOR_CURSOR, _lib.GHOSTTY_TERMINAL_DATA_COLOR_CURSOR_DEFAULT),
    ):
        rgb = vt.rgb(key)
        if rgb is not None and rgb != vt.rgb(default_key):
            out.append(b"\x1b]%d;rgb:%02x/%02x/%02x\x1b\\" % (osc, *rgb))
    return b"".join(out)


def _title(vt: _Vt) -> bytes:
    """OSC 2 with the window title a program set, without control characters."""
    raw = vt.title()
    if not raw:
        return b""
    title = "".join(ch for ch in raw.decode("utf-8", "replace") if unicodedata.category(ch) != "Cc")
    return b"\x1b]2;" + title[:1024].encode() + b"\x1b\\"


def _content(vt: _Vt, history_limit: int) -> bytes:
    """The scrollback (at most ``history_limit`` rows) then the active screen, leaving the cursor anywhere."""
    rows = vt.size[1]
    grid = vt.raw_rows()
    first_row_has_text = any(_classify(c)[0] == _TEXT for c in grid[0][1])
    history, joined_to_previous = _history(vt, history_limit, first_row_has_text, grid[0][1][0])
    parts = [history]
    pad_after_first_row = joined_to_previous
    for y, (wrapped, cells) in enumerate(grid):
        if not joined_to_previous:
            parts.append(_cup(0, y))
        parts += [_SGR_RESET, vt.format(vt.row_selection(y))]
        if pad_after_first_row:
            parts.append(b"\r\n" * (rows - 1))  # the first row is on the joiner's screen: make it the top row
            pad_after_first_row = False
        joined_to_previous = wrapped and y + 1 < rows
        if joined_to_previous:
            next_first = grid[y + 1][1][0]
            parts.append(_cup(0, y) + _fill_last_column(vt, _lib.GHOSTTY_POINT_TAG_ACTIVE, y, cells[-2:], next_first))
    parts.append(_SGR_RESET)
    parts += _repaint_empty_cells(grid)
    parts.append(_SGR_RESET)
    return b"".join(parts)


def _history(vt: _Vt, limit: int, first_row_has_text: bool, first_cell: int) -> tuple[bytes, bool]:
    """The last ``limit`` rows of scrollback, then line feeds that push them off the joiner's screen. When the
    screen's first row continues the last scrollback row (a soft wrap), that row is instead left at the margin and
    True returned: the caller writes the first row (the joiner wraps into it) and then the line feeds."""
    cols, rows = vt.size
    total = vt.history_rows if limit else 0
    n = min(total, limit)
    if not n:
        return b"", False
    tag = _lib.GHOSTTY_POINT_TAG_HISTORY
    last = [vt.raw_cell(tag, x, total - 1) for x in range(max(0, cols - 2), cols)]
    # Ending on the placeholder of a wide character that did not fit, the formatter (unwrapping) would also write
    # the next row's first character.
    end = cols - 2 if (last[-1] >> 42) & 3 == _WIDE_SPACER_HEAD and cols > 1 else cols - 1
    sel = vt.selection(tag, 0, total - n, end, total - 1)
    parts = [_SGR_RESET, vt.format(sel, unwrap=True), _SGR_RESET]
    # The rows the joiner has advanced: one per row boundary up to the last non-blank row.
    advanced = vt.format(sel, plain=True).count(b"\n")
    if first_row_has_text and advanced == n - 1 and vt.row_wrapped(tag, total - 1):
        parts.append(b"\r" + _fill_last_column(vt, tag, total - 1, last, first_cell))
        return b"".join(parts), True
    parts.append(b"\r\n" * (n - 1 - advanced + rows))
    return b"".join(parts), False


def _fill_last_column(vt: _Vt, tag: int, y: int, last_two: list[int], next_first: int) -> bytes:
    """From the start of row ``y`` (whose last two cells are ``last_two``, raw), write its last cell again, so the
    joiner's cursor waits at the margin and the next row's first character (``next_first``, raw) wraps there,
    marking the row soft-wrapped like the original."""
    cols = vt.size[0]
    x = cols - 1
    last = last_two[-1]
    wide = (last >> 42) & 3
    if wide == _WIDE_SPACER_HEAD and (next_first >> 42) & 3 == _WIDE:
        # A wide character that did not fit: from the last column it wraps by itself, leaving that cell empty.
        return b"\x1b[%dC" % x if x else b""
    if wide == _WIDE_SPACER_TAIL and len(last_two) == 2:
        x -= 1
        last = last_two[0]
    glyph = _glyph(vt, tag, x, y) if _classify(last)[0] == _TEXT else b" "
    move = b"\x1b[%dC" % x if x else b""
    return move + _SGR_RESET + glyph


def _glyph(vt: _Vt, tag: int, x: int, y: int) -> bytes:
    """The cell at (x, y) as VT (its style, then its character), or a space when it has nothing to print."""
    glyph = vt.format(vt.selection(tag, x, y, x, y))
    return glyph if _SGR.sub(b"", glyph) else b" "


def _repaint_empty_cells(grid: list[tuple[bool, list[int]]]) -> list[bytes]:
    """ECH over every run of empty cells in the run's background, except a row's trailing default-coloured run
    (already blank after the reset) when the row is not soft-wrapped."""
    out: list[bytes] = []
    for y, (wrapped, cells) in enumerate(grid):
        kinds = [_classify(c) for c in cells]
        last_text = max((x for x, (kind, _) in enumerate(kinds) if kind == _TEXT), default=-1)
        x, width = 0, len(kinds)
        while x < width:
            kind, bg = kinds[x]
            if kind == _TEXT:
                x += 1
                continue
            start = x
            while x < width and kinds[x][0] != _TEXT and kinds[x][1] == bg:
                x += 1
            if bg is None and start > last_text and not wrapped:
                continue
            out.append(_cup(start, y) + _bg_sgr(bg) + b"\x1b[%dX" % (x - start))
    return out


def _scratch(vt: _Vt) -> _Vt:
    """A copy of ``vt`` to write into. The copy's parser keeps an unfinished UTF-8 character, which the next byte
    would print as U+FFFD; so that is done now (CAN) and the cursor put back. Other unfinished sequences are simply
    cut short by the ESC that starts what is written next."""
    copy = vt.clone()
    if vt.continuation()[:1] >= b"\x80":
        x, y = vt.cursor
        origin = vt.mode(_ORIGIN_MODE)
        copy.write(b"\x18")
        copy.set_mode(_ORIGIN_MODE, False)
        copy.write(_cup(x, y))
        copy.set_mode(_ORIGIN_MODE, origin)
    return copy


def _plain_runs(data: bytes) -> list[tuple[int, int]]:
    """Runs of plain text (ASCII without the bytes of ``_STATEFUL_ASCII``) in ``data``, as (start, end): the one
    that starts it, and the last ones up to ``_RUNS_LOOKED_AT`` (a flood between two prompts is one of them)."""
    ascii_only = data.isascii()
    first = min((found for byte in _STATEFUL_ASCII if (found := data.find(byte)) >= 0), default=len(data))
    if not ascii_only and (non_ascii := _NON_ASCII.search(data, 0, first)) is not None:
        first = non_ascii.start()
    runs = [(0, first)]
    end = len(data)
    # The last place of each stateful byte before ``end``: only the one found last needs looking up again.
    lasts = {byte: data.rfind(byte) for byte in _STATEFUL_ASCII}
    for _ in range(_RUNS_LOOKED_AT):
        byte, last = max(lasts.items(), key=_place)
        if last < first:
            break
        lasts[byte] = data.rfind(byte, 0, last)
        # From the line after the stateful byte: a sequence it starts has ended there, in all but odd cases (which
        # the parser's state, checked before anything is left out, catches).
        start = data.find(b"\n", last + 1, end) + 1
        if start and (ascii_only or data[start:end].isascii()):
            runs.append((start, end))
        end = last
    return runs


def _cut_before_lines(data: bytes, start: int, end: int, lines: int) -> int:
    """The latest CR in ``data[start:end]`` that at least ``lines`` LFs follow before ``end``, or ``start``."""
    span = lines * 128
    while True:
        begin = max(start, end - span)
        cut = data.find(b"\r", begin, end)
        if cut >= 0 and data.count(b"\n", cut, end) >= lines:
            return cut
        if begin == start:
            return start
        span *= 4


def _length(run: tuple[int, int]) -> int:
    return run[1] - run[0]


def _place(found: tuple[bytes, int]) -> int:
    return found[1]


def _lines_scroll_the_whole_screen(vt: _Vt) -> bool:
    """Whether a line feed at the bottom scrolls every row (no scrolling region, no left and right margins) and the
    parser is between sequences and characters: where the passing over of plain lines is exact."""
    return vt.in_ground_state and not _MARGINS_SET.search(vt.format(_top_left(vt), state="margins"))


def _top_left(vt: _Vt) -> Any:
    """A selection of the active screen's top-left cell (for the formatter's state alone)."""
    return vt.selection(_lib.GHOSTTY_POINT_TAG_ACTIVE, 0, 0, 0, 0)


def _state_only(vt: _Vt, what: str) -> bytes:
    """The formatter's state output alone: the screen is erased first (erased cells keep at most a background,
    which the formatter does not write) and only the top-left cell is selected."""
    vt.write(b"\x1b[2J")
    return vt.format(_top_left(vt), state=what)


def _cursor_state(scratch: _Vt) -> bytes:
    """The cursor's position, style and charsets (no modes): what DECSC saves. Erases ``scratch``."""
    scratch.set_mode(_ORIGIN_MODE, False)
    return _state_only(scratch, "cursor")


def _state(scratch: _Vt, vt: _Vt) -> list[bytes]:
    """What follows the content of ``vt``'s active screen: the cursor saved by DECSC (saved again in the joiner,
    then the charsets reset, as the state sets only those that are not the defaults), then the modes, tabstops,
    scrolling region, keyboard modes and the cursor. ``scratch`` is a copy of ``vt``; its screen is erased and its
    cursor ends where DECSC saved it."""
    alternate_flags = [(mode, scratch.mode(mode)) for mode in _ALT_SCREEN_MODES]
    for mode in (_ORIGIN_MODE, *_ALT_SCREEN_MODES):  # origin is applied last; the joiner's screen is switched already
        scratch.set_mode(mode, False)
    scratch.set_mode(_INSERT_MODE, False, ansi=True)
    state = _state_only(scratch, "all")
    scratch.write(b"\x1b8")
    saved = _cursor_state(scratch)
    for mode, value in alternate_flags:  # so that the caller can leave the alternate screen as the program will
        scratch.set_mode(mode, value)

    x, y = vt.cursor
    insert = vt.mode(_INSERT_MODE, ansi=True)
    if vt.mode(_ORIGIN_MODE):
        top = _MARGINS_TOP_BOTTOM.search(state)
        left = _MARGINS_LEFT_RIGHT.search(state)
        dy = int(top.group(1)) - 1 if top else 0
        dx = int(left.group(1)) - 1 if left else 0
        state += b"\x1b[?6h" + _cup(x - dx, y - dy)
    elif vt.pending_wrap and not insert and not _CHARSET_SEQUENCE.search(state):
        state = _with_pending_wrap(vt, state, x, y)
    if insert:
        state += b"\x1b[4h"
    return [saved, _SAVE_CURSOR, _CHARSETS_DEFAULT, state]


def _with_pending_wrap(vt: _Vt, state: bytes, x: int, y: int) -> bytes:
    """Replace the state's final cursor move by writing the cell under the cursor again: the joiner's cursor then
    waits at the margin as the original's does, and the next character wraps (the style follows the move)."""
    move = _cup(x, y)
    at = state.rfind(move)
    if at < 0:
        return state
    start = x
    cell = vt.cell(x, y)
    if cell.width == 0 and x > 0:
        start = x - 1
    glyph = _glyph(vt, _lib.GHOSTTY_POINT_TAG_ACTIVE, start, y)
    return state[:at] + _cup(start, y) + _SGR_RESET + glyph + state[at + len(move) :]
