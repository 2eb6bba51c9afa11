"""Whether to log in to a server that presented a TLS certificate (VNC's VeNCrypt, RDP) or an RSA key (classic RDP
security): trusted like an SSH host key.

* a certificate that a CA vouches for (the caller checked it) is trusted without a question and without touching
  the cache (a CA-renewed certificate is not a "change");
* otherwise the Jumpoint's host-key cache decides: ``valid`` continues, ``mismatch`` is always refused showing both
  fingerprints (``HostKeyMismatch``; an administrator removes the cached entry after checking with the owner),
  ``unknown`` asks the rep: Save Key and Connect (cached) / Connect Only / Abort (``HostKeyRejected``) — or, when
  the caller may not ask now, raises :class:`DecisionNeeded` so that it asks once nothing is waiting on the server.

The cache holds the SHA-256 as a :class:`~jumpoint.core.hostkeys.HostKey` of algorithm ``x509-sha256`` (see
:func:`~jumpoint.core.hostkeys.certificate_host_key`). The rep is shown ``SHA256:AB:CD:...``, what ``openssl x509
-noout -fingerprint -sha256`` prints on the server.
"""

from __future__ import annotations

from dataclasses import dataclass

from jumpoint.core.adapter import AdapterContext
from jumpoint.core.errors import HostKeyMismatch, HostKeyRejected
from jumpoint.core.events import Notice
from jumpoint.core.hostkeys import CERTIFICATE_ALGORITHM, HostKey, certificate_fingerprint, certificate_host_key


@dataclass(frozen=True, slots=True)
class PresentedIdentity:
    """What a server presented: ``sha256`` of its certificate (or key), and whether a CA vouched for it."""

    sha256: bytes
    server: str
    """Names the server in messages: ``VNC server``, ``RDP server``."""
    what: str = "TLS certificate"
    ca_verified: bool = False
    ca_failure: str | None = None

    @property
    def fingerprint(self) -> str:
        """``SHA256:AB:CD:...``."""
        return certificate_fingerprint(self.sha256)


class DecisionNeeded(Exception):
    """The identity is unknown and the caller asked not to prompt now."""

    def __init__(self, identity: PresentedIdentity, known: tuple[HostKey, ...]) -> None:
        self.identity = identity
        self.known = known
        super().__init__(f"{identity.what} {identity.fingerprint} needs a decision")


def shown_fingerprint(key: HostKey) -> str:
    """How a cached key is shown: ``SHA256:AB:CD:...`` for a certificate, the fingerprint and algorithm otherwise."""
    return key.fingerprint if key.algorithm == CERTIFICATE_ALGORITHM else f"{key.fingerprint} ({key.algorithm})"


def mismatch(where: str, cached: tuple[HostKey, ...], presented: PresentedIdentity) -> HostKeyMismatch:
    """The refusal shown when the certificate differs from every cached one."""
    old = ", ".join(shown_fingerprint(key) for key in cached) or "(none)"
    return HostKeyMismatch(
        f"the {presented.what} of {presented.server} {where} has changed: the Jumpoint trusts {old} but the "
        f"server now presents {presented.fingerprint}. Someone may be intercepting the connection, or the "
        "server's certificate was replaced; the connection was refused and no password was sent",
        hint=(
            "verify the new fingerprint with the server's owner (openssl x509 -noout -fingerprint -sha256 -in "
            f"CERT); if the change is legitimate, an administrator removes the cached key of {where} from the "
            "Jumpoint's known hosts, then connect again"
        ),
        details={
            "target": where,
            "cached": [shown_fingerprint(key) for key in cached],
            "presented": presented.fingerprint,
        },
    )


def changed_while_connecting(where: str, server: str, checked: str, presented: str) -> HostKeyMismatch:
    """The login connection's certificate is not the one just checked (probe, cache, the rep's decision)."""
    return HostKeyMismatch(
        f"the TLS certificate of {server} {where} changed while connecting: {checked} was checked, then the "
        f"server presented {presented}. Someone may be intercepting the connection; nothing was sent",
        hint="do not retry blindly; verify the server's certificate with its owner before connecting again",
        details={"target": where, "checked": checked, "presented": presented},
    )


async def settle_identity(
    host: str, port: int, presented: PresentedIdentity, ctx: AdapterContext, *, ask: bool = True
) -> list[Notice]:
    """Decide whether to log in to a server presenting ``presented``; the notices for the session timeline.

    Raises HostKeyMismatch (a changed certificate), HostKeyRejected (the rep aborted), Cancelled (the rep went
    away), or DecisionNeeded (unknown, and ``ask`` is false). Returns without asking when a CA vouches for the
    certificate or the cache holds it.
    """
    where = f"{host}:{port}"
    shown = presented.fingerprint
    what = presented.what
    if presented.ca_verified:
        ctx.log.info("%s %s of %s verified by a trusted CA", what, shown, where)
        return [Notice(kind="info", text=f"{where}: {what} {shown} verified by a trusted CA")]
    key = certificate_host_key(presented.sha256)
    verdict = ctx.host_keys.check(host, port, key)
    if verdict.status == "valid":
        ctx.log.info("%s %s of %s matches the cached one", what, shown, where)
        return []
    if verdict.status == "mismatch":
        ctx.log.warning("%s of %s changed to %s: refused", what, where, shown)
        raise mismatch(where, verdict.known, presented)
    if not ask:
        raise DecisionNeeded(presented, verdict.known)
    ctx.log.info("%s %s of %s is unknown (%s): asking", what, shown, where, presented.ca_failure)
    decision = await ctx.prompter.ask_host_key(host, port, key, known=verdict.known)
    if decision == "save":
        ctx.host_keys.trust(host, port, key)
        ctx.log.info("%s %s of %s saved", what, shown, where)
        return [Notice(kind="host_key_saved", text=f"{what} {shown} of {where} saved")]
    if decision == "once":
        ctx.log.info("%s %s of %s accepted once", what, shown, where)
        return [Notice(kind="info", text=f"{what} {shown} of {where} accepted for this session only")]
    raise HostKeyRejected(
        f"the connection to {where} was aborted: its {what} {shown} was not accepted",
        hint="connect again and choose to trust the certificate once you have verified it with the server's owner",
        details={"target": where, "presented": shown},
    )
