"""Whether what is typed shows on the terminal, for recorders that must not record hidden input.

The console stops guessing from the output once an adapter reports echo itself, so this tracker must know at
least as much as the console's guess. Echo counts as off when either

* the server stopped echoing after it had echoed (``WONT ECHO`` after ``WILL ECHO``: what is typed now is not
  shown, as at a password prompt), or
* the last output line is a password prompt (the default words below or the item's password pattern): login(1),
  su and sudo hide the password by switching their PTY's echo off, which Telnet never hears about;

and back on when the server echoes again and the output moved past the prompt line.

:func:`typed_echo` is what a terminal with local echo shows of typed input: the Telnet connection adds it to the
output when the server refused to echo (RFC 857's default, line-mode devices), and only while the tracker says echo
is on, so a password typed at a prompt stays out of the output and the recording.
"""

from __future__ import annotations

import re

from jumpoint.core.password_prompt import PASSWORD_PROMPT, PROMPT_TAIL
from jumpoint.core.prompt_patterns import CompiledPrompt
from protocols.telnet.text import plain_bytes

# Typed bytes a terminal does not show: escape sequences (cursor and function keys, bracketed-paste markers, SS3 keys
# such as ESC O A) and control characters other than CR.
_NOT_SHOWN = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1bO[ -~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]|[\x00-\x0c\x0e-\x1f\x7f]"
)


def typed_echo(data: bytes) -> bytes:
    """What local echo shows of typed ``data``: printable bytes (UTF-8 included) as typed, Enter (CR, or CR LF) as
    CR LF; escape sequences and other control characters not at all."""
    shown = _NOT_SHOWN.sub(b"", data.replace(b"\r\n", b"\r"))
    return shown.replace(b"\r", b"\r\n") if shown.find(b"\r") >= 0 else shown


class EchoTracker:
    """Feed output and the server's ECHO option; each call returns the new state when it changed, else None."""

    __slots__ = ("_hidden_by_option", "_prompt", "_prompt_showing", "_server_echoed", "_tail", "echo")

    def __init__(self, password_prompt: CompiledPrompt | None = None) -> None:
        self._prompt = password_prompt
        self._tail = b""
        self._prompt_showing = False
        self._server_echoed = False
        self._hidden_by_option = False
        self.echo = True

    def output(self, data: bytes) -> bool | None:
        """Account for terminal output."""
        cut = data.rfind(b"\n")
        tail = data[cut + 1 :] if cut >= 0 else self._tail + data
        if len(tail) > PROMPT_TAIL:
            tail = tail[-PROMPT_TAIL:]
        self._tail = tail
        if not tail:
            self._prompt_showing = False
        else:
            shown = plain_bytes(tail).rstrip(b"\r")
            self._prompt_showing = bool(PASSWORD_PROMPT.search(shown)) or (
                self._prompt is not None and self._prompt.search(shown.decode("utf-8", "replace")) is not None
            )
        return self._update()

    def server_echo(self, enabled: bool) -> bool | None:
        """The server's ECHO option changed."""
        if enabled:
            self._server_echoed = True
            self._hidden_by_option = False
        elif self._server_echoed:
            self._hidden_by_option = True
        return self._update()

    def _update(self) -> bool | None:
        echo = not (self._prompt_showing or self._hidden_by_option)
        if echo == self.echo:
            return None
        self.echo = echo
        return echo
