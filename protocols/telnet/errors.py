"""Translate network failures and login outcomes of a Telnet connection into the product's error hierarchy.

Every message names the target (``host:port``) and says what went wrong; every hint says what to check. The
SSH adapter's equivalents live in ``protocols.ssh.errors``, which imports asyncssh at module level, so they are
not reused here.
"""

from __future__ import annotations

import errno
import socket

from jumpoint.core.errors import JumpError, TargetAuthFailed, TargetClosed, TargetTimeout, TargetUnreachable

NETWORK_HINT = "check the host name and port of the Jump Item, and that the Jumpoint's network can reach it"
PATTERN_HINT = (
    "check the Jump Item's login prompt, password prompt and login failure patterns against what the server prints"
)


def unreachable(where: str, reason: str) -> TargetUnreachable:
    """The target could not be reached at the network level."""
    return TargetUnreachable(f"cannot connect to {where}: {reason}", hint=NETWORK_HINT, details={"target": where})


def timed_out(where: str, seconds: float | None, stage: str, *, hint: str | None = None) -> TargetTimeout:
    """The target did not answer ``stage`` in time (``seconds`` when the limit is ours)."""
    limit = f" in {seconds:g} s" if seconds else " in time"
    return TargetTimeout(
        f"{where} did not answer{limit} ({stage})",
        hint=hint or "check that the machine is up and that no firewall silently drops the Jumpoint's packets",
        details={"target": where},
    )


def auth_failed(where: str, username: str, said: str) -> TargetAuthFailed:
    """The Telnet server refused the login (``said``: the failure text it printed, or what happened)."""
    who = f"user {username}" if username else "the password"
    return TargetAuthFailed(
        f"the target refused the login for {who} on {where}" + (f": {said}" if said else ""),
        hint="check the user name and the password or the Jump Item's credential; the account may be locked "
        "or not allowed to log in over Telnet",
        details={"target": where, "username": username},
    )


def closed(where: str, reason: str) -> TargetClosed:
    """The Telnet connection ended other than by the remote shell exiting."""
    return TargetClosed(
        f"the connection to {where} was closed: {reason}",
        hint="the server or the network ended the connection; connect again",
        details={"target": where},
    )


def from_os_error(where: str, exc: OSError) -> JumpError:
    """Map a resolver or socket error met while connecting or talking to a Telnet server."""
    if isinstance(exc, socket.gaierror):
        host = where.rsplit(":", 1)[0]
        return TargetUnreachable(
            f"cannot resolve host name {host}: {exc.strerror or exc}",
            hint="check the spelling of the host name and the DNS servers of the Jumpoint's machine",
            details={"target": where},
        )
    if isinstance(exc, TimeoutError) or exc.errno == errno.ETIMEDOUT:
        return timed_out(where, None, "TCP")
    if isinstance(exc, ConnectionRefusedError):
        return unreachable(where, "connection refused (no Telnet server on that port, or a firewall rejects it)")
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return closed(where, "reset by the server or the network")
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return unreachable(where, f"{exc.strerror} (no route to the target)")
    return unreachable(where, exc.strerror or str(exc) or type(exc).__name__)
