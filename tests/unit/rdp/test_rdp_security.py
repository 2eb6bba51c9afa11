"""protocols.rdp.rdp_security: classic RDP security (MS-RDPBCGR 5.3): the server's key, the client random's RSA
encryption, session key derivation, RC4 with key updates, and the MAC.

No published vector of the session keys was found, so the keys, key updates and MACs are checked against an
independent, deliberately plain transcription of the specification's formulas written below (5.3.5.1 key
generation, 5.3.5.1 40/56-bit salting, 5.3.6.1 non-salted MAC, 5.3.7 key update), with a textbook RC4 rather than
the ``cryptography`` one the module uses.
"""

# ruff: noqa: S324 -- MS-RDPBCGR 5.3 mandates MD5 and SHA-1; the reference transcription below uses them too
from __future__ import annotations

import datetime
import hashlib
import struct

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from protocols.rdp import rdp_security
from protocols.rdp.gcc import ENCRYPTION_40BIT, ENCRYPTION_56BIT, ENCRYPTION_128BIT
from protocols.rdp.wire import MalformedPdu
from tests.fixtures.malformed import flips, prefixes, unexpected_failures

CLIENT_RANDOM = bytes(range(0x20, 0x40))
SERVER_RANDOM = bytes(range(0xC0, 0xE0))
METHODS = [ENCRYPTION_40BIT, ENCRYPTION_56BIT, ENCRYPTION_128BIT]


# --- the specification, transcribed -------------------------------------------------------------------------------


class TextbookRc4:
    """RC4 as every textbook writes it: the key schedule, then the keystream XORed in."""

    def __init__(self, key: bytes) -> None:
        s = list(range(256))
        j = 0
        for i in range(256):
            j = (j + s[i] + key[i % len(key)]) % 256
            s[i], s[j] = s[j], s[i]
        self.s, self.i, self.j = s, 0, 0

    def crypt(self, data: bytes) -> bytes:
        s = self.s
        out = bytearray()
        for byte in data:
            self.i = (self.i + 1) % 256
            self.j = (self.j + s[self.i]) % 256
            s[self.i], s[self.j] = s[self.j], s[self.i]
            out.append(byte ^ s[(s[self.i] + s[self.j]) % 256])
        return bytes(out)


def salted_hash(secret: bytes, i: bytes) -> bytes:
    """SaltedHash(S, I) = MD5(S + SHA(I + S + ClientRandom + ServerRandom))."""
    return hashlib.md5(secret + hashlib.sha1(i + secret + CLIENT_RANDOM + SERVER_RANDOM).digest()).digest()


def reduce_key(key128: bytes, method: int) -> bytes:
    """The 40- and 56-bit keys: a salt in front of the last 40 or 56 bits of the key's first 64 bits."""
    if method == ENCRYPTION_40BIT:
        return bytes.fromhex("d1269e") + key128[:8][-5:]
    if method == ENCRYPTION_56BIT:
        return bytes.fromhex("d1") + key128[:8][-7:]
    return key128


def spec_keys(method: int) -> tuple[bytes, bytes, bytes]:
    """(MAC key, client encrypt key, client decrypt key) per MS-RDPBCGR 5.3.5.1."""
    pre_master = CLIENT_RANDOM[:24] + SERVER_RANDOM[:24]
    master = (
        salted_hash(pre_master, b"\x41") + salted_hash(pre_master, b"\x42\x42") + salted_hash(pre_master, b"\x43" * 3)
    )
    blob = salted_hash(master, b"\x58") + salted_hash(master, b"\x59\x59") + salted_hash(master, b"\x5a" * 3)

    def final_hash(k: bytes) -> bytes:
        return hashlib.md5(k + CLIENT_RANDOM + SERVER_RANDOM).digest()

    mac = blob[:16]
    server_encrypt = final_hash(blob[16:32])
    server_decrypt = final_hash(blob[32:48])
    client_encrypt, client_decrypt = server_decrypt, server_encrypt  # what one side encrypts, the other decrypts
    return reduce_key(mac, method), reduce_key(client_encrypt, method), reduce_key(client_decrypt, method)


def spec_mac(mac_key: bytes, data: bytes) -> bytes:
    """MACSignature = First64Bits(MD5(MACKey + Pad2 + SHA(MACKey + Pad1 + DataLength + Data)))."""
    inner = hashlib.sha1(mac_key + b"\x36" * 40 + struct.pack("<I", len(data)) + data).digest()
    return hashlib.md5(mac_key + b"\x5c" * 48 + inner).digest()[:8]


def spec_update(initial: bytes, current: bytes, method: int) -> bytes:
    """UpdateSessionKey (5.3.7): a temporary key from both keys, RC4-encrypted with itself, salted again."""
    sha = hashlib.sha1(initial + b"\x36" * 40 + current).digest()
    temp = hashlib.md5(initial + b"\x5c" * 48 + sha).digest()
    if method == ENCRYPTION_128BIT:
        return TextbookRc4(temp).crypt(temp)
    temp = temp[:8]
    return reduce_key(TextbookRc4(temp).crypt(temp), method)


class SpecDirection:
    """One direction's RC4, its key updated after every 4096 packets."""

    def __init__(self, key: bytes, method: int) -> None:
        self.initial = self.current = key
        self.method = method
        self.rc4 = TextbookRc4(key)
        self.used = 0

    def crypt(self, data: bytes) -> bytes:
        if self.used == 4096:
            self.current = spec_update(self.initial, self.current, self.method)
            self.rc4 = TextbookRc4(self.current)
            self.used = 0
        self.used += 1
        return self.rc4.crypt(data)


# --- session keys, RC4 and the MAC ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_the_client_encrypts_with_the_key_the_specification_derives(method: int) -> None:
    keys = rdp_security.derive_keys(CLIENT_RANDOM, SERVER_RANDOM, method)
    _, encrypt_key, _ = spec_keys(method)
    reference = SpecDirection(encrypt_key, method)

    for n in range(5):
        plaintext = bytes(range(n, n + 40))
        assert keys.encrypt.process(plaintext) == reference.crypt(plaintext)


@pytest.mark.parametrize("method", METHODS)
def test_the_client_decrypts_what_a_server_following_the_specification_encrypts(method: int) -> None:
    keys = rdp_security.derive_keys(CLIENT_RANDOM, SERVER_RANDOM, method)
    _, _, decrypt_key = spec_keys(method)
    server = SpecDirection(decrypt_key, method)

    for n in range(5):
        plaintext = f"server packet {n}".encode()
        assert keys.decrypt.process(server.crypt(plaintext)) == plaintext


@pytest.mark.parametrize("method", METHODS)
def test_the_mac_is_the_specification_s_non_salted_mac_with_the_derived_mac_key(method: int) -> None:
    keys = rdp_security.derive_keys(CLIENT_RANDOM, SERVER_RANDOM, method)
    mac_key, _, _ = spec_keys(method)

    for data in (b"", b"x", bytes(range(256)) * 3):
        assert keys.encrypt.signature(data) == spec_mac(mac_key, data)
        assert keys.decrypt.signature(data) == spec_mac(mac_key, data)  # one MAC key for both directions


def test_the_keys_depend_on_both_randoms() -> None:
    base = rdp_security.derive_keys(CLIENT_RANDOM, SERVER_RANDOM, ENCRYPTION_128BIT).encrypt.process(bytes(16))
    other_client = rdp_security.derive_keys(bytes(32), SERVER_RANDOM, ENCRYPTION_128BIT).encrypt.process(bytes(16))
    other_server = rdp_security.derive_keys(CLIENT_RANDOM, bytes(32), ENCRYPTION_128BIT).encrypt.process(bytes(16))

    assert len({base, other_client, other_server}) == 3


@pytest.mark.parametrize("method", METHODS)
def test_the_rc4_key_is_updated_after_every_4096_packets(method: int) -> None:
    keys = rdp_security.derive_keys(CLIENT_RANDOM, SERVER_RANDOM, method)
    _, encrypt_key, _ = spec_keys(method)
    reference = SpecDirection(encrypt_key, method)
    never_updated = TextbookRc4(encrypt_key)

    for packet in range(1, 2 * 4096 + 3):
        plaintext = struct.pack("<I", packet)
        sent = keys.encrypt.process(plaintext)
        assert sent == reference.crypt(plaintext), f"packet {packet}"
        if packet <= 4096:
            assert sent == never_updated.crypt(plaintext)
        elif packet == 4097:
            assert sent != never_updated.crypt(plaintext)  # the first packet under the new key


def test_an_encryption_method_the_client_does_not_offer_is_refused() -> None:
    with pytest.raises(MalformedPdu, match="encryption method 0x10, which this client does not offer"):
        rdp_security.derive_keys(CLIENT_RANDOM, SERVER_RANDOM, 0x10)


# --- the server's key and the client random ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 -- a test key, kept fast


def rsa1_blob(key: rsa.RSAPrivateKey, *, magic: int = rdp_security.RSA1_MAGIC) -> bytes:
    """An RSA1 public key blob (MS-RDPBCGR 2.2.1.4.3.1.1.1): the modulus little-endian with 8 bytes of padding."""
    numbers = key.public_key().public_numbers()
    size = key.key_size // 8
    modulus = numbers.n.to_bytes(size, "little") + bytes(8)
    return struct.pack("<IIIII", magic, len(modulus), key.key_size, size - 1, numbers.e) + modulus


def proprietary_certificate(blob: bytes, *, version: int = 0x80000001, blob_type: int = 6) -> bytes:
    """A proprietary server certificate (2.2.1.4.3.1.1) around an RSA key blob, with a dummy signature blob."""
    head = struct.pack("<IIIHH", version, 1, 1, blob_type, len(blob))
    return head + blob + struct.pack("<HH", 8, 72) + bytes(72)


def x509_certificate(public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey, signer: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rdp.test")])
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(7)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(signer, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


def chain(*certificates: bytes) -> bytes:
    """An X.509 certificate chain (CERT_CHAIN_VERSION_2): a count, then each certificate after its length."""
    return struct.pack("<II", 0x80000002, len(certificates)) + b"".join(
        struct.pack("<I", len(c)) + c for c in certificates
    )


def test_the_key_of_a_proprietary_certificate_is_read_and_identified_by_its_blob(
    private_key: rsa.RSAPrivateKey,
) -> None:
    blob = rsa1_blob(private_key)

    key = rdp_security.parse_server_certificate(proprietary_certificate(blob))

    numbers = private_key.public_key().public_numbers()
    assert (key.modulus, key.exponent, key.modulus_bytes) == (numbers.n, numbers.e, 128)
    assert key.identity == blob


def test_the_key_of_an_x509_chain_is_the_last_certificate_s(private_key: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=3, key_size=1024)  # noqa: S505 -- a test key, kept fast
    issuer = x509_certificate(other.public_key(), other)
    leaf = x509_certificate(private_key.public_key(), other)

    key = rdp_security.parse_server_certificate(chain(issuer, leaf))

    assert (key.modulus, key.exponent, key.modulus_bytes) == (private_key.public_key().public_numbers().n, 65537, 128)
    assert key.identity == leaf


def test_the_client_random_is_encrypted_little_endian_and_padded_with_eight_zero_bytes(
    private_key: rsa.RSAPrivateKey,
) -> None:
    key = rdp_security.parse_server_certificate(proprietary_certificate(rsa1_blob(private_key)))
    random = bytes(range(1, 33))

    encrypted = key.encrypt(random)

    assert len(encrypted) == 128 + 8
    assert encrypted[128:] == bytes(8)
    private = private_key.private_numbers()
    decrypted = pow(int.from_bytes(encrypted[:128], "little"), private.d, private.public_numbers.n)
    assert decrypted.to_bytes(32, "little") == random


def test_the_security_exchange_carries_the_encrypted_random_after_its_length(private_key: rsa.RSAPrivateKey) -> None:
    key = rdp_security.parse_server_certificate(proprietary_certificate(rsa1_blob(private_key)))
    random = bytes(32)

    packet = rdp_security.security_exchange(key, random)

    assert packet[:8] == struct.pack("<II", rdp_security.SEC_EXCHANGE_PKT, 136)
    assert packet[8:] == key.encrypt(random)


def test_an_x509_certificate_without_an_rsa_key_is_refused(private_key: rsa.RSAPrivateKey) -> None:
    leaf = x509_certificate(ec.generate_private_key(ec.SECP256R1()).public_key(), private_key)

    with pytest.raises(MalformedPdu, match=r"the server's X\.509 certificate has no RSA key"):
        rdp_security.parse_server_certificate(chain(leaf))


@pytest.mark.parametrize(
    ("blob", "said"),
    [
        (struct.pack("<I", 3), "unknown server certificate version 3"),
        (struct.pack("<II", 2, 0), "a certificate chain of 0 certificates"),
        (struct.pack("<II", 2, 17), "a certificate chain of 17 certificates"),
        (chain(b"not a certificate"), r"the server's X\.509 certificate is malformed"),
        (struct.pack("<II", 2, 1) + struct.pack("<I", 0xFFFFFFFF), "server certificate is truncated"),
        (proprietary_certificate(b"", blob_type=8), "the proprietary certificate has no RSA public key blob"),
        (proprietary_certificate(struct.pack("<IIIII", 0x32415352, 72, 512, 63, 3) + bytes(72)), "not an RSA1 key"),
        (
            proprietary_certificate(struct.pack("<IIIII", rdp_security.RSA1_MAGIC, 8, 0, 0, 3) + bytes(8)),
            "modulus of 8",
        ),
        (
            proprietary_certificate(struct.pack("<IIIII", rdp_security.RSA1_MAGIC, 521, 4096, 511, 3) + bytes(521)),
            "an RSA modulus of 521 bytes",
        ),
        (
            proprietary_certificate(struct.pack("<IIIII", rdp_security.RSA1_MAGIC, 72, 512, 63, 3) + bytes(40)),
            "RSA public key is truncated",
        ),
    ],
    ids=[
        "version-3",
        "empty-chain",
        "long-chain",
        "not-der",
        "lying-certificate-length",
        "signature-blob-first",
        "rsa2-magic",
        "no-modulus",
        "huge-modulus",
        "short-modulus",
    ],
)
def test_a_server_certificate_that_cannot_be_used_is_refused_with_what_is_wrong(blob: bytes, said: str) -> None:
    with pytest.raises(MalformedPdu, match=said):
        rdp_security.parse_server_certificate(blob)


def test_a_proprietary_certificate_cut_before_its_key_ends_is_refused(private_key: rsa.RSAPrivateKey) -> None:
    blob = rsa1_blob(private_key)
    valid = proprietary_certificate(blob)

    for cut in prefixes(valid[: 16 + len(blob)]):
        with pytest.raises(MalformedPdu, match=r"(server certificate|RSA public key) is truncated"):
            rdp_security.parse_server_certificate(cut)


def test_every_prefix_of_an_x509_chain_is_refused(private_key: rsa.RSAPrivateKey) -> None:
    valid = chain(x509_certificate(private_key.public_key(), private_key))

    failures = [cut.hex() for cut in prefixes(valid) if not _refused(cut)]

    assert failures == []


def _refused(blob: bytes) -> bool:
    try:
        rdp_security.parse_server_certificate(blob)
    except MalformedPdu:
        return True
    return False


def test_random_corruptions_of_a_proprietary_certificate_raise_only_malformed_pdu(
    private_key: rsa.RSAPrivateKey,
) -> None:
    valid = proprietary_certificate(rsa1_blob(private_key))

    assert unexpected_failures(rdp_security.parse_server_certificate, flips(valid), (MalformedPdu,)) == []


# A fixed self-signed X.509 certificate (RSA 1024, made by x509_certificate() above) so that the byte changes of the
# corruption test are the same on every run.
FIXED_CERTIFICATE = bytes.fromhex(
    "3082019a30820103a003020102020107300d06092a864886f70d01010b050030133111300f06035504030c087264702e74657374301e170d"
    "3234303130313030303030305a170d3234303130323030303030305a30133111300f06035504030c087264702e7465737430819f300d0609"
    "2a864886f70d010101050003818d0030818902818100ac0e3a5b0d44111ef06e3c52e029d9c84bb9497a6dfe0c8b2ba6635b799fa1730963"
    "5609ecf0bd9a92b0cfa283383ceaa9315dd3eb86c5ae657893f368f82e2f5d9fa1d2cb60fc67472d34a72aea2667bfcc51159bd6a0c4d26c"
    "41abd9df88f50b901f1b8833f123cff1f42d95330c14c288b5db43a97d53d236a6e2204174db0203010001300d06092a864886f70d01010b"
    "050003818100594c9fd1106b13ef8855a7f3b4ae83ab7a9fcddb2968b5304222075e1c26ac4b855fd1d96cb2a5c3673c2cd5c0a8cb941fe1"
    "6be8d7d5daf8abe37be24ab70944230718a01ec40ebbdbe3f25bd71e55c45a6a2cac545cd5dbcb361452a1786eced87fd580dce2ee72adc9"
    "b4ee10722cd02f974409956c1c510adf71929207dfce"
)


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_random_corruptions_of_an_x509_chain_raise_only_malformed_pdu() -> None:
    valid = chain(FIXED_CERTIFICATE)

    assert unexpected_failures(rdp_security.parse_server_certificate, flips(valid), (MalformedPdu,)) == []


RSA_ENCRYPTION_OID = bytes.fromhex("06092a864886f70d010101")


def test_an_x509_certificate_with_an_unknown_key_algorithm_is_refused_as_malformed(
    private_key: rsa.RSAPrivateKey,
) -> None:
    leaf = x509_certificate(private_key.public_key(), private_key)
    assert leaf.count(RSA_ENCRYPTION_OID) == 1  # the subject's key; the signature is sha256WithRSAEncryption
    unknown = leaf.replace(RSA_ENCRYPTION_OID, RSA_ENCRYPTION_OID[:-1] + b"\x63")

    with pytest.raises(MalformedPdu, match=r"X\.509 certificate"):
        rdp_security.parse_server_certificate(chain(unknown))


def test_an_x509_certificate_of_an_unknown_version_is_refused_as_malformed(private_key: rsa.RSAPrivateKey) -> None:
    leaf = x509_certificate(private_key.public_key(), private_key)
    version_3 = bytes.fromhex("a003020102")
    assert leaf.count(version_3) == 1
    unknown = leaf.replace(version_3, bytes.fromhex("a00302010f"))

    with pytest.raises(MalformedPdu, match=r"X\.509 certificate"):
        rdp_security.parse_server_certificate(chain(unknown))


def test_an_rsa_key_whose_modulus_is_zero_is_refused_when_parsed() -> None:
    blob = struct.pack("<IIIII", rdp_security.RSA1_MAGIC, 72, 512, 63, 65537) + bytes(72)

    with pytest.raises(MalformedPdu, match="modulus"):
        rdp_security.parse_server_certificate(proprietary_certificate(blob)).encrypt(bytes(32))
