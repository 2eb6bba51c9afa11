"""Translate RDP failures into the product's error hierarchy, with the same wording as the other adapters.

The builders every adapter shares live in :mod:`jumpoint.core.target_errors`; this module adds what only RDP
knows: NLA refusals (with the server's reason), a security negotiation the server refused (NLA required, TLS not
offered ...), licensing, a certificate that changed while connecting, and a malformed PDU.
"""

from __future__ import annotations

from jumpoint.core import target_errors
from jumpoint.core.certificate_trust import changed_while_connecting
from jumpoint.core.errors import HostKeyMismatch, JumpError, TargetAuthFailed, TargetDenied, TargetProtocolError

AUTH_HINT = (
    "check the user name, domain and password of the Jump Item's credential, and that the account may log on "
    "through Remote Desktop"
)
PROTOCOL_HINT = "the server is not an RDP server, or it sent something this client does not understand; see the log"
SECURITY_HINT = (
    "set the Jump Item's security to one the server offers (Auto tries NLA and TLS; classic RDP security must be "
    "chosen explicitly because it is weak)"
)
LICENSING_HINT = "check the Remote Desktop licensing of the server (per-user mode, or the admin/console session)"


def auth_failed(where: str, username: str, said: str) -> TargetAuthFailed:
    """The server refused the credentials (``said``: why, when it said)."""
    return target_errors.auth_failed(where, username, hint=AUTH_HINT, said=said)


def protocol_error(where: str, what: str, *, hint: str = PROTOCOL_HINT) -> TargetProtocolError:
    """The server sent something malformed, unexpected or over a cap."""
    return TargetProtocolError(f"RDP server {where}: {what}", hint=hint, details={"target": where})


def security_refused(where: str, what: str) -> TargetProtocolError:
    """The server and the Jump Item agree on no security protocol."""
    return TargetProtocolError(
        f"RDP server {where}: {what}", hint=SECURITY_HINT, details={"target": where, "reason": "security"}
    )


def licensing_refused(where: str, what: str) -> TargetDenied:
    """The server's licensing cannot be satisfied."""
    return TargetDenied(
        f"RDP server {where} refused the session: {what}",
        hint=LICENSING_HINT,
        details={"target": where, "reason": "licensing"},
    )


def certificate_changed(where: str, checked: str, presented: str) -> HostKeyMismatch:
    """The login connection's certificate is not the one just checked."""
    return changed_while_connecting(where, "RDP server", checked, presented)


def from_os_error(where: str, exc: OSError, *, established: bool = True) -> JumpError:
    """Map a resolver or socket error met while connecting or talking to an RDP server."""
    return target_errors.from_os_error(where, exc, server="RDP", timeout_stage="TCP", established=established)
