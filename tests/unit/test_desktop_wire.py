"""The desktop stream codec: self-delimiting messages, parsed across any split, with every length capped."""

from __future__ import annotations

import pytest

from jumpoint.core import desktop_wire as dw
from jumpoint.core.desktop import (
    Clipboard,
    CopyRect,
    DesktopSize,
    FrameEnd,
    Image,
    Key,
    Pointer,
    Quality,
    Refresh,
    Wheel,
)
from jumpoint.core.errors import ProtocolViolation


def test_output_messages_survive_any_split_of_the_stream() -> None:
    stream = b"".join(
        [
            dw.encode_keyframe_marker(),
            dw.encode_output(DesktopSize(1280, 800)),
            dw.encode_output(Image(0, 0, 64, 64, "png", b"\x89PNG" + b"x" * 3000)),
            dw.encode_output(CopyRect(0, 0, 10, 10, 20, 20)),
            dw.encode_cursor(1, 2, 16, 16, b"\x89PNGcursor"),
            dw.encode_output(Clipboard("héllo")),
            dw.encode_output(FrameEnd()),
        ]
    )
    for chunk in (1, 7, 64, len(stream)):
        parser = dw.StreamParser(dw.OUTPUT_TYPES)
        messages = [m for i in range(0, len(stream), chunk) for m in parser.feed(stream[i : i + chunk])]
        kinds = [m.kind for m in messages]
        assert kinds == [dw.KEYFRAME, dw.SIZE, dw.IMAGE, dw.COPY, dw.CURSOR, dw.CLIPBOARD, dw.FRAME_END]
        assert dw.decode_size(messages[1].body) == (1280, 800)
        assert messages[5].body.decode() == "héllo"
        assert messages[2].offset == 5 + 9 and parser.position == len(stream)


@pytest.mark.parametrize(
    "event",
    [
        Pointer(10, 20, 5),
        Wheel(1, 2, -3, 4),
        Key(0xFFE3, True, 29),
        Key(0x61, False),
        Clipboard("x" * 10),
        Refresh(),
        DesktopSize(1024, 768),
        Quality("video"),
    ],
)
def test_input_events_round_trip(event: object) -> None:
    [message] = list(dw.StreamParser(dw.INPUT_TYPES).feed(dw.encode_input(event)))  # type: ignore[arg-type]
    assert dw.decode_input(message.kind, message.body) == event


def test_an_oversized_message_is_refused_from_its_header_alone() -> None:
    header = dw.HEADER.pack(dw.IMAGE, 10 * 1024 * 1024)
    with pytest.raises(ProtocolViolation, match="over its"):
        list(dw.StreamParser(dw.OUTPUT_TYPES).feed(header))


def test_a_direction_refuses_the_other_directions_messages() -> None:
    with pytest.raises(ProtocolViolation, match="unexpected desktop message type 0x5"):
        list(dw.StreamParser(dw.INPUT_TYPES).feed(dw.encode_output(FrameEnd())))


def test_an_image_must_be_encoded_and_tiled() -> None:
    with pytest.raises(ValueError, match="encoded"):
        dw.encode_output(Image(0, 0, 1, 1, "rgba", b"\0\0\0\0"))
    with pytest.raises(ValueError, match="tile it"):
        dw.encode_output(Image(0, 0, 1, 1, "jpeg", b"x" * (dw.MAX_IMAGE + 1)))


def test_long_clipboard_text_is_cut_at_a_character_boundary() -> None:
    data = dw.cut_utf8("é" * 40_000)
    assert len(data) <= dw.MAX_CLIPBOARD and data.decode() == "é" * (dw.MAX_CLIPBOARD // 2)


def test_malformed_input_is_a_protocol_violation() -> None:
    with pytest.raises(ProtocolViolation, match="malformed"):
        dw.decode_input(dw.IN_POINTER, b"\x00")
    with pytest.raises(ProtocolViolation, match="malformed"):
        dw.decode_input(dw.IN_QUALITY, b"\x09")


def test_the_header_scanner_finds_every_header_across_splits_without_the_bodies() -> None:
    stream = (
        dw.encode_keyframe_marker()
        + dw.encode_output(Image(0, 0, 8, 8, "jpeg", b"j" * 500))
        + dw.encode_output(FrameEnd())
    )
    for chunk in (1, 3, 5, 100, len(stream)):
        scanner = dw.HeaderScanner(dw.OUTPUT_TYPES)
        found = [h for i in range(0, len(stream), chunk) for h in scanner.feed(stream[i : i + chunk])]
        assert found == [(0, dw.KEYFRAME, 0), (5, dw.IMAGE, 9 + 500), (5 + 5 + 509, dw.FRAME_END, 0)]
        assert scanner.at_boundary


def test_an_input_frame_must_hold_whole_valid_messages() -> None:
    dw.check_input_frame(dw.encode_input(Pointer(1, 2, 1)) + dw.encode_input(Key(0x61, True)))
    with pytest.raises(ProtocolViolation, match="whole messages"):
        dw.check_input_frame(dw.encode_input(Pointer(1, 2, 1))[:-1])
    with pytest.raises(ProtocolViolation, match="unexpected"):
        dw.check_input_frame(dw.encode_output(FrameEnd()))
