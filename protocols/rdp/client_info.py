"""The Client Info PDU (TS_INFO_PACKET, MS-RDPBCGR 2.2.1.11): who logs on, with auto-logon, and the session's
performance flags."""

from __future__ import annotations

from protocols.rdp.wire import u16, u32, utf16z

INFO_MOUSE = 0x1
INFO_DISABLECTRLALTDEL = 0x2
INFO_AUTOLOGON = 0x8
INFO_UNICODE = 0x10
INFO_MAXIMIZESHELL = 0x20
INFO_LOGONNOTIFY = 0x40
INFO_COMPRESSION = 0x80
INFO_ENABLEWINDOWSKEY = 0x100
INFO_LOGONERRORS = 0x10000
INFO_MOUSE_HAS_WHEEL = 0x20000
INFO_NOAUDIOPLAYBACK = 0x80000
PACKET_COMPR_TYPE_64K = 1
COMPRESSION_TYPE_SHIFT = 9

PERF_DISABLE_WALLPAPER = 0x1
PERF_DISABLE_FULLWINDOWDRAG = 0x2
PERF_DISABLE_MENUANIMATIONS = 0x4
PERF_DISABLE_THEMING = 0x8
PERF_DISABLE_CURSOR_SHADOW = 0x20
PERF_ENABLE_FONT_SMOOTHING = 0x80
PERF_ENABLE_DESKTOP_COMPOSITION = 0x100
MAX_FIELD_CHARS = 255
_TIME_ZONE_SIZE = 172


def client_info(
    *,
    domain: str,
    username: str,
    password: str,
    auto_logon: bool,
    performance_flags: int,
    compression: bool = True,
    client_address: str = "0.0.0.0",  # noqa: S104 -- an address reported to the server, not a bind
) -> bytes:
    """The TS_INFO_PACKET body (after the security header). Fields longer than 255 characters are refused."""
    for name, value in (("domain", domain), ("user name", username), ("password", password)):
        if len(value) > MAX_FIELD_CHARS:
            raise ValueError(f"the {name} is longer than {MAX_FIELD_CHARS} characters")
    flags = (
        INFO_MOUSE
        | INFO_DISABLECTRLALTDEL
        | INFO_UNICODE
        | INFO_MAXIMIZESHELL
        | INFO_LOGONNOTIFY
        | INFO_ENABLEWINDOWSKEY
        | INFO_LOGONERRORS
        | INFO_MOUSE_HAS_WHEEL
        | INFO_NOAUDIOPLAYBACK
    )
    if auto_logon:
        flags |= INFO_AUTOLOGON
    if compression:
        flags |= INFO_COMPRESSION | (PACKET_COMPR_TYPE_64K << COMPRESSION_TYPE_SHIFT)
    texts = [domain, username, password, "", ""]
    encoded = [utf16z(text) for text in texts]
    head = u32(0) + u32(flags) + b"".join(u16(len(raw) - 2) for raw in encoded)
    address = utf16z(client_address)
    directory = utf16z("C:\\Windows\\System32\\mstscax.dll")
    extra = (
        u16(2)  # AF_INET
        + u16(len(address))
        + address
        + u16(len(directory))
        + directory
        + bytes(_TIME_ZONE_SIZE)
        + u32(0)  # client session id
        + u32(performance_flags)
        + u16(0)  # no auto-reconnect cookie
    )
    return head + b"".join(encoded) + extra
