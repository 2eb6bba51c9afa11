"""protocols.rdp.mcs and protocols.rdp.gcc: the MCS Connect-Initial/Response (BER), the MCS domain PDUs (PER) and
the GCC Conference Create Request/Response with their data blocks (MS-RDPBCGR 2.2.1.3-2.2.1.9)."""

from __future__ import annotations

import struct

import pytest

from protocols.rdp import gcc, mcs
from protocols.rdp.wire import MalformedPdu, Reader
from tests.fixtures.malformed import flips, prefixes, unexpected_failures

# MS-RDPBCGR 4.1.3 (Client MCS Connect Initial PDU with GCC Conference Create Request): the GCC part's header in
# front of 0x11c bytes of client data blocks: the T.124 OID, the ConnectData length (0x12a), the ConferenceCreate
# Request with the conference name "1" and one user data set keyed "Duca", then the blocks' length (0x11c).
SPEC_GCC_HEADER = bytes.fromhex("000500147c0001812a000800100001c00044756361811c")
SPEC_BLOCKS_LENGTH = 0x11C
# The same example's domain parameters (targetParameters, minimumParameters, maximumParameters).
SPEC_DOMAIN_PARAMETERS = [
    [34, 2, 0, 1, 0, 1, 0xFFFF, 2],
    [1, 1, 1, 1, 0, 1, 0x420, 2],
    [0xFFFF, 0xFC17, 0xFFFF, 1, 0, 1, 0xFFFF, 2],
]


def settings(**overrides: object) -> gcc.ClientSettings:
    values: dict[str, object] = {
        "width": 1280,
        "height": 800,
        "bpp": 32,
        "selected_protocol": 2,
        "channels": ("cliprdr",),
    }
    values.update(overrides)
    return gcc.ClientSettings(**values)  # type: ignore[arg-type]


# --- BER, read back by hand ---------------------------------------------------------------------------------------


def ber(reader: Reader, tag: bytes) -> Reader:
    """The content of the next BER element, which must have ``tag`` and a definite length that fits."""
    assert reader.take(len(tag)) == tag
    first = reader.u8()
    length = first if first < 0x80 else int.from_bytes(reader.take(first & 0x7F), "big")
    return reader.sub(length, f"BER {tag.hex()}")


def ber_int(reader: Reader) -> int:
    return int.from_bytes(ber(reader, b"\x02").rest(), "big")


def ber_encode(tag: bytes, content: bytes) -> bytes:
    return tag + mcs.ber_length(len(content)) + content


def test_the_connect_initial_carries_the_specification_s_domain_parameters_and_the_user_data() -> None:
    user_data = bytes(range(256)) * 2

    reader = Reader(mcs.connect_initial(user_data), "Connect-Initial")
    body = ber(reader, b"\x7f\x65")

    assert reader.remaining == 0
    assert ber(body, b"\x04").rest() == b"\x01"  # callingDomainSelector
    assert ber(body, b"\x04").rest() == b"\x01"  # calledDomainSelector
    assert ber(body, b"\x01").rest() == b"\xff"  # upwardFlag TRUE
    for expected in SPEC_DOMAIN_PARAMETERS:
        parameters = ber(body, b"\x30")
        assert [ber_int(parameters) for _ in range(8)] == expected
        assert parameters.remaining == 0
    assert ber(body, b"\x04").rest() == user_data
    assert body.remaining == 0


@pytest.mark.parametrize(("length", "encoded"), [(0x7F, "7f"), (0x80, "8180"), (0xFF, "81ff"), (0x100, "820100")])
def test_ber_lengths_use_the_short_form_below_0x80_and_the_shortest_long_form_above(length: int, encoded: str) -> None:
    assert mcs.ber_length(length).hex() == encoded


def connect_response(user_data: bytes, result: bytes = b"\x00") -> bytes:
    parameters = b"".join(ber_encode(b"\x02", bytes((v,))) for v in (34, 3, 0, 1, 0, 1, 0xFF, 2))
    return ber_encode(
        b"\x7f\x66",
        ber_encode(b"\x0a", result)
        + ber_encode(b"\x02", b"\x00")
        + ber_encode(b"\x30", parameters)
        + ber_encode(b"\x04", user_data),
    )


def test_the_connect_response_yields_its_gcc_user_data() -> None:
    user_data = b"gcc" * 100

    assert mcs.parse_connect_response(connect_response(user_data)) == user_data


def test_a_connect_response_that_refuses_says_the_result() -> None:
    with pytest.raises(MalformedPdu, match="the server refused the MCS connection \\(result 0b\\)"):
        mcs.parse_connect_response(connect_response(b"x", result=b"\x0b"))


def test_a_connect_response_with_another_tag_is_refused() -> None:
    with pytest.raises(MalformedPdu, match="BER tag 7f65 where 7f66 was expected"):
        mcs.parse_connect_response(mcs.connect_initial(b"x"))


def test_a_ber_length_of_more_than_two_bytes_is_refused() -> None:
    with pytest.raises(MalformedPdu, match="a BER length of more than two bytes"):
        mcs.parse_connect_response(b"\x7f\x66\x84\x00\x00\x00\x10")


def test_every_prefix_of_a_connect_response_is_malformed_and_names_it() -> None:
    valid = connect_response(b"gcc user data")

    for cut in prefixes(valid):
        with pytest.raises(MalformedPdu, match="MCS Connect-Response is truncated"):
            mcs.parse_connect_response(cut)


def test_random_corruptions_of_a_connect_response_raise_only_malformed_pdu() -> None:
    assert unexpected_failures(mcs.parse_connect_response, flips(connect_response(b"u" * 40)), (MalformedPdu,)) == []


# --- domain PDUs --------------------------------------------------------------------------------------------------


def test_the_erect_domain_and_attach_user_requests_are_the_fixed_per_encodings() -> None:
    assert mcs.erect_domain_request() == bytes.fromhex("0401000100")
    assert mcs.attach_user_request() == bytes.fromhex("28")


def test_the_attach_user_confirm_gives_the_user_channel() -> None:
    assert mcs.parse_attach_user_confirm(bytes.fromhex("2e000006")) == 1007


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ("2e010006", "refused to attach the user \\(result 1\\)"),
        ("2c00", "refused to attach the user \\(result 0\\)"),  # no initiator: no user id
        ("3e000006", "expected an MCS Attach User Confirm, got PDU 15"),
        ("2e00", "MCS Attach User Confirm is truncated"),
    ],
)
def test_an_attach_user_confirm_that_gives_no_user_is_refused(data: str, said: str) -> None:
    with pytest.raises(MalformedPdu, match=said):
        mcs.parse_attach_user_confirm(bytes.fromhex(data))


def test_the_channel_join_request_names_the_user_and_the_channel() -> None:
    assert mcs.channel_join_request(1007, 1003) == bytes.fromhex("38000603eb")


def test_the_channel_join_confirm_gives_the_joined_channel() -> None:
    assert mcs.parse_channel_join_confirm(bytes.fromhex("3e00000603ec03ec")) == 1004


def test_a_refused_channel_join_names_the_channel() -> None:
    with pytest.raises(MalformedPdu, match="the server refused to join channel 1004 \\(result 14\\)"):
        mcs.parse_channel_join_confirm(bytes.fromhex("3e0e000603ec"))


@pytest.mark.parametrize("size", [0, 1, 0x7F, 0x80, 0x3FFF])
def test_send_data_round_trips_at_the_per_length_boundary(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))

    request = mcs.send_data_request(1007, 1004, payload)
    header = 8 if size >= 0x80 else 7
    indication = bytes((mcs.SEND_DATA_INDICATION << 2,)) + request[1:]  # the same layout, server to client

    assert len(request) == header + size
    assert request[1:3] == b"\x00\x06"  # initiator: the user id less 1001
    assert mcs.parse_domain_pdu(indication) == mcs.ChannelData(1004, payload)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("2000", "domain disconnected"),
        ("2080", "provider initiated"),
        ("2100", "token purged"),
        ("2180", "user requested"),
        ("20", "domain disconnected"),
    ],
)
def test_the_disconnect_provider_ultimatum_says_its_reason(data: str, reason: str) -> None:
    with pytest.raises(mcs.ProviderUltimatum, match=reason):
        mcs.parse_domain_pdu(bytes.fromhex(data))


def test_a_domain_pdu_of_an_unexpected_kind_is_refused() -> None:
    with pytest.raises(MalformedPdu, match="unexpected MCS PDU 11"):
        mcs.parse_domain_pdu(bytes.fromhex("2e000006"))


def test_every_prefix_of_a_send_data_indication_is_malformed_and_names_it() -> None:
    valid = bytes((mcs.SEND_DATA_INDICATION << 2,)) + mcs.send_data_request(1007, 1003, b"p" * 200)[1:]

    for cut in prefixes(valid):
        with pytest.raises(MalformedPdu, match="MCS domain PDU is truncated"):
            mcs.parse_domain_pdu(cut)


def test_random_corruptions_of_a_send_data_indication_raise_only_the_documented_errors() -> None:
    valid = bytes((mcs.SEND_DATA_INDICATION << 2,)) + mcs.send_data_request(1007, 1003, b"p" * 200)[1:]

    failures = unexpected_failures(mcs.parse_domain_pdu, flips(valid), (MalformedPdu, mcs.ProviderUltimatum))

    assert failures == []


# --- GCC Conference Create Request ---------------------------------------------------------------------------------


def split_conference_create_request(data: bytes) -> bytes:
    """Check the PER framing of MS-RDPBCGR 2.2.1.3 by hand and return the client data blocks."""
    assert data[:7] == bytes.fromhex("000500147c0001")  # object key choice, OID length 5, the T.124 OID
    connect_length = struct.unpack(">H", data[7:9])[0]
    assert connect_length & 0xC000 == 0x8000  # a two-byte PER length
    assert connect_length & 0x3FFF == len(data) - 9
    assert data[9:17] == bytes.fromhex("000800100001c000")
    assert data[17:21] == b"Duca"
    blocks_length = struct.unpack(">H", data[21:23])[0]
    assert blocks_length & 0xC000 == 0x8000
    assert blocks_length & 0x3FFF == len(data) - 23
    return data[23:]


def read_blocks(blocks: bytes) -> dict[int, Reader]:
    """The client data blocks by type, checking that their headers tile the data exactly."""
    reader = Reader(blocks, "client data")
    out: dict[int, Reader] = {}
    while reader.remaining:
        kind, length = reader.u16(), reader.u16()
        assert length >= 4
        out[kind] = reader.sub(length - 4, f"block {kind:#x}")
    return out


def test_the_gcc_header_matches_the_specification_example_for_the_same_blocks_length(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def core_of_spec_length(_: gcc.ClientSettings) -> bytes:
        others = len(gcc.client_cluster(False)) + len(gcc.client_security(False)) + len(gcc.client_network(()))
        return struct.pack("<HH", gcc.CS_CORE, SPEC_BLOCKS_LENGTH - others) + bytes(SPEC_BLOCKS_LENGTH - others - 4)

    monkeypatch.setattr(gcc, "client_core", core_of_spec_length)

    request = gcc.conference_create_request(settings(channels=()))

    assert request[:23] == SPEC_GCC_HEADER
    assert len(request) == 23 + SPEC_BLOCKS_LENGTH


@pytest.mark.parametrize("channels", [(), ("cliprdr",), tuple(f"ch{i}" for i in range(gcc.MAX_CHANNELS))])
def test_the_gcc_per_lengths_match_the_blocks_they_frame(channels: tuple[str, ...]) -> None:
    blocks = read_blocks(split_conference_create_request(gcc.conference_create_request(settings(channels=channels))))

    assert list(blocks) == [gcc.CS_CORE, gcc.CS_CLUSTER, gcc.CS_SECURITY, gcc.CS_NET]


@pytest.mark.parametrize(("bpp", "high", "wants_32"), [(32, 24, True), (24, 24, False), (16, 16, False)])
def test_the_core_block_announces_the_desktop_keyboard_depth_and_selected_protocol(
    bpp: int, high: int, wants_32: bool
) -> None:
    request = gcc.conference_create_request(
        settings(width=1920, height=1080, bpp=bpp, keyboard_layout=0x407, selected_protocol=1)
    )
    core = read_blocks(split_conference_create_request(request))[gcc.CS_CORE].rest()

    assert len(core) == 212  # every field of TS_UD_CS_CORE up to serverSelectedProtocol
    assert struct.unpack_from("<HH", core, 4) == (1920, 1080)
    assert struct.unpack_from("<I", core, 12)[0] == 0x407
    assert core[20:52].decode("utf-16-le").rstrip("\0") == "openjump"
    assert struct.unpack_from("<H", core, 136)[0] == high
    early = struct.unpack_from("<H", core, 140)[0]
    assert bool(early & gcc.EARLY_WANT_32BPP_SESSION) == wants_32
    assert early & gcc.EARLY_SUPPORT_ERRINFO_PDU
    assert struct.unpack_from("<I", core, 208)[0] == 1


def test_the_client_name_is_cut_to_fit_its_field_with_a_terminating_nul() -> None:
    core = read_blocks(split_conference_create_request(gcc.conference_create_request(settings(client_name="x" * 40))))[
        gcc.CS_CORE
    ].rest()

    assert core[20:52] == "x".encode("utf-16-le") * 15 + b"\0\0"


@pytest.mark.parametrize(("selected", "methods"), [(0, 0x0B), (1, 0), (2, 0)])
def test_encryption_methods_are_offered_only_for_classic_rdp_security(selected: int, methods: int) -> None:
    request = gcc.conference_create_request(settings(selected_protocol=selected))
    security = read_blocks(split_conference_create_request(request))[gcc.CS_SECURITY]

    assert security.u32() == methods
    assert security.u32() == 0


@pytest.mark.parametrize(("console", "flags"), [(False, 0x0D), (True, 0x0F)])
def test_the_cluster_block_asks_for_the_console_session_only_when_told(console: bool, flags: int) -> None:
    cluster = read_blocks(
        split_conference_create_request(gcc.conference_create_request(settings(console_session=console)))
    )[gcc.CS_CLUSTER]

    assert cluster.u32() == flags
    assert cluster.u32() == 0


def test_the_network_block_lists_each_channel_by_a_nul_terminated_name_of_at_most_seven_characters() -> None:
    request = gcc.conference_create_request(settings(channels=("cliprdr", "rdpsnd", "toolongname")))
    net = read_blocks(split_conference_create_request(request))[gcc.CS_NET]

    assert net.u32() == 3
    names = []
    for _ in range(3):
        names.append(net.take(8))
        assert net.u32() & gcc.CHANNEL_OPTION_INITIALIZED
    assert names == [b"cliprdr\0", b"rdpsnd\0\0", b"toolong\0"]
    assert net.remaining == 0


def test_more_static_channels_than_rdp_allows_are_refused() -> None:
    with pytest.raises(ValueError, match="at most 31 static channels"):
        gcc.client_network(tuple(f"c{i}" for i in range(32)))


# --- GCC Conference Create Response ---------------------------------------------------------------------------------


def block(kind: int, body: bytes) -> bytes:
    return struct.pack("<HH", kind, len(body) + 4) + body


def response(*blocks: bytes, declared: int | None = None) -> bytes:
    """A GCC Conference Create Response's user data (MS-RDPBCGR 4.1.4's header) around server data blocks."""
    data = b"".join(blocks)
    length = len(data) if declared is None else declared
    return bytes.fromhex("000500147c00012a14760a01010001c000") + b"McDn" + struct.pack(">H", 0x8000 | length) + data


SC_CORE = block(gcc.SC_CORE, struct.pack("<II", 0x00080004, 3))
SC_SECURITY_TLS = block(gcc.SC_SECURITY, struct.pack("<II", 0, 0))
SC_NET = block(gcc.SC_NET, struct.pack("<HHHH", 1003, 1, 1004, 0))
RANDOM = bytes(range(32))


def sc_security(random_length: int = 32, certificate: bytes = b"cert", method: int = gcc.ENCRYPTION_128BIT) -> bytes:
    body = struct.pack("<IIII", method, 2, random_length, len(certificate)) + bytes(range(random_length)) + certificate
    return block(gcc.SC_SECURITY, body)


def test_the_response_gives_version_protocols_and_channel_ids() -> None:
    data = gcc.parse_conference_create_response(response(SC_CORE, SC_SECURITY_TLS, SC_NET))

    assert data.version == 0x00080004
    assert data.requested_protocols == 3
    assert (data.encryption_method, data.encryption_level) == (0, 0)
    assert data.server_random == b""
    assert data.io_channel == 1003
    assert data.channel_ids == [1004]


def test_the_response_under_classic_security_gives_the_server_random_and_certificate() -> None:
    data = gcc.parse_conference_create_response(response(SC_CORE, sc_security(certificate=b"C" * 300), SC_NET))

    assert data.encryption_method == gcc.ENCRYPTION_128BIT
    assert data.server_random == RANDOM
    assert data.server_certificate == b"C" * 300


def test_a_short_core_block_without_requested_protocols_is_accepted() -> None:
    data = gcc.parse_conference_create_response(response(block(gcc.SC_CORE, struct.pack("<I", 0x00080001))))

    assert (data.version, data.requested_protocols) == (0x00080001, 0)


@pytest.mark.parametrize(
    ("user_data", "said"),
    [
        (b"\0" * 80 + b"McDn\x00", "no server data \\(h221 key McDn missing\\)"),
        (response(block(gcc.SC_NET, struct.pack("<HH", 1003, 32) + bytes(64))), "the server lists 32 channels"),
        (response(sc_security(random_length=16)), "server random of 16 bytes"),
        (response(sc_security(certificate=bytes(16385))), "certificate of 16385"),
        (response(struct.pack("<HH", gcc.SC_CORE, 3)), "server data block 0xc01 has length 3"),
        (response(struct.pack("<HH", gcc.SC_NET, 40) + bytes(8)), "server data blocks is truncated"),
        (
            response(block(gcc.SC_NET, struct.pack("<HH", 1003, 2) + b"\xec\x03")),
            "server data block 0xc03 is truncated",
        ),
    ],
    ids=["no-key", "32-channels", "short-random", "huge-certificate", "block-length-3", "block-overruns", "few-ids"],
)
def test_a_response_that_cannot_be_right_is_refused_with_what_is_wrong(user_data: bytes, said: str) -> None:
    with pytest.raises(MalformedPdu, match=said):
        gcc.parse_conference_create_response(user_data)


def test_a_channel_count_of_65535_is_refused_without_reading_that_many() -> None:
    with pytest.raises(MalformedPdu, match="65535 channels"):
        gcc.parse_conference_create_response(response(block(gcc.SC_NET, struct.pack("<HH", 1003, 0xFFFF))))


def test_random_corruptions_of_a_response_raise_only_malformed_pdu() -> None:
    valid = response(SC_CORE, sc_security(), SC_NET)

    assert unexpected_failures(gcc.parse_conference_create_response, flips(valid), (MalformedPdu,)) == []
    assert unexpected_failures(gcc.parse_conference_create_response, prefixes(valid), (MalformedPdu,)) == []


def test_a_response_shorter_than_its_declared_server_data_is_refused() -> None:
    full = response(SC_CORE, SC_SECURITY_TLS, SC_NET)
    cut = full[: -len(SC_NET)]

    with pytest.raises(MalformedPdu, match="truncated"):
        gcc.parse_conference_create_response(cut)
