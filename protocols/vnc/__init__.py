"""VNC: the project's own asyncio RFB 3.8 client (RFC 6143 and the community extensions) producing the desktop
event vocabulary of :mod:`jumpoint.core.desktop`.

Modules, one concept each: ``messages`` (wire layouts), ``stream`` (bytes and the TLS upgrade), ``security``
(version, security types, VeNCrypt, VNC authentication), ``pixels`` and ``framebuffer`` (numpy pixels, lazy JPEG),
``encodings/`` (Raw, CopyRect, ZRLE, Tight, cursor), ``updates`` (one FramebufferUpdate), ``quality`` (quality
levels -> encodings), ``clipboard`` (the Extended Clipboard extension: UTF-8), ``queue`` (the bounded hand-over to
the consumer), ``client`` (:class:`RfbClient`, and its security probe), ``trust`` (VeNCrypt certificates trusted
like SSH host keys) and ``adapter`` (the ``vnc`` protocol adapter).
"""

from protocols.vnc.client import ClientStats, RfbClient
from protocols.vnc.security import ProbeResult, SecurityOutcome, ServerCertificate

__all__ = ["ClientStats", "ProbeResult", "RfbClient", "SecurityOutcome", "ServerCertificate"]
