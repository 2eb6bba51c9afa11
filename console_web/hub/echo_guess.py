"""Whether the remote terminal is hiding what is typed, guessed from the output (for keystroke recording).

SSH does not tell the client when the remote PTY turns echo off, so a password typed at ``sudo`` or ``su`` would
otherwise be recorded as input. The guess errs on the side of not recording: the last output line looks like a
password prompt ("Password:", "[sudo] password for ann:", "Enter passphrase for key ...:", "PIN:") -> echo is off
until the next line break in the output. Adapters that know the real state (Telnet's ECHO option) send it instead.
"""

from __future__ import annotations

from jumpoint.core.password_prompt import PASSWORD_PROMPT, PROMPT_TAIL


class EchoGuess:
    """Feed output; ``echo`` is False while the last output line is a password prompt."""

    __slots__ = ("_tail", "echo")

    def __init__(self) -> None:
        self._tail = b""
        self.echo = True

    def feed(self, data: bytes) -> bool | None:
        """Account for output; return the new state when it changed, else None."""
        cut = data.rfind(b"\n")
        tail = data[cut + 1 :] if cut >= 0 else self._tail + data
        self._tail = tail[-PROMPT_TAIL:]
        echo = not PASSWORD_PROMPT.search(self._tail.rstrip(b"\r"))
        if echo != self.echo:
            self.echo = echo
            return echo
        return None
