"""protocols.rdp.licensing: the licensing phase as far as a gateway goes (MS-RDPELE 2.2.2, MS-RDPBCGR 2.2.1.12)."""

from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from protocols.rdp import licensing
from protocols.rdp.licensing import LicenseClient, LicenseStep, LicensingRefused
from protocols.rdp.rdp_security import RSA1_MAGIC, ServerKey
from protocols.rdp.wire import MalformedPdu, Reader
from tests.fixtures.malformed import flips, prefixes, unexpected_failures


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 -- a test key, kept fast


def server_key(key: rsa.RSAPrivateKey) -> ServerKey:
    numbers = key.public_key().public_numbers()
    return ServerKey(numbers.n, numbers.e, key.key_size // 8, b"identity")


def proprietary_certificate(key: rsa.RSAPrivateKey) -> bytes:
    numbers = key.public_key().public_numbers()
    modulus = numbers.n.to_bytes(key.key_size // 8, "little") + bytes(8)
    blob = struct.pack("<IIIII", RSA1_MAGIC, len(modulus), key.key_size, key.key_size // 8 - 1, numbers.e) + modulus
    return struct.pack("<IIIHH", 1, 1, 1, 6, len(blob)) + blob + struct.pack("<HH", 8, 72) + bytes(72)


def preamble(kind: int, body: bytes, flags: int = 0x03) -> bytes:
    return struct.pack("<BBH", kind, flags, len(body) + 4) + body


def license_request(certificate: bytes) -> bytes:
    """A Server License Request (MS-RDPELE 2.2.2.1) with one scope."""
    company = "Microsoft Corporation\0".encode("utf-16-le")
    product = "A02\0".encode("utf-16-le")
    body = (
        bytes(range(32))  # server random
        + struct.pack("<I", 0x00060000)
        + struct.pack("<I", len(company))
        + company
        + struct.pack("<I", len(product))
        + product
        + struct.pack("<HHI", 0x000D, 4, 1)  # key exchange list: RSA
        + struct.pack("<HH", 0x0003, len(certificate))
        + certificate
        + struct.pack("<I", 1)
        + struct.pack("<HH", 0x000E, 14)
        + b"microsoft.com\0"
    )
    return preamble(licensing.LICENSE_REQUEST, body)


def error_alert(code: int, transition: int) -> bytes:
    return preamble(licensing.ERROR_ALERT, struct.pack("<IIHH", code, transition, 4, 0))


def new_license_request(reply: bytes) -> dict[str, object]:
    """The fields of a Client New License Request (MS-RDPELE 2.2.2.2), checking its framing."""
    reader = Reader(reply, "New License Request")
    kind, flags, size = reader.u8(), reader.u8(), reader.u16()
    assert (kind, size) == (licensing.NEW_LICENSE_REQUEST, len(reply))
    assert flags & 0x0F == licensing.PREAMBLE_VERSION_3
    fields: dict[str, object] = {"algorithm": reader.u32(), "platform": reader.u32(), "client_random": reader.take(32)}
    for name, blob_type in (("premaster", 0x0002), ("user", 0x000F), ("machine", 0x0010)):
        assert reader.u16() == blob_type
        fields[name] = reader.take(reader.u16())
    assert reader.remaining == 0
    return fields


def decrypts_to_48_bytes(encrypted: object, key: rsa.RSAPrivateKey) -> bool:
    """Whether ``encrypted`` is RDP's little-endian RSA encryption of a 48-byte secret under ``key``."""
    assert isinstance(encrypted, bytes)
    size = key.key_size // 8
    if len(encrypted) != size + 8 or encrypted[size:] != bytes(8):
        return False
    private = key.private_numbers()
    value = pow(int.from_bytes(encrypted[:size], "little"), private.d, private.public_numbers.n)
    return value < 1 << (48 * 8)  # a wrong key or byte order gives a number of the modulus' size


# --- the outcomes -------------------------------------------------------------------------------------------------


def test_a_valid_client_alert_ends_licensing_without_a_reply() -> None:
    assert LicenseClient("user", "host", None).receive(error_alert(0x07, 0x02)) == LicenseStep(done=True)


@pytest.mark.parametrize(
    ("code", "transition", "said"),
    [
        (0x02, 0x02, "no license is available for this client \\(ERR_NO_LICENSE\\)"),
        (0x06, 0x01, "no license server is reachable"),
        (0x07, 0x01, "the server's licensing failed \\(error 0x7\\)"),
        (0x99, 0x02, "the server's licensing failed \\(error 0x99\\)"),
    ],
)
def test_any_other_alert_refuses_the_session_with_the_reason(code: int, transition: int, said: str) -> None:
    with pytest.raises(LicensingRefused, match=said):
        LicenseClient("user", "host", None).receive(error_alert(code, transition))


@pytest.mark.parametrize("kind", [licensing.PLATFORM_CHALLENGE, licensing.NEW_LICENSE, licensing.UPGRADE_LICENSE])
def test_a_server_that_wants_a_client_access_license_is_refused_with_what_to_change(kind: int) -> None:
    with pytest.raises(LicensingRefused, match="per-user licensing, or use the console/admin session"):
        LicenseClient("user", "host", None).receive(preamble(kind, bytes(40)))


def test_an_unknown_licensing_message_is_malformed() -> None:
    with pytest.raises(MalformedPdu, match="unknown licensing message type 0x42"):
        LicenseClient("user", "host", None).receive(preamble(0x42, b""))


def test_a_license_request_is_answered_with_the_premaster_secret_under_the_certificate_s_key(
    private_key: rsa.RSAPrivateKey,
) -> None:
    client = LicenseClient("alice", "gateway", None)

    step = client.receive(license_request(proprietary_certificate(private_key)))

    assert not step.done
    assert step.reply is not None
    fields = new_license_request(step.reply)
    assert fields["algorithm"] == licensing.KEY_EXCHANGE_ALG_RSA
    assert fields["platform"] == licensing.PLATFORM_ID
    assert decrypts_to_48_bytes(fields["premaster"], private_key)
    assert (fields["user"], fields["machine"]) == (b"alice\0", b"gateway\0")


def test_a_license_request_without_a_certificate_uses_the_key_of_the_connection(private_key: rsa.RSAPrivateKey) -> None:
    step = LicenseClient("bob", "gateway", server_key(private_key)).receive(license_request(b""))

    assert step.reply is not None
    assert decrypts_to_48_bytes(new_license_request(step.reply)["premaster"], private_key)


def test_a_license_request_with_an_unreadable_certificate_falls_back_to_the_key_of_the_connection(
    private_key: rsa.RSAPrivateKey,
) -> None:
    step = LicenseClient("bob", "gateway", server_key(private_key)).receive(license_request(b"\x07\0\0\0garbage"))

    assert step.reply is not None
    assert decrypts_to_48_bytes(new_license_request(step.reply)["premaster"], private_key)


def test_a_license_request_without_any_key_still_gets_a_well_formed_answer() -> None:
    step = LicenseClient("bob", "gateway", None).receive(license_request(b""))

    assert step.reply is not None
    assert new_license_request(step.reply)["premaster"] == bytes(72)


def test_a_non_ascii_user_name_is_sent_replaced_not_refused() -> None:
    step = LicenseClient("josé", "gâteway", None).receive(license_request(b""))

    assert step.reply is not None
    fields = new_license_request(step.reply)
    assert (fields["user"], fields["machine"]) == (b"jos?\0", b"g?teway\0")


# --- malformed messages --------------------------------------------------------------------------------------------


def test_a_license_request_cut_before_its_certificate_ends_is_refused_and_names_the_licensing_pdu(
    private_key: rsa.RSAPrivateKey,
) -> None:
    certificate = proprietary_certificate(private_key)
    valid = license_request(certificate)
    end_of_certificate = valid.index(certificate) + len(certificate)

    for cut in prefixes(valid[:end_of_certificate]):
        with pytest.raises(MalformedPdu, match="licensing PDU is truncated"):
            LicenseClient("user", "host", None).receive(cut)


def test_lying_lengths_in_a_license_request_are_refused_without_allocating_them() -> None:
    body = bytes(32) + struct.pack("<II", 0, 0xFFFFFFF0)

    with pytest.raises(MalformedPdu, match="licensing PDU is truncated: 4294967280 more bytes needed"):
        LicenseClient("user", "host", None).receive(preamble(licensing.LICENSE_REQUEST, body))


def test_random_corruptions_of_licensing_messages_raise_only_documented_errors(private_key: rsa.RSAPrivateKey) -> None:
    client = LicenseClient("user", "host", server_key(private_key))

    for valid in (license_request(proprietary_certificate(private_key)), error_alert(0x07, 0x02)):
        assert unexpected_failures(client.receive, flips(valid, 300), (MalformedPdu, LicensingRefused)) == []
