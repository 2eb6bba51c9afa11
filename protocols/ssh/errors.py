"""Translate network and asyncssh failures into the product's error hierarchy.

Every message names the target (``host:port``) and says what went wrong; every hint says what to check. The
library's own exception is chained for the log, but never crosses the adapter boundary. The builders every
adapter shares (``unreachable``, ``timed_out``, ``closed``) live in :mod:`jumpoint.core.target_errors`.
"""

from __future__ import annotations

import asyncssh

from jumpoint.core import target_errors
from jumpoint.core.errors import (
    HostKeyMismatch,
    InternalError,
    JumpError,
    TargetAuthFailed,
    TargetClosed,
    TargetProtocolError,
)
from jumpoint.core.target_errors import closed, timed_out

AUTH_HINT = "check the user name and the password, key or code; the account may be locked or not allowed"


def auth_failed(where: str, username: str) -> TargetAuthFailed:
    """The SSH server refused every login method offered."""
    return target_errors.auth_failed(where, username, hint=AUTH_HINT, who=f"user {username}")


def from_os_error(where: str, exc: OSError, *, established: bool = False) -> JumpError:
    """Map a resolver or socket error; with ``established``, one met on a connection that was already up."""
    return target_errors.from_os_error(where, exc, server="SSH", timeout_stage="TCP connect", established=established)


def from_ssh_error(
    where: str,
    username: str,
    exc: BaseException,
    *,
    pinned_key_fp: str | None = None,
    established: bool = False,
) -> JumpError:
    """Map any exception raised while connecting to, logging in to, or talking with an SSH server.

    ``pinned_key_fp`` is set when the connection was pinned to a verified host key: a host-key failure then
    means the server presented a different key than the one just checked. ``established`` is set once the
    shell is running: a reset or a dropped connection is then reported as the target closing the session, not
    as a failure to connect.
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
        return from_os_error(where, exc, established=established)
    return InternalError(f"unexpected failure talking to {where}: {type(exc).__name__}")
