"""The Telnet socket as an :class:`asyncio.Protocol`: decode, negotiate, buffer output with backpressure.

Output path (hot): :meth:`TelnetProtocol.data_received` hands the chunk to the :class:`~protocols.telnet.codec.
Decoder`, which passes IAC-free chunks through unchanged; the terminal bytes are appended to a deque (no copy)
and the reader is woken. Echo changes and notices go into the same deque, so they keep their place among the
output. When more than ``buffer_limit`` output bytes wait unread the transport stops reading, so TCP's window
closes and the server stops sending; reading resumes once the reader has drained half of it.

Input: keys wait while the transport's write buffer is above its high-water mark (``pause_writing``), so they
are never dropped and never pile up. When the server refused to echo (``WONT ECHO`` to our ``DO ECHO``: RFC 857's
default, as line-mode devices do), typed input is echoed into the output here, as PuTTY's "local echo: auto" does,
unless the echo tracker says echo is off (a password prompt showing, or the server stopped echoing after it had):
:meth:`TelnetProtocol.echo_typed`. Negotiation answers and keep-alive NOPs are not awaited; they are dropped
(and logged once) if a server that never reads has let :data:`CONTROL_WRITE_LIMIT` bytes pile up.

A server that sends Telnet commands without data past the decoder's budget (see :mod:`~protocols.telnet.codec`) is
cut off: the transport is aborted and :attr:`TelnetProtocol.error` is the :class:`~protocols.telnet.codec.
CommandFlood`. The budget is given back at :data:`COMMAND_REFILL` bytes a second, so a server's slow keep-alives
never use it up.

After the auto-login typed a password (a stored one, or the rep's answer to the password prompt), output passes a
:class:`~protocols.telnet.guard.SecretGuard` before anything else sees it (:meth:`TelnetProtocol.guard_output`):
output that shows the password is dropped, with all output after it, and the observer is told.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol, cast

from jumpoint.core.events import EchoChanged, TerminalOutput
from jumpoint.core.output_buffer import DEFAULT_BUFFER_LIMIT, OutputBuffer
from protocols.telnet import codec
from protocols.telnet.codec import ECHO, CommandFlood, Decoder
from protocols.telnet.echo import EchoTracker, typed_echo
from protocols.telnet.guard import SecretGuard
from protocols.telnet.options import Negotiator, Q

CONTROL_WRITE_LIMIT = 256 * 1024
COMMAND_REFILL = 1024  # command bytes a second given back to the decoder's budget
NOP = bytes((codec.IAC, codec.NOP))


class OutputObserver(Protocol):
    """Watches the terminal output while it arrives (the auto-login)."""

    def on_output(self, data: bytes) -> None:
        """Terminal bytes, as they are queued for the reader."""
        ...

    def on_lost(self) -> None:
        """The connection ended."""
        ...

    def on_secret_shown(self) -> None:
        """The guarded secret showed in the output (see :meth:`TelnetProtocol.guard_output`); it was dropped."""
        ...


class TelnetProtocol(asyncio.Protocol):
    """One Telnet connection's socket side; the :class:`~protocols.telnet.connection.TelnetConnection` reads it."""

    def __init__(
        self,
        negotiator: Negotiator,
        echo: EchoTracker,
        log: logging.LoggerAdapter[logging.Logger],
        *,
        buffer_limit: int = DEFAULT_BUFFER_LIMIT,
        keepalive: float = 0.0,
        initial: tuple[TerminalOutput, ...] = (),
    ) -> None:
        self.negotiator = negotiator
        negotiator.on_change = self._option_changed
        self._decoder = Decoder(negotiator, self._on_data)
        self._echo = echo
        self._log = log
        self._keepalive = keepalive
        self._keepalive_handle: asyncio.TimerHandle | None = None
        self.output = OutputBuffer(buffer_limit, initial)
        self._writable = asyncio.Event()
        self._writable.set()
        self._dropped_control = False
        self._lost = asyncio.Event()
        self._fed_at = 0.0
        self.transport: asyncio.Transport | None = None
        self.observer: OutputObserver | None = None
        self._guard: SecretGuard | None = None
        self.secret_shown = False
        self.done = False
        self.error: Exception | None = None  # why the connection was lost (None: the server closed it normally)

    # --- asyncio callbacks ------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Send our opening requests and start the keep-alive."""
        # A stream transport (create_connection); uvloop's does not subclass asyncio.Transport, so no isinstance.
        self.transport = cast(asyncio.Transport, transport)
        self.output.source = self.transport
        self._fed_at = asyncio.get_running_loop().time()
        self.negotiator.start()
        self._flush_negotiation()
        if self._keepalive > 0:
            self._keepalive_handle = asyncio.get_running_loop().call_later(self._keepalive, self._nop)

    def data_received(self, data: bytes) -> None:
        """Decode one chunk; answer what it negotiated. A command flood aborts the connection (see the module)."""
        if self.error is not None:
            return
        now = asyncio.get_running_loop().time()
        self._decoder.forgive(int((now - self._fed_at) * COMMAND_REFILL))
        self._fed_at = now
        try:
            self._decoder.feed(data)
        except CommandFlood as exc:
            self._log.warning("the Telnet server sent only commands (%s): closing the connection", exc)
            self.error = exc
            if self.transport is not None:
                self.transport.abort()
            return
        if self.negotiator.outgoing:
            self._flush_negotiation()

    def eof_received(self) -> bool:
        """The server closed its side: close ours too (Telnet has no half-close)."""
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection ended: normally (``exc`` is None) or because it was lost."""
        self.done = True
        if self.error is None:
            self.error = exc
        if self._keepalive_handle is not None:
            self._keepalive_handle.cancel()
        self._writable.set()
        self._lost.set()
        self.output.close()
        observer = self.observer
        if observer is not None:
            observer.on_lost()

    def pause_writing(self) -> None:
        """The socket's send buffer is full: hold further keys."""
        self._writable.clear()

    def resume_writing(self) -> None:
        """The socket accepts input again."""
        self._writable.set()

    # --- the output guard -------------------------------------------------------------------------
    def guard_output(self, secret: bytes) -> None:
        """From now on, hold back output that may be the start of ``secret``; if ``secret`` shows in full, drop that
        output and everything after it (nothing reaches the observer, the echo tracker or the reader), set
        :attr:`secret_shown` and tell the observer. Call before the secret is written."""
        self._guard = SecretGuard(secret)

    def end_guard(self, *, release: bool) -> None:
        """Stop guarding; pass on what was held back if ``release`` (the login went on), else drop it."""
        guard, self._guard = self._guard, None
        if guard is not None:
            held = guard.release()
            if release and held and not self.secret_shown:
                self._deliver(held)

    # --- the decoder's and the negotiator's callbacks --------------------------------------------
    def _on_data(self, data: bytes) -> None:
        if self.secret_shown:
            return  # the connection is being closed: nothing after the secret is shown
        guard = self._guard
        if guard is not None:
            safe = guard.feed(data)
            if safe is None:
                self._guard = None
                self.secret_shown = True
                observer = self.observer
                if observer is not None:
                    observer.on_secret_shown()
                return
            if not safe:
                return
            data = safe
        self._deliver(data)

    def _deliver(self, data: bytes) -> None:
        observer = self.observer
        if observer is not None:
            observer.on_output(data)
        changed = self._echo.output(data)
        self.output.append(data)
        if changed is not None:
            self.output.push(EchoChanged(changed))

    def _option_changed(self, side: str, option: int, enabled: bool) -> None:
        self._log.debug("telnet option %s %s %s", side, codec.name(option), "on" if enabled else "off")
        if side == "him" and option == ECHO:
            changed = self._echo.server_echo(enabled)
            if changed is not None:
                self.output.push(EchoChanged(changed))

    # --- writing ----------------------------------------------------------------------------------
    def _flush_negotiation(self) -> None:
        self.write_control(self.negotiator.take())

    def write_control(self, data: bytes) -> None:
        """Write protocol bytes (negotiation, NOP) unless a server that does not read let too much pile up."""
        transport = self.transport
        if not data or transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size() > CONTROL_WRITE_LIMIT:
            if not self._dropped_control:
                self._dropped_control = True
                self._log.warning("the Telnet server does not read: dropping negotiation answers and keep-alives")
            return
        transport.write(data)

    def _nop(self) -> None:
        self.write_control(NOP)
        if not self.done:
            self._keepalive_handle = asyncio.get_running_loop().call_later(self._keepalive, self._nop)

    async def wait_closed(self) -> None:
        """Wait until the connection has ended."""
        await self._lost.wait()

    async def writable(self) -> None:
        """Wait until the socket accepts more input (or the connection ended)."""
        await self._writable.wait()

    def write(self, data: bytes) -> None:
        """Write terminal input, already encoded (see :func:`~protocols.telnet.codec.encode_data`)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    @property
    def local_echo(self) -> bool:
        """Typed input is shown by us: the server refused ECHO (or turned it off, answered) and echo is on."""
        return self.negotiator.him(ECHO) is Q.NO and self._echo.echo and not self.secret_shown

    def echo_typed(self, data: bytes) -> None:
        """Queue what local echo shows of typed ``data`` (:func:`~protocols.telnet.echo.typed_echo`) if
        :attr:`local_echo`; the echo tracker does not see it, so the text typed after a password prompt can never
        make the prompt look gone."""
        if self.local_echo:
            shown = typed_echo(data)
            if shown:
                self.output.append(shown)

    # --- the reader's side ------------------------------------------------------------------------
    @property
    def buffered(self) -> int:
        """Output bytes received and not yet taken by the reader."""
        return self.output.buffered
