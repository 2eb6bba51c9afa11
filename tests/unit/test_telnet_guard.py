"""The backstop that keeps a typed stored password out of the output: held while it may be starting, dropped whole."""

from __future__ import annotations

import pytest

from protocols.telnet.guard import SecretGuard

SECRET = b"oj-Test-pw-4711"


def test_output_without_the_secret_passes_unchanged_as_the_same_object() -> None:
    guard = SecretGuard(SECRET)
    data = b"\r\nLast login: today\r\n$ "
    assert guard.feed(data) is data
    assert guard.release() == b""


def test_output_that_shows_the_secret_in_full_is_refused_whole() -> None:
    guard = SecretGuard(SECRET)
    assert guard.feed(b"vm login: " + SECRET + b"\r\nPassword: ") is None


@pytest.mark.parametrize("cut", range(1, len(SECRET)))
def test_a_secret_split_across_reads_is_refused_and_none_of_it_was_passed_on(cut: int) -> None:
    guard = SecretGuard(SECRET)
    passed = guard.feed(b"vm login: " + SECRET[:cut])
    assert passed == b"vm login: "
    assert guard.feed(SECRET[cut:] + b"\r\n") is None
    assert guard.release() == b""


def test_a_secret_split_over_many_small_reads_is_refused() -> None:
    guard = SecretGuard(SECRET)
    passed = b""
    for byte in SECRET[:-1]:
        out = guard.feed(bytes([byte]))
        assert out is not None
        passed += out
    assert passed == b""
    assert guard.feed(SECRET[-1:]) is None


def test_an_end_that_only_looks_like_the_start_of_the_secret_is_passed_on_once_the_next_read_tells() -> None:
    guard = SecretGuard(SECRET)
    assert guard.feed(b"prompt oj-") == b"prompt "
    assert guard.feed(b"Tx more") == b"oj-Tx more"
    assert guard.feed(b"$ oj") == b"$ "
    assert guard.release() == b"oj"


def test_the_longest_possible_start_is_held() -> None:
    guard = SecretGuard(b"abab")
    assert guard.feed(b"xaba") == b"x"
    assert guard.feed(b"b") is None


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="empty secret"):
        SecretGuard(b"")
