"""Recognising a Telnet login from the server's text: the prompt patterns and a sans-IO watcher.

The watcher keeps a bounded tail of what the server printed since the last step of the login (escape sequences
and control characters removed, decoded as UTF-8) and matches the item's patterns against it:

* waiting for a prompt: the password prompt (checked first, it is the more specific) or the login prompt;
* after the user name: the password prompt, or a failure (failure text, or the login prompt coming back);
* after the password: the failure text at once; the login or password prompt coming back is judged only once
  the server has gone quiet (:meth:`LoginWatcher.verdict`), so a line that happens to end in ``login:`` when a
  read splits it cannot pass for a prompt.

Patterns are compiled as the core validates them (``check_prompt_pattern``: RE2, case-insensitive, nothing else), so
``^`` and ``$`` mean the start and end of the text watched since the last step; ``(?m)`` makes them line anchors.

What the driver does with the signals (inject, ask, fail, hand over) lives in ``autologin``.
"""

from __future__ import annotations

import codecs
import enum
from dataclasses import dataclass

from jumpoint.core.adapter import Target, check_prompt_pattern
from jumpoint.core.prompt_patterns import CompiledPrompt
from protocols.telnet.text import plain

DEFAULT_LOGIN_PROMPT = r"(?:login|username|user name)\s*:\s*$"
DEFAULT_PASSWORD_PROMPT = r"password\s*:\s*$"  # noqa: S105 - a pattern, not a password
DEFAULT_LOGIN_FAILURE = (
    r"login incorrect|authentication failure|access denied|login failed|login invalid|incorrect password"
    r"|invalid password|bad password"
)
TAIL_LIMIT = 2048


@dataclass(frozen=True, slots=True)
class LoginPatterns:
    """The compiled prompt and failure patterns of one Jump Item (case-insensitive)."""

    login: CompiledPrompt
    password: CompiledPrompt
    failure: CompiledPrompt

    @classmethod
    def from_target(cls, target: Target) -> LoginPatterns:
        """The item's patterns, the defaults where it has none; ValueError if one is invalid."""
        return cls(
            login=check_prompt_pattern(target.login_prompt or DEFAULT_LOGIN_PROMPT),
            password=check_prompt_pattern(target.password_prompt or DEFAULT_PASSWORD_PROMPT),
            failure=check_prompt_pattern(target.login_failure or DEFAULT_LOGIN_FAILURE),
        )

    @classmethod
    def defaults(cls) -> LoginPatterns:
        """The adapter's default patterns."""
        return cls(
            login=check_prompt_pattern(DEFAULT_LOGIN_PROMPT),
            password=check_prompt_pattern(DEFAULT_PASSWORD_PROMPT),
            failure=check_prompt_pattern(DEFAULT_LOGIN_FAILURE),
        )


class Stage(enum.Enum):
    """How far the login got."""

    AWAIT_PROMPT = "waiting for a login or password prompt"
    SENT_USER = "waiting for the password prompt after the user name"
    SENT_PASSWORD = "waiting for the server's answer to the password"  # noqa: S105


class Signal(enum.Enum):
    """What the watcher recognised."""

    LOGIN_PROMPT = "login prompt"
    PASSWORD_PROMPT = "password prompt"  # noqa: S105
    FAILURE = "login failure"


class LoginWatcher:
    """Feed the server's output; read :attr:`signal` (and :attr:`failure_text`) after each feed."""

    def __init__(self, patterns: LoginPatterns, *, tail_limit: int = TAIL_LIMIT) -> None:
        self._patterns = patterns
        self._limit = tail_limit
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._tail = ""
        self.stage = Stage.AWAIT_PROMPT
        self.signal: Signal | None = None
        self.failure_text = ""
        self.text_seen = False  # something other than white space arrived since the last step

    @property
    def tail(self) -> str:
        """The plain text seen since the last step (bounded), for messages."""
        return plain(self._tail)

    def feed(self, data: bytes) -> Signal | None:
        """Account for output; return (and keep in :attr:`signal`) a newly recognised signal, else None."""
        text = self._decoder.decode(data)
        if not text:
            return None
        tail = self._tail + text
        if len(tail) > self._limit:
            tail = tail[-self._limit :]
        self._tail = tail
        if self.signal is not None:
            return None  # the driver has not acted on the previous one yet: the tail keeps growing meanwhile
        shown = plain(tail)
        if not self.text_seen and shown.strip():
            self.text_seen = True
        found = self._match(shown)
        if found is not None:
            self.signal = found
        return found

    def take(self) -> Signal | None:
        """Remove and return the pending signal."""
        signal, self.signal = self.signal, None
        return signal

    def verdict(self) -> Signal | None:
        """After the password, once the server is quiet: FAILURE if the text says the login failed, else None."""
        if self.stage is not Stage.SENT_PASSWORD:
            return None
        shown = plain(self._tail)
        if self._failed(shown):
            return Signal.FAILURE
        if self._patterns.login.search(shown):
            self.failure_text = "the login prompt came back after the password"
            return Signal.FAILURE
        if self._patterns.password.search(shown):
            self.failure_text = "the password prompt came back"
            return Signal.FAILURE
        return None

    def sent_username(self) -> None:
        """The user name was sent: look for the password prompt in what comes next."""
        self._step(Stage.SENT_USER)

    def sent_password(self) -> None:
        """The password was sent: look for the server's answer in what comes next."""
        self._step(Stage.SENT_PASSWORD)

    # --- internals --------------------------------------------------------------------------------
    def _step(self, stage: Stage) -> None:
        self.stage = stage
        self._tail = ""
        self.signal = None
        self.text_seen = False

    def _failed(self, shown: str) -> bool:
        found = self._patterns.failure.search(shown)
        if found is not None:
            self.failure_text = found.group(0).strip()[:200]
        return found is not None

    def _match(self, shown: str) -> Signal | None:
        patterns = self._patterns
        if self.stage is Stage.AWAIT_PROMPT:
            if patterns.password.search(shown):
                return Signal.PASSWORD_PROMPT
            if patterns.login.search(shown):
                return Signal.LOGIN_PROMPT
            return None
        if self._failed(shown):
            return Signal.FAILURE
        if self.stage is Stage.SENT_USER:
            if patterns.password.search(shown):
                return Signal.PASSWORD_PROMPT
            if patterns.login.search(shown):
                self.failure_text = "the login prompt came back after the user name"
                return Signal.FAILURE
        return None
