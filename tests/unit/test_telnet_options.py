"""Telnet option negotiation: the client's policy, RFC 1143's loop-free answers, NAWS and TTYPE."""

from __future__ import annotations

import pytest

from protocols.telnet import codec
from protocols.telnet.codec import BINARY, DO, DONT, ECHO, IAC, NAWS, SB, SE, SGA, TTYPE, WILL, WONT, Decoder
from protocols.telnet.options import Negotiator, Q

LINEMODE = 34
NEW_ENVIRON = 39
STATUS = 5


def cmd(verb: int, option: int) -> bytes:
    return bytes([IAC, verb, option])


def client(**kwargs: object) -> tuple[Negotiator, list[tuple[str, int, bool]]]:
    changes: list[tuple[str, int, bool]] = []
    neg = Negotiator(
        terminal_type=str(kwargs.get("terminal_type", "xterm")),
        cols=int(kwargs.get("cols", 80)),  # type: ignore[call-overload]
        rows=int(kwargs.get("rows", 24)),  # type: ignore[call-overload]
        on_change=lambda side, option, enabled: changes.append((side, option, enabled)),
    )
    return neg, changes


def receive(neg: Negotiator, *messages: bytes) -> bytes:
    """Feed the server's bytes through a real decoder; return what the client must answer."""
    Decoder(neg, lambda data: None).feed(b"".join(messages))
    return neg.take()


# --- the opening ---------------------------------------------------------------------------------
def test_the_client_asks_for_server_echo_and_sga_and_offers_naws() -> None:
    neg, _ = client()
    neg.start()
    assert neg.take() == cmd(DO, SGA) + cmd(DO, ECHO) + cmd(WILL, NAWS)
    assert (neg.him(ECHO), neg.him(SGA), neg.us(NAWS)) == (Q.WANTYES, Q.WANTYES, Q.WANTYES)


def test_answers_to_our_own_requests_are_not_answered_again() -> None:
    neg, changes = client(cols=90, rows=30)
    neg.start()
    neg.take()
    out = receive(neg, cmd(WILL, ECHO), cmd(WILL, SGA), cmd(DO, NAWS))
    assert out == codec.naws(90, 30)  # only the size report that NAWS being on calls for
    assert neg.remote_echo
    assert changes == [("him", ECHO, True), ("him", SGA, True), ("us", NAWS, True)]


def test_a_refusal_of_our_request_is_accepted_silently() -> None:
    neg, changes = client()
    neg.start()
    neg.take()
    assert receive(neg, cmd(WONT, ECHO), cmd(DONT, NAWS)) == b""
    assert (neg.him(ECHO), neg.us(NAWS)) == (Q.NO, Q.NO)
    assert changes == []


# --- refusing --------------------------------------------------------------------------------------
def test_unknown_options_are_refused_with_dont_and_wont() -> None:
    neg, changes = client()
    out = receive(neg, cmd(WILL, STATUS), cmd(DO, LINEMODE), cmd(DO, NEW_ENVIRON))
    assert out == cmd(DONT, STATUS) + cmd(WONT, LINEMODE) + cmd(WONT, NEW_ENVIRON)
    assert changes == []


def test_we_refuse_to_echo_for_the_server() -> None:
    neg, _ = client()
    assert receive(neg, cmd(DO, ECHO)) == cmd(WONT, ECHO)
    assert neg.us(ECHO) is Q.NO


def test_wont_and_dont_for_disabled_options_are_never_answered() -> None:
    neg, _ = client()
    assert receive(neg, cmd(WONT, STATUS), cmd(DONT, LINEMODE), cmd(WONT, ECHO), cmd(DONT, NAWS)) == b""


def test_a_repeated_will_for_an_enabled_option_gets_no_answer() -> None:
    neg, _ = client()
    assert receive(neg, cmd(WILL, ECHO)) == cmd(DO, ECHO)
    assert receive(neg, cmd(WILL, ECHO), cmd(WILL, ECHO)) == b""
    assert neg.remote_echo


def test_the_server_disabling_echo_is_acknowledged_once() -> None:
    neg, changes = client()
    receive(neg, cmd(WILL, ECHO))
    assert receive(neg, cmd(WONT, ECHO)) == cmd(DONT, ECHO)
    assert receive(neg, cmd(WONT, ECHO)) == b""
    assert changes == [("him", ECHO, True), ("him", ECHO, False)]


def test_two_q_method_peers_settle_after_a_few_messages() -> None:
    """Two clients negotiating with each other (both asking for everything) never ping-pong."""
    a, _ = client()
    b, _ = client()
    a.start()
    b.start()
    a_out, b_out = a.take(), b.take()
    rounds = 0
    while a_out or b_out:
        rounds += 1
        assert rounds < 10, "negotiation loops"
        a_out, b_out = receive(a, b_out), receive(b, a_out)
    for peer in (a, b):
        assert (peer.us(SGA), peer.him(SGA)) == (Q.YES, Q.YES)
        assert peer.him(ECHO) is Q.NO  # neither echoes for the other
        assert peer.us(NAWS) is Q.NO  # a client does not take a window size


# --- our own changes of mind (RFC 1143 queue) -------------------------------------------------
def test_disabling_an_enabled_option_waits_for_the_server_and_does_not_answer_its_wont() -> None:
    neg, changes = client()
    receive(neg, cmd(WILL, ECHO))
    neg.ask_him(ECHO, False)
    assert neg.take() == cmd(DONT, ECHO)
    assert neg.him(ECHO) is Q.WANTNO
    assert receive(neg, cmd(WONT, ECHO)) == b""
    assert neg.him(ECHO) is Q.NO
    assert changes == [("him", ECHO, True), ("him", ECHO, False)]


def test_a_change_of_mind_during_a_request_is_queued_and_sent_after_the_answer() -> None:
    neg, _ = client()
    neg.ask_him(SGA, True)
    assert neg.take() == cmd(DO, SGA)
    neg.ask_him(SGA, False)  # queued: nothing sent while WANTYES
    assert neg.take() == b""
    assert receive(neg, cmd(WILL, SGA)) == cmd(DONT, SGA)
    assert neg.him(SGA) is Q.WANTNO
    assert receive(neg, cmd(WONT, SGA)) == b""
    assert neg.him(SGA) is Q.NO


# --- NAWS ------------------------------------------------------------------------------------------
def test_an_unasked_do_naws_is_accepted_and_the_size_reported_at_once() -> None:
    neg, _ = client(cols=132, rows=43)
    assert receive(neg, cmd(DO, NAWS)) == cmd(WILL, NAWS) + codec.naws(132, 43)


def test_a_resize_before_naws_is_on_is_remembered_and_reported_when_it_is() -> None:
    neg, _ = client()
    neg.resize(100, 40)
    assert neg.take() == b""
    assert receive(neg, cmd(DO, NAWS)) == cmd(WILL, NAWS) + codec.naws(100, 40)
    neg.resize(120, 50)
    assert neg.take() == bytes([IAC, SB, NAWS, 0, 120, 0, 50, IAC, SE])


@pytest.mark.parametrize(("size", "sent"), [(255, 254), (511, 510), (767, 766), (256, 256), (254, 254)])
def test_sizes_that_would_put_a_255_on_the_wire_are_reported_one_smaller(size: int, sent: int) -> None:
    """busybox telnetd does not undouble IAC in NAWS: a 255 would garble the size and type a stray key."""
    neg, _ = client()
    receive(neg, cmd(DO, NAWS))
    neg.resize(size, size if size <= 500 else 24)
    expected = codec.naws(sent, sent if size <= 500 else 24)
    assert neg.take() == expected
    assert b"\xff" not in expected[3:-2]
    assert (neg.cols, neg.rows) == (size, size if size <= 500 else 24)  # the window itself is unchanged


def test_no_size_is_reported_after_the_server_turned_naws_off() -> None:
    neg, _ = client()
    receive(neg, cmd(DO, NAWS))
    assert receive(neg, cmd(DONT, NAWS)) == cmd(WONT, NAWS)
    neg.resize(100, 40)
    assert neg.take() == b""


# --- TTYPE -----------------------------------------------------------------------------------------
def test_the_terminal_type_is_sent_when_asked_and_repeated_to_end_the_list() -> None:
    neg, _ = client(terminal_type="vt100")
    assert receive(neg, cmd(DO, TTYPE)) == cmd(WILL, TTYPE)
    send = bytes([IAC, SB, TTYPE, 1, IAC, SE])
    assert receive(neg, send) == codec.terminal_type("vt100")
    assert receive(neg, send) == codec.terminal_type("vt100")


def test_a_terminal_type_request_before_ttype_is_on_is_ignored() -> None:
    neg, _ = client()
    assert receive(neg, bytes([IAC, SB, TTYPE, 1, IAC, SE])) == b""


# --- BINARY ----------------------------------------------------------------------------------------
def test_binary_is_accepted_in_each_direction_and_switches_the_cr_nul_rule() -> None:
    neg, _ = client()
    seen: list[bytes] = []
    decoder = Decoder(neg, seen.append)
    decoder.feed(b"a\r\0" + cmd(WILL, BINARY) + b"b\r\0")
    assert b"".join(seen) == b"a\rb\r\0"
    assert neg.take() == cmd(DO, BINARY)
    assert receive(neg, cmd(DO, BINARY)) == cmd(WILL, BINARY)
    assert (neg.binary_in, neg.binary_out) == (True, True)
