"""Guessing when the remote terminal hides input (password prompts)."""

from __future__ import annotations

from console_web.hub.echo_guess import EchoGuess


def test_a_sudo_password_prompt_turns_echo_off_until_the_next_line() -> None:
    guess = EchoGuess()
    assert guess.feed(b"ann@box:~$ sudo ls\r\n") is None
    assert guess.feed(b"[sudo] password for ann: ") is False
    assert guess.echo is False
    assert guess.feed(b"\r\n") is True


def test_a_prompt_split_across_chunks_is_recognised() -> None:
    guess = EchoGuess()
    guess.feed(b"Enter pass")
    assert guess.feed(b"phrase for key '/home/ann/.ssh/id_ed25519': ") is False


def test_ordinary_output_mentioning_passwords_keeps_echo_on() -> None:
    guess = EchoGuess()
    assert guess.feed(b"the password policy was updated\r\nann@box:~$ ") is None
    assert guess.echo is True
