"""Translate network failures and login outcomes of a Telnet connection into the product's error hierarchy.

Every message names the target (``host:port``) and says what went wrong; every hint says what to check. The
builders every adapter shares (``unreachable``, ``timed_out``, ``closed``) live in
:mod:`jumpoint.core.target_errors`; this module adds the Telnet wording on top of them.
"""

from __future__ import annotations

from jumpoint.core import target_errors
from jumpoint.core.errors import JumpError, TargetAuthFailed

PATTERN_HINT = (
    "check the Jump Item's login prompt, password prompt and login failure patterns against what the server prints"
)
AUTH_HINT = (
    "check the user name and the password or the Jump Item's credential; the account may be locked "
    "or not allowed to log in over Telnet"
)


def auth_failed(where: str, username: str, said: str) -> TargetAuthFailed:
    """The Telnet server refused the login (``said``: the failure text it printed, or what happened)."""
    return target_errors.auth_failed(where, username, hint=AUTH_HINT, said=said)


def from_os_error(where: str, exc: OSError) -> JumpError:
    """Map a resolver or socket error met while connecting or talking to a Telnet server."""
    return target_errors.from_os_error(where, exc, server="Telnet", timeout_stage="TCP", established=True)
