"""``Quality.level`` -> the encodings and settings asked of the server (SetEncodings).

=================  ===========================  =================  ==============  =========
level              pixels                       JPEG quality       subsampling     compress
=================  ===========================  =================  ==============  =========
black_and_white    lossless (no JPEG)           -                  -               9
few_colors         lossless (no JPEG)           -                  -               9
more_colors        Tight JPEG where it pays     level 3 (fine 30)  4X (4:2:0)      6
full_color         lossless (no JPEG)           -                  -               2
video              Tight JPEG where it pays     level 1 (fine 12)  4X (4:2:0)      1
=================  ===========================  =================  ==============  =========

Colour depth: we always ask for 24-bit true colour (see :data:`~protocols.vnc.messages.RGBX`), so
``black_and_white`` and ``few_colors`` differ from ``full_color`` only in asking for the strongest zlib compression
(and no JPEG): the server's Tight/ZRLE already send few-colour areas as 1-, 2-, 4- or 8-bit palettes, which is
where these levels save bandwidth. Reducing the colours themselves is left to the pipeline's encoder for the
browser; asking RFB for an 8-bit pixel format (BGR233 true colour needs no colour map) would save more on
photographic content but is not implemented.

``video`` at fine quality 12: on the 1280x800 full-motion benchmark (``benchmarks/bench_desktop.py``'s colour
cells, our client alone, about 30 frames a second) fine 40 / 30 / 20 / 15 / 12 / 10 sent 2.7 / 2.1 / 1.7 /
1.5-1.7 / 1.3 / 1.25 MB/s, and the target is 1.5 MB/s; frame rate and CPU do not change with it (a JPEG's own
headers, ~600 bytes a rectangle, are why going lower saves little). Text and flat areas are not JPEG, so they stay
sharp.

"Where it pays": servers send JPEG only for areas with many colours (TigerVNC: more than a palette can hold);
text, window borders and flat areas stay lossless. A JPEG quality level without a fine quality is what servers
other than TigerVNC understand (libvncserver, x11vnc); TigerVNC honours the fine level and subsampling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from jumpoint.core.desktop import Quality
from protocols.vnc import messages as m

PreferredEncoding = Literal["tight", "zrle", "raw"]
_ENCODING = {"tight": m.ENC_TIGHT, "zrle": m.ENC_ZRLE, "raw": m.ENC_RAW}
PSEUDO = (
    m.ENC_EXTENDED_DESKTOP_SIZE,
    m.ENC_DESKTOP_SIZE,
    m.ENC_LAST_RECT,
    m.ENC_CURSOR,
    m.ENC_DESKTOP_NAME,
)


@dataclass(frozen=True, slots=True)
class EncodingSettings:
    """What one quality level asks of the server."""

    jpeg_level: int | None
    """0..9 (JPEG quality pseudo-encoding); None: no JPEG at all."""
    fine_quality: int | None
    """0..100 (TigerVNC's fine quality level)."""
    subsampling: str | None
    """A key of :data:`~protocols.vnc.messages.SUBSAMPLING`."""
    compress_level: int
    """0..9 (zlib effort on the server)."""
    png: bool = True
    """Tight fills and palette rectangles are handed on as PNG as they came (lossless, at most 256 colours), not
    re-encoded from the framebuffer; off where the encoder reduces colours."""

    def encodings(self, preferred: PreferredEncoding = "tight") -> list[int]:
        """The SetEncodings list: the preferred pixel encoding first, then the others, then pseudo-encodings."""
        first = _ENCODING[preferred]
        pixel = [first] + [e for e in (m.ENC_TIGHT, m.ENC_ZRLE) if e != first] + [m.ENC_COPYRECT]
        if first != m.ENC_RAW:
            pixel.append(m.ENC_RAW)
        out = pixel + list(PSEUDO) + [m.ENC_COMPRESS_LEVEL_0 + self.compress_level]
        if self.jpeg_level is not None:
            out.append(m.ENC_JPEG_QUALITY_0 + self.jpeg_level)
        if self.fine_quality is not None:
            out.append(m.ENC_FINE_QUALITY_0 + self.fine_quality)
        if self.subsampling is not None:
            out.append(m.SUBSAMPLING[self.subsampling])
        return out


LEVELS: dict[str, EncodingSettings] = {
    "black_and_white": EncodingSettings(None, None, None, 9, png=False),
    "few_colors": EncodingSettings(None, None, None, 9, png=False),
    "more_colors": EncodingSettings(3, 30, "4x", 6),
    "full_color": EncodingSettings(None, None, None, 2),
    "video": EncodingSettings(1, 12, "4x", 1),
}


def settings_for(quality: Quality) -> EncodingSettings:
    """The settings of a quality level."""
    return LEVELS[quality.level]
