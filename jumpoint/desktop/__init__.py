"""The desktop pipeline on the Jumpoint: per-rectangle encoding of a remote desktop's frames for the browser.

:class:`~jumpoint.desktop.encoder.FrameEncoder` turns one frame of :mod:`jumpoint.core.desktop` output events (as a
protocol client such as ``protocols.vnc.RfbClient`` yields them, plus a pixel reader over its framebuffer) into
browser-ready events: JPEG passed through, damage merged and encoded as palette PNG, lossless WebP or JPEG per
rectangle, every image within the tunnel's payload cap. Imports only ``jumpoint.core`` and third-party libraries.
"""

from jumpoint.desktop.encoder import IMAGE_BUDGET, POLICIES, EncoderStats, FrameEncoder, PixelReader, Policy

__all__ = ["IMAGE_BUDGET", "POLICIES", "EncoderStats", "FrameEncoder", "PixelReader", "Policy"]
