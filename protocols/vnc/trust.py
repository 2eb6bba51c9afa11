"""Whether to log in to a VeNCrypt X509 server: its certificate is trusted like an SSH host key.

The certificate comes from a probe (:meth:`protocols.vnc.RfbClient.probe`: nothing secret sent); the decision is
:func:`jumpoint.core.certificate_trust.settle_identity` (CA, cache, or the rep's Save Key and Connect / Connect
Only / Abort; a changed one always refused). The login connection is then pinned to exactly that certificate.
"""

from __future__ import annotations

from jumpoint.core.adapter import AdapterContext
from jumpoint.core.certificate_trust import PresentedIdentity, settle_identity, shown_fingerprint
from jumpoint.core.events import Notice
from jumpoint.core.hostkeys import CERTIFICATE_ALGORITHM, certificate_host_key
from protocols.vnc.security import ServerCertificate

__all__ = ["ALGORITHM", "certificate_key", "shown_fingerprint", "verify_certificate"]

ALGORITHM = CERTIFICATE_ALGORITHM
certificate_key = certificate_host_key


async def verify_certificate(host: str, port: int, certificate: ServerCertificate, ctx: AdapterContext) -> list[Notice]:
    """Decide whether to log in to a server presenting ``certificate``; the notices for the session timeline.

    Raises HostKeyMismatch (a changed certificate), HostKeyRejected (the rep aborted) or Cancelled (the rep went
    away). Returns without asking when a CA vouches for the certificate or the cache holds it.
    """
    presented = PresentedIdentity(
        certificate.sha256,
        "VNC server",
        ca_verified=certificate.ca_verified,
        ca_failure=certificate.ca_failure,
    )
    return await settle_identity(host, port, presented, ctx)
