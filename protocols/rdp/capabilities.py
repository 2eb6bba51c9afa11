"""Capability exchange: the server's Demand Active PDU and the client's Confirm Active (MS-RDPBCGR 2.2.1.13, 2.2.7).

The client asks for bitmap updates only (no drawing orders, no caches), fast-path both ways, colour pointers
including large ones, scancode and Unicode keyboard input, and multi-fragment updates as large as one desktop.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.rdp.pdu import PDUTYPE_CONFIRMACTIVE, SERVER_CHANNEL_ID, share_control
from protocols.rdp.wire import MalformedPdu, Reader, u8, u16, u32

CAPSTYPE_GENERAL = 1
CAPSTYPE_BITMAP = 2
CAPSTYPE_ORDER = 3
CAPSTYPE_BITMAPCACHE = 4
CAPSTYPE_CONTROL = 5
CAPSTYPE_ACTIVATION = 7
CAPSTYPE_POINTER = 8
CAPSTYPE_SHARE = 9
CAPSTYPE_COLORCACHE = 10
CAPSTYPE_SOUND = 12
CAPSTYPE_INPUT = 13
CAPSTYPE_FONT = 14
CAPSTYPE_BRUSH = 15
CAPSTYPE_GLYPHCACHE = 16
CAPSTYPE_OFFSCREENCACHE = 17
CAPSTYPE_VIRTUALCHANNEL = 20
CAPSTYPE_MULTIFRAGMENTUPDATE = 26
CAPSTYPE_LARGE_POINTER = 27
CAPSTYPE_SURFACE_COMMANDS = 28
CAPSTYPE_BITMAP_CODECS = 29
CAPSTYPE_FRAME_ACKNOWLEDGE = 30

SURFCMDS_SET_SURFACE_BITS = 0x02
SURFCMDS_FRAME_MARKER = 0x10
SURFCMDS_STREAM_SURFACE_BITS = 0x40
CODEC_GUID_NSCODEC = bytes.fromhex("b91b8dca0f004f15589fae2d1a87e2d6")
NSCODEC_ID = 1
MAX_UNACKNOWLEDGED_FRAMES = 2
NSCODEC_MIN_FRAGMENT = 0x3F0000  # FreeRDP's servers send NSCodec only to clients that reassemble this much

FASTPATH_OUTPUT_SUPPORTED = 0x1
LONG_CREDENTIALS_SUPPORTED = 0x4
AUTORECONNECT_SUPPORTED = 0x8
ENC_SALTED_CHECKSUM = 0x10
NO_BITMAP_COMPRESSION_HDR = 0x400

INPUT_FLAG_SCANCODES = 0x1
INPUT_FLAG_MOUSEX = 0x4
INPUT_FLAG_FASTPATH_INPUT = 0x8
INPUT_FLAG_UNICODE = 0x10
INPUT_FLAG_FASTPATH_INPUT2 = 0x20
INPUT_FLAG_MOUSE_HWHEEL = 0x100

DRAW_ALLOW_SKIP_ALPHA = 0x08
LARGE_POINTER_96 = 0x1
LARGE_POINTER_384 = 0x2


@dataclass(frozen=True, slots=True)
class ServerCapabilities:
    """What the server's Demand Active said that the client acts on."""

    share_id: int
    width: int
    height: int
    bpp: int
    fastpath_output: bool
    fastpath_input: bool
    unicode_input: bool
    refresh_rect: bool
    suppress_output: bool
    hwheel: bool
    multifragment_max: int


def parse_demand_active(body: bytes) -> ServerCapabilities:
    """The capabilities of a Demand Active PDU (the body after the share control header)."""
    reader = Reader(body, "Demand Active PDU")
    share_id = reader.u32()
    source_length = reader.u16()
    reader.u16()  # combined capabilities length
    reader.skip(source_length)
    count = reader.u16()
    reader.u16()
    width = height = bpp = 0
    fastpath_output = fastpath_input = unicode_input = refresh = suppress = hwheel = False
    multifragment = 0
    for _ in range(count):
        kind = reader.u16()
        length = reader.u16()
        if length < 4:
            raise MalformedPdu(f"capability set {kind} has length {length}")
        cap = reader.sub(length - 4, f"capability set {kind}")
        if kind == CAPSTYPE_GENERAL and cap.remaining >= 20:
            cap.skip(10)
            extra = cap.u16()
            cap.skip(6)
            fastpath_output = bool(extra & FASTPATH_OUTPUT_SUPPORTED)
            refresh = cap.u8() == 1
            suppress = cap.u8() == 1
        elif kind == CAPSTYPE_BITMAP and cap.remaining >= 12:
            bpp = cap.u16()
            cap.skip(6)
            width = cap.u16()
            height = cap.u16()
        elif kind == CAPSTYPE_INPUT and cap.remaining >= 2:
            flags = cap.u16()
            fastpath_input = bool(flags & (INPUT_FLAG_FASTPATH_INPUT | INPUT_FLAG_FASTPATH_INPUT2))
            unicode_input = bool(flags & INPUT_FLAG_UNICODE)
            hwheel = bool(flags & INPUT_FLAG_MOUSE_HWHEEL)
        elif kind == CAPSTYPE_MULTIFRAGMENTUPDATE and cap.remaining >= 4:
            multifragment = cap.u32()
    if not (1 <= width <= 8192 and 1 <= height <= 8192):
        raise MalformedPdu(f"the server announced a desktop of {width}x{height}")
    return ServerCapabilities(
        share_id,
        width,
        height,
        bpp,
        fastpath_output,
        fastpath_input,
        unicode_input,
        refresh,
        suppress,
        hwheel,
        multifragment,
    )


def multifragment_size(width: int, height: int) -> int:
    """The largest reassembled fast-path update the client announces (and accepts) for a desktop size."""
    return max(width * height * 4, NSCODEC_MIN_FRAGMENT) + 0x10000


def _cap(kind: int, body: bytes) -> bytes:
    return u16(kind) + u16(len(body) + 4) + body


def surface_capabilities(lossless: bool) -> list[bytes]:
    """Surface commands with frame markers, NSCodec as the one bitmap codec, and frame acknowledgement.

    A server that acknowledges frames paces itself by the client's acknowledgements instead of a fixed rate (the
    FreeRDP shadow server goes from 16 to 32 frames a second). ``lossless``: NSCodec without colour loss or
    chroma subsampling (Full Color); otherwise colour loss level 3 with subsampling.
    """
    nscodec = bytes((1, 0 if lossless else 1, 1 if lossless else 3))  # dynamic fidelity, subsampling, loss level
    codecs = u8(1) + CODEC_GUID_NSCODEC + u8(NSCODEC_ID) + u16(len(nscodec)) + nscodec
    flags = SURFCMDS_SET_SURFACE_BITS | SURFCMDS_FRAME_MARKER | SURFCMDS_STREAM_SURFACE_BITS
    return [
        _cap(CAPSTYPE_SURFACE_COMMANDS, u32(flags) + u32(0)),
        _cap(CAPSTYPE_BITMAP_CODECS, codecs),
        _cap(CAPSTYPE_FRAME_ACKNOWLEDGE, u32(MAX_UNACKNOWLEDGED_FRAMES)),
    ]


def client_capabilities(
    width: int, height: int, bpp: int, keyboard_layout: int, *, lossless: bool = True
) -> list[bytes]:
    """The client's capability sets."""
    general = (
        u16(1)  # OS: Windows
        + u16(3)  # NT
        + u16(0x200)
        + u16(0)
        + u16(0)
        + u16(FASTPATH_OUTPUT_SUPPORTED | LONG_CREDENTIALS_SUPPORTED | NO_BITMAP_COMPRESSION_HDR | ENC_SALTED_CHECKSUM)
        + u16(0)
        + u16(0)
        + u16(0)
        + u8(1)  # refresh rect
        + u8(1)  # suppress output
    )
    bitmap = (
        u16(bpp)
        + u16(1)
        + u16(1)
        + u16(1)
        + u16(width)
        + u16(height)
        + u16(0)
        + u16(1)  # desktop resize
        + u16(1)  # bitmap compression
        + u8(0)
        + u8(DRAW_ALLOW_SKIP_ALPHA)
        + u16(1)  # multiple rectangles
        + u16(0)
    )
    order = (
        bytes(16)
        + u32(0)
        + u16(1)
        + u16(20)
        + u16(0)
        + u16(1)
        + u16(0)
        + u16(0x2 | 0x8)  # NEGOTIATEORDERSUPPORT, ZEROBOUNDSDELTASSUPPORT
        + bytes(32)  # no drawing orders
        + u16(0)
        + u16(0)
        + u32(0)
        + u32(0)
        + u16(0)
        + u16(0)
        + u16(0)
        + u16(0)
    )
    input_caps = (
        u16(
            INPUT_FLAG_SCANCODES
            | INPUT_FLAG_MOUSEX
            | INPUT_FLAG_FASTPATH_INPUT
            | INPUT_FLAG_UNICODE
            | INPUT_FLAG_FASTPATH_INPUT2
            | INPUT_FLAG_MOUSE_HWHEEL
        )
        + u16(0)
        + u32(keyboard_layout)
        + u32(4)
        + u32(0)
        + u32(12)
        + bytes(64)
    )
    return [
        _cap(CAPSTYPE_GENERAL, general),
        _cap(CAPSTYPE_BITMAP, bitmap),
        _cap(CAPSTYPE_ORDER, order),
        _cap(CAPSTYPE_BITMAPCACHE, bytes(24) + bytes(12)),
        _cap(CAPSTYPE_POINTER, u16(1) + u16(25) + u16(25)),
        _cap(CAPSTYPE_INPUT, input_caps),
        _cap(CAPSTYPE_BRUSH, u32(0)),
        _cap(CAPSTYPE_GLYPHCACHE, bytes(40) + u32(0) + u16(0) + u16(0)),
        _cap(CAPSTYPE_OFFSCREENCACHE, u32(0) + u16(0) + u16(0)),
        _cap(CAPSTYPE_VIRTUALCHANNEL, u32(0) + u32(1600)),
        _cap(CAPSTYPE_SOUND, u16(0) + u16(0)),
        _cap(CAPSTYPE_SHARE, u16(0) + u16(0)),
        _cap(CAPSTYPE_CONTROL, u16(0) + u16(0) + u16(2) + u16(2)),
        _cap(CAPSTYPE_ACTIVATION, u16(0) * 4),
        _cap(CAPSTYPE_FONT, u16(1) + u16(0)),
        _cap(CAPSTYPE_COLORCACHE, u16(6) + u16(0)),
        _cap(CAPSTYPE_LARGE_POINTER, u16(LARGE_POINTER_96)),  # the browser's cursors stop at 256 px
        # After the codecs: FreeRDP's servers keep their own (smaller) reassembly size while they still think the
        # client may take RemoteFX, and then turn NSCodec off for it.
        *surface_capabilities(lossless),
        _cap(CAPSTYPE_MULTIFRAGMENTUPDATE, u32(multifragment_size(width, height))),
    ]


def confirm_active(
    share_id: int, user_id: int, width: int, height: int, bpp: int, keyboard_layout: int, *, lossless: bool = True
) -> bytes:
    """The Confirm Active PDU (share control PDU) answering a Demand Active."""
    caps = client_capabilities(width, height, bpp, keyboard_layout, lossless=lossless)
    source = b"OPENJUMP\0"
    combined = u16(len(caps)) + u16(0) + b"".join(caps)
    body = u32(share_id) + u16(SERVER_CHANNEL_ID) + u16(len(source)) + u16(len(combined)) + source + combined
    return share_control(PDUTYPE_CONFIRMACTIVE, user_id, body)
