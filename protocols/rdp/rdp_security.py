"""Classic ("standard") RDP security: the server's RSA key, the client random and RC4 (MS-RDPBCGR 5.3).

Kept for servers that offer nothing else (xrdp's ``security_layer=rdp``, very old Windows). It is weak: RC4, and a
server identity that only a cached key can vouch for (the "proprietary certificate" is signed with a key the
whole world knows). The adapter says so in the session timeline and caches the key like a host key.
"""

# ruff: noqa: S324 -- MS-RDPBCGR 5.3 mandates MD5, SHA-1 and RC4 for classic RDP security
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.ciphers import Cipher
from cryptography.x509 import InvalidVersion, load_der_x509_certificate

from protocols.rdp.gcc import ENCRYPTION_40BIT, ENCRYPTION_56BIT, ENCRYPTION_128BIT
from protocols.rdp.wire import MalformedPdu, Reader, u32

SEC_EXCHANGE_PKT = 0x0001
SEC_ENCRYPT = 0x0008
SEC_INFO_PKT = 0x0040
SEC_LICENSE_PKT = 0x0080
SEC_SECURE_CHECKSUM = 0x0800

CERT_CHAIN_VERSION_1 = 1
CERT_CHAIN_VERSION_2 = 2
RSA1_MAGIC = 0x31415352
KEY_UPDATE_INTERVAL = 4096
_PAD1 = b"\x36" * 40
_PAD2 = b"\x5c" * 48
MAX_MODULUS_BYTES = 512


@dataclass(frozen=True, slots=True)
class ServerKey:
    """The server's RSA public key (modulus and exponent as integers) and the bytes that identify it."""

    modulus: int
    exponent: int
    modulus_bytes: int
    identity: bytes
    """What the key cache stores: the DER X.509 certificate, or the proprietary public-key blob."""

    def encrypt(self, data: bytes) -> bytes:
        """RSA-encrypt ``data`` as RDP does (little-endian, no padding), to ``modulus_bytes`` + 8 zero bytes."""
        value = pow(int.from_bytes(data, "little"), self.exponent, self.modulus)
        return value.to_bytes(self.modulus_bytes, "little") + bytes(8)


def parse_server_certificate(blob: bytes) -> ServerKey:
    """The RSA key from a proprietary certificate or an X.509 certificate chain (the last certificate's key)."""
    reader = Reader(blob, "server certificate")
    version = reader.u32() & 0x7FFFFFFF
    if version == CERT_CHAIN_VERSION_1:
        reader.u32()  # signature algorithm
        reader.u32()  # key algorithm
        if reader.u16() != 6:
            raise MalformedPdu("the proprietary certificate has no RSA public key blob")
        key_blob = reader.take(reader.u16())
        return _parse_rsa1(key_blob)
    if version == CERT_CHAIN_VERSION_2:
        count = reader.u32()
        if not 1 <= count <= 16:
            raise MalformedPdu(f"a certificate chain of {count} certificates")
        certificates = [reader.take(reader.u32()) for _ in range(count)]
        try:
            key = load_der_x509_certificate(certificates[-1]).public_key()
        except (ValueError, UnsupportedAlgorithm, InvalidVersion) as exc:
            raise MalformedPdu(f"the server's X.509 certificate is malformed or unsupported ({exc})") from None
        if not isinstance(key, RSAPublicKey):
            raise MalformedPdu("the server's X.509 certificate has no RSA key")
        numbers = key.public_numbers()
        size = (key.key_size + 7) // 8
        return ServerKey(numbers.n, numbers.e, size, certificates[-1])
    raise MalformedPdu(f"unknown server certificate version {version}")


def _parse_rsa1(blob: bytes) -> ServerKey:
    reader = Reader(blob, "RSA public key")
    if reader.u32() != RSA1_MAGIC:
        raise MalformedPdu("the server's public key blob is not an RSA1 key")
    key_length = reader.u32()
    reader.u32()  # bit length
    reader.u32()  # data length
    exponent = reader.u32()
    if not 8 < key_length <= MAX_MODULUS_BYTES + 8:
        raise MalformedPdu(f"an RSA modulus of {key_length} bytes")
    modulus = reader.take(key_length)
    size = key_length - 8
    if not any(modulus[:size]):
        raise MalformedPdu("the server's RSA modulus is zero")
    return ServerKey(int.from_bytes(modulus[:size], "little"), exponent, size, blob)


def _salted_hash(secret: bytes, label: bytes, client_random: bytes, server_random: bytes) -> bytes:
    inner = hashlib.sha1(label + secret + client_random + server_random).digest()
    return hashlib.md5(secret + inner).digest()


def _salt(key: bytes, method: int) -> bytes:
    if method == ENCRYPTION_40BIT:
        return b"\xd1\x26\x9e" + key[3:8]
    if method == ENCRYPTION_56BIT:
        return b"\xd1" + key[1:8]
    return key


class Rc4Channel:
    """One direction's RC4 state, its key updates every 4096 packets, and the MAC of what it carries."""

    def __init__(self, key: bytes, mac_key: bytes, method: int) -> None:
        self._initial = key
        self._current = key
        self._mac_key = mac_key
        self._method = method
        self._count = 0
        self._cipher = Cipher(ARC4(key), None).encryptor()

    def _update_key(self) -> None:
        sha = hashlib.sha1(self._initial + _PAD1 + self._current).digest()
        temp = hashlib.md5(self._initial + _PAD2 + sha).digest()[: len(self._initial)]
        new = Cipher(ARC4(temp), None).encryptor().update(temp)
        self._current = _salt(new, self._method) if self._method != ENCRYPTION_128BIT else new
        self._cipher = Cipher(ARC4(self._current), None).encryptor()

    def process(self, data: bytes) -> bytes:
        """Encrypt or decrypt one packet's data (RC4 is symmetric)."""
        if self._count == KEY_UPDATE_INTERVAL:
            self._update_key()
            self._count = 0
        self._count += 1
        return self._cipher.update(data)

    def signature(self, data: bytes) -> bytes:
        """The 8-byte MAC of a packet's plaintext (non-salted MAC)."""
        sha = hashlib.sha1(self._mac_key + _PAD1 + u32(len(data)) + data).digest()
        return hashlib.md5(self._mac_key + _PAD2 + sha).digest()[:8]


@dataclass(slots=True)
class SessionKeys:
    """The RC4 channels of both directions."""

    encrypt: Rc4Channel
    decrypt: Rc4Channel


def client_random() -> bytes:
    """32 random bytes."""
    return os.urandom(32)


def derive_keys(client: bytes, server: bytes, method: int) -> SessionKeys:
    """The session keys of MS-RDPBCGR 5.3.5 for the encryption ``method`` the server chose."""
    if method not in (ENCRYPTION_40BIT, ENCRYPTION_56BIT, ENCRYPTION_128BIT):
        raise MalformedPdu(f"the server chose encryption method {method:#x}, which this client does not offer")
    pre_master = client[:24] + server[:24]
    master = b"".join(_salted_hash(pre_master, label, client, server) for label in (b"A", b"BB", b"CCC"))
    blob = b"".join(_salted_hash(master, label, client, server) for label in (b"X", b"YY", b"ZZZ"))

    def final(key: bytes) -> bytes:
        return hashlib.md5(key + client + server).digest()

    mac_key = blob[:16]
    decrypt_key = final(blob[16:32])
    encrypt_key = final(blob[32:48])
    if method != ENCRYPTION_128BIT:
        mac_key, decrypt_key, encrypt_key = (_salt(k[:8], method) for k in (mac_key, decrypt_key, encrypt_key))
    return SessionKeys(Rc4Channel(encrypt_key, mac_key, method), Rc4Channel(decrypt_key, mac_key, method))


def security_exchange(key: ServerKey, random: bytes) -> bytes:
    """The Security Exchange PDU's body: the client random encrypted with the server's key."""
    encrypted = key.encrypt(random)
    return u32(SEC_EXCHANGE_PKT) + u32(len(encrypted)) + encrypted
