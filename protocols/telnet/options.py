"""Telnet option negotiation (RFC 855) with the Q method of RFC 1143, so negotiation can never loop.

Each option has two sides: *us* (what we do: the server sends DO/DONT, we answer WILL/WONT) and *him* (what the
server does: it sends WILL/WONT, we answer DO/DONT). Each side is in one of NO, YES, WANTNO, WANTYES, plus a
one-deep queue for a request made while a negotiation is in flight. A request that would not change the state
is never answered, so repeated WILL/DO from a server cannot ping-pong.

Policy of this client:

* *him*: ECHO (the server echoes: character-at-a-time, as a terminal expects), SGA, BINARY are accepted;
* *us*: SGA, BINARY, NAWS (window size, RFC 1073) and TTYPE (terminal type, RFC 1091) are accepted; we never
  echo the server's data back (our "terminal" is a browser: it shows what the server sends). A server that refuses
  to echo gets the typed input echoed locally instead (``protocol``: RFC 857's default);
* everything else is refused (DONT / WONT) once, then ignored.

Window sizes are reported without any byte 255 in them (255 -> 254, 511 -> 510, 767 -> 766): RFC 1073 has such a
byte doubled, and :func:`~protocols.telnet.codec.naws` does so, but busybox telnetd (common on the embedded devices
Telnet is still used for) reads NAWS without undoubling, which turns the height into garbage and types a stray
character into the shell. One cell less at those three sizes is the lesser harm.

The negotiator is sans-IO: what must be sent collects in :attr:`Negotiator.outgoing`, the owner writes it.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass

from protocols.telnet import codec
from protocols.telnet.codec import BINARY, DO, DONT, ECHO, NAWS, SGA, TTYPE, TTYPE_SEND, WILL, WONT

log = logging.getLogger(__name__)

HIM_ACCEPTED = frozenset({ECHO, SGA, BINARY})
US_ACCEPTED = frozenset({SGA, BINARY, NAWS, TTYPE})
# Asked for at connection start: the server should echo and not wait for GA; we offer the window size.
INITIAL_HIM = (SGA, ECHO)
INITIAL_US = (NAWS,)


class Q(enum.Enum):
    """The state of one side of one option (RFC 1143)."""

    NO = "no"
    YES = "yes"
    WANTNO = "wantno"
    WANTYES = "wantyes"


@dataclass(slots=True)
class Side:
    """One side of one option: its state and whether the opposite request is queued."""

    state: Q = Q.NO
    opposite: bool = False


Listener = Callable[[str, int, bool], None]


class Negotiator:
    """The option state of one connection; feed it what the decoder finds, send :attr:`outgoing`.

    ``on_change(side, option, enabled)`` is called when an option becomes enabled or disabled (``side`` is
    ``"us"`` or ``"him"``), after the answer that completes it has been queued.
    """

    def __init__(self, *, terminal_type: str, cols: int, rows: int, on_change: Listener | None = None) -> None:
        self.terminal_type = terminal_type
        self.cols = cols
        self.rows = rows
        self.on_change = on_change
        self.outgoing = bytearray()
        self._us: dict[int, Side] = {}
        self._him: dict[int, Side] = {}

    # --- state ------------------------------------------------------------------------------------
    def us(self, option: int) -> Q:
        """Our state for ``option``."""
        side = self._us.get(option)
        return side.state if side else Q.NO

    def him(self, option: int) -> Q:
        """The server's state for ``option``."""
        side = self._him.get(option)
        return side.state if side else Q.NO

    @property
    def binary_in(self) -> bool:
        """The server transmits in BINARY mode."""
        return self.him(BINARY) is Q.YES

    @property
    def binary_out(self) -> bool:
        """We transmit in BINARY mode."""
        return self.us(BINARY) is Q.YES

    @property
    def remote_echo(self) -> bool:
        """The server echoes what we send."""
        return self.him(ECHO) is Q.YES

    def take(self) -> bytes:
        """Remove and return what must be sent to the server (b"" when nothing)."""
        if not self.outgoing:
            return b""
        out = bytes(self.outgoing)
        self.outgoing.clear()
        return out

    # --- requests of ours -------------------------------------------------------------------------
    def start(self) -> None:
        """Queue the requests this client makes unasked when the connection opens."""
        for option in INITIAL_HIM:
            self.ask_him(option, True)
        for option in INITIAL_US:
            self.ask_us(option, True)

    def ask_him(self, option: int, enable: bool) -> None:
        """Ask the server to enable (DO) or disable (DONT) ``option``."""
        self._request(self._side(self._him, option), option, enable, DO, DONT, "him")

    def ask_us(self, option: int, enable: bool) -> None:
        """Offer (WILL) or withdraw (WONT) ``option`` on our side."""
        self._request(self._side(self._us, option), option, enable, WILL, WONT, "us")

    def resize(self, cols: int, rows: int) -> None:
        """Remember the window size; report it now if NAWS is on, else when the server enables it."""
        self.cols, self.rows = cols, rows
        if self.us(NAWS) is Q.YES:
            self._report_size()

    # --- what the server sends --------------------------------------------------------------------
    def on_negotiation(self, command: int, option: int) -> None:
        """Apply a received WILL, WONT, DO or DONT, queueing the answer if one is due."""
        log.debug("received %s %s", codec.name(command), codec.name(option))
        if command == WILL:
            self._received_yes(self._him, option, option in HIM_ACCEPTED, DO, DONT, "him")
        elif command == WONT:
            self._received_no(self._him, option, DO, DONT, "him")
        elif command == DO:
            self._received_yes(self._us, option, option in US_ACCEPTED, WILL, WONT, "us")
        elif command == DONT:
            self._received_no(self._us, option, WILL, WONT, "us")

    def on_subnegotiation(self, option: int, payload: bytes) -> None:
        """Answer ``SB TTYPE SEND``; anything else is ignored (only enabled options are answered)."""
        if option == TTYPE and payload[:1] == bytes((TTYPE_SEND,)) and self.us(TTYPE) is Q.YES:
            # One type only: repeating it on every SEND tells the server the list is complete (RFC 1091).
            self.outgoing += codec.terminal_type(self.terminal_type)

    def on_command(self, command: int) -> None:
        """NOP, GA, DM, AYT and friends need nothing from a client that does not buffer lines."""

    # --- RFC 1143 ---------------------------------------------------------------------------------
    @staticmethod
    def _side(table: dict[int, Side], option: int) -> Side:
        side = table.get(option)
        if side is None:
            side = table[option] = Side()
        return side

    def _send(self, verb: int, option: int) -> None:
        self.outgoing += codec.command(verb, option)

    def _request(self, side: Side, option: int, enable: bool, yes: int, no: int, which: str) -> None:
        state = side.state
        if enable:
            if state is Q.NO:
                side.state = Q.WANTYES
                self._send(yes, option)
            elif state is Q.WANTNO:
                side.opposite = True
            elif state is Q.WANTYES:
                side.opposite = False
        else:
            if state is Q.YES:
                side.state = Q.WANTNO
                self._send(no, option)
                self._changed(which, option, False)  # off from now on: nothing relies on it while it winds down
            elif state is Q.WANTNO:
                side.opposite = False
            elif state is Q.WANTYES:
                side.opposite = True

    def _received_yes(self, table: dict[int, Side], option: int, agree: bool, yes: int, no: int, which: str) -> None:
        side = table.get(option)
        if side is None:
            if not agree:
                # Refused and stays NO: the same request again gets the same single answer, never a loop.
                self._send(no, option)
                return
            side = self._side(table, option)
        state = side.state
        if state is Q.NO:
            if agree:
                side.state = Q.YES
                self._send(yes, option)
                self._changed(which, option, True)
            else:
                self._send(no, option)
        elif state is Q.WANTNO:
            # DONT/WONT answered by WILL/DO: a protocol error by the peer (RFC 1143 says so); take the answer.
            if side.opposite:
                side.state, side.opposite = Q.YES, False
                self._changed(which, option, True)
            else:
                side.state = Q.NO
        elif state is Q.WANTYES:
            if side.opposite:
                side.state, side.opposite = Q.WANTNO, False
                self._send(no, option)
            else:
                side.state = Q.YES
                self._changed(which, option, True)
        # YES: already enabled, nothing to say.

    def _received_no(self, table: dict[int, Side], option: int, yes: int, no: int, which: str) -> None:
        side = table.get(option)
        if side is None:
            return
        state = side.state
        if state is Q.YES:
            side.state = Q.NO
            self._send(no, option)
            self._changed(which, option, False)
        elif state is Q.WANTNO:
            if side.opposite:
                side.state, side.opposite = Q.WANTYES, False
                self._send(yes, option)
            else:
                side.state = Q.NO
        elif state is Q.WANTYES:
            side.state, side.opposite = Q.NO, False
        # NO: already disabled, nothing to say.

    def _report_size(self) -> None:
        self.outgoing += codec.naws(_no_255(self.cols), _no_255(self.rows))

    def _changed(self, which: str, option: int, enabled: bool) -> None:
        log.debug("%s %s is now %s", which, codec.name(option), "on" if enabled else "off")
        if which == "us" and option == NAWS and enabled:
            self._report_size()
        if self.on_change is not None:
            self.on_change(which, option, enabled)


def _no_255(size: int) -> int:
    """``size`` made one smaller if it would put a byte 255 on the wire (see the module's docstring)."""
    return size - 1 if size & 0xFF == 0xFF else size
