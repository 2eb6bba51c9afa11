"""Builders of the target errors every protocol adapter raises, with the same wording for every protocol.

Every message names the target (``host:port``) and says what went wrong; every hint says what to check. An
adapter's own errors module adds what only its protocol knows (the library's exceptions, its hints) on top of
these.
"""

from __future__ import annotations

import errno
import socket

from jumpoint.core.errors import JumpError, TargetAuthFailed, TargetClosed, TargetTimeout, TargetUnreachable

NETWORK_HINT = "check the host name and port of the Jump Item, and that the Jumpoint's network can reach it"
TIMEOUT_HINT = "check that the machine is up and that no firewall silently drops the Jumpoint's packets"
CLOSED_HINT = "the server or the network ended the connection; connect again"


def unreachable(where: str, reason: str) -> TargetUnreachable:
    """The target could not be reached at the network level."""
    return TargetUnreachable(f"cannot connect to {where}: {reason}", hint=NETWORK_HINT, details={"target": where})


def timed_out(where: str, seconds: float | None, stage: str, *, hint: str | None = None) -> TargetTimeout:
    """The target did not answer ``stage`` in time (``seconds`` when the limit is ours)."""
    limit = f" in {seconds:g} s" if seconds else " in time"
    return TargetTimeout(
        f"{where} did not answer{limit} ({stage})", hint=hint or TIMEOUT_HINT, details={"target": where}
    )


def auth_failed(where: str, username: str, *, hint: str, said: str = "", who: str | None = None) -> TargetAuthFailed:
    """The target refused the login.

    ``who`` names what was refused (by default ``user <username>``, or ``the password`` without a user name);
    ``said`` is what the server printed about it, if anything.
    """
    if who is None:
        who = f"user {username}" if username else "the password"
    return TargetAuthFailed(
        f"the target refused the login for {who} on {where}" + (f": {said}" if said else ""),
        hint=hint,
        details={"target": where, "username": username},
    )


def closed(where: str, reason: str) -> TargetClosed:
    """The connection ended other than by the remote shell exiting."""
    return TargetClosed(f"the connection to {where} was closed: {reason}", hint=CLOSED_HINT, details={"target": where})


def from_os_error(where: str, exc: OSError, *, server: str, timeout_stage: str, established: bool = False) -> JumpError:
    """Map a resolver or socket error met while connecting to (or, with ``established``, talking to) a target.

    ``server`` names the kind of server a refused connection found missing (``SSH``, ``Telnet``);
    ``timeout_stage`` is the stage a timeout is reported in. With ``established``, a reset connection is
    reported as closed, and an ``ETIMEDOUT`` error number as a timeout whatever the exception's class.
    """
    if isinstance(exc, socket.gaierror):
        host = where.rsplit(":", 1)[0]
        return TargetUnreachable(
            f"cannot resolve host name {host}: {exc.strerror or exc}",
            hint="check the spelling of the host name and the DNS servers of the Jumpoint's machine",
            details={"target": where},
        )
    if isinstance(exc, TimeoutError) or (established and exc.errno == errno.ETIMEDOUT):
        return timed_out(where, None, timeout_stage)
    if isinstance(exc, ConnectionRefusedError):
        return unreachable(where, f"connection refused (no {server} server on that port, or a firewall rejects it)")
    if established and isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return closed(where, "reset by the server or the network")
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return unreachable(where, f"{exc.strerror} (no route to the target)")
    return unreachable(where, exc.strerror or str(exc) or type(exc).__name__)
