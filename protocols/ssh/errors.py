"""Translate network and asyncssh failures into the product's error hierarchy.

Every message names the target (``host:port``) and says what went wrong; every hint says what to check. The
library's own exception is chained for the log, but never crosses the adapter boundary.
"""

from __future__ import annotations

import errno
import socket

import asyncssh

from jumpoint.core.errors import (
    HostKeyMismatch,
    InternalError,
    JumpError,
    TargetAuthFailed,
    TargetClosed,
    TargetProtocolError,
    TargetTimeout,
    TargetUnreachable,
)

NETWORK_HINT = "check the host name and port of the Jump Item, and that the Jumpoint's network can reach it"


def unreachable(where: str, reason: str) -> TargetUnreachable:
    """The target could not be reached at the network level."""
    return TargetUnreachable(f"cannot connect to {where}: {reason}", hint=NETWORK_HINT, details={"target": where})


def timed_out(where: str, seconds: float | None, stage: str) -> TargetTimeout:
    """The target did not answer ``stage`` in time (``seconds`` when the limit is ours)."""
    limit = f" in {seconds:g} s" if seconds else " in time"
    return TargetTimeout(
        f"{where} did not answer{limit} ({stage})",
        hint="check that the machine is up and that no firewall silently drops the Jumpoint's packets",
        details={"target": where},
    )


def auth_failed(where: str, username: str) -> TargetAuthFailed:
    """The SSH server refused every login method offered."""
    return TargetAuthFailed(
        f"the target refused the login for user {username} on {where}",
        hint="check the user name and the password, key or code; the account may be locked or not allowed",
        details={"target": where, "username": username},
    )


def closed(where: str, reason: str) -> TargetClosed:
    """The SSH connection ended without the shell exiting."""
    return TargetClosed(
        f"the connection to {where} was closed: {reason}",
        hint="the server or the network ended the connection; connect again",
        details={"target": where},
    )


def from_os_error(where: str, exc: OSError) -> JumpError:
    """Map a resolver or socket error."""
    if isinstance(exc, socket.gaierror):
        host = where.rsplit(":", 1)[0]
        return TargetUnreachable(
            f"cannot resolve host name {host}: {exc.strerror or exc}",
            hint="check the spelling of the host name and the DNS servers of the Jumpoint's machine",
            details={"target": where},
        )
    if isinstance(exc, TimeoutError):
        return timed_out(where, None, "TCP connect")
    if isinstance(exc, ConnectionRefusedError):
        return unreachable(where, "connection refused (no SSH server on that port, or a firewall rejects it)")
    if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return unreachable(where, f"{exc.strerror} (no route to the target)")
    return unreachable(where, exc.strerror or str(exc) or type(exc).__name__)


def from_ssh_error(where: str, username: str, exc: BaseException, *, pinned_key_fp: str | None = None) -> JumpError:
    """Map any exception raised while connecting to, logging in to, or talking with an SSH server.

    ``pinned_key_fp`` is set when the connection was pinned to a verified host key: a host-key failure then
    means the server presented a different key than the one just checked.
    """
    if isinstance(exc, JumpError):
        return exc
    if isinstance(exc, asyncssh.PermissionDenied):
        return auth_failed(where, username)
    if isinstance(exc, asyncssh.HostKeyNotVerifiable | asyncssh.KeyExchangeFailed) and pinned_key_fp:
        return HostKeyMismatch(
            f"the host key of {where} changed while connecting: the key {pinned_key_fp} was checked, "
            "then the server presented a different one. Someone may be intercepting the connection",
            hint="do not retry blindly; verify the machine's key with its owner before connecting again",
            details={"target": where, "checked": pinned_key_fp},
        )
    if isinstance(exc, asyncssh.KeyExchangeFailed | asyncssh.ProtocolNotSupported | asyncssh.ProtocolError):
        return TargetProtocolError(
            f"{where} and the Jumpoint could not agree on an SSH protocol: {exc.reason}",
            hint="the server may only offer obsolete algorithms or may not be an SSH server",
            details={"target": where},
        )
    if isinstance(exc, asyncssh.DisconnectError):
        return closed(where, exc.reason or type(exc).__name__)
    if isinstance(exc, asyncssh.ChannelOpenError):
        return TargetClosed(
            f"{where} refused to open a shell session: {exc.reason}",
            hint="the server may limit sessions (MaxSessions) or forbid shells for this user",
            details={"target": where},
        )
    if isinstance(exc, TimeoutError):
        return timed_out(where, None, "SSH handshake")
    if isinstance(exc, OSError):
        return from_os_error(where, exc)
    return InternalError(f"unexpected failure talking to {where}: {type(exc).__name__}")
