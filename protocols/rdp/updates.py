"""Server updates into the screen: bitmaps, pointers and palette-free synchronisation (MS-RDPBCGR 2.2.9.1).

Both paths (fast-path output and slow-path Update/Pointer PDUs) carry the same structures; :class:`UpdateHandler`
takes them once decompressed and reassembled. Bitmaps are decoded by FreeRDP's codecs straight into the screen's
pixels (:mod:`protocols.rdp.codecs`); pointer shapes become ``CursorShape`` events, cached by index as the server
asks.
"""

from __future__ import annotations

from collections.abc import Callable

from jumpoint.core.desktop import MAX_CURSOR_SIDE, CursorShape
from protocols.rdp.capabilities import NSCODEC_ID
from protocols.rdp.codecs.bitmap import BitmapDecoder, MalformedBitmap
from protocols.rdp.codecs.pointer import pointer_rgba
from protocols.rdp.screen import Screen
from protocols.rdp.wire import MalformedPdu, Reader

UPDATETYPE_ORDERS = 0
UPDATETYPE_BITMAP = 1
UPDATETYPE_PALETTE = 2
UPDATETYPE_SYNCHRONIZE = 3

FASTPATH_UPDATETYPE_ORDERS = 0
FASTPATH_UPDATETYPE_BITMAP = 1
FASTPATH_UPDATETYPE_PALETTE = 2
FASTPATH_UPDATETYPE_SYNCHRONIZE = 3
FASTPATH_UPDATETYPE_SURFCMDS = 4
FASTPATH_UPDATETYPE_PTR_NULL = 5
FASTPATH_UPDATETYPE_PTR_DEFAULT = 6
FASTPATH_UPDATETYPE_PTR_POSITION = 8
FASTPATH_UPDATETYPE_COLOR = 9
FASTPATH_UPDATETYPE_CACHED = 10
FASTPATH_UPDATETYPE_POINTER = 11
FASTPATH_UPDATETYPE_LARGE_POINTER = 12

TS_PTRMSGTYPE_SYSTEM = 1
TS_PTRMSGTYPE_POSITION = 3
TS_PTRMSGTYPE_COLOR = 6
TS_PTRMSGTYPE_CACHED = 7
TS_PTRMSGTYPE_POINTER = 8
TS_PTRMSGTYPE_LARGE = 9
SYSPTR_NULL = 0
SYSPTR_DEFAULT = 0x7F00

CMDTYPE_SET_SURFACE_BITS = 0x0001
CMDTYPE_FRAME_MARKER = 0x0004
CMDTYPE_STREAM_SURFACE_BITS = 0x0006
FRAME_END = 0x0001
EX_COMPRESSED_BITMAP_HEADER_PRESENT = 0x01

BITMAP_COMPRESSION = 0x1
NO_BITMAP_COMPRESSION_HDR = 0x400
POINTER_CACHE_SIZE = 25
MAX_RECTANGLES = 4096

_ARROW = (
    "X...........",
    "XX..........",
    "XOX.........",
    "XOOX........",
    "XOOOX.......",
    "XOOOOX......",
    "XOOOOOX.....",
    "XOOOOOOX....",
    "XOOOOOOOX...",
    "XOOOOOOOOX..",
    "XOOOOOXXXXX.",
    "XOOXOOX.....",
    "XOX.XOOX....",
    "XX..XOOX....",
    "X....XOOX...",
    ".....XOOX...",
    "......XX....",
)


def default_arrow() -> CursorShape:
    """The system's default pointer: a black-edged white arrow, hot spot at its tip."""
    colours = {"X": b"\0\0\0\xff", "O": b"\xff\xff\xff\xff", ".": b"\0\0\0\0"}
    rgba = b"".join(colours[ch] for row in _ARROW for ch in row)
    return CursorShape(0, 0, len(_ARROW[0]), len(_ARROW), rgba)


HIDDEN_POINTER = CursorShape(0, 0, 0, 0, b"")


class UpdateHandler:
    """Applies decoded update payloads to a :class:`Screen`; one per connection."""

    def __init__(self, screen: Screen, on_frame_end: Callable[[int], None] | None = None) -> None:
        self.screen = screen
        self.on_frame_end = on_frame_end
        self.decoder = BitmapDecoder()
        self._pointers: dict[int, CursorShape] = {}

    def close(self) -> None:
        """Free the codec contexts."""
        self.decoder.close()

    def slow_path_update(self, body: bytes) -> None:
        """A slow-path Update PDU's body (after the share data header)."""
        kind = Reader(body, "Update PDU").u16()
        if kind == UPDATETYPE_BITMAP:
            self.bitmaps(body)
        elif kind == UPDATETYPE_ORDERS:
            raise MalformedPdu("the server sent drawing orders although the client supports none")

    def fast_path_update(self, code: int, data: bytes) -> None:
        """One reassembled, decompressed fast-path update."""
        if code == FASTPATH_UPDATETYPE_BITMAP:
            self.bitmaps(data)
        elif code == FASTPATH_UPDATETYPE_PTR_NULL:
            self.screen.add_side(HIDDEN_POINTER)
        elif code == FASTPATH_UPDATETYPE_PTR_DEFAULT:
            self.screen.add_side(default_arrow())
        elif code == FASTPATH_UPDATETYPE_COLOR:
            self._colour_pointer(Reader(data, "colour pointer update"), 24)
        elif code == FASTPATH_UPDATETYPE_POINTER:
            reader = Reader(data, "pointer update")
            self._colour_pointer(reader, reader.u16())
        elif code == FASTPATH_UPDATETYPE_LARGE_POINTER:
            self._large_pointer(Reader(data, "large pointer update"))
        elif code == FASTPATH_UPDATETYPE_CACHED:
            self._cached_pointer(Reader(data, "cached pointer update").u16())
        elif code == FASTPATH_UPDATETYPE_SURFCMDS:
            self.surface_commands(data)
        elif code == FASTPATH_UPDATETYPE_ORDERS:
            raise MalformedPdu("the server sent drawing orders although the client supports none")
        # Position updates move the server's own pointer; the browser draws the viewer's pointer itself.
        # Synchronize, palette (the client never asks for 8 bpp) and surface commands (none negotiated) are ignored.

    def pointer_pdu(self, body: bytes) -> None:
        """A slow-path Pointer PDU's body."""
        reader = Reader(body, "Pointer PDU")
        kind = reader.u16()
        reader.u16()
        if kind == TS_PTRMSGTYPE_SYSTEM:
            which = reader.u32()
            self.screen.add_side(HIDDEN_POINTER if which == SYSPTR_NULL else default_arrow())
        elif kind == TS_PTRMSGTYPE_COLOR:
            self._colour_pointer(reader, 24)
        elif kind == TS_PTRMSGTYPE_POINTER:
            self._colour_pointer(reader, reader.u16())
        elif kind == TS_PTRMSGTYPE_LARGE:
            self._large_pointer(reader)
        elif kind == TS_PTRMSGTYPE_CACHED:
            self._cached_pointer(reader.u16())

    def bitmaps(self, data: bytes) -> None:
        """TS_UPDATE_BITMAP_DATA: decode every rectangle into the screen and mark it damaged."""
        reader = Reader(data, "bitmap update")
        if reader.u16() != UPDATETYPE_BITMAP:
            raise MalformedPdu("a bitmap update does not say it is one")
        count = reader.u16()
        if count > MAX_RECTANGLES:
            raise MalformedPdu(f"a bitmap update with {count} rectangles")
        screen = self.screen
        for _ in range(count):
            left, top, right, bottom = reader.u16(), reader.u16(), reader.u16(), reader.u16()
            width, height, bpp, flags, length = reader.u16(), reader.u16(), reader.u16(), reader.u16(), reader.u16()
            compressed = bool(flags & BITMAP_COMPRESSION)
            if compressed and not flags & NO_BITMAP_COMPRESSION_HDR:
                reader.skip(8)
                length -= 8
            payload = reader.take(length)
            clip_width = min(right + 1, screen.width) - left
            clip_height = min(bottom + 1, screen.height) - top
            if clip_width <= 0 or clip_height <= 0 or width == 0 or height == 0:
                continue
            clip_width = min(clip_width, width)
            clip_height = min(clip_height, height)
            try:
                self.decoder.decode(
                    payload,
                    width=width,
                    height=height,
                    bpp=bpp,
                    compressed=compressed,
                    fb=screen.pixels,
                    x=left,
                    y=top,
                    clip_width=clip_width,
                    clip_height=clip_height,
                )
            except MalformedBitmap as exc:
                raise MalformedPdu(f"a {width}x{height} bitmap at {left},{top} ({bpp} bpp): {exc}") from None
            screen.damage(left, top, clip_width, clip_height)

    def surface_commands(self, data: bytes) -> None:
        """Surface commands (MS-RDPBCGR 2.2.9.2): NSCodec surface bits into the screen, and frame markers (the end
        of a frame is acknowledged through ``on_frame_end``)."""
        reader = Reader(data, "surface commands")
        screen = self.screen
        while reader.remaining:
            kind = reader.u16()
            if kind == CMDTYPE_FRAME_MARKER:
                action = reader.u16()
                frame_id = reader.u32()
                if action == FRAME_END and self.on_frame_end is not None:
                    self.on_frame_end(frame_id)
                continue
            if kind not in (CMDTYPE_SET_SURFACE_BITS, CMDTYPE_STREAM_SURFACE_BITS):
                raise MalformedPdu(f"unknown surface command {kind:#x}")
            left, top, right, bottom = reader.u16(), reader.u16(), reader.u16(), reader.u16()
            reader.u8()  # bpp
            flags = reader.u8()
            reader.u8()
            codec = reader.u8()
            width, height = reader.u16(), reader.u16()
            length = reader.u32()
            if flags & EX_COMPRESSED_BITMAP_HEADER_PRESENT:
                reader.skip(24)
            payload = reader.take(length)
            if codec != NSCODEC_ID:
                raise MalformedPdu(f"surface bits in codec {codec}, which the client did not announce")
            clip_width = min(right, screen.width, left + width) - left
            clip_height = min(bottom, screen.height, top + height) - top
            if clip_width <= 0 or clip_height <= 0 or right <= left or bottom <= top:
                continue
            try:
                self.decoder.decode_nscodec(
                    payload,
                    width=width,
                    height=height,
                    fb=screen.pixels,
                    x=left,
                    y=top,
                    clip_width=clip_width,
                    clip_height=clip_height,
                )
            except MalformedBitmap as exc:
                raise MalformedPdu(f"an NSCodec surface of {width}x{height} at {left},{top}: {exc}") from None
            screen.damage(left, top, clip_width, clip_height)

    def _colour_pointer(self, reader: Reader, xor_bpp: int) -> None:
        index = reader.u16()
        hot_x, hot_y = reader.u16(), reader.u16()
        width, height = reader.u16(), reader.u16()
        and_length, xor_length = reader.u16(), reader.u16()
        self._store_pointer(reader, index, xor_bpp, hot_x, hot_y, width, height, xor_length, and_length)

    def _large_pointer(self, reader: Reader) -> None:
        xor_bpp = reader.u16()
        index = reader.u16()
        hot_x, hot_y = reader.u16(), reader.u16()
        width, height = reader.u16(), reader.u16()
        and_length, xor_length = reader.u32(), reader.u32()
        self._store_pointer(reader, index, xor_bpp, hot_x, hot_y, width, height, xor_length, and_length, large=True)

    def _store_pointer(
        self,
        reader: Reader,
        index: int,
        xor_bpp: int,
        hot_x: int,
        hot_y: int,
        width: int,
        height: int,
        xor_length: int,
        and_length: int,
        *,
        large: bool = False,
    ) -> None:
        xor_mask = reader.take(xor_length)
        and_mask = reader.take(and_length)
        if index >= POINTER_CACHE_SIZE:
            raise MalformedPdu(f"pointer cache index {index} is beyond the {POINTER_CACHE_SIZE} announced")
        if width == 0 or height == 0:
            shape = HIDDEN_POINTER
        elif width > MAX_CURSOR_SIDE or height > MAX_CURSOR_SIDE:
            shape = default_arrow()  # larger than a browser cursor may be
        else:
            try:
                rgba = pointer_rgba(xor_bpp, width, height, xor_mask, and_mask, large=large)
            except ValueError as exc:
                raise MalformedPdu(f"a {width}x{height} pointer ({xor_bpp} bpp): {exc}") from None
            shape = CursorShape(min(hot_x, width - 1), min(hot_y, height - 1), width, height, rgba)
        self._pointers[index] = shape
        self.screen.add_side(shape)

    def _cached_pointer(self, index: int) -> None:
        shape = self._pointers.get(index)
        if shape is None:
            raise MalformedPdu(f"the server asked for pointer {index}, which it never sent")
        self.screen.add_side(shape)
