"""RFB 3.8 (RFC 6143) message layouts: constants, encoders of client messages, decoders of fixed server parts.

Pure functions on bytes, no I/O: :mod:`protocols.vnc.stream` reads the bytes, these turn them into values and back.
Every length a server announces is checked against a cap (:data:`MAX_NAME_BYTES`, the clipboard and cursor caps of
:mod:`jumpoint.core.desktop`) by the reader before anything is allocated.

Text: RFB's strings are Latin-1 (the desktop name and cut text); clipboard characters outside Latin-1 are sent as
``?`` and line ends are sent as LF, as the RFC asks. The Extended Clipboard extension (UTF-8) has its own module,
:mod:`protocols.vnc.clipboard`.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from jumpoint.core.desktop import MAX_CLIPBOARD_BYTES, MAX_CURSOR_SIDE, MAX_DESKTOP_SIDE

__all__ = [
    "MAX_CLIPBOARD_BYTES",
    "MAX_CURSOR_SIDE",
    "MAX_DESKTOP_SIDE",
    "MAX_NAME_BYTES",
    "PixelFormat",
    "Screen",
]

MAX_NAME_BYTES = 4096
MAX_REASON_BYTES = 4096

# --- security types (RFC 6143 7.1.2, IANA) and VeNCrypt subtypes ---------------------------------------------
SEC_INVALID = 0
SEC_NONE = 1
SEC_VNC_AUTH = 2
SEC_VENCRYPT = 19

VENCRYPT_PLAIN = 256
VENCRYPT_TLS_NONE = 257
VENCRYPT_TLS_VNC = 258
VENCRYPT_TLS_PLAIN = 259
VENCRYPT_X509_NONE = 260
VENCRYPT_X509_VNC = 261
VENCRYPT_X509_PLAIN = 262

# --- message types ------------------------------------------------------------------------------------------------
MSG_SET_PIXEL_FORMAT = 0
MSG_SET_ENCODINGS = 2
MSG_FRAMEBUFFER_UPDATE_REQUEST = 3
MSG_KEY_EVENT = 4
MSG_POINTER_EVENT = 5
MSG_CLIENT_CUT_TEXT = 6
MSG_SET_DESKTOP_SIZE = 251

SMSG_FRAMEBUFFER_UPDATE = 0
SMSG_SET_COLOUR_MAP_ENTRIES = 1
SMSG_BELL = 2
SMSG_SERVER_CUT_TEXT = 3

# --- encodings and pseudo-encodings -------------------------------------------------------------------------------
ENC_RAW = 0
ENC_COPYRECT = 1
ENC_TIGHT = 7
ENC_ZRLE = 16
ENC_JPEG_QUALITY_0 = -32  # ... -23 for quality level 9
ENC_COMPRESS_LEVEL_0 = -256  # ... -247 for level 9
ENC_CURSOR = -239
ENC_DESKTOP_SIZE = -223
ENC_LAST_RECT = -224
ENC_DESKTOP_NAME = -307
ENC_EXTENDED_DESKTOP_SIZE = -308
ENC_FINE_QUALITY_0 = -512  # TigerVNC: ... -412 for quality 100
ENC_SUBSAMPLING_1X = -768  # TigerVNC: -768 1X (none), -767 4X, -766 2X, -765 gray, -764 8X, -763 16X
SUBSAMPLING = {"1x": -768, "4x": -767, "2x": -766, "gray": -765, "8x": -764, "16x": -763}

ENCODING_NAMES = {ENC_RAW: "Raw", ENC_COPYRECT: "CopyRect", ENC_TIGHT: "Tight", ENC_ZRLE: "ZRLE"}

# ExtendedDesktopSize: the reason (x) and the status (y) of the pseudo-rectangle
RESIZE_BY_SERVER = 0
RESIZE_BY_US = 1
RESIZE_BY_OTHER = 2
RESIZE_STATUS = {0: "no error", 1: "resize is administratively prohibited", 2: "out of resources", 3: "invalid layout"}


class MalformedMessage(ValueError):
    """A server message broke the protocol or a cap; the client reports it as a ``TargetProtocolError``."""


_VERSION_RE = re.compile(rb"RFB (\d{3})\.(\d{3})\n")


def parse_version(data: bytes) -> tuple[int, int]:
    """The (major, minor) of a 12-byte ProtocolVersion message; ValueError if it is not one."""
    match = _VERSION_RE.fullmatch(data)
    if match is None:
        raise ValueError(f"not an RFB protocol version: {data[:12]!r}")
    return int(match[1]), int(match[2])


def encode_version(major: int, minor: int) -> bytes:
    """The ProtocolVersion message for ``major.minor``."""
    return b"RFB %03d.%03d\n" % (major, minor)


@dataclass(frozen=True, slots=True)
class PixelFormat:
    """A PIXEL_FORMAT (16 bytes on the wire)."""

    bits_per_pixel: int
    depth: int
    big_endian: bool
    true_colour: bool
    red_max: int
    green_max: int
    blue_max: int
    red_shift: int
    green_shift: int
    blue_shift: int

    _STRUCT = struct.Struct(">BBBBHHHBBB3x")

    def pack(self) -> bytes:
        """The 16 wire bytes."""
        return self._STRUCT.pack(
            self.bits_per_pixel,
            self.depth,
            int(self.big_endian),
            int(self.true_colour),
            self.red_max,
            self.green_max,
            self.blue_max,
            self.red_shift,
            self.green_shift,
            self.blue_shift,
        )

    @classmethod
    def unpack(cls, data: bytes) -> PixelFormat:
        """Decode 16 wire bytes."""
        bpp, depth, be, tc, rmax, gmax, bmax, rs, gs, bs = cls._STRUCT.unpack(data)
        return cls(bpp, depth, bool(be), bool(tc), rmax, gmax, bmax, rs, gs, bs)


RGBX = PixelFormat(32, 24, False, True, 255, 255, 255, 0, 8, 16)
"""The only pixel format we ask for: 32 bpp, depth 24, little-endian, so a pixel's bytes are R, G, B, X."""


@dataclass(frozen=True, slots=True)
class ServerInit:
    """The fixed part of ServerInit (the name follows, ``name_length`` bytes)."""

    width: int
    height: int
    pixel_format: PixelFormat
    name_length: int

    SIZE = 24

    @classmethod
    def unpack(cls, data: bytes) -> ServerInit:
        """Decode the 24 fixed bytes."""
        width, height = struct.unpack_from(">HH", data)
        (name_length,) = struct.unpack_from(">I", data, 20)
        return cls(width, height, PixelFormat.unpack(data[4:20]), name_length)


@dataclass(frozen=True, slots=True)
class RectHeader:
    """A rectangle header of a FramebufferUpdate."""

    x: int
    y: int
    width: int
    height: int
    encoding: int

    SIZE = 12
    _STRUCT = struct.Struct(">HHHHi")

    @classmethod
    def unpack(cls, data: bytes) -> RectHeader:
        """Decode the 12 header bytes."""
        return cls(*cls._STRUCT.unpack(data))

    def pack(self) -> bytes:
        """The 12 header bytes (for tests and tools)."""
        return self._STRUCT.pack(self.x, self.y, self.width, self.height, self.encoding)


@dataclass(frozen=True, slots=True)
class Screen:
    """One screen of an ExtendedDesktopSize layout (16 bytes on the wire)."""

    id: int
    x: int
    y: int
    width: int
    height: int
    flags: int

    SIZE = 16
    _STRUCT = struct.Struct(">IHHHHI")

    @classmethod
    def unpack_all(cls, data: bytes) -> list[Screen]:
        """Decode ``len(data) // 16`` screens."""
        return [cls(*cls._STRUCT.unpack_from(data, i)) for i in range(0, len(data) - cls.SIZE + 1, cls.SIZE)]

    def pack(self) -> bytes:
        """The 16 wire bytes."""
        return self._STRUCT.pack(self.id, self.x, self.y, self.width, self.height, self.flags)


# --- client messages ----------------------------------------------------------------------------------------------
def client_init(shared: bool) -> bytes:
    """ClientInit: share the desktop with other viewers or ask for exclusive access."""
    return bytes((1 if shared else 0,))


def set_pixel_format(fmt: PixelFormat) -> bytes:
    """SetPixelFormat."""
    return struct.pack(">B3x", MSG_SET_PIXEL_FORMAT) + fmt.pack()


def set_encodings(encodings: Sequence[int]) -> bytes:
    """SetEncodings, in order of preference."""
    if len(encodings) > 0xFFFF:
        raise ValueError("too many encodings")
    return struct.pack(f">BxH{len(encodings)}i", MSG_SET_ENCODINGS, len(encodings), *encodings)


def framebuffer_update_request(incremental: bool, x: int, y: int, width: int, height: int) -> bytes:
    """FramebufferUpdateRequest for a region (usually the whole desktop)."""
    return struct.pack(">BBHHHH", MSG_FRAMEBUFFER_UPDATE_REQUEST, int(incremental), x, y, width, height)


def key_event(keysym: int, down: bool) -> bytes:
    """KeyEvent: an X11 keysym pressed or released."""
    return struct.pack(">BB2xI", MSG_KEY_EVENT, int(down), keysym)


def pointer_event(x: int, y: int, buttons: int) -> bytes:
    """PointerEvent: the position (clamped to 16 bits) and the button mask (bit 0 left ... bit 7 button 8)."""
    return struct.pack(">BBHH", MSG_POINTER_EVENT, buttons & 0xFF, min(max(x, 0), 0xFFFF), min(max(y, 0), 0xFFFF))


def encode_cut_text(text: str) -> bytes:
    """Clipboard text as RFB wants it: Latin-1 (others become ``?``), LF line ends."""
    return text.replace("\r\n", "\n").replace("\r", "\n").encode("latin-1", errors="replace")


def client_cut_text(text: str) -> bytes:
    """ClientCutText (Latin-1, see :func:`encode_cut_text`); ValueError over the clipboard cap."""
    data = encode_cut_text(text)
    if len(data) > MAX_CLIPBOARD_BYTES:
        raise ValueError(f"clipboard text is {len(data)} bytes, more than {MAX_CLIPBOARD_BYTES}")
    return struct.pack(">B3xI", MSG_CLIENT_CUT_TEXT, len(data)) + data


def set_desktop_size(width: int, height: int, screens: Iterable[Screen]) -> bytes:
    """SetDesktopSize (ExtendedDesktopSize extension) with a screen layout."""
    layout = list(screens)
    if not 1 <= len(layout) <= 255:
        raise ValueError("a layout has 1 to 255 screens")
    head = struct.pack(">BxHHBx", MSG_SET_DESKTOP_SIZE, width, height, len(layout))
    return head + b"".join(s.pack() for s in layout)


def decode_text(data: bytes) -> str:
    """A Latin-1 RFB string (every byte maps to a character: nothing can fail)."""
    return data.decode("latin-1")
