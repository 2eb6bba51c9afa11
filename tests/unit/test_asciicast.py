"""asciicast v2: what the writer encodes is what a player (and read_cast) reads back, torn tails included."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from console_web.recording.asciicast import CastEvent, CastWriter, json_utf8, playable_cast, read_cast
from jumpoint.core.errors import InternalError, NotFound


def write(path: Path, writer: CastWriter, tail: bytes = b"") -> Path:
    path.write_bytes(b"".join(writer.take()) + tail)
    return path


def test_the_header_and_the_events_round_trip(tmp_path: Path) -> None:
    cast = CastWriter(width=120, height=40, timestamp=1_790_000_000.7, title="web-01", env={"TERM": "xterm-256color"})
    cast.output(b"$ ", 0.5)
    cast.input(b"ls\r", 1.25)
    cast.output(b"ls\r\n\x1b[34mdir\x1b[0m\r\n", 1.3)
    cast.resize(100, 30, 2.0)
    cast.marker("ended: the target closed the connection", 3.0)
    header, events = read_cast(write(tmp_path / "s.cast", cast))
    assert header == {
        "version": 2,
        "width": 120,
        "height": 40,
        "timestamp": 1_790_000_000,
        "title": "web-01",
        "env": {"TERM": "xterm-256color"},
    }
    assert events == [
        CastEvent(0.5, "o", "$ "),
        CastEvent(1.25, "i", "ls\r"),
        CastEvent(1.3, "o", "ls\r\n\x1b[34mdir\x1b[0m\r\n"),
        CastEvent(2.0, "r", "100x30"),
        CastEvent(3.0, "m", "ended: the target closed the connection"),
    ]


def test_every_line_is_one_json_document_a_player_can_parse(tmp_path: Path) -> None:
    cast = CastWriter(width=80, height=24, timestamp=0)
    cast.output('quote " backslash \\ tab \t bell \x07 line\u2028separator é 中'.encode(), 0.1)
    lines = b"".join(cast.take()).split(b"\n")
    assert lines[-1] == b"" and len(lines) == 3
    assert json.loads(lines[1]) == [0.1, "o", 'quote " backslash \\ tab \t bell \x07 line\u2028separator é 中']
    assert b"\xe2\x80\xa8" not in lines[1]  # U+2028 escaped: line readers that split on it stay whole


def test_a_utf8_character_split_across_chunks_stays_one_character() -> None:
    cast = CastWriter(width=80, height=24, timestamp=0)
    cast.take()
    encoded = "日本".encode()
    assert cast.output(encoded[:2], 0.1) == ""  # nothing complete yet: no event
    assert cast.output(encoded[2:4], 0.2) == "日"
    assert cast.output(encoded[4:], 0.3) == "本"
    assert [json.loads(line)[2] for line in b"".join(cast.take()).splitlines()] == ["日", "本"]


def test_invalid_bytes_become_replacement_characters_and_an_unfinished_one_too_at_the_end() -> None:
    cast = CastWriter(width=80, height=24, timestamp=0)
    cast.take()
    assert cast.output(b"ok \xff\xfe ok \xe6\x97", 0.1) == "ok \ufffd\ufffd ok "
    assert cast.finish(0.2) == "\ufffd"


def test_times_are_seconds_rounded_to_microseconds(tmp_path: Path) -> None:
    cast = CastWriter(width=80, height=24, timestamp=0)
    cast.output(b"x", 1.23456789)
    _, events = read_cast(write(tmp_path / "s.cast", cast))
    assert events[0].time == 1.234568


def test_a_torn_last_line_is_ignored_and_cut_off_for_the_player(tmp_path: Path) -> None:
    cast = CastWriter(width=80, height=24, timestamp=0)
    cast.output(b"one", 0.5)
    cast.output(b"two", 1.0)
    path = write(tmp_path / "s.cast", cast, tail=b'[1.5, "o", "thr')
    assert [e.data for e in read_cast(path)[1]] == ["one", "two"]
    playable = playable_cast(path)
    assert playable.endswith(b'"two"]\n')
    assert [json.loads(line) for line in playable.splitlines()[1:]] == [[0.5, "o", "one"], [1.0, "o", "two"]]


def test_a_cast_with_only_its_header_plays_empty(tmp_path: Path) -> None:
    path = write(tmp_path / "s.cast", CastWriter(width=80, height=24, timestamp=0))
    assert read_cast(path)[1] == []
    assert playable_cast(path) == path.read_bytes()


def test_a_damaged_line_before_the_end_is_an_error_not_silence(tmp_path: Path) -> None:
    cast = CastWriter(width=80, height=24, timestamp=0)
    cast.output(b"one", 0.5)
    path = tmp_path / "s.cast"
    path.write_bytes(b"".join(cast.take()) + b"garbage\n" + b'[1.0, "o", "two"]\n')
    with pytest.raises(InternalError, match="damaged at line 3"):
        read_cast(path)


def test_a_file_without_an_asciicast_v2_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.cast"
    path.write_bytes(b'{"version": 1, "width": 80, "height": 24}\n')
    with pytest.raises(InternalError, match="no asciicast v2 header"):
        read_cast(path)
    path.write_bytes(b'{"version": 2, "wid')
    with pytest.raises(InternalError):
        playable_cast(path)


def test_a_missing_cast_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        read_cast(tmp_path / "nope.cast")
    with pytest.raises(NotFound):
        playable_cast(tmp_path / "nope.cast")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain",
        'quote " backslash \\ slash / tab \t',
        "\r\n" * 3 + "\x1b[1;31mred\x1b[0m\x07\x08\x0c\x00\x1f\x7f",
        "é 中 😀 \u2028 \u2029 \x85 \x9b1m \ufffd",
        "".join(chr(c) for c in range(0, 0x250)),
    ],
)
def test_events_are_exactly_what_json_dumps_writes(text: str) -> None:
    expected = json.dumps(text, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    assert json_utf8(text).decode() == expected
    if not any(chr(c) in text for c in range(0x20) if chr(c) not in "\b\t\n\f\r\x1b"):
        assert json_utf8(text, controls=False).decode() == expected


def test_random_text_encodes_like_json_dumps() -> None:
    rng = random.Random(7)
    alphabet = [chr(c) for c in range(0, 0x80)] + ["é", "中", "😀", "\u2028", "\u2029", "\x85", "\ufffd"]
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        line = json.dumps(text, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
        assert json_utf8(text).decode() == line
