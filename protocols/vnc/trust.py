"""Whether to log in to a VeNCrypt X509 server: its certificate is trusted like an SSH host key.

The certificate comes from a probe (:meth:`protocols.vnc.RfbClient.probe`: nothing secret sent). Then:

* a certificate that a CA vouches for (the system CAs, or the adapter's CA file, for the host's name) is trusted
  without a question and without touching the cache (a CA-renewed certificate is not a "change");
* otherwise the Jumpoint's host-key cache decides: ``valid`` continues, ``mismatch`` is always refused showing both
  fingerprints (``HostKeyMismatch``; an administrator removes the cached entry after checking with the owner),
  ``unknown`` asks the rep: Save Key and Connect (cached) / Connect Only / Abort (``HostKeyRejected``).

The cache holds the certificate's SHA-256 as a :class:`~jumpoint.core.hostkeys.HostKey` of algorithm
``x509-sha256`` whose blob follows the store's SSH wire convention (``string "x509-sha256"``, ``string digest``),
so the known-hosts file keeps one format: ``[host]:port x509-sha256 AAAAC3g1MDktc2hhMjU2AAAAI... openjump added ...``.
The rep is shown the certificate's own SHA-256 as ``SHA256:AB:CD:...`` (what ``openssl x509 -noout -fingerprint
-sha256`` prints on the server), not the store's hash of the blob. The login connection is then pinned to exactly
that certificate.
"""

from __future__ import annotations

from jumpoint.core.adapter import AdapterContext
from jumpoint.core.errors import HostKeyMismatch, HostKeyRejected
from jumpoint.core.events import Notice
from jumpoint.core.hostkeys import (
    CERTIFICATE_ALGORITHM,
    HostKey,
    certificate_host_key,
)
from protocols.vnc.security import ServerCertificate

ALGORITHM = CERTIFICATE_ALGORITHM
certificate_key = certificate_host_key


def shown_fingerprint(key: HostKey) -> str:
    """How a cached key is shown: ``SHA256:AB:CD:...`` for a certificate, the fingerprint and algorithm otherwise."""
    return key.fingerprint if key.algorithm == ALGORITHM else f"{key.fingerprint} ({key.algorithm})"


def mismatch(where: str, cached: tuple[HostKey, ...], presented: ServerCertificate) -> HostKeyMismatch:
    """The refusal shown when the certificate differs from every cached one."""
    old = ", ".join(shown_fingerprint(key) for key in cached) or "(none)"
    return HostKeyMismatch(
        f"the TLS certificate of VNC server {where} has changed: the Jumpoint trusts {old} but the server now "
        f"presents {presented.fingerprint}. Someone may be intercepting the connection, or the server's "
        "certificate was replaced; the connection was refused and no password was sent",
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


async def verify_certificate(host: str, port: int, certificate: ServerCertificate, ctx: AdapterContext) -> list[Notice]:
    """Decide whether to log in to a server presenting ``certificate``; the notices for the session timeline.

    Raises HostKeyMismatch (a changed certificate), HostKeyRejected (the rep aborted) or Cancelled (the rep went
    away). Returns without asking when a CA vouches for the certificate or the cache holds it.
    """
    where = f"{host}:{port}"
    shown = certificate.fingerprint
    if certificate.ca_verified:
        ctx.log.info("TLS certificate %s of %s verified by a trusted CA", shown, where)
        return [Notice(kind="info", text=f"{where}: TLS certificate {shown} verified by a trusted CA")]
    presented = certificate_key(certificate.sha256)
    verdict = ctx.host_keys.check(host, port, presented)
    if verdict.status == "valid":
        ctx.log.info("TLS certificate %s of %s matches the cached one", shown, where)
        return []
    if verdict.status == "mismatch":
        ctx.log.warning("TLS certificate of %s changed to %s: refused", where, shown)
        raise mismatch(where, verdict.known, certificate)
    ctx.log.info("TLS certificate %s of %s is unknown (%s): asking", shown, where, certificate.ca_failure)
    decision = await ctx.prompter.ask_host_key(host, port, presented, known=verdict.known)
    if decision == "save":
        ctx.host_keys.trust(host, port, presented)
        ctx.log.info("TLS certificate %s of %s saved", shown, where)
        return [Notice(kind="host_key_saved", text=f"TLS certificate {shown} of {where} saved")]
    if decision == "once":
        ctx.log.info("TLS certificate %s of %s accepted once", shown, where)
        return [Notice(kind="info", text=f"TLS certificate {shown} of {where} accepted for this session only")]
    raise HostKeyRejected(
        f"the connection to {where} was aborted: its TLS certificate {shown} was not accepted",
        hint="connect again and choose to trust the certificate once you have verified it with the server's owner",
        details={"target": where, "presented": shown},
    )
