"""protocols.rdp.keyboard: key events (X keysyms, with the browser's scancode when it knew one) to RDP strokes."""

from __future__ import annotations

import pytest

from protocols.rdp.keyboard import SHIFT, KeyMapper, KeyStroke, keysym_char

SHIFT_L, SHIFT_R = 0xFFE1, 0xFFE2


def press(mapper: KeyMapper, keysym: int, scancode: int | None = None) -> list[KeyStroke]:
    return mapper.strokes(keysym, True, scancode)


def release(mapper: KeyMapper, keysym: int, scancode: int | None = None) -> list[KeyStroke]:
    return mapper.strokes(keysym, False, scancode)


def test_the_browser_s_scancode_wins_over_the_keysym() -> None:
    mapper = KeyMapper()

    # An AZERTY "a" is on the US "q" key: the physical key is sent and the server's layout decides.
    assert press(mapper, ord("a"), 0x10) == [KeyStroke(True, scancode=0x10)]
    assert release(mapper, ord("a"), 0x10) == [KeyStroke(False, scancode=0x10)]
    assert press(mapper, 0x20AC, 0x12) == [KeyStroke(True, scancode=0x12)]  # € on a German E key, no Unicode


def test_a_shifted_character_with_a_browser_scancode_gets_no_synthesised_shift() -> None:
    assert press(KeyMapper(), ord("A"), 0x1E) == [KeyStroke(True, scancode=0x1E)]


@pytest.mark.parametrize(
    ("keysym", "scancode"),
    [
        (0xFF1B, 0x01),  # Escape
        (0xFF0D, 0x1C),  # Return
        (0xFF8D, 0xE01C),  # KP_Enter
        (0xFF52, 0xE048),  # Up
        (0xFFFF, 0xE053),  # Delete
        (0xFFBE, 0x3B),  # F1
        (0xFFC7, 0x44),  # F10
        (0xFFC8, 0x57),  # F11
        (0xFFC9, 0x58),  # F12
        (0xFFE3, 0x1D),  # Control_L
        (0xFFEA, 0xE038),  # Alt_R
        (0xFFEB, 0xE05B),  # Super_L
        (0x0020, 0x39),  # space
    ],
)
def test_function_keys_without_a_browser_scancode_map_by_keysym(keysym: int, scancode: int) -> None:
    mapper = KeyMapper()

    assert press(mapper, keysym) == [KeyStroke(True, scancode=scancode)]
    assert release(mapper, keysym) == [KeyStroke(False, scancode=scancode)]


@pytest.mark.parametrize(
    ("char", "scancode"),
    [
        ("a", 0x1E),
        ("q", 0x10),
        ("z", 0x2C),
        ("1", 0x02),
        ("0", 0x0B),
        ("=", 0x0D),
        ("'", 0x28),
        ("/", 0x35),
        ("`", 0x29),
    ],
)
def test_unshifted_ascii_maps_to_its_us_key_alone(char: str, scancode: int) -> None:
    mapper = KeyMapper()

    assert press(mapper, ord(char)) == [KeyStroke(True, scancode=scancode)]
    assert release(mapper, ord(char)) == [KeyStroke(False, scancode=scancode)]


@pytest.mark.parametrize(
    ("char", "scancode"),
    [
        ("A", 0x1E),
        ("Z", 0x2C),
        ("!", 0x02),
        (")", 0x0B),
        ("+", 0x0D),
        ('"', 0x28),
        ("?", 0x35),
        ("~", 0x29),
        ("|", 0x2B),
    ],
)
def test_shifted_ascii_is_wrapped_in_a_synthesised_shift_when_shift_is_not_held(char: str, scancode: int) -> None:
    mapper = KeyMapper()

    assert press(mapper, ord(char)) == [
        KeyStroke(True, scancode=SHIFT),
        KeyStroke(True, scancode=scancode),
        KeyStroke(False, scancode=SHIFT),
    ]
    assert release(mapper, ord(char)) == [KeyStroke(False, scancode=scancode)]


@pytest.mark.parametrize("shift", [SHIFT_L, SHIFT_R])
def test_shifted_ascii_gets_no_extra_shift_while_a_shift_key_is_held(shift: int) -> None:
    mapper = KeyMapper()
    shift_scancode = 0x2A if shift == SHIFT_L else 0x36

    assert press(mapper, shift) == [KeyStroke(True, scancode=shift_scancode)]
    assert press(mapper, ord("A")) == [KeyStroke(True, scancode=0x1E)]
    assert release(mapper, ord("A")) == [KeyStroke(False, scancode=0x1E)]
    assert release(mapper, shift) == [KeyStroke(False, scancode=shift_scancode)]
    assert press(mapper, ord("A"))[0] == KeyStroke(True, scancode=SHIFT)  # released: synthesised again


def test_a_shift_held_by_its_browser_scancode_counts_as_held() -> None:
    mapper = KeyMapper()
    press(mapper, SHIFT_L, 0x2A)

    assert press(mapper, ord("?")) == [KeyStroke(True, scancode=0x35)]


def test_one_of_two_held_shift_keys_released_still_counts_as_held() -> None:
    mapper = KeyMapper()
    press(mapper, SHIFT_L)
    press(mapper, SHIFT_R)
    release(mapper, SHIFT_L)

    assert press(mapper, ord("A")) == [KeyStroke(True, scancode=0x1E)]


@pytest.mark.parametrize(
    ("keysym", "code_point"), [(0xE9, 0xE9), (0x010020AC, 0x20AC), (0x0101F600, 0x1F600), (0xDF, 0xDF)]
)
def test_non_ascii_characters_become_unicode_events_pressed_and_released(keysym: int, code_point: int) -> None:
    mapper = KeyMapper()

    assert press(mapper, keysym) == [KeyStroke(True, unicode=code_point)]
    assert release(mapper, keysym) == [KeyStroke(False, unicode=code_point)]


def test_a_keysym_that_is_neither_a_known_key_nor_a_character_sends_nothing() -> None:
    mapper = KeyMapper()

    assert press(mapper, 0xFF20) == []  # Multi_key
    assert release(mapper, 0xFF20) == []


@pytest.mark.parametrize(
    ("keysym", "expected"),
    [(0x41, 0x41), (0x7E, 0x7E), (0xA0, 0xA0), (0xFF, 0xFF), (0x01000100, 0x100), (0x1F, None), (0xFF0D, None)],
)
def test_keysym_char_gives_the_code_point_of_character_keysyms_only(keysym: int, expected: int | None) -> None:
    assert keysym_char(keysym) == expected


def test_every_press_is_mirrored_by_its_release_for_each_key_kind() -> None:
    cases = [(ord("k"), None), (ord("K"), None), (0xFF51, None), (0x0100263A, None), (ord("x"), 0x2D)]

    for keysym, scancode in cases:
        mapper = KeyMapper()
        pressed = [s for s in press(mapper, keysym, scancode) if s.scancode != SHIFT]
        released = release(mapper, keysym, scancode)
        assert [(s.scancode, s.unicode) for s in pressed] == [(s.scancode, s.unicode) for s in released]
        assert all(s.down for s in pressed) and not any(s.down for s in released)
