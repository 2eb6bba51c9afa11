"""Keys for RDP: the PC scancode of the physical key when the browser knows it (layout-independent), else the
scancode of a non-character key by keysym, else the character as a Unicode keyboard event.

Scancodes are set 1; an extended key (the E0 prefix) is ``0xE000 | code`` as on the desktop wire.
"""

from __future__ import annotations

from dataclasses import dataclass

EXTENDED = 0xE000

_BY_KEYSYM: dict[int, int] = {
    0xFF1B: 0x01,  # Escape
    0xFF08: 0x0E,  # BackSpace
    0xFF09: 0x0F,  # Tab
    0xFE20: 0x0F,  # ISO_Left_Tab (Shift+Tab)
    0xFF0D: 0x1C,  # Return
    0xFF8D: 0xE01C,  # KP_Enter
    0xFFE3: 0x1D,  # Control_L
    0xFFE4: 0xE01D,  # Control_R
    0xFFE1: 0x2A,  # Shift_L
    0xFFE2: 0x36,  # Shift_R
    0xFFE9: 0x38,  # Alt_L
    0xFFEA: 0xE038,  # Alt_R
    0xFE03: 0xE038,  # ISO_Level3_Shift (AltGr)
    0xFFE7: 0xE05B,  # Meta_L
    0xFFEB: 0xE05B,  # Super_L
    0xFFEC: 0xE05C,  # Super_R
    0xFF67: 0xE05D,  # Menu
    0xFFE5: 0x3A,  # Caps_Lock
    0xFF7F: 0x45,  # Num_Lock
    0xFF14: 0x46,  # Scroll_Lock
    0xFF50: 0xE047,  # Home
    0xFF51: 0xE04B,  # Left
    0xFF52: 0xE048,  # Up
    0xFF53: 0xE04D,  # Right
    0xFF54: 0xE050,  # Down
    0xFF55: 0xE049,  # Page_Up
    0xFF56: 0xE051,  # Page_Down
    0xFF57: 0xE04F,  # End
    0xFF63: 0xE052,  # Insert
    0xFFFF: 0xE053,  # Delete
    0xFF61: 0xE037,  # Print
    0x0020: 0x39,  # space
    **{0xFFBE + i: 0x3B + i for i in range(10)},  # F1..F10
    0xFFC8: 0x57,  # F11
    0xFFC9: 0x58,  # F12
}

# The US layout (Guacamole's default keymap), for characters the browser gave no scancode for.
_US_ROWS = {
    "1234567890-=": 0x02,
    "qwertyuiop[]": 0x10,
    "asdfghjkl;'`": 0x1E,
    "\\zxcvbnm,./": 0x2B,
}
_US_SHIFTED = dict(zip('!@#$%^&*()_+{}:"~|<>?', "1234567890-=[];'`\\,./", strict=True))
_US: dict[str, int] = {}
for _row, _first in _US_ROWS.items():
    for _offset, _char in enumerate(_row):
        _US[_char] = _first + _offset


SHIFT = 0x2A
_SHIFTS = {0xFFE1, 0xFFE2}


@dataclass(frozen=True, slots=True)
class KeyStroke:
    """One keyboard event to send: a ``scancode`` (with the E0 flag in the high byte) or a ``unicode`` character."""

    down: bool
    scancode: int | None = None
    unicode: int | None = None


def keysym_char(keysym: int) -> int | None:
    """The Unicode code point a character keysym stands for; None for function keys."""
    if 0x20 <= keysym <= 0x7E or 0xA0 <= keysym <= 0xFF:
        return keysym
    if keysym & 0xFF000000 == 0x01000000:
        return keysym & 0x00FFFFFF
    return None


class KeyMapper:
    """Turns key events into keyboard strokes, remembering whether Shift is held.

    The physical key's scancode (from the browser) always wins: the server's layout then decides the character,
    as on a local keyboard. Without one, keys are mapped like Guacamole's default ``en-us-qwerty`` keymap: function
    keys by keysym, ASCII characters to their US-layout key (with Shift pressed around it when the character needs
    Shift and it is not held), and anything else as a Unicode keyboard event.
    """

    def __init__(self) -> None:
        self._shift_held: set[int] = set()

    def strokes(self, keysym: int, down: bool, scancode: int | None) -> list[KeyStroke]:
        """The strokes for one key event (empty when the key cannot be sent)."""
        if keysym in _SHIFTS:
            (self._shift_held.add if down else self._shift_held.discard)(keysym)
        if scancode:
            return [KeyStroke(down, scancode=scancode)]
        known = _BY_KEYSYM.get(keysym)
        if known is not None:
            return [KeyStroke(down, scancode=known)]
        char = keysym_char(keysym)
        if char is None:
            return []
        text = chr(char)
        base = _US_SHIFTED.get(text, text.lower() if text.isascii() else text)
        code = _US.get(base)
        if code is None:
            return [KeyStroke(down, unicode=char)]
        needs_shift = base != text
        if not needs_shift or self._shift_held or not down:
            return [KeyStroke(down, scancode=code)]
        return [KeyStroke(True, scancode=SHIFT), KeyStroke(True, scancode=code), KeyStroke(False, scancode=SHIFT)]
