"""protocols.rdp.nla: the CredSSP TSRequest encoding and decoding (MS-CSSP 2.2.1) and its bounded reading.

The known answers are CredSSP exchanges from the unit tests of Wallix's Redemption (tests/core/RDP/nla/test_nla.cpp):
a client NTLM NEGOTIATE, a server CHALLENGE, a server public key proof and a client AUTHENTICATE with its proof.
"""

from __future__ import annotations

import asyncio

import pytest

from protocols.rdp import nla
from protocols.rdp.wire import MalformedPdu
from tests.fixtures.malformed import flips, prefixes, unexpected_failures

NTLM_NEGOTIATE = bytes.fromhex("4e544c4d5353500001000000b78208e2000000002800000000000000280000000601b11d0000000f")
CLIENT_NEGOTIATE = bytes.fromhex("3037a003020106a130302e302ca02a0428") + NTLM_NEGOTIATE

SERVER_CHALLENGE = bytes.fromhex(
    "308188a003020106a18180307e307ca07a04784e544c4d53535000020000000000000038000000b78208e2b86cdaa6f0"
    "f6308d000000000000000040004000380000000601b11d0000000f01000800570049004e00370002000800570049004e"
    "00370003000800770069006e00370004000800770069006e0037000700080067950e5a4e5676d600000000"
)
NTLM_CHALLENGE = SERVER_CHALLENGE[19:]

PUB_KEY_AUTH = bytes.fromhex("01000000a2e05b50978e992700000000dca70bfe37453d1b0515ce560a54a1f1")
SERVER_PUB_KEY_AUTH = bytes.fromhex("3029a003020106a3220420") + PUB_KEY_AUTH

# The client's AUTHENTICATE and public key proof (CredSSP version 2): only the DER framing is checked here, the NTLM
# message being opaque to the encoder, so a token of the same length stands in for it.
CLIENT_AUTHENTICATE_HEADER = bytes.fromhex("30820159a003020102a182012c3082012830820124a08201200482011c")
CLIENT_AUTHENTICATE_PROOF_HEADER = bytes.fromhex("a3220420")
AUTH_INFO_HEADER = bytes.fromhex("305ca003020106a2550453")


def stream_of(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


# --- known answers ------------------------------------------------------------------------------------------------


def test_the_negotiate_ts_request_is_encoded_as_the_reference_exchange() -> None:
    assert nla.encode_ts_request(6, token=NTLM_NEGOTIATE) == CLIENT_NEGOTIATE


def test_the_authenticate_ts_request_with_its_proof_is_framed_as_the_reference_exchange() -> None:
    token = bytes(range(256)) + bytes(0x11C - 256)
    proof = bytes(range(32))

    encoded = nla.encode_ts_request(2, token=token, pub_key_auth=proof)

    assert encoded == CLIENT_AUTHENTICATE_HEADER + token + CLIENT_AUTHENTICATE_PROOF_HEADER + proof


def test_the_sealed_credentials_are_framed_as_the_reference_exchange() -> None:
    sealed = bytes(range(0x53))

    assert nla.encode_ts_request(6, auth_info=sealed) == AUTH_INFO_HEADER + sealed


def test_the_server_challenge_of_the_reference_exchange_decodes() -> None:
    request = nla.decode_ts_request(SERVER_CHALLENGE)

    assert request == nla.TsRequest(version=6, token=NTLM_CHALLENGE, pub_key_auth=None, error_code=None)
    assert len(NTLM_CHALLENGE) == 0x78
    assert NTLM_CHALLENGE.startswith(b"NTLMSSP\0\x02\0\0\0")


def test_the_server_public_key_proof_of_the_reference_exchange_decodes() -> None:
    request = nla.decode_ts_request(SERVER_PUB_KEY_AUTH)

    assert request == nla.TsRequest(version=6, token=None, pub_key_auth=PUB_KEY_AUTH, error_code=None)


# --- round trips --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 0x7F, 0x80, 0xFF, 0x100, 0xFFFF, 0x10000])
def test_token_and_proof_round_trip_across_every_der_length_form(size: int) -> None:
    token = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    proof = b"\xa5" * (size // 2)

    request = nla.decode_ts_request(nla.encode_ts_request(5, token=token, pub_key_auth=proof, nonce=b"n" * 32))

    assert request == nla.TsRequest(version=5, token=token, pub_key_auth=proof, error_code=None)


@pytest.mark.parametrize("version", [2, 3, 6, 127, 128, 255, 256])
def test_the_version_round_trips_as_a_positive_der_integer(version: int) -> None:
    encoded = nla.encode_ts_request(version)

    assert nla.decode_ts_request(encoded).version == version
    assert encoded[5] == (2 if version >= 128 else 1)  # a leading zero keeps 128..255 positive


@pytest.mark.parametrize(
    ("code", "der"),
    [
        (0xC000006D, "0204c000006d"),  # how Windows encodes an NTSTATUS: a negative 32-bit INTEGER
        (0xC000006D, "020500c000006d"),  # the same, positive
        (0x00000001, "020101"),
    ],
)
def test_the_error_code_is_read_as_the_unsigned_ntstatus(code: int, der: str) -> None:
    content = bytes.fromhex("a003020106") + bytes.fromhex("a4") + bytes((len(der) // 2,)) + bytes.fromhex(der)

    assert nla.decode_ts_request(bytes((0x30, len(content))) + content).error_code == code


def test_the_credentials_are_password_credentials_of_utf16_domain_user_and_password() -> None:
    encoded = nla.encode_credentials(nla.NlaCredentials("CORP", "José", "pässword"))

    expected = (
        bytes.fromhex("3037a003020101a130042e302c")  # TSCredentials: credType 1, credentials
        + bytes.fromhex("a00a0408")
        + "CORP".encode("utf-16-le")
        + bytes.fromhex("a10a0408")
        + "José".encode("utf-16-le")
        + bytes.fromhex("a2120410")
        + "pässword".encode("utf-16-le")
    )
    assert encoded == expected


# --- malformed TSRequests -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ("3100", "not a TSRequest"),
        ("3000", "a TSRequest has no version"),
        ("3003a00102", "truncated"),  # the version's INTEGER cut short
        ("3085000000000000", "bad DER length"),
        ("3080", "bad DER length"),
        ("30", "truncated"),
        ("", "truncated"),
        ("3007a003020106a100", "truncated"),  # negoTokens without its SEQUENCE OF
    ],
)
def test_a_malformed_ts_request_is_refused_as_a_credssp_message(data: str, said: str) -> None:
    with pytest.raises(MalformedPdu, match=said):
        nla.decode_ts_request(bytes.fromhex(data))


def test_every_prefix_of_a_ts_request_is_refused_as_a_cut_credssp_message() -> None:
    for cut in prefixes(SERVER_CHALLENGE):
        # A cut inside the long-form length leaves a length that cannot be read: said as such.
        with pytest.raises(MalformedPdu, match=r"a CredSSP message (is truncated|has a bad DER length)"):
            nla.decode_ts_request(cut)


def test_random_corruptions_of_a_ts_request_raise_only_malformed_pdu() -> None:
    for valid in (SERVER_CHALLENGE, SERVER_PUB_KEY_AUTH, CLIENT_NEGOTIATE):
        assert unexpected_failures(nla.decode_ts_request, flips(valid), (MalformedPdu,)) == []


# --- reading from the connection ----------------------------------------------------------------------------------


async def test_one_ts_request_is_read_whole_and_no_further() -> None:
    big = nla.encode_ts_request(6, token=bytes(70000))
    reader = stream_of(SERVER_CHALLENGE + big[:3])

    assert await nla.read_ts_request(reader) == SERVER_CHALLENGE
    assert await reader.read() == big[:3]


async def test_a_ts_request_over_the_bound_is_refused_before_its_body_is_read() -> None:
    reader = stream_of(bytes.fromhex("3083010001"))  # announces 65537 bytes, sends none

    with pytest.raises(MalformedPdu, match=f"a TSRequest of 65537 bytes is larger than {nla.MAX_TSREQUEST}"):
        await nla.read_ts_request(reader)


@pytest.mark.parametrize(
    ("data", "said"), [("0482", "did not answer with a CredSSP TSRequest"), ("3084", "bad DER length")]
)
async def test_something_other_than_a_ts_request_is_refused(data: str, said: str) -> None:
    with pytest.raises(MalformedPdu, match=said):
        await nla.read_ts_request(stream_of(bytes.fromhex(data)))


async def test_the_server_closing_during_authentication_is_reported_as_a_refusal() -> None:
    with pytest.raises(nla.NlaFailed, match="the server closed the connection during authentication"):
        await nla.read_ts_request(stream_of(SERVER_CHALLENGE[:-1]))
