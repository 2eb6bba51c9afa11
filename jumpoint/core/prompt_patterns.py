"""Prompt patterns a user writes (a Telnet item's login, password and failure text), matched in linear time.

The patterns run on the Jumpoint's event loop against what a target prints, on every chunk of output, for every
session. Python's ``re`` backtracks: a pattern such as ``(a+)+b`` written into a Jump Item by any member of its
group, met by output of a few thousand ``a``, would hold the loop for minutes, and with it every session and the
tunnel's heartbeat. So these patterns are compiled with RE2, whose matching time is linear in the text whatever the
pattern. RE2 has no backreferences or lookaround; a pattern that uses them is refused with RE2's reason.
"""

from __future__ import annotations

from typing import Final, Protocol, cast

import re2  # type: ignore[import-untyped]

MAX_PATTERN_MEMORY: Final = 1 << 20
"""RE2's memory budget per compiled pattern (a pattern needing more is refused as too large)."""


class PromptMatch(Protocol):
    """What a match of a :class:`CompiledPrompt` offers."""

    def group(self, index: int = 0) -> str:
        """The matched text (``0``) or a group's."""
        ...


class CompiledPrompt(Protocol):
    """A compiled, case-insensitive prompt pattern."""

    def search(self, text: str) -> PromptMatch | None:
        """The first match anywhere in ``text``, or None."""
        ...


def compile_prompt_pattern(pattern: str) -> CompiledPrompt:
    """Compile a user's pattern case-insensitively with RE2; ValueError saying what is wrong (a user wrote it),
    also when it matches empty text (it would match before the server says anything)."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.max_mem = MAX_PATTERN_MEMORY
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        syntax = "RE2 syntax: no backreferences or lookaround"
        raise ValueError(f"not a valid regular expression: {reason} ({syntax})") from None
    if compiled.match("") is not None:
        raise ValueError("the pattern matches empty text, so it would match before the server says anything")
    return cast(CompiledPrompt, compiled)
