"""The Extended Clipboard pseudo-encoding (0xC0A1E5CE, TigerVNC / rfbproto): clipboard text as UTF-8 both ways.

A server that supports it answers SetEncodings with a *caps* message (a ServerCutText whose length is negative: the
payload is a U32 of flags, then data). The exchange, text format only:

* we answer its caps with ours (text, up to :data:`MAX_CLIPBOARD_BYTES`; request, peek, notify, provide);
* server -> us: it *notifies* that text is available; we *request* it; it *provides* it (zlib: U32 size, UTF-8
  text ending in NUL, CRLF line ends) and we yield it as LF text;
* us -> server: we *notify* that we have text and keep it; when an application on the server pastes, the server
  *requests* it and we *provide* it (a *peek* is answered with a notify).

:class:`ExtendedClipboard` holds that state; it builds the messages to send and parses what comes, with every
length bounded (a payload over the cap is skipped by the caller, a provide that inflates over the cap is dropped).
Without the server's caps the connection keeps using plain Latin-1 ClientCutText.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from protocols.vnc import messages as m

ENC_EXTENDED_CLIPBOARD = -1063131698  # 0xC0A1E5CE as a signed 32-bit integer
FORMAT_TEXT = 1 << 0
FORMAT_MASK = 0xFFFF
ACTION_CAPS = 1 << 24
ACTION_REQUEST = 1 << 25
ACTION_PEEK = 1 << 26
ACTION_NOTIFY = 1 << 27
ACTION_PROVIDE = 1 << 28
OUR_ACTIONS = ACTION_REQUEST | ACTION_PEEK | ACTION_NOTIFY | ACTION_PROVIDE
MAX_PAYLOAD = m.MAX_CLIPBOARD_BYTES + 1024
"""The largest extended clipboard message read (flags, sizes and compressed data); larger ones are skipped."""


def _message(flags: int, data: bytes = b"") -> bytes:
    """A ClientCutText carrying an extended clipboard message (negative length)."""
    payload = struct.pack(">I", flags) + data
    return struct.pack(">B3xi", m.MSG_CLIENT_CUT_TEXT, -len(payload)) + payload


def caps_message() -> bytes:
    """Our caps: the text format, at most :data:`MAX_CLIPBOARD_BYTES` of it, and every action but caps."""
    return _message(ACTION_CAPS | OUR_ACTIONS | FORMAT_TEXT, struct.pack(">I", m.MAX_CLIPBOARD_BYTES))


def encode_provide(text: str) -> bytes:
    """A provide message with ``text`` (CRLF line ends, NUL-terminated UTF-8, zlib); ValueError over the cap."""
    data = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n").encode("utf-8", "replace") + b"\0"
    if len(data) > m.MAX_CLIPBOARD_BYTES:
        raise ValueError(f"clipboard text is {len(data)} bytes, more than {m.MAX_CLIPBOARD_BYTES}")
    return _message(ACTION_PROVIDE | FORMAT_TEXT, zlib.compress(struct.pack(">I", len(data)) + data))


def decode_provided_text(flags: int, data: bytes) -> str | None:
    """The text of a provide message's zlib ``data`` (None: no text in it, or over the cap, or malformed)."""
    if not flags & FORMAT_TEXT:
        return None
    inflater = zlib.decompressobj()
    try:
        head = inflater.decompress(data, 4)
        if len(head) < 4:
            return None
        (size,) = struct.unpack(">I", head)
        if size > m.MAX_CLIPBOARD_BYTES:
            return None
        text = inflater.decompress(inflater.unconsumed_tail, size) if size else b""
    except zlib.error:
        return None
    if len(text) < size:
        return None
    return text.rstrip(b"\0").decode("utf-8", "replace").replace("\r\n", "\n")


@dataclass
class ExtendedClipboard:
    """The extension's state on one connection.

    ``server_flags``: the server's caps flags (0: no caps received, the extension is not in use). ``local``: our
    clipboard text, kept until the server requests it (the last text given wins).
    """

    server_flags: int = 0
    local: str | None = None

    @property
    def active(self) -> bool:
        """The server sent its caps: clipboard text travels as UTF-8 through this extension."""
        return bool(self.server_flags)

    def announce(self, text: str) -> bytes:
        """Keep ``text`` and return what tells the server about it: a notify (it requests the text when it is
        pasted), or the text itself if the server cannot be notified."""
        encode_provide(text)  # the cap is checked now, where the caller can report it
        self.local = text
        if self.server_flags & ACTION_NOTIFY:
            return _message(ACTION_NOTIFY | FORMAT_TEXT)
        return encode_provide(text)

    def handle(self, flags: int, data: bytes) -> tuple[bytes, str | None]:
        """A server message (``flags`` and the bytes after them): what to send back, and text the server
        provided (None: none)."""
        if flags & ACTION_CAPS:
            self.server_flags = flags
            return caps_message(), None
        if flags & ACTION_PROVIDE:
            return b"", decode_provided_text(flags, data)
        if flags & ACTION_NOTIFY:
            return (_message(ACTION_REQUEST | FORMAT_TEXT) if flags & FORMAT_TEXT else b""), None
        if flags & ACTION_REQUEST:
            return (encode_provide(self.local) if flags & FORMAT_TEXT and self.local is not None else b""), None
        if flags & ACTION_PEEK:
            return _message(ACTION_NOTIFY | (FORMAT_TEXT if self.local is not None else 0)), None
        return b"", None
