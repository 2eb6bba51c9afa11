"""Translate network failures and login outcomes of a Telnet connection into the product's error hierarchy.

Every message names the target (``host:port``) and says what went wrong; every hint says what to check. The
builders every adapter shares (``unreachable``, ``timed_out``, ``closed``) live in
:mod:`jumpoint.core.target_errors`; this module adds the Telnet wording on top of them.
"""

from __future__ import annotations

from jumpoint.core import target_errors
from jumpoint.core.errors import BadRequest, JumpError, TargetAuthFailed, TargetProtocolError

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


def command_flood(where: str, budget: int) -> TargetProtocolError:
    """The server sent more than ``budget`` bytes of Telnet commands without any data; we closed the connection."""
    return TargetProtocolError(
        f"{where} sent more than {budget // 1024} KiB of Telnet commands without any terminal output, which no "
        "Telnet server needs, so the Jumpoint closed the connection to keep its other sessions running",
        hint="the Telnet server, or something on the network path to it, misbehaves: check the device",
        details={"target": where},
    )


def password_shown(where: str, credential: str | None) -> TargetProtocolError:
    """The server showed the password the auto-login typed: the stored one of ``credential``, or (None) the one the
    rep answered the password prompt with. The error never says the password."""
    whose = f"the password of credential '{credential}'" if credential is not None else "the password the rep gave"
    return TargetProtocolError(
        f"{where} showed {whose} after the auto-login typed it, so the login "
        "was stopped and the connection closed; what the server printed from then on was neither shown nor recorded",
        hint="the Jump Item's password prompt pattern must match only the prompt at which the server hides what is "
        "typed; ask an administrator to check the item's login prompt, password prompt and login failure patterns",
        details={"target": where} | ({"credential": credential} if credential is not None else {}),
    )


def bad_username(what: str) -> BadRequest:
    """A user name that would not be typed as one line (``what`` says whose: the item's, a credential's)."""
    return BadRequest(
        f"{what} contains a control character (a line break, NUL, escape...), which cannot be typed at a Telnet "
        "login prompt",
        hint="correct the user name: it must be one line of printable characters",
    )


def from_os_error(where: str, exc: OSError) -> JumpError:
    """Map a resolver or socket error met while connecting or talking to a Telnet server."""
    return target_errors.from_os_error(where, exc, server="Telnet", timeout_stage="TCP", established=True)
