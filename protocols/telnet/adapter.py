"""The Telnet Shell Jump adapter: connect, negotiate, log in by answering the prompts, hand over the terminal.

Sequence of :meth:`TelnetAdapter.connect`:

1. compile the item's prompt patterns (a Target is validated already; a bad pattern is a BadRequest here);
2. TCP connect (name resolution included), bounded by ``target.connect_timeout``; option negotiation starts at
   once (see ``options``): ECHO and SGA from the server, NAWS with the item's size, TTYPE with its terminal type;
3. auto-login (see ``autologin``), bounded by ``login_timeout`` seconds of waiting for the server.

Telnet is plain text on the wire: each connection logs a warning and starts its events with a notice saying so.
Every failure leaves as a :class:`~jumpoint.core.errors.TargetError` or a user error (``Cancelled``, ``NotFound``,
``BadRequest``), never as a library exception; the connection is closed first.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from jumpoint.core.adapter import AdapterContext, Target
from jumpoint.core.errors import BadRequest, InternalError, JumpError
from jumpoint.core.events import Notice
from jumpoint.core.output_buffer import DEFAULT_BUFFER_LIMIT
from jumpoint.core.target_errors import timed_out
from protocols.telnet.autologin import DEFAULT_LOGIN_TIMEOUT, DEFAULT_SETTLE, AutoLogin
from protocols.telnet.connection import TelnetConnection
from protocols.telnet.echo import EchoTracker
from protocols.telnet.errors import from_os_error
from protocols.telnet.login import LoginPatterns
from protocols.telnet.options import Negotiator
from protocols.telnet.protocol import TelnetProtocol

PLAIN_TEXT_NOTICE = (
    "Telnet is not encrypted: everything typed and shown in this session, the login included, crosses the network "
    "between the Jumpoint and {where} in clear text"
)


class TelnetAdapter:
    """Telnet shells. Registered as the ``telnet`` entry point of ``openjump.protocols``.

    ``login_timeout``: seconds the auto-login waits for the server's prompts and answer (the rep's answering time
    is not counted). ``login_settle``: seconds of quiet after the password that count as a successful login.
    ``output_buffer``: unread output bytes per connection before the socket stops reading.
    """

    name = "telnet"
    kind: Literal["terminal"] = "terminal"

    def __init__(
        self,
        *,
        login_timeout: float = DEFAULT_LOGIN_TIMEOUT,
        login_settle: float = DEFAULT_SETTLE,
        output_buffer: int = DEFAULT_BUFFER_LIMIT,
    ) -> None:
        if login_timeout <= 0 or not 0 < login_settle < login_timeout or output_buffer < 1024:
            raise ValueError(
                "TelnetAdapter: login_timeout > 0, 0 < login_settle < login_timeout, output_buffer >= 1024"
            )
        self.login_timeout = login_timeout
        self.login_settle = login_settle
        self.output_buffer = output_buffer

    async def connect(self, target: Target, ctx: AdapterContext) -> TelnetConnection:
        """Connect and log in; raise TargetError, Cancelled, NotFound or BadRequest on failure."""
        if target.protocol != self.name:
            raise BadRequest(f"the Telnet adapter cannot connect a {target.protocol!r} item")
        where = f"{target.hostname}:{target.port}"
        try:
            patterns = LoginPatterns.from_target(target)
        except ValueError as exc:
            raise BadRequest(f"the Jump Item's prompt pattern is invalid: {exc}") from None
        try:
            return await self._connect(target, ctx, patterns, where)
        except JumpError:
            raise
        except OSError as exc:
            raise from_os_error(where, exc) from exc
        except Exception as exc:
            ctx.log.exception("unexpected failure connecting to %s", where)
            raise InternalError(f"unexpected failure connecting to {where}: {type(exc).__name__}") from exc

    async def _connect(
        self, target: Target, ctx: AdapterContext, patterns: LoginPatterns, where: str
    ) -> TelnetConnection:
        negotiator = Negotiator(terminal_type=target.terminal_type, cols=target.cols, rows=target.rows)
        proto = TelnetProtocol(
            negotiator,
            EchoTracker(patterns.password),
            ctx.log,
            buffer_limit=self.output_buffer,
            keepalive=float(target.keepalive_seconds),
            initial=(Notice(kind="info", text=PLAIN_TEXT_NOTICE.format(where=where)),),
        )
        login = AutoLogin(proto, target, ctx, patterns, timeout=self.login_timeout, settle=self.login_settle)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(target.connect_timeout):
                transport, _ = await loop.create_connection(lambda: proto, target.hostname, target.port)
        except TimeoutError as exc:
            raise timed_out(where, target.connect_timeout, "TCP connect") from exc
        if proto.transport is None:  # connection_made failed (a bug of ours, logged by the loop): fail now, not hang
            transport.close()
            raise InternalError(f"the Telnet connection to {where} could not be set up; the Jumpoint's log says why")
        ctx.log.warning(
            "telnet to %s is not encrypted: the session, login included, crosses the network in clear", where
        )
        conn = TelnetConnection(proto, where=where, max_output_chunk=ctx.limits.max_output_chunk)
        try:
            outcome = await login.run()
        except BaseException:
            await conn.close()
            raise
        ctx.log.info(
            "telnet session open on %s (%s, %s %dx%d)",
            where,
            outcome.value,
            target.terminal_type,
            target.cols,
            target.rows,
        )
        return conn
