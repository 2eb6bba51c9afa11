"""protocols.rdp.x224: TPKT and fast-path framing and the X.224 security negotiation (MS-RDPBCGR 2.2.1.1-2.2.1.2)."""

from __future__ import annotations

import asyncio
import struct

import pytest

from protocols.rdp import x224
from protocols.rdp.wire import MalformedPdu
from tests.fixtures.malformed import flips, prefixes, unexpected_failures

# MS-RDPBCGR 4.1.1: the Client X.224 Connection Request of the annotated connection sequence (cookie "eltons",
# standard RDP security requested).
SPEC_CONNECTION_REQUEST = bytes.fromhex(
    "0300002c27e00000000000436f6f6b69653a206d737473686173683d656c746f6e730d0a0100080000000000"
)


def confirm(kind: int, value: int, flags: int = 0) -> bytes:
    """An X.224 Connection Confirm TPDU (after the TPKT header) carrying an RDP negotiation response or failure."""
    return bytes.fromhex("0ed00000123400") + struct.pack("<BBHI", kind, flags, 8, value)


def stream_of(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


# --- Connection Request -------------------------------------------------------------------------------------------


def test_the_connection_request_matches_the_specification_example() -> None:
    assert x224.connection_request(x224.PROTOCOL_RDP, "eltons") == SPEC_CONNECTION_REQUEST


def test_the_connection_request_without_a_user_has_no_cookie_and_asks_for_the_protocols() -> None:
    request = x224.connection_request(x224.PROTOCOL_SSL | x224.PROTOCOL_HYBRID)

    assert request == bytes.fromhex("030000130ee000000000000100080003000000")


def test_the_cookie_carries_at_most_nine_characters_of_the_user_name() -> None:
    request = x224.connection_request(x224.PROTOCOL_HYBRID, "administrator")

    assert b"Cookie: mstshash=administr\r\n" in request
    assert request[4] == len(request) - 5  # the length indicator counts what follows it
    assert struct.unpack(">H", request[2:4])[0] == len(request)


# --- Connection Confirm -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [x224.PROTOCOL_RDP, x224.PROTOCOL_SSL, x224.PROTOCOL_HYBRID])
def test_the_selected_protocol_is_read_from_the_negotiation_response(protocol: int) -> None:
    assert x224.parse_connection_confirm(confirm(2, protocol, flags=0x1F)) == protocol


def test_a_confirm_without_a_negotiation_response_means_classic_rdp_security() -> None:
    assert x224.parse_connection_confirm(bytes.fromhex("06d00000123400")) == x224.PROTOCOL_RDP


@pytest.mark.parametrize(
    ("code", "said"),
    [
        (1, "requires TLS"),
        (2, "only classic RDP security"),
        (3, "no TLS certificate"),
        (5, "requires Network Level Authentication"),
        (6, "TLS with user authentication"),
        (99, "refused the security negotiation \\(code 99\\)"),
    ],
)
def test_a_negotiation_failure_says_what_the_server_requires(code: int, said: str) -> None:
    with pytest.raises(x224.NegotiationFailed, match=said) as caught:
        x224.parse_connection_confirm(confirm(3, code))

    assert caught.value.code == code


def test_a_tpdu_that_is_not_a_connection_confirm_is_refused() -> None:
    with pytest.raises(MalformedPdu, match=r"expected an X\.224 Connection Confirm, got TPDU code 0xe0"):
        x224.parse_connection_confirm(bytes.fromhex("0ee00000000000") + bytes(8))


def test_a_negotiation_response_with_a_wrong_length_is_refused() -> None:
    data = bytearray(confirm(2, x224.PROTOCOL_SSL))
    data[9] = 12

    with pytest.raises(MalformedPdu, match="negotiation response has a wrong length"):
        x224.parse_connection_confirm(bytes(data))


def test_an_unknown_negotiation_message_type_is_refused() -> None:
    with pytest.raises(MalformedPdu, match="unknown RDP negotiation message type 7"):
        x224.parse_connection_confirm(confirm(7, 0))


def test_a_confirm_cut_in_its_header_is_malformed_and_names_the_confirm() -> None:
    valid = confirm(2, x224.PROTOCOL_HYBRID)

    for cut in prefixes(valid[:7]):
        with pytest.raises(MalformedPdu, match=r"X\.224 Connection Confirm is truncated"):
            x224.parse_connection_confirm(cut)


def test_a_confirm_whose_length_indicator_announces_a_missing_negotiation_response_is_truncated() -> None:
    valid = confirm(2, x224.PROTOCOL_HYBRID)

    for end in range(7, len(valid)):
        with pytest.raises(MalformedPdu, match="truncated"):
            x224.parse_connection_confirm(valid[:end])


def test_random_corruptions_of_a_confirm_raise_only_the_documented_errors() -> None:
    failures = unexpected_failures(
        x224.parse_connection_confirm,
        flips(confirm(2, x224.PROTOCOL_HYBRID)),
        (MalformedPdu, x224.NegotiationFailed),
    )

    assert failures == []


# --- TPKT, Data TPDU and frames -----------------------------------------------------------------------------------


def test_a_data_tpdu_is_wrapped_in_a_tpkt_of_the_right_length() -> None:
    assert x224.data_tpdu(b"abc") == b"\x03\x00\x00\x0a\x02\xf0\x80abc"
    assert x224.strip_data_header(x224.data_tpdu(b"abc")[4:]) == b"abc"


def test_a_disconnect_request_in_place_of_data_is_reported_as_such() -> None:
    with pytest.raises(MalformedPdu, match=r"X\.224 Disconnect Request"):
        x224.strip_data_header(bytes.fromhex("06800000000000"))


def test_something_else_in_place_of_a_data_tpdu_is_refused() -> None:
    with pytest.raises(MalformedPdu, match=r"expected an X\.224 Data TPDU"):
        x224.strip_data_header(b"\x02\xf0")


async def test_a_tpkt_frame_is_read_whole_and_the_next_frame_follows() -> None:
    reader = stream_of(x224.data_tpdu(b"first") + x224.data_tpdu(b"second"))

    one = await x224.read_frame(reader)
    two = await x224.read_frame(reader)

    assert one == x224.Frame(x224.FrameKind.X224, b"\x02\xf0\x80first")
    assert two.data == b"\x02\xf0\x80second"


@pytest.mark.parametrize("size", [1, 0x7C, 0x7D, 0x7E, 0x200, 0x7FFC])
async def test_fast_path_frames_of_one_and_two_byte_lengths_are_read_whole(size: int) -> None:
    body = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    length = x224.fastpath_length(len(body) + 1)  # the header byte, the length field and the body
    pdu = b"\x00" + length + body

    frame = await x224.read_frame(stream_of(pdu + b"\x03trailing"))

    assert frame == x224.Frame(x224.FrameKind.FASTPATH, pdu)
    assert len(length) == (1 if len(pdu) <= 0x7F else 2)


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"\x03\x00\x00\x06\x02\xf0", "a TPKT of 6 bytes is too short"),
        (b"\x01\x05", "a frame starts with 0x01: neither TPKT nor fast-path"),
        (b"\x00\x01", "a fast-path PDU of 1 bytes is too short"),
        (b"\x00\x80\x02", "a fast-path PDU of 2 bytes is too short"),
    ],
)
async def test_a_frame_header_that_cannot_be_right_is_refused_before_reading_a_body(data: bytes, said: str) -> None:
    with pytest.raises(MalformedPdu, match=said):
        await x224.read_frame(stream_of(data))


async def test_a_frame_cut_by_the_end_of_the_stream_is_an_incomplete_read() -> None:
    with pytest.raises(asyncio.IncompleteReadError):
        await x224.read_frame(stream_of(x224.data_tpdu(b"payload")[:-1]))


@pytest.mark.parametrize(
    ("length", "encoded"), [(0, b"\x01"), (0x7E, b"\x7f"), (0x7F, b"\x80\x81"), (0x100, b"\x81\x02")]
)
def test_the_fast_path_length_field_counts_itself_and_switches_to_two_bytes_at_0x80(
    length: int, encoded: bytes
) -> None:
    assert x224.fastpath_length(length) == encoded
