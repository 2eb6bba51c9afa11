"""RFB message codecs: the bytes we send and the fixed parts we read, and the caps on what a server announces."""

from __future__ import annotations

import struct

import pytest

from jumpoint.core.desktop import Quality
from protocols.vnc import messages as m
from protocols.vnc.quality import LEVELS, settings_for


def test_the_protocol_version_is_parsed_and_written_as_twelve_ascii_bytes() -> None:
    assert m.parse_version(b"RFB 003.008\n") == (3, 8)
    assert m.parse_version(b"RFB 003.889\n") == (3, 889)
    assert m.encode_version(3, 8) == b"RFB 003.008\n"
    with pytest.raises(ValueError, match="not an RFB protocol version"):
        m.parse_version(b"SSH-2.0-Open")


def test_our_pixel_format_puts_red_green_blue_in_the_first_three_bytes() -> None:
    packed = m.RGBX.pack()
    assert len(packed) == 16
    assert packed == bytes([32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 0, 8, 16, 0, 0, 0])
    assert m.PixelFormat.unpack(packed) == m.RGBX
    assert m.set_pixel_format(m.RGBX) == b"\x00\x00\x00\x00" + packed


def test_set_encodings_lists_signed_encodings_in_order() -> None:
    assert m.set_encodings([7, 1, -308]) == struct.pack(">BxHiii", 2, 3, 7, 1, -308)


def test_update_requests_key_and_pointer_events_have_their_fixed_layouts() -> None:
    assert m.framebuffer_update_request(True, 0, 0, 1280, 800) == struct.pack(">BBHHHH", 3, 1, 0, 0, 1280, 800)
    assert m.key_event(0xFF0D, True) == bytes([4, 1, 0, 0, 0, 0, 0xFF, 0x0D])
    assert m.pointer_event(10, 20, 0b101) == bytes([5, 5, 0, 10, 0, 20])
    assert m.pointer_event(-5, 70000, 1) == bytes([5, 1, 0, 0, 0xFF, 0xFF])


def test_client_cut_text_is_latin1_with_lf_line_ends_and_other_characters_replaced() -> None:
    message = m.client_cut_text("caf\u00e9\r\nsnow \u2603")
    assert message[:4] == bytes([6, 0, 0, 0])
    (length,) = struct.unpack(">I", message[4:8])
    assert message[8:] == b"caf\xe9\nsnow ?"
    assert length == len(message) - 8


def test_client_cut_text_over_the_clipboard_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="more than"):
        m.client_cut_text("x" * (m.MAX_CLIPBOARD_BYTES + 1))


def test_set_desktop_size_carries_the_screen_layout() -> None:
    screen = m.Screen(7, 0, 0, 1024, 768, 0)
    message = m.set_desktop_size(1024, 768, [screen])
    assert message[:8] == struct.pack(">BxHHBx", 251, 1024, 768, 1)
    assert m.Screen.unpack_all(message[8:]) == [screen]
    with pytest.raises(ValueError, match="1 to 255 screens"):
        m.set_desktop_size(1024, 768, [])


def test_server_init_and_rectangle_headers_are_decoded() -> None:
    data = struct.pack(">HH", 1280, 800) + m.RGBX.pack() + struct.pack(">I", 7)
    init = m.ServerInit.unpack(data)
    assert (init.width, init.height, init.pixel_format, init.name_length) == (1280, 800, m.RGBX, 7)
    header = m.RectHeader(1, 2, 3, 4, -239)
    assert m.RectHeader.unpack(header.pack()) == header


def test_quality_levels_map_to_jpeg_only_for_more_colors_and_video() -> None:
    assert set(LEVELS) == {"black_and_white", "few_colors", "more_colors", "full_color", "video"}
    lossless = settings_for(Quality("full_color")).encodings()
    assert lossless[0] == m.ENC_TIGHT
    assert not any(-32 <= e <= -23 for e in lossless)
    video = settings_for(Quality("video")).encodings("zrle")
    assert video[0] == m.ENC_ZRLE
    assert m.ENC_JPEG_QUALITY_0 + 1 in video
    assert m.ENC_FINE_QUALITY_0 + 12 in video
    assert m.SUBSAMPLING["4x"] in video
    assert m.ENC_COMPRESS_LEVEL_0 + 9 in settings_for(Quality("black_and_white")).encodings()


def test_fills_and_palettes_are_handed_on_as_png_except_where_the_encoder_reduces_colours() -> None:
    assert {level for level, settings in LEVELS.items() if not settings.png} == {"black_and_white", "few_colors"}
