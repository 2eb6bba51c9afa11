"""Recognising a Telnet login: default and custom prompt patterns, the watcher's stages, the echo tracker."""

from __future__ import annotations

import re
import time

import pytest
from pydantic import ValidationError

from jumpoint.core.adapter import Target, check_prompt_pattern
from protocols.telnet.echo import EchoTracker
from protocols.telnet.login import LoginPatterns, LoginWatcher, Signal, Stage


def target(**fields: object) -> Target:
    return Target.model_validate({"protocol": "telnet", "hostname": "router", "port": 23, **fields})


def watcher(**fields: object) -> LoginWatcher:
    return LoginWatcher(LoginPatterns.from_target(target(**fields)))


# --- default patterns ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [b"vm login: ", b"\r\nUsername:", b"User Name : ", b"LOGIN:\r\n", b"\x1b[1mrouter login:\x1b[0m "],
)
def test_the_default_login_prompt_is_recognised(text: bytes) -> None:
    assert watcher().feed(b"Welcome\r\n" + text) is Signal.LOGIN_PROMPT


@pytest.mark.parametrize("text", [b"Last login: Mon Jan  1 from x\r\n", b"login: not at the end\r\n$ ", b"Welcome"])
def test_text_that_merely_mentions_login_is_not_a_prompt(text: bytes) -> None:
    assert watcher().feed(text) is None


@pytest.mark.parametrize("text", [b"Password: ", b"\r\npassword:", b"PASSWORD :  "])
def test_the_default_password_prompt_is_recognised_before_any_login_prompt(text: bytes) -> None:
    assert watcher().feed(text) is Signal.PASSWORD_PROMPT


def test_a_prompt_split_across_reads_and_escape_sequences_is_recognised() -> None:
    w = watcher()
    assert w.feed(b"\x1b[32mrouter lo") is None
    assert w.feed(b"gin\x1b[0") is None
    assert w.feed(b"m: ") is Signal.LOGIN_PROMPT


def test_a_prompt_split_inside_a_utf8_character_is_recognised() -> None:
    w = watcher()
    text = "Benutzer für Anmeldung\r\nlogin: ".encode()
    cut = text.index("ü".encode()) + 1
    assert w.feed(text[:cut]) is None
    assert w.feed(text[cut:]) is Signal.LOGIN_PROMPT


# --- the stages ------------------------------------------------------------------------------------
def test_after_the_user_name_the_password_prompt_is_expected() -> None:
    w = watcher()
    w.feed(b"login: ")
    assert w.take() is Signal.LOGIN_PROMPT
    w.sent_username()
    assert w.stage is Stage.SENT_USER
    assert w.feed(b"ojtest\r\n") is None
    assert w.feed(b"Password: ") is Signal.PASSWORD_PROMPT


def test_the_login_prompt_coming_back_after_the_user_name_is_a_failure() -> None:
    w = watcher()
    w.sent_username()
    assert w.feed(b"nobody\r\nlogin: ") is Signal.FAILURE
    assert "came back" in w.failure_text


def test_a_failure_text_after_the_password_is_recognised_at_once() -> None:
    w = watcher()
    w.sent_password()
    assert w.feed(b"\r\n") is None
    assert not w.text_seen
    assert w.feed(b"\r\nLogin incorrect\r\nvm login: ") is Signal.FAILURE
    assert w.failure_text == "Login incorrect"


def test_the_login_prompt_after_the_password_is_judged_a_failure_once_quiet() -> None:
    w = watcher()
    w.sent_password()
    assert w.feed(b"\r\nrouter login: ") is None  # could be a line split by a read: wait for quiet
    assert w.text_seen
    assert w.verdict() is Signal.FAILURE
    assert "login prompt came back" in w.failure_text


def test_a_shell_after_the_password_is_judged_a_success_once_quiet() -> None:
    w = watcher()
    w.sent_password()
    w.feed(b"\r\nLast login: Mon from 10.0.0.1\r\nojtest@vm:~$ ")
    assert w.text_seen
    assert w.verdict() is None


def test_the_tail_is_bounded() -> None:
    w = LoginWatcher(LoginPatterns.defaults(), tail_limit=100)
    w.feed(b"x" * 10_000)
    assert len(w.tail) <= 100
    assert w.feed(b"\r\nlogin: ") is Signal.LOGIN_PROMPT


def test_a_signal_is_kept_until_taken() -> None:
    w = watcher()
    assert w.feed(b"login: ") is Signal.LOGIN_PROMPT
    assert w.feed(b"more") is None
    assert w.take() is Signal.LOGIN_PROMPT
    assert w.take() is None


# --- custom patterns -------------------------------------------------------------------------------
def test_custom_patterns_replace_the_defaults() -> None:
    w = watcher(login_prompt=r"Benutzername:\s*$", password_prompt=r"Kennwort:\s*$", login_failure=r"abgelehnt")
    assert w.feed(b"login: ") is None
    assert w.feed(b"\r\nBenutzername: ") is Signal.LOGIN_PROMPT
    w.take()
    w.sent_username()
    assert w.feed(b"Password: ") is None
    assert w.feed(b"\r\nKennwort: ") is Signal.PASSWORD_PROMPT
    w.take()
    w.sent_password()
    assert w.feed(b"\r\nZugang abgelehnt\r\n") is Signal.FAILURE


def test_custom_patterns_are_case_insensitive() -> None:
    assert watcher(login_prompt="^USER:").feed(b"user: ") is Signal.LOGIN_PROMPT


@pytest.mark.parametrize(
    ("field", "pattern", "message"),
    [
        ("login_prompt", "(unclosed", "not a valid regular expression"),
        ("password_prompt", "[a-", "not a valid regular expression"),
        ("login_failure", "x*", "matches empty text"),
    ],
)
def test_a_malformed_pattern_is_refused_by_target_validation(field: str, pattern: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        target(**{field: pattern})


# --- echo ------------------------------------------------------------------------------------------
def test_echo_is_off_while_a_password_prompt_is_the_last_line() -> None:
    tracker = EchoTracker()
    assert tracker.output(b"ojtest@vm:~$ sudo -i\r\n") is None
    assert tracker.output(b"[sudo] password for ojtest: ") is False
    assert tracker.output(b"\r\n") is True
    assert tracker.echo


def test_echo_follows_a_prompt_split_across_reads() -> None:
    tracker = EchoTracker()
    assert tracker.output(b"Pass") is None
    assert tracker.output(b"word: ") is False


def test_the_items_password_pattern_also_turns_echo_off() -> None:
    tracker = EchoTracker(check_prompt_pattern(r"Kennwort:\s*$"))
    assert tracker.output(b"Kennwort: ") is False
    assert tracker.output(b"\r\n") is True


def test_the_server_stopping_its_echo_turns_echo_off_until_it_echoes_again() -> None:
    tracker = EchoTracker()
    assert tracker.server_echo(True) is None
    assert tracker.server_echo(False) is False
    assert tracker.server_echo(True) is True


def test_a_server_that_never_echoed_saying_wont_echo_changes_nothing() -> None:
    tracker = EchoTracker()
    assert tracker.server_echo(False) is None
    assert tracker.echo


def test_a_pattern_that_backtracks_catastrophically_in_python_matches_at_once() -> None:
    # (a+)+b against "aaaa...c" takes Python's re exponential time; RE2 is linear in the text whatever the pattern
    target = Target(protocol="telnet", hostname="h", port=23, login_prompt=r"(a+)+b", cols=80, rows=24)
    patterns = LoginPatterns.from_target(target)
    started = time.perf_counter()
    assert patterns.login.search("a" * 2000 + "c") is None
    assert time.perf_counter() - started < 0.5
    found = patterns.login.search("xx AAAB")
    assert found is not None and found.group(0) == "AAAB"


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(login)\s*\1", "no backreferences or lookaround"),
        (r"login(?=:)", "no backreferences or lookaround"),
        (r"\s*", "matches empty text"),
        (r"(unclosed", "not a valid regular expression"),
    ],
)
def test_a_pattern_re2_cannot_run_is_refused_with_the_reason(pattern: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(reason)):
        Target(protocol="telnet", hostname="h", port=23, password_prompt=pattern, cols=80, rows=24)
