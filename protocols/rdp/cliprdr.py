"""Text clipboard both ways over the CLIPRDR static channel (MS-RDPECLIP), Unicode text only.

The server copies: it announces a format list, the client acknowledges and asks for ``CF_UNICODETEXT``, the answer
becomes a ``Clipboard`` event. A participant copies: the client announces ``CF_UNICODETEXT``; when the server pastes
it asks for the data and gets the text. Messages are bounded by :data:`MAX_MESSAGE`.
"""

from __future__ import annotations

from protocols.rdp.wire import MalformedPdu, Reader, u16, u32

CB_MONITOR_READY = 1
CB_FORMAT_LIST = 2
CB_FORMAT_LIST_RESPONSE = 3
CB_FORMAT_DATA_REQUEST = 4
CB_FORMAT_DATA_RESPONSE = 5
CB_CLIP_CAPS = 7
CB_RESPONSE_OK = 0x1
CB_RESPONSE_FAIL = 0x2
CB_USE_LONG_FORMAT_NAMES = 0x2
CF_UNICODETEXT = 13
MAX_TEXT_CHARS = 1024 * 1024
MAX_MESSAGE = MAX_TEXT_CHARS * 2 + 64


def _pdu(kind: int, flags: int, data: bytes) -> bytes:
    return u16(kind) + u16(flags) + u32(len(data)) + data


class ClipboardChannel:
    """The client side of CLIPRDR: feed it the server's messages, send what it returns."""

    def __init__(self) -> None:
        self._long_names = False
        self._local_text: str | None = None
        self._ready = False
        self._awaiting_data = False

    @property
    def ready(self) -> bool:
        """Whether the server's side announced itself (Monitor Ready)."""
        return self._ready

    def receive(self, message: bytes) -> tuple[list[bytes], str | None]:
        """Process one server message: the messages to send back, and clipboard text the server gave (if any)."""
        reader = Reader(message, "clipboard message")
        kind = reader.u16()
        flags = reader.u16()
        length = reader.u32()
        data = reader.take(length)
        if kind == CB_CLIP_CAPS:
            self._long_names = self._parse_caps(data)
            return [], None
        if kind == CB_MONITOR_READY:
            self._ready = True
            caps = u16(1) + u16(0) + u16(1) + u16(12) + u32(2) + u32(CB_USE_LONG_FORMAT_NAMES)
            return [_pdu(CB_CLIP_CAPS, 0, caps), self._format_list()], None
        if kind == CB_FORMAT_LIST:
            replies = [_pdu(CB_FORMAT_LIST_RESPONSE, CB_RESPONSE_OK, b"")]
            if CF_UNICODETEXT in self._formats(data):
                self._awaiting_data = True
                replies.append(_pdu(CB_FORMAT_DATA_REQUEST, 0, u32(CF_UNICODETEXT)))
            return replies, None
        if kind == CB_FORMAT_DATA_REQUEST:
            requested = Reader(data, "format data request").u32()
            if requested != CF_UNICODETEXT or self._local_text is None:
                return [_pdu(CB_FORMAT_DATA_RESPONSE, CB_RESPONSE_FAIL, b"")], None
            text = self._local_text.replace("\r\n", "\n").replace("\n", "\r\n")
            return [_pdu(CB_FORMAT_DATA_RESPONSE, CB_RESPONSE_OK, text.encode("utf-16-le") + b"\0\0")], None
        if kind == CB_FORMAT_DATA_RESPONSE:
            if not self._awaiting_data:
                return [], None
            self._awaiting_data = False
            if not flags & CB_RESPONSE_OK:
                return [], None
            text = data.decode("utf-16-le", errors="replace").split("\0", 1)[0].replace("\r\n", "\n")
            return [], text[:MAX_TEXT_CHARS]
        return [], None

    def offer(self, text: str) -> list[bytes]:
        """A participant's clipboard text: announce it to the server (sent once the channel is ready)."""
        self._local_text = text[:MAX_TEXT_CHARS]
        return [self._format_list()] if self._ready else []

    def _format_list(self) -> bytes:
        if self._local_text is None:
            return _pdu(CB_FORMAT_LIST, 0, b"")
        if self._long_names:
            return _pdu(CB_FORMAT_LIST, 0, u32(CF_UNICODETEXT) + b"\0\0")
        return _pdu(CB_FORMAT_LIST, 0, u32(CF_UNICODETEXT) + bytes(32))

    @staticmethod
    def _parse_caps(data: bytes) -> bool:
        reader = Reader(data, "clipboard capabilities")
        count = reader.u16()
        reader.u16()
        long_names = False
        for _ in range(count):
            kind = reader.u16()
            length = reader.u16()
            if length < 4:
                raise MalformedPdu("a clipboard capability set is too short")
            body = reader.sub(length - 4, "clipboard capability set")
            if kind == 1 and body.remaining >= 8:
                body.u32()
                long_names = bool(body.u32() & CB_USE_LONG_FORMAT_NAMES)
        return long_names

    def _formats(self, data: bytes) -> set[int]:
        reader = Reader(data, "clipboard format list")
        formats: set[int] = set()
        while reader.remaining >= 4:
            formats.add(reader.u32())
            if self._long_names:
                while reader.remaining >= 2 and reader.take(2) != b"\0\0":
                    pass
            else:
                reader.skip(min(32, reader.remaining))
        return formats
