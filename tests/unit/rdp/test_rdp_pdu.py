"""protocols.rdp.pdu, capabilities and client_info: share control/data PDUs, the capability exchange and the
Client Info PDU (MS-RDPBCGR 2.2.1.11-2.2.1.22, 2.2.7, 2.2.8.1.1.1)."""

from __future__ import annotations

import struct

import pytest

from protocols.rdp import capabilities, client_info, pdu
from protocols.rdp.updates import POINTER_CACHE_SIZE
from protocols.rdp.wire import MalformedPdu, Reader
from tests.fixtures.malformed import flips, prefixes, unexpected_failures

# MS-RDPBCGR 4.1.14, 4.1.15 and 4.1.18: the annotated Client Synchronize, Control (Cooperate) and Font List PDUs
# (after the MCS header) of user 1007 in share 0x103ea.
SPEC_SYNCHRONIZE = bytes.fromhex("16001700ef03ea030100000108001f0000000100ea03")
SPEC_COOPERATE = bytes.fromhex("1a001700ef03ea03010000010c00140000000400000000000000")
SPEC_FONT_LIST = bytes.fromhex("1a001700ef03ea03010000010c00270000000000000003003200")
SHARE_ID = 0x103EA
USER = 1007


# --- share control and share data ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "body", "expected"),
    [
        (pdu.PDUTYPE2_SYNCHRONIZE, pdu.synchronize(), SPEC_SYNCHRONIZE),
        (pdu.PDUTYPE2_CONTROL, pdu.control(pdu.CTRLACTION_COOPERATE), SPEC_COOPERATE),
        (pdu.PDUTYPE2_FONTLIST, pdu.font_list(), SPEC_FONT_LIST),
    ],
    ids=["synchronize", "cooperate", "font-list"],
)
def test_the_finalization_pdus_match_the_specification_examples(kind: int, body: bytes, expected: bytes) -> None:
    assert pdu.share_data(SHARE_ID, USER, kind, body) == expected


def test_a_share_data_pdu_round_trips_through_both_headers() -> None:
    body = bytes(range(200))

    (share,) = pdu.parse_share_pdus(pdu.share_data(SHARE_ID, USER, pdu.PDUTYPE2_UPDATE, body))
    data = pdu.parse_data_pdu(share.body)

    assert (share.pdu_type, share.source) == (pdu.PDUTYPE_DATA, USER)
    assert data == pdu.DataPdu(SHARE_ID, pdu.PDUTYPE2_UPDATE, 0, body)


def test_several_share_pdus_in_one_payload_are_all_returned_and_flow_control_is_skipped() -> None:
    flow = struct.pack("<H", 0x8000) + bytes.fromhex("0042") + bytes.fromhex("0102") + struct.pack("<H", 1002)
    payload = (
        pdu.share_control(pdu.PDUTYPE_DEACTIVATEALL, 1002, b"\x04\x00")
        + flow
        + pdu.share_data(SHARE_ID, 1002, pdu.PDUTYPE2_SET_ERROR_INFO, struct.pack("<I", 0))
    )

    shares = pdu.parse_share_pdus(payload)

    assert [share.pdu_type for share in shares] == [pdu.PDUTYPE_DEACTIVATEALL, pdu.PDUTYPE_DATA]
    assert shares[0].body == b"\x04\x00"


def test_a_share_control_pdu_shorter_than_its_header_is_refused() -> None:
    with pytest.raises(MalformedPdu, match="a share control PDU of 5 bytes"):
        pdu.parse_share_pdus(struct.pack("<HHH", 5, 0x17, 1002))


def test_a_share_control_pdu_longer_than_the_payload_is_refused() -> None:
    valid = pdu.share_data(SHARE_ID, 1002, pdu.PDUTYPE2_UPDATE, bytes(100))

    for end in range(2, len(valid)):
        with pytest.raises(MalformedPdu, match="share control PDU"):
            pdu.parse_share_pdus(valid[:end])


def test_random_corruptions_of_share_pdus_raise_only_malformed_pdu() -> None:
    valid = pdu.share_data(SHARE_ID, 1002, pdu.PDUTYPE2_UPDATE, bytes(60)) + pdu.share_control(1, 1002, bytes(30))

    assert unexpected_failures(pdu.parse_share_pdus, flips(valid), (MalformedPdu,)) == []


def test_every_prefix_of_a_share_data_header_is_refused_and_names_it() -> None:
    header = pdu.parse_share_pdus(pdu.share_data(SHARE_ID, USER, pdu.PDUTYPE2_UPDATE, b""))[0].body

    for cut in prefixes(header):
        with pytest.raises(MalformedPdu, match="share data PDU is truncated"):
            pdu.parse_data_pdu(cut)


def test_set_error_info_gives_the_code_and_a_sentence_for_a_person() -> None:
    assert pdu.parse_error_info(struct.pack("<I", 0x10C9)) == 0x10C9
    assert pdu.error_info_text(0x10C9) == "the server refused the client's capabilities"
    assert pdu.error_info_text(0x1234) == "the server reported error 0x00001234"
    with pytest.raises(MalformedPdu, match="Set Error Info PDU is truncated"):
        pdu.parse_error_info(b"\x01\x00")


def test_refresh_rect_asks_for_one_inclusive_rectangle() -> None:
    assert pdu.refresh_rect(0, 0, 1279, 799) == bytes.fromhex("0100000000000000ff041f03")


def test_suppress_output_stops_with_no_rectangle_and_resumes_with_the_whole_desktop() -> None:
    assert pdu.suppress_output(False, 1280, 800) == bytes(4)
    assert pdu.suppress_output(True, 1280, 800) == bytes.fromhex("0100000000000000ff041f03")


# --- Demand Active ---------------------------------------------------------------------------------------------------


def demand_active(sets: list[bytes], *, count: int | None = None, source: bytes = b"RDP\0") -> bytes:
    """A Demand Active PDU's body (after the share control header), with a session id at the end."""
    combined = struct.pack("<HH", len(sets) if count is None else count, 0) + b"".join(sets)
    return struct.pack("<IHH", SHARE_ID, len(source), len(combined)) + source + combined + struct.pack("<I", 0)


def server_sets(width: int = 1024, height: int = 768, bpp: int = 16) -> list[bytes]:
    """Capability sets as a server sends them: the client's own sets share the format."""
    return capabilities.client_capabilities(width, height, bpp, 0x409)


def cap(kind: int, body: bytes) -> bytes:
    return struct.pack("<HH", kind, len(body) + 4) + body


def test_the_demand_active_gives_what_the_client_acts_on() -> None:
    caps = capabilities.parse_demand_active(demand_active(server_sets(1920, 1080, 32)))

    assert caps == capabilities.ServerCapabilities(
        share_id=SHARE_ID,
        width=1920,
        height=1080,
        bpp=32,
        fastpath_output=True,
        fastpath_input=True,
        unicode_input=True,
        refresh_rect=True,
        suppress_output=True,
        hwheel=True,
        multifragment_max=1920 * 1080 * 4 + 0x10000,
    )


def test_a_server_without_the_optional_sets_offers_nothing_optional() -> None:
    bitmap = server_sets()[1]

    caps = capabilities.parse_demand_active(demand_active([bitmap, cap(99, b"unknown set")]))

    assert (caps.width, caps.height) == (1024, 768)
    assert not (caps.fastpath_output or caps.fastpath_input or caps.unicode_input or caps.hwheel)
    assert caps.multifragment_max == 0


@pytest.mark.parametrize(("width", "height"), [(0, 768), (1024, 0), (8193, 768), (1024, 8193)])
def test_a_desktop_size_outside_the_supported_range_is_refused(width: int, height: int) -> None:
    with pytest.raises(MalformedPdu, match=f"the server announced a desktop of {width}x{height}"):
        capabilities.parse_demand_active(demand_active(server_sets(width, height)))


def test_a_demand_active_without_a_bitmap_set_is_refused_for_its_missing_size() -> None:
    with pytest.raises(MalformedPdu, match="desktop of 0x0"):
        capabilities.parse_demand_active(demand_active([server_sets()[0]]))


def test_a_capability_count_far_beyond_the_sets_present_ends_at_the_data() -> None:
    # The session id after the sets is then read as a capability set header of length 0.
    with pytest.raises(MalformedPdu, match="capability set 0 has length 0"):
        capabilities.parse_demand_active(demand_active(server_sets(), count=0xFFFF))


def test_a_capability_set_shorter_than_its_header_is_refused() -> None:
    with pytest.raises(MalformedPdu, match="capability set 2 has length 3"):
        capabilities.parse_demand_active(demand_active([struct.pack("<HH", 2, 3)]))


def test_a_source_descriptor_longer_than_the_pdu_is_refused() -> None:
    with pytest.raises(MalformedPdu, match="Demand Active PDU is truncated"):
        capabilities.parse_demand_active(struct.pack("<IHH", SHARE_ID, 0xFFFF, 0) + b"RDP\0")


def test_random_corruptions_and_prefixes_of_a_demand_active_raise_only_malformed_pdu() -> None:
    valid = demand_active(server_sets())

    assert unexpected_failures(capabilities.parse_demand_active, flips(valid), (MalformedPdu,)) == []
    assert unexpected_failures(capabilities.parse_demand_active, prefixes(valid), (MalformedPdu,)) == []


def test_a_capability_set_longer_than_the_rest_of_the_pdu_is_refused() -> None:
    sets = server_sets()
    input_set = next(s for s in sets if struct.unpack_from("<H", s)[0] == capabilities.CAPSTYPE_INPUT)
    body = demand_active([sets[1], input_set])
    cut = body[: -4 - len(input_set) + 6]  # the input set's header and its flags, then nothing

    with pytest.raises(MalformedPdu, match=r"(Demand Active PDU|capability set 13) is truncated"):
        capabilities.parse_demand_active(cut)


def test_a_demand_active_with_fewer_capability_sets_than_it_counts_is_refused() -> None:
    sets = server_sets()

    with pytest.raises(MalformedPdu, match="Demand Active PDU is truncated"):
        capabilities.parse_demand_active(demand_active(sets, count=len(sets) + 1)[:-4])


# --- Confirm Active ----------------------------------------------------------------------------------------------


def confirm_sets(confirm: bytes) -> dict[int, bytes]:
    """The capability sets of a Confirm Active, read back by the layout of MS-RDPBCGR 2.2.1.13.2.1."""
    reader = Reader(confirm, "Confirm Active")
    total, pdu_type, source = reader.u16(), reader.u16(), reader.u16()
    assert (total, pdu_type & 0xF, source) == (len(confirm), pdu.PDUTYPE_CONFIRMACTIVE, USER)
    assert reader.u32() == SHARE_ID
    assert reader.u16() == pdu.SERVER_CHANNEL_ID
    source_length, combined_length = reader.u16(), reader.u16()
    reader.skip(source_length)
    combined = reader.sub(combined_length, "combined capabilities")
    assert reader.remaining == 0
    count = combined.u16()
    combined.u16()
    sets: dict[int, bytes] = {}
    for _ in range(count):
        kind, length = combined.u16(), combined.u16()
        sets[kind] = combined.take(length - 4)
    assert combined.remaining == 0
    return sets


def test_the_confirm_active_lengths_tile_its_capability_sets() -> None:
    sets = confirm_sets(capabilities.confirm_active(SHARE_ID, USER, 1280, 800, 32, 0x409))

    assert capabilities.CAPSTYPE_GENERAL in sets
    assert struct.unpack_from("<HH", sets[capabilities.CAPSTYPE_BITMAP], 8) == (1280, 800)
    assert struct.unpack_from("<I", sets[capabilities.CAPSTYPE_INPUT], 4)[0] == 0x409


def test_the_pointer_cache_announced_is_the_one_the_update_handler_enforces() -> None:
    sets = confirm_sets(capabilities.confirm_active(SHARE_ID, USER, 1280, 800, 32, 0x409))

    assert struct.unpack("<HHH", sets[capabilities.CAPSTYPE_POINTER]) == (1, POINTER_CACHE_SIZE, POINTER_CACHE_SIZE)


def test_the_client_asks_for_bitmaps_only_and_no_drawing_orders() -> None:
    sets = confirm_sets(capabilities.confirm_active(SHARE_ID, USER, 1280, 800, 32, 0x409))

    assert sets[capabilities.CAPSTYPE_ORDER][32:64] == bytes(32)  # orderSupport: every order off


# --- Client Info -------------------------------------------------------------------------------------------------


def read_info(packet: bytes) -> tuple[int, list[str], int]:
    """(flags, [domain, user, password, shell, directory], performance flags) from a TS_INFO_PACKET."""
    reader = Reader(packet, "TS_INFO_PACKET")
    reader.u32()
    flags = reader.u32()
    sizes = [reader.u16() for _ in range(5)]
    texts = []
    for size in sizes:
        texts.append(reader.take(size).decode("utf-16-le"))
        assert reader.take(2) == b"\0\0"  # each field's NUL, not counted in its size
    assert reader.u16() == 2  # AF_INET
    reader.skip(reader.u16())  # client address
    reader.skip(reader.u16())  # client directory
    reader.skip(172 + 4)  # time zone, session id
    performance = reader.u32()
    assert reader.u16() == 0  # no auto-reconnect cookie
    assert reader.remaining == 0
    return flags, texts, performance


def test_the_client_info_carries_the_logon_fields_and_performance_flags() -> None:
    packet = client_info.client_info(
        domain="CORP", username="José", password="sécret", auto_logon=True, performance_flags=0x2F
    )

    flags, texts, performance = read_info(packet)

    assert texts == ["CORP", "José", "sécret", "", ""]
    assert flags & client_info.INFO_AUTOLOGON
    assert flags & client_info.INFO_UNICODE
    assert (flags >> client_info.COMPRESSION_TYPE_SHIFT) & 0xF == client_info.PACKET_COMPR_TYPE_64K
    assert performance == 0x2F


def test_the_client_info_without_auto_logon_or_compression_says_so() -> None:
    packet = client_info.client_info(
        domain="", username="", password="", auto_logon=False, performance_flags=0, compression=False
    )

    flags, texts, _ = read_info(packet)

    assert texts == ["", "", "", "", ""]
    assert not flags & (client_info.INFO_AUTOLOGON | client_info.INFO_COMPRESSION)


@pytest.mark.parametrize("field", ["domain", "username", "password"])
def test_a_logon_field_longer_than_rdp_allows_is_refused(field: str) -> None:
    values = {"domain": "", "username": "", "password": "", field: "x" * 256}

    with pytest.raises(ValueError, match="longer than 255 characters"):
        client_info.client_info(
            domain=values["domain"],
            username=values["username"],
            password=values["password"],
            auto_logon=True,
            performance_flags=0,
        )
