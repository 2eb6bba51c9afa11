"""T.125 MCS: the BER-encoded Connect-Initial/Response and the PER-encoded domain PDUs (MS-RDPBCGR 2.2.1.3-2.2.1.9).

Only what RDP uses: one domain, the user channel, the I/O channel and static virtual channels, Send Data both ways
and the Disconnect Provider Ultimatum.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.rdp.wire import MalformedPdu, Reader, u16be

USER_ID_BASE = 1001
IO_CHANNEL = 1003

ERECT_DOMAIN_REQUEST = 1
DISCONNECT_PROVIDER_ULTIMATUM = 8
ATTACH_USER_REQUEST = 10
ATTACH_USER_CONFIRM = 11
CHANNEL_JOIN_REQUEST = 14
CHANNEL_JOIN_CONFIRM = 15
SEND_DATA_REQUEST = 25
SEND_DATA_INDICATION = 26

_ULTIMATUM_REASONS = {
    0: "domain disconnected",
    1: "provider initiated",
    2: "token purged",
    3: "user requested",
    4: "channel purged",
}


def ber_length(length: int) -> bytes:
    """A BER definite length."""
    if length < 0x80:
        return bytes((length,))
    if length < 0x100:
        return b"\x81" + bytes((length,))
    return b"\x82" + u16be(length)


def _ber(tag: bytes, content: bytes) -> bytes:
    return tag + ber_length(len(content)) + content


def _ber_integer(value: int) -> bytes:
    size = 1 if value < 0x80 else 2 if value < 0x8000 else 3 if value < 0x800000 else 4
    return _ber(b"\x02", value.to_bytes(size, "big"))


def _domain_parameters(values: tuple[int, ...]) -> bytes:
    return _ber(b"\x30", b"".join(_ber_integer(v) for v in values))


def connect_initial(user_data: bytes) -> bytes:
    """The MCS Connect-Initial carrying the GCC Conference Create Request ``user_data``."""
    body = (
        _ber(b"\x04", b"\x01")
        + _ber(b"\x04", b"\x01")
        + _ber(b"\x01", b"\xff")
        + _domain_parameters((34, 2, 0, 1, 0, 1, 0xFFFF, 2))
        + _domain_parameters((1, 1, 1, 1, 0, 1, 0x420, 2))
        + _domain_parameters((0xFFFF, 0xFC17, 0xFFFF, 1, 0, 1, 0xFFFF, 2))
        + _ber(b"\x04", user_data)
    )
    return _ber(b"\x7f\x65", body)


def _read_ber_header(reader: Reader, tag: bytes) -> int:
    got = reader.take(len(tag))
    if got != tag:
        raise MalformedPdu(f"BER tag {got.hex()} where {tag.hex()} was expected")
    first = reader.u8()
    if first < 0x80:
        return first
    count = first & 0x7F
    if not 1 <= count <= 2:
        raise MalformedPdu("a BER length of more than two bytes")
    return int.from_bytes(reader.take(count), "big")


def parse_connect_response(data: bytes) -> bytes:
    """The GCC user data of an MCS Connect-Response; MalformedPdu if the server refused or sent garbage."""
    reader = Reader(data, "MCS Connect-Response")
    _read_ber_header(reader, b"\x7f\x66")
    result = reader.take(_read_ber_header(reader, b"\x0a"))
    if result != b"\x00":
        raise MalformedPdu(f"the server refused the MCS connection (result {result.hex()})")
    reader.skip(_read_ber_header(reader, b"\x02"))  # calledConnectId
    reader.skip(_read_ber_header(reader, b"\x30"))  # domainParameters
    return reader.take(_read_ber_header(reader, b"\x04"))


def erect_domain_request() -> bytes:
    """Erect Domain Request (subHeight 0, subInterval 0)."""
    return bytes((ERECT_DOMAIN_REQUEST << 2, 1, 0, 1, 0))


def attach_user_request() -> bytes:
    """Attach User Request."""
    return bytes((ATTACH_USER_REQUEST << 2,))


def parse_attach_user_confirm(data: bytes) -> int:
    """The user channel id from an Attach User Confirm."""
    reader = Reader(data, "MCS Attach User Confirm")
    choice = reader.u8()
    if choice >> 2 != ATTACH_USER_CONFIRM:
        raise MalformedPdu(f"expected an MCS Attach User Confirm, got PDU {choice >> 2}")
    result = reader.u8()
    if result != 0 or not choice & 0x2:
        raise MalformedPdu(f"the server refused to attach the user (result {result})")
    return reader.u16be() + USER_ID_BASE


def channel_join_request(user_id: int, channel_id: int) -> bytes:
    """Channel Join Request for ``channel_id``."""
    return bytes((CHANNEL_JOIN_REQUEST << 2,)) + u16be(user_id - USER_ID_BASE) + u16be(channel_id)


def parse_channel_join_confirm(data: bytes) -> int:
    """The joined channel id from a Channel Join Confirm; MalformedPdu if refused."""
    reader = Reader(data, "MCS Channel Join Confirm")
    choice = reader.u8()
    if choice >> 2 != CHANNEL_JOIN_CONFIRM:
        raise MalformedPdu(f"expected an MCS Channel Join Confirm, got PDU {choice >> 2}")
    result = reader.u8()
    reader.u16be()  # initiator
    requested = reader.u16be()
    if result != 0:
        raise MalformedPdu(f"the server refused to join channel {requested} (result {result})")
    return reader.u16be() if choice & 0x2 and reader.remaining >= 2 else requested


def _per_length(length: int) -> bytes:
    return bytes((length,)) if length < 0x80 else u16be(length | 0x8000)


def send_data_request(user_id: int, channel_id: int, payload: bytes) -> bytes:
    """Send Data Request: ``payload`` to ``channel_id``."""
    return (
        bytes((SEND_DATA_REQUEST << 2,))
        + u16be(user_id - USER_ID_BASE)
        + u16be(channel_id)
        + b"\x70"
        + _per_length(len(payload))
        + payload
    )


@dataclass(frozen=True, slots=True)
class ChannelData:
    """What a Send Data Indication carried, and on which channel."""

    channel_id: int
    payload: bytes


class ProviderUltimatum(Exception):
    """The server ended the MCS domain (Disconnect Provider Ultimatum)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def parse_domain_pdu(data: bytes) -> ChannelData:
    """A Send Data Indication's channel and payload; ProviderUltimatum when the server disconnects."""
    reader = Reader(data, "MCS domain PDU")
    choice = reader.u8()
    kind = choice >> 2
    if kind == DISCONNECT_PROVIDER_ULTIMATUM:
        second = reader.u8() if reader.remaining else 0
        reason = ((choice & 0x1) << 1) | (second >> 7)
        raise ProviderUltimatum(_ULTIMATUM_REASONS.get(reason, f"reason {reason}"))
    if kind != SEND_DATA_INDICATION:
        raise MalformedPdu(f"unexpected MCS PDU {kind}")
    reader.u16be()  # initiator
    channel_id = reader.u16be()
    reader.u8()  # priority and segmentation
    length = reader.u8()
    if length & 0x80:
        length = ((length & 0x7F) << 8) | reader.u8()
    return ChannelData(channel_id, reader.take(length))
