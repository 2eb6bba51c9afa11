"""Plain output (lines of text) takes a vectorised way through both recording encoders: same files, byte for byte."""

from __future__ import annotations

import json
import random

import pytest

from console_web.recording.asciicast import CastWriter
from console_web.recording.plain_output import MIN_BYTES, scan_plain
from console_web.recording.transcript import MAX_LINE, TranscriptWriter
from console_web.recording.vtstrip import has_controls


def lines_of(rng: random.Random, count: int, alphabet: str, newline: str, longest: int = 120) -> bytes:
    return "".join("".join(rng.choices(alphabet, k=rng.randint(0, longest))) + newline for _ in range(count)).encode()


def record(chunks: list[bytes], *, plain_way: bool) -> tuple[tuple[bytes, bytes, bytes], int]:
    """The cast, transcript and time index of ``chunks``, through the plain way when it applies or never; and the
    number of chunks that took it."""
    cast, transcript = CastWriter(width=80, height=24, timestamp=0), TranscriptWriter()
    taken = 0
    for number, chunk in enumerate(chunks):
        at = number / 10
        plain = scan_plain(chunk, MAX_LINE) if plain_way else None
        if plain is not None and cast.can_take_plain and transcript.can_take_plain:
            cast.output_plain(plain, at)
            transcript.output_plain(plain, at)
            taken += 1
            continue
        text = cast.decode_output(chunk)
        controls = has_controls(text)
        cast.output_text(text, at, controls)
        transcript.output(text, at, controls)
    transcript.output(cast.finish(9.0), 9.0)
    transcript.finish(9.0)
    lines, times = transcript.take()
    return (b"".join(cast.take()), b"".join(lines), b"".join(times)), taken


def test_base64_output_is_plain_and_counted() -> None:
    data = b"QUJD" * 25 + b"\r\n"
    plain = scan_plain(data * 400, MAX_LINE)

    assert plain is not None
    assert plain.lines == 400 and plain.crlf
    assert plain.bare == (b"QUJD" * 25 + b"\n") * 400
    assert not plain.long_line_inside and not plain.blank_before_lf


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"a" * MIN_BYTES + b"\x1b[1mbold\r\n", "an escape sequence"),
        (b"a" * MIN_BYTES + b"\x08\r\n", "a backspace"),
        (b"a" * MIN_BYTES + b"\x7f\r\n", "DEL"),
        (b"a" * MIN_BYTES + b"\x07\r\n", "BEL"),
        (b"a" * MIN_BYTES + b"progress 10%\rprogress 20%\r\n", "a CR that moves to the start of the line"),
        (b"a" * MIN_BYTES + b"\r\nline\nline\r\n", "a LF without its CR among CR LFs"),
        (b"\nline\r\n" + b"a" * MIN_BYTES + b"\r\n", "a LF first, its CR in the previous output"),
        (b"a" * MIN_BYTES + b"\r\n\r", "a CR last, its LF in the next output"),
        ("é".encode() * MIN_BYTES + b"\r\n", "text beyond ASCII"),
        (b"short line\r\n", "short output"),
    ],
)
def test_output_that_needs_the_general_way_is_not_plain(data: bytes, why: str) -> None:
    assert scan_plain(data, MAX_LINE) is None, why


def test_lines_ending_in_blanks_and_long_lines_are_noticed() -> None:
    assert scan_plain(b"x" * MIN_BYTES + b"\r\ntrailing \r\nnext\r\n", MAX_LINE).blank_before_lf  # type: ignore[union-attr]
    assert scan_plain(b"x" * MIN_BYTES + b"\ntab\t\nnext\n", MAX_LINE).blank_before_lf  # type: ignore[union-attr]
    long_inside = b"first\r\n" + b"y" * (MAX_LINE + 1) + b"\r\nlast\r\n" + b"z" * MIN_BYTES
    assert scan_plain(long_inside, MAX_LINE).long_line_inside  # type: ignore[union-attr]
    exactly = b"first\n" + b"y" * MAX_LINE + b"\n" + b"z" * MIN_BYTES
    assert not scan_plain(exactly, MAX_LINE).long_line_inside  # type: ignore[union-attr]


def test_the_plain_way_writes_the_same_files_as_the_general_way() -> None:
    taken_in_all = 0
    for seed in range(12):
        rng = random.Random(seed)
        alphabet = 'abcXYZ019 \t"\\{}/=+'
        pieces = [
            lines_of(rng, rng.randint(200, 800), alphabet, "\r\n"),
            lines_of(rng, rng.randint(200, 800), alphabet, "\n"),
            lines_of(rng, 3, "ab", "\r\n", longest=3 * MAX_LINE),  # lines over the limit
            b"\x1b[32mgreen\x1b[0m prompt$ " + lines_of(rng, 400, alphabet, "\r\n"),
            b"progress 1%\rprogress 2%\r" + lines_of(rng, 400, alphabet, "\r\n"),
            "naïve café\r\n".encode() * 2000,
            b"    \r\n" * 4000,  # blank lines of spaces
        ]
        stream = b"".join(rng.choice(pieces) for _ in range(10))
        # cut anywhere: within a CR LF, a UTF-8 character, an escape sequence, a line in progress
        cuts = sorted(rng.sample(range(1, len(stream)), 12))
        chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]

        general, _ = record(chunks, plain_way=False)
        files, taken = record(chunks, plain_way=True)
        assert files == general, f"seed {seed}"
        taken_in_all += taken
        for line in general[0].splitlines()[1:]:
            json.loads(line)  # every cast line stays JSON
    assert taken_in_all >= 12, taken_in_all  # 24 of 156 chunks here


def test_a_flood_of_base64_takes_the_plain_way_for_nearly_all_of_it() -> None:
    stream = (b"QUJD" * 25 + b"\r\n") * 20_000
    chunks = [stream[i : i + 256 * 1024] for i in range(0, len(stream), 256 * 1024)]

    files, taken = record(chunks, plain_way=True)

    assert taken >= len(chunks) - 1
    assert files == record(chunks, plain_way=False)[0]
