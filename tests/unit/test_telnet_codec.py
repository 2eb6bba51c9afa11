"""The Telnet byte stream: IAC escaping, commands split across reads, CR NUL both ways, bounded subnegotiation."""

from __future__ import annotations

import pytest

from protocols.telnet import codec
from protocols.telnet.codec import (
    DO,
    ECHO,
    GA,
    IAC,
    NAWS,
    NOP,
    SB,
    SE,
    TTYPE,
    WILL,
    Decoder,
    encode_data,
    naws,
    subnegotiation,
    terminal_type,
)


class Recorder:
    """A CommandHandler that records what the decoder reports, in order, data included."""

    def __init__(self, binary_in: bool = False) -> None:
        self.binary_in = binary_in
        self.seen: list[tuple[str, object]] = []

    def on_negotiation(self, command: int, option: int) -> None:
        self.seen.append(("neg", (command, option)))

    def on_subnegotiation(self, option: int, payload: bytes) -> None:
        self.seen.append(("sb", (option, payload)))

    def on_command(self, command: int) -> None:
        self.seen.append(("cmd", command))

    def on_data(self, data: bytes) -> None:
        self.seen.append(("data", data))

    @property
    def data(self) -> bytes:
        return b"".join(d for kind, d in self.seen if kind == "data")  # type: ignore[misc]

    @property
    def commands(self) -> list[tuple[str, object]]:
        return [item for item in self.seen if item[0] != "data"]


def decode(*chunks: bytes, binary_in: bool = False, sb_limit: int = codec.SB_LIMIT) -> Recorder:
    rec = Recorder(binary_in)
    decoder = Decoder(rec, rec.on_data, sb_limit=sb_limit)
    for chunk in chunks:
        decoder.feed(chunk)
    return rec


def split_everywhere(stream: bytes) -> list[list[bytes]]:
    """``stream`` cut into two reads at every position, and into one read per byte."""
    cuts = [[stream[:i], stream[i:]] for i in range(len(stream) + 1)]
    return [*cuts, [bytes([b]) for b in stream]]


# --- the fast path -------------------------------------------------------------------------------
def test_a_chunk_without_iac_or_cr_nul_is_passed_on_as_the_same_object() -> None:
    chunk = b"hello\r\nworld" * 1000
    rec = decode(chunk)
    assert rec.seen == [("data", chunk)]
    assert rec.seen[0][1] is chunk


def test_a_chunk_in_binary_mode_keeps_cr_nul_and_is_passed_on_unchanged() -> None:
    chunk = b"a\r\0b"
    rec = decode(chunk, binary_in=True)
    assert rec.seen[0][1] is chunk


# --- IAC -----------------------------------------------------------------------------------------
def test_a_doubled_iac_is_one_data_byte_255() -> None:
    assert decode(b"a\xff\xffb").data == b"a\xffb"


@pytest.mark.parametrize("binary_in", [False, True])
def test_a_doubled_iac_split_between_reads_is_still_one_byte(binary_in: bool) -> None:
    assert decode(b"a\xff", b"\xffb", binary_in=binary_in).data == b"a\xffb"


def test_negotiations_are_reported_between_the_data_around_them_in_order() -> None:
    rec = decode(b"before" + bytes([IAC, WILL, ECHO]) + b"after")
    assert rec.seen == [("data", b"before"), ("neg", (WILL, ECHO)), ("data", b"after")]


def test_two_byte_commands_are_reported_and_not_shown() -> None:
    rec = decode(b"x" + bytes([IAC, NOP, IAC, GA]) + b"y")
    assert rec.data == b"xy"
    assert rec.commands == [("cmd", NOP), ("cmd", GA)]


def test_every_split_of_a_mixed_stream_decodes_to_the_same_result() -> None:
    stream = (
        b"ab\r\0c"
        + bytes([IAC, DO, NAWS])
        + b"\xff\xff"
        + bytes([IAC, SB, TTYPE, 1, IAC, SE])
        + b"d\r\ne"
        + bytes([IAC, SB, NAWS, 0, 255, 255, 0, 24, IAC, SE])
        + b"\r\0"
    )
    expected = decode(stream)
    assert expected.data == b"ab\rc\xffd\r\ne\r"
    assert expected.commands == [("neg", (DO, NAWS)), ("sb", (TTYPE, b"\x01")), ("sb", (NAWS, b"\x00\xff\x00\x18"))]
    for chunks in split_everywhere(stream):
        rec = decode(*chunks)
        assert (rec.data, rec.commands) == (expected.data, expected.commands), chunks


def test_runs_of_doubled_iacs_of_any_length_next_to_commands_split_anywhere_decode_the_same() -> None:
    stream = (
        b"\xff\xff" * 3
        + bytes([IAC, NOP])
        + b"a\r"
        + b"\xff\xff" * 2
        + b"\0"
        + b"\xff\xff"
        + bytes([IAC, WILL, ECHO])
        + b"\xff\xff\xff\xff"
        + bytes([IAC, SB, TTYPE, 1, IAC, IAC, IAC, SE])
        + b"\r\xff\xff"
    )
    expected = decode(stream)
    assert expected.data == b"\xff\xff\xffa\r\xff\xff\0\xff\xff\xff\r\xff"
    assert expected.commands == [("cmd", NOP), ("neg", (WILL, ECHO)), ("sb", (TTYPE, b"\x01\xff"))]
    for chunks in split_everywhere(stream):
        rec = decode(*chunks)
        assert (rec.data, rec.commands) == (expected.data, expected.commands), chunks


def test_a_long_run_of_doubled_iacs_is_handed_on_in_one_piece() -> None:
    rec = decode(b"a" + b"\xff\xff" * 50_000 + bytes([IAC, NOP]) + b"b")
    assert [d for kind, d in rec.seen if kind == "data"] == [b"a" + b"\xff" * 50_000 + b"b"]
    assert rec.commands == [("cmd", NOP)]


# --- the command budget --------------------------------------------------------------------------
def budgeted(budget: int) -> tuple[Recorder, Decoder]:
    rec = Recorder()
    return rec, Decoder(rec, rec.on_data, command_budget=budget)


def test_commands_without_data_past_the_budget_are_a_flood_and_the_data_before_is_handed_on() -> None:
    rec, decoder = budgeted(100)
    with pytest.raises(codec.CommandFlood, match="more than 100 bytes of Telnet commands without data"):
        decoder.feed(b"hello" + bytes([IAC, NOP]) * 1000)
    assert rec.data == b"hello"
    assert len(rec.commands) == 50  # walked no further than the budget


@pytest.mark.parametrize(
    "command",
    [bytes([IAC, NOP]), bytes([IAC, DO, 99]), bytes([IAC, SB, TTYPE, 1, IAC, SE]), bytes([IAC, SB]) + b"x" * 50],
)
def test_every_kind_of_command_counts_against_the_budget(command: bytes) -> None:
    _, decoder = budgeted(100)
    for _ in range(100 // len(command)):
        decoder.feed(command)
    with pytest.raises(codec.CommandFlood):
        decoder.feed(command)


@pytest.mark.parametrize("data", [b"x", b"\xff\xff", b"\r\0"])
def test_any_data_byte_restores_the_budget(data: bytes) -> None:
    rec, decoder = budgeted(100)
    for _ in range(100):
        decoder.feed(bytes([IAC, NOP]) * 40 + data)  # 80 command bytes each time, then data
    assert len(rec.commands) == 4000


def test_the_budget_given_back_lets_slow_commands_go_on_for_ever() -> None:
    _, decoder = budgeted(100)
    for _ in range(1000):
        decoder.feed(bytes([IAC, NOP]) * 10)
        decoder.forgive(20)
    decoder.forgive(10**9)  # never more than the budget
    with pytest.raises(codec.CommandFlood):
        decoder.feed(bytes([IAC, NOP]) * 51)


# --- CR NUL --------------------------------------------------------------------------------------
def test_cr_nul_from_the_server_reaches_the_terminal_as_a_bare_cr() -> None:
    assert decode(b"50%\r\0" + b"60%\r\0").data == b"50%\r60%\r"


def test_cr_lf_from_the_server_stays_cr_lf() -> None:
    assert decode(b"line\r\nnext").data == b"line\r\nnext"


def test_cr_nul_split_between_reads_loses_the_nul_and_not_the_cr() -> None:
    rec = decode(b"abc\r", b"\0def")
    assert rec.data == b"abc\rdef"
    assert rec.seen[0] == ("data", b"abc\r")  # the CR is not held back waiting for the next read


def test_a_nul_after_a_cr_nul_pair_is_data() -> None:
    assert decode(b"a\r\0", b"\0b").data == b"a\r\0b"


def test_in_binary_mode_cr_nul_is_data() -> None:
    assert decode(b"a\r", b"\0b", binary_in=True).data == b"a\r\0b"


# --- subnegotiation ------------------------------------------------------------------------------
def test_a_doubled_iac_inside_a_subnegotiation_is_unescaped() -> None:
    rec = decode(bytes([IAC, SB, NAWS, 0, 255, 255, 0, 30, IAC, SE]))
    assert rec.commands == [("sb", (NAWS, b"\x00\xff\x00\x1e"))]


def test_a_subnegotiation_over_the_bound_is_discarded_and_the_stream_goes_on() -> None:
    flood = bytes([IAC, SB, TTYPE]) + b"x" * 5000 + bytes([IAC, SE])
    rec = decode(flood[:700], flood[700:3000], flood[3000:] + b"after", sb_limit=1024)
    assert rec.commands == []
    assert rec.data == b"after"


def test_a_subnegotiation_at_the_bound_is_kept() -> None:
    payload = b"y" * 1023
    rec = decode(bytes([IAC, SB, TTYPE]) + payload + bytes([IAC, SE]), sb_limit=1024)
    assert rec.commands == [("sb", (TTYPE, payload))]


def test_a_subnegotiation_cut_short_by_a_command_is_dropped_and_the_command_kept() -> None:
    rec = decode(bytes([IAC, SB, TTYPE, 1, IAC, WILL, ECHO]) + b"z")
    assert rec.commands == [("neg", (WILL, ECHO))]
    assert rec.data == b"z"


# --- encoding ------------------------------------------------------------------------------------
def test_enter_from_the_browser_is_sent_as_cr_nul() -> None:
    assert encode_data(b"ls\r", binary=False) == b"ls\r\0"


def test_cr_lf_typed_or_pasted_is_sent_as_cr_lf() -> None:
    assert encode_data(b"a\r\nb\rc", binary=False) == b"a\r\nb\r\0c"


def test_iac_typed_is_doubled_in_every_mode() -> None:
    assert encode_data(b"\xff\r", binary=False) == b"\xff\xff\r\0"
    assert encode_data(b"\xff\r", binary=True) == b"\xff\xff\r"


def test_input_without_iac_or_cr_is_sent_unchanged() -> None:
    data = b"echo hello"
    assert encode_data(data, binary=False) is data


# --- option payloads -----------------------------------------------------------------------------
def test_naws_is_width_then_height_as_16_bit_big_endian() -> None:
    assert naws(80, 24) == bytes([IAC, SB, NAWS, 0, 80, 0, 24, IAC, SE])
    assert naws(1000, 500) == bytes([IAC, SB, NAWS, 3, 232, 1, 244, IAC, SE])


def test_a_255_dimension_in_naws_is_doubled() -> None:
    assert naws(255, 24) == bytes([IAC, SB, NAWS, 0, 255, 255, 0, 24, IAC, SE])
    assert naws(80, 255) == bytes([IAC, SB, NAWS, 0, 80, 0, 255, 255, IAC, SE])


def test_naws_round_trips_through_the_decoder() -> None:
    rec = decode(naws(255, 255))
    assert rec.commands == [("sb", (NAWS, b"\x00\xff\x00\xff"))]


def test_terminal_type_answer_is_is_followed_by_the_name() -> None:
    assert terminal_type("vt100") == bytes([IAC, SB, TTYPE, 0]) + b"vt100" + bytes([IAC, SE])
    assert subnegotiation(TTYPE, b"\x00xterm") == terminal_type("xterm")
