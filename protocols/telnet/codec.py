"""The Telnet byte stream (RFC 854, 855): split the server's bytes into terminal data and commands, encode ours.

Decoding is sans-IO: :class:`Decoder` is fed whatever the socket delivered (sequences may be split anywhere) and
calls ``on_data`` with terminal bytes and its :class:`CommandHandler` with negotiations and subnegotiations, in
stream order. A chunk without IAC (and, outside BINARY, without CR NUL) is handed on as the very same bytes
object: the scan is ``bytes.find`` in C, never a Python loop over bytes. Data with doubled IACs (byte 255) in it is
matched and undoubled in C as well (one regular expression, ``bytes.replace``). Subnegotiations are bounded
(:data:`SB_LIMIT`); a longer one is discarded whole.

Commands are walked one by one in Python, so a server sending nothing but commands (``IAC NOP`` by the megabyte)
would keep the event loop busy without end: output never piles up, so backpressure never stops the socket. Each
decoder therefore has a budget of :data:`COMMAND_BUDGET` command bytes without a data byte; any data byte restores
it, and the owner may give some back as time passes (:meth:`Decoder.forgive`). A server that overdraws it gets
:class:`CommandFlood` raised out of :meth:`Decoder.feed`, having cost the loop a few milliseconds at most.

NVT end-of-line (RFC 854): a bare CR travels as CR NUL, a newline as CR LF. Incoming CR NUL becomes CR (CR LF
stays CR LF, which a terminal needs); outgoing, a CR not followed by LF becomes CR NUL, as when Enter (which
xterm.js sends as a lone CR) is pressed. In BINARY mode (RFC 856) in a direction neither rule applies there;
IAC (255) is doubled as data in every mode.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from typing import Protocol

# Commands (RFC 854).
SE = 240
NOP = 241
DM = 242
BRK = 243
IP = 244
AO = 245
AYT = 246
EC = 247
EL = 248
GA = 249
SB = 250
WILL = 251
WONT = 252
DO = 253
DONT = 254
IAC = 255

# Options this client knows.
BINARY = 0  # RFC 856
ECHO = 1  # RFC 857
SGA = 3  # RFC 858
TTYPE = 24  # RFC 1091
NAWS = 31  # RFC 1073

# TTYPE subnegotiation verbs (RFC 1091).
TTYPE_IS = 0
TTYPE_SEND = 1

SB_LIMIT = 1024
# Command bytes a server may send without any data byte: negotiation takes a few hundred, a keep-alive two.
COMMAND_BUDGET = 64 * 1024

_IAC = b"\xff"
_IAC2 = b"\xff\xff"
_CR = b"\r"
_CR_NUL = b"\r\0"
_BARE_CR = re.compile(rb"\r(?!\n)")
# Data up to the next IAC that starts a command: bytes other than IAC, and IAC IAC pairs (a data byte 255).
_DATA_RUN = re.compile(rb"[^\xff]*(?:\xff\xff[^\xff]*)*")

# Parser states.
_DATA, _COMMAND, _OPTION, _SUB, _SUB_IAC = range(5)

NAMES = {
    BINARY: "BINARY",
    ECHO: "ECHO",
    SGA: "SGA",
    TTYPE: "TTYPE",
    NAWS: "NAWS",
    WILL: "WILL",
    WONT: "WONT",
    DO: "DO",
    DONT: "DONT",
}


class CommandFlood(Exception):
    """The server sent more than ``budget`` bytes of commands without a data byte (see the module's docstring)."""

    def __init__(self, budget: int) -> None:
        super().__init__(f"more than {budget} bytes of Telnet commands without data")
        self.budget = budget


def name(code: int) -> str:
    """A command's or an option's name for logs (its number when unknown)."""
    return NAMES.get(code, str(code))


class CommandHandler(Protocol):
    """What the decoder tells about the commands it finds."""

    @property
    def binary_in(self) -> bool:
        """Whether the server sends in BINARY mode (no CR NUL rule in that direction)."""
        ...

    def on_negotiation(self, command: int, option: int) -> None:
        """``IAC WILL|WONT|DO|DONT option`` was received."""
        ...

    def on_subnegotiation(self, option: int, payload: bytes) -> None:
        """``IAC SB option payload IAC SE`` was received (payload unescaped, at most ``SB_LIMIT - 1`` bytes)."""
        ...

    def on_command(self, command: int) -> None:
        """Any other two-byte command (NOP, GA, AYT, DM...)."""
        ...


class Decoder:
    """Server bytes -> terminal data and commands. One per connection; keeps the state between chunks."""

    __slots__ = (
        "_after_cr",
        "_allowance",
        "_budget",
        "_command",
        "_handler",
        "_on_data",
        "_parts",
        "_sb",
        "_sb_limit",
        "_sb_over",
        "_state",
    )

    def __init__(
        self,
        handler: CommandHandler,
        on_data: Callable[[bytes], None],
        *,
        sb_limit: int = SB_LIMIT,
        command_budget: int = COMMAND_BUDGET,
    ) -> None:
        self._handler = handler
        self._on_data = on_data
        self._sb_limit = sb_limit
        self._budget = command_budget
        self._allowance = command_budget  # command bytes still allowed before the next data byte
        self._state = _DATA
        self._command = 0
        self._sb = bytearray()
        self._sb_over = False
        self._after_cr = False  # the last data byte was a CR: a NUL right after it is the CR NUL pad
        self._parts: list[bytes] = []

    def feed(self, data: bytes) -> None:
        """Decode one chunk as received; partial sequences at its end are kept for the next chunk.

        Raises :class:`CommandFlood` when the command budget is overdrawn (the data before that point is handed on
        first); the decoder must not be fed again after that."""
        if self._state == _DATA and data.find(_IAC) < 0:
            if data:
                self._allowance = self._budget
            out = self._nvt(data)
            if out:
                self._on_data(out)
            return
        try:
            self._parse(data)
        finally:
            self._flush()

    def forgive(self, nbytes: int) -> None:
        """Give back up to ``nbytes`` of the command budget (the owner's allowance for time passing)."""
        if nbytes > 0:
            self._allowance = min(self._budget, self._allowance + nbytes)

    # --- internals --------------------------------------------------------------------------------
    def _nvt(self, data: bytes) -> bytes:
        """Apply the incoming CR NUL rule to a run of data bytes (identity when there is nothing to do)."""
        if self._handler.binary_in or not data:
            self._after_cr = False
            return data
        out = data
        if self._after_cr and out[0] == 0:
            out = out[1:]
        if out.find(_CR_NUL) >= 0:
            out = out.replace(_CR_NUL, _CR)
        self._after_cr = data[-1] == 13
        return out

    def _flush(self) -> None:
        parts = self._parts
        if parts:
            out = parts[0] if len(parts) == 1 else b"".join(parts)
            parts.clear()
            if out:
                self._on_data(out)

    def _parse(self, data: bytes) -> None:
        # The state and the budget live in locals while the chunk is walked (this loop runs once per command).
        i, n = 0, len(data)
        parts = self._parts
        budget = self._budget
        allowance = self._allowance
        state = self._state
        try:
            while i < n:
                if state == _DATA:
                    j = data.find(_IAC, i)
                    if j < 0:
                        parts.append(self._nvt(data[i:] if i else data))
                        allowance = budget
                        return
                    if j + 1 < n and data[j + 1] == IAC:
                        # A doubled IAC (a data byte 255): the data goes on past it and any more pairs, found in C.
                        j = _DATA_RUN.match(data, j).end()  # type: ignore[union-attr]  # matches the empty string
                        parts.append(self._nvt(data[i:j].replace(_IAC2, _IAC)))  # the match takes whole pairs only
                        allowance = budget
                        if j == n:
                            return
                    elif j > i:
                        parts.append(self._nvt(data[i:j]))
                        allowance = budget
                    state = _COMMAND  # data[j] is an IAC that starts a command (or a pair the read split)
                    i = j + 1
                elif state == _COMMAND:
                    byte = data[i]
                    i += 1
                    if byte == IAC:
                        parts.append(_IAC)
                        self._after_cr = False
                        allowance = budget
                        state = _DATA
                        continue
                    allowance -= 2
                    if allowance < 0:
                        raise CommandFlood(budget)
                    if WILL <= byte <= DONT:
                        self._command = byte
                        state = _OPTION
                    elif byte == SB:
                        self._sb.clear()
                        self._sb_over = False
                        state = _SUB
                    else:
                        state = _DATA
                        self._handler.on_command(byte)
                elif state == _OPTION:
                    option = data[i]
                    i += 1
                    state = _DATA
                    allowance -= 1
                    if allowance < 0:
                        raise CommandFlood(budget)
                    self._flush()  # a negotiation may change how the data after it is handled: keep the order
                    self._handler.on_negotiation(self._command, option)
                elif state == _SUB:
                    j = data.find(_IAC, i)
                    end = n if j < 0 else j
                    allowance -= end - i
                    if allowance < 0:
                        raise CommandFlood(budget)
                    self._sb_add(data, i, end)
                    if j < 0:
                        return
                    state = _SUB_IAC
                    i = j + 1
                else:  # _SUB_IAC
                    byte = data[i]
                    i += 1
                    allowance -= 2
                    if allowance < 0:
                        raise CommandFlood(budget)
                    if byte == IAC:
                        self._sb_add(_IAC, 0, 1)
                        state = _SUB
                    elif byte == SE:
                        state = _DATA
                        self._end_sub()
                    else:
                        # IAC <command> inside a subnegotiation: the SE was lost. Drop the subnegotiation and
                        # treat the bytes as the command they are.
                        state = _COMMAND
                        i -= 1
        finally:
            self._state = state
            self._allowance = allowance

    def _sb_add(self, data: bytes, start: int, end: int) -> None:
        room = self._sb_limit - len(self._sb)
        if end - start > room:
            self._sb_over = True
            end = start + max(room, 0)
        if end > start:
            self._sb += data[start:end]

    def _end_sub(self) -> None:
        payload, over = bytes(self._sb), self._sb_over
        self._sb.clear()
        self._sb_over = False
        if over or not payload:
            return
        self._flush()
        self._handler.on_subnegotiation(payload[0], payload[1:])


def encode_data(data: bytes, *, binary: bool) -> bytes:
    """Terminal input as it goes on the wire: IAC doubled; outside BINARY a bare CR becomes CR NUL."""
    if data.find(_IAC) >= 0:
        data = data.replace(_IAC, _IAC2)
    if not binary and data.find(_CR) >= 0:
        data = _BARE_CR.sub(_CR_NUL, data)
    return data


def command(verb: int, option: int) -> bytes:
    """``IAC verb option`` (WILL, WONT, DO, DONT)."""
    return bytes((IAC, verb, option))


def subnegotiation(option: int, payload: bytes) -> bytes:
    """``IAC SB option payload IAC SE`` with every IAC in the payload doubled."""
    return bytes((IAC, SB, option)) + payload.replace(_IAC, _IAC2) + bytes((IAC, SE))


def naws(cols: int, rows: int) -> bytes:
    """The NAWS report of a window size (RFC 1073): width and height as 16-bit big-endian numbers."""
    return subnegotiation(NAWS, struct.pack(">HH", cols, rows))


def terminal_type(name_: str) -> bytes:
    """The answer to ``SB TTYPE SEND`` (RFC 1091): ``SB TTYPE IS name``."""
    return subnegotiation(TTYPE, bytes((TTYPE_IS,)) + name_.encode("ascii"))
