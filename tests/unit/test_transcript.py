"""The transcript reads as the terminal showed it, without escape sequences, and search finds lines with their time."""

from __future__ import annotations

from pathlib import Path

import pytest

from console_web.recording.transcript import (
    MAX_LINE,
    TranscriptMatch,
    TranscriptWriter,
    search_recordings,
    search_transcript,
)
from console_web.recording.vtstrip import MAX_PENDING, EscapeStripper
from jumpoint.core.errors import BadRequest


def transcript(*chunks: str) -> str:
    """The transcript of output arriving in these chunks, one second apart."""
    return written(*chunks)[0]


def written(*chunks: str) -> tuple[str, str]:
    writer = TranscriptWriter()
    for second, chunk in enumerate(chunks):
        writer.output(chunk, float(second))
    writer.finish(float(len(chunks)))
    text, times = writer.take()
    return b"".join(text).decode(), b"".join(times).decode()


def stripped(*chunks: str) -> str:
    stripper = EscapeStripper()
    return "".join(stripper.feed(chunk) for chunk in chunks)


# --- what the transcript reads ------------------------------------------------------------------------
def test_colours_are_removed_and_cr_lf_becomes_lf() -> None:
    assert transcript("\x1b[1mls\x1b[0m\r\nfile1  file2\r\n") == "ls\nfile1  file2\n"


def test_echo_hi_typed_at_a_prompt_reads_as_one_line() -> None:
    typed = ["\x1b]0;alice@web-01: ~\x07\x1b[32malice@web-01\x1b[0m:~$ ", *"echo hi", "\r\n", "hi\r\n", "$ "]
    assert transcript(*typed) == "alice@web-01:~$ echo hi\nhi\n$\n"


def test_backspace_cursor_moves_and_erase_to_end_edit_the_line_like_readline() -> None:
    # typed "echp", erased the p, typed "o hii", erased the last i with BS + EL, moved left twice and right twice
    chunks = ["$ echp", "\b \b", "o hii", "\b\x1b[K", "\x1b[2D\x1b[2C", "\r\n"]
    assert transcript(*chunks) == "$ echo hi\n"


def test_a_progress_bar_redrawn_with_cr_keeps_its_last_state() -> None:
    assert transcript("50% [#####     ]\r", "100% [##########]\r\n") == "100% [##########]\n"


def test_strings_osc_dcs_apc_and_pm_are_removed_even_split_across_chunks() -> None:
    assert stripped("a\x1b]8;;https://x\x1b\\link\x1b]8;;\x1b\\b") == "alinkb"
    assert stripped("\x1b]0;tit", "le\x07$ ") == "$ "
    assert stripped("\x1bP1$r0m\x1b", "\\after") == "after"
    assert stripped("\x1b_Gf=100;AAAA\x1b\\x\x1b^pm\x07y\x1bXsos\x1b\\z") == "xyz"


def test_charsets_other_escapes_and_control_characters_are_removed() -> None:
    assert stripped("\x1b(0lqqk\x1b(B \x1b)0\x1b7saved\x1b8 \x1b=\x1b>\x1bc") == "lqqk saved "
    assert stripped("bell\x07 nul\x00 del\x7f so\x0e si\x0f ok") == "bell nul del so si ok"


def test_c1_controls_in_their_8_bit_form_are_removed_too() -> None:
    assert stripped("\x9b31mred\x9b0m \x9d0;title\x9cok \x90q\x9c\x84x") == "red ok x"


def test_a_sequence_split_at_any_byte_is_still_removed() -> None:
    stream = "a\x1b[38;5;208mb\x1b]2;title\x1b\\c\x1bP+q544e\x1b\\d"
    for cut in range(len(stream) + 1):
        assert stripped(stream[:cut], stream[cut:]) == "abcd", cut


def test_a_hostile_unterminated_sequence_is_bounded_and_the_text_after_it_survives() -> None:
    stripper = EscapeStripper()
    assert stripper.feed("before \x1b]52;c;" + "A" * 3 * MAX_PENDING) == "before "
    for _ in range(100):
        assert stripper.feed("A" * 65536) == ""
    assert stripper.feed("A\x07 after") == " after"
    assert stripped("\x1b[" + "1;" * MAX_PENDING, "1;1m visible") == " visible"


def test_a_full_screen_program_puts_each_row_it_draws_on_its_own_line() -> None:
    vim = '$ vim notes\r\n\x1b[?1049h\x1b[H\x1b[2Jhello\x1b[2;1H~\x1b[3;1H\x1b[7m"notes" 1L\x1b[0m\x1b[?1049l$ '
    assert transcript(vim) == '$ vim notes\nhello\n~\n"notes" 1L\n$\n'


def test_very_long_lines_are_split_and_nothing_is_lost() -> None:
    text = transcript("x" * (2 * MAX_LINE + 10) + "\r\nend\r\n")
    assert text.split("\n") == ["x" * MAX_LINE, "x" * MAX_LINE, "x" * 10, "end", ""]


def test_the_time_index_has_the_second_each_line_was_completed() -> None:
    text, times = written("one\r\ntw", "o\r\nthree\r\nfour\r\n", "$ ")
    assert text == "one\ntwo\nthree\nfour\n$\n"
    assert times == "0.000\n1.000\n1.000\n1.000\n3.000\n"


def test_only_complete_lines_are_taken_until_the_end() -> None:
    writer = TranscriptWriter()
    writer.output("done\r\nin progr", 0.5)
    assert writer.take() == ([b"done\n"], [b"0.500\n"])
    writer.output("ess", 0.6)
    assert writer.take() == ([], [])
    writer.finish(0.7)
    assert writer.take() == ([b"in progress\n"], [b"0.700\n"])


# --- search ------------------------------------------------------------------------------------------
def store(directory: Path, session_id: str, *chunks: str) -> None:
    text, times = written(*chunks)
    (directory / f"{session_id}.txt").write_text(text)
    (directory / f"{session_id}.tidx").write_text(times)


def test_search_finds_lines_case_insensitively_with_their_number_and_time(tmp_path: Path) -> None:
    store(tmp_path, "s1", "$ systemctl restart nginx\r\n", "Job failed: NGINX\r\n", "$ journalctl -u Nginx\r\n")
    assert search_transcript(tmp_path, "s1", "nginx", 10) == [
        TranscriptMatch(1, "$ systemctl restart nginx", 0.0),
        TranscriptMatch(2, "Job failed: NGINX", 1.0),
        TranscriptMatch(3, "$ journalctl -u Nginx", 2.0),
    ]
    assert search_transcript(tmp_path, "s1", "NGINX", 2) == search_transcript(tmp_path, "s1", "nginx", 3)[:2]
    assert search_transcript(tmp_path, "s1", "apache", 10) == []


def test_search_of_a_session_without_a_transcript_is_empty_and_a_bad_id_is_refused(tmp_path: Path) -> None:
    assert search_transcript(tmp_path, "never-recorded", "x", 10) == []
    with pytest.raises(BadRequest):
        search_transcript(tmp_path, "../etc/passwd", "root", 10)
    with pytest.raises(BadRequest):
        search_transcript(tmp_path, "s1", "", 10)


def test_a_torn_last_line_and_a_short_time_index_do_not_break_search(tmp_path: Path) -> None:
    (tmp_path / "s1.txt").write_bytes(b"needle one\nneedle two\nneedle thr")
    (tmp_path / "s1.tidx").write_bytes(b"1.5\n2.")
    assert search_transcript(tmp_path, "s1", "needle", 10) == [
        TranscriptMatch(1, "needle one", 1.5),
        TranscriptMatch(2, "needle two", 1.5),
    ]


def test_an_over_long_line_in_a_foreign_file_is_read_in_bounded_memory(tmp_path: Path) -> None:
    (tmp_path / "s1.txt").write_bytes(b"needle" + b"x" * (10 << 20) + b"\nneedle again\n")
    matches = search_transcript(tmp_path, "s1", "needle", 10)
    assert [(m.line, len(m.text) <= 4 * MAX_LINE + 1) for m in matches] == [(1, True), (2, True)]
    assert matches[1].text == "needle again"


def test_search_recordings_goes_through_sessions_in_order_and_stops_at_the_limit(tmp_path: Path) -> None:
    store(tmp_path, "alpha", "uptime 1\r\nuptime 2\r\n")
    store(tmp_path, "bravo", "UPTIME 3\r\n")
    store(tmp_path, "charlie", "uptime 4\r\n")
    found = search_recordings(tmp_path, ["charlie", "missing", "bad/id", "alpha", "bravo"], "uptime", 3)
    assert [(session, m.text) for session, m in found] == [
        ("charlie", "uptime 4"),
        ("alpha", "uptime 1"),
        ("alpha", "uptime 2"),
    ]


# --- the fast way for floods of output reads the same as the general one --------------------------------
def general(*chunks: str) -> tuple[str, str]:
    """The transcript as the general (character by character) way makes it: every chunk through ``_edit``."""
    writer = TranscriptWriter()
    for second, chunk in enumerate(chunks):
        plain = writer._stripper.feed(chunk)
        if plain:
            writer._edit(plain.replace("\r\n", "\n"), float(second))
            if len(writer._line) > MAX_LINE:
                writer._complete([writer._line], float(second))
                writer._line, writer._col = "", 0
    writer.finish(float(len(chunks)))
    text, times = writer.take()
    return b"".join(text).decode(), b"".join(times).decode()


@pytest.mark.parametrize(
    "chunks",
    [
        ["line one\r\nline two\r\n", "line three\r\n"],
        ["no cr\nat all\n", "mixed\r\nends\n"],
        ["50% [##   ]\r", "100% [#####]\r\n"],  # a bare CR: the general way
        ["trailing blanks   \r\n", "tab\t\r\n", "blank before the split \r", "\n"],
        ["x" * (MAX_LINE - 1) + "\r\n", "y" * MAX_LINE + "\r\n", "z" * (MAX_LINE + 1) + "\r\n"],
        ["a" * 3000, "b" * 1500 + "\r\nshort\r\n"],  # a line over MAX_LINE built across chunks
        ["é" * (MAX_LINE // 2 + 10) + "\r\n", "中" * MAX_LINE + "\r\n"],  # characters, not bytes, count
        ["\x1b[32mgreen\x1b[0m\r\n" * 50, "\x1b]0;title\x07$ "],
        ["w" * 2047 + "\r\n" + "v" * 4100 + "\r\n" + "u\r\n"],
    ],
)
def test_whole_lines_at_c_speed_read_like_the_general_way(chunks: list[str]) -> None:
    assert written(*chunks) == general(*chunks)
