"""Translate VNC failures into the product's error hierarchy, with the same wording as the other adapters.

The builders every adapter shares live in :mod:`jumpoint.core.target_errors`; this module adds what only RFB knows:
a refused password (with the server's reason), a refused TLS certificate, a certificate that changed after it was
checked (``HostKeyMismatch``), a security policy that the server cannot meet, and a malformed or over-cap message
(``TargetProtocolError``).
"""

from __future__ import annotations

from jumpoint.core import target_errors
from jumpoint.core.certificate_trust import changed_while_connecting
from jumpoint.core.errors import HostKeyMismatch, JumpError, TargetAuthFailed, TargetProtocolError

AUTH_HINT = "check the VNC password of the Jump Item's credential (VNC authentication uses its first 8 characters)"
CERT_HINT = (
    "give the Jump Item the CA certificate that signed the VNC server's certificate, and check that the "
    "certificate names the host the Jump Item connects to"
)
POLICY_HINT = "configure the VNC server to offer a security type the Jump Item allows (VeNCrypt TLS, or allow plain)"
PROTOCOL_HINT = "the server is not a VNC server, or it sent something this client does not understand; see the log"


def auth_failed(where: str, said: str) -> TargetAuthFailed:
    """The server refused the password (``said``: its reason string, if it gave one)."""
    return target_errors.auth_failed(where, "", hint=AUTH_HINT, said=said, who="the VNC password")


def protocol_error(where: str, what: str, *, hint: str = PROTOCOL_HINT) -> TargetProtocolError:
    """The server sent something malformed, unexpected or over a cap."""
    return TargetProtocolError(f"VNC server {where}: {what}", hint=hint, details={"target": where})


def certificate_refused(where: str, reason: str) -> TargetProtocolError:
    """The server's TLS certificate did not verify (a wrong CA, a wrong name, expired)."""
    return TargetProtocolError(
        f"the TLS certificate of VNC server {where} was refused: {reason}",
        hint=CERT_HINT,
        details={"target": where, "reason": "certificate"},
    )


def certificate_changed(where: str, checked: str, presented: str) -> HostKeyMismatch:
    """The login connection's certificate is not the one just checked."""
    return changed_while_connecting(where, "VNC server", checked, presented)


def policy_refused(where: str, what: str) -> TargetProtocolError:
    """The server offers no security type that the connection's policy allows."""
    return TargetProtocolError(f"VNC server {where}: {what}", hint=POLICY_HINT, details={"target": where})


def from_os_error(where: str, exc: OSError, *, established: bool = True) -> JumpError:
    """Map a resolver or socket error met while connecting or talking to a VNC server."""
    return target_errors.from_os_error(where, exc, server="VNC", timeout_stage="TCP", established=established)
