"""The RFB security handshake: protocol version, security type choice, TLS upgrade, authentication, result.

Supported: None (1), VNC Authentication (2: DES challenge-response) and VeNCrypt 0.2 (19) with the subtypes
X509Vnc, X509None (TLS with certificate verification, against ``tls_ca_file`` or the system CAs, the server name
being the host we connect to), TLSVnc and TLSNone (anonymous TLS: encrypted but the server is not authenticated).
VeNCrypt's Plain variants (user name + password) are not supported.

The choice: the strongest the server offers that the policy allows, in this order — X509Vnc, X509None, TLSVnc,
TLSNone, then, only when ``allow_unencrypted``, VncAuth and None (the types needing a password are skipped without
one). A plain-text session is allowed by default but reported (:attr:`SecurityOutcome.warning`, logged by the
client). A refused password raises ``TargetAuthFailed`` carrying the server's reason (RFB 3.8 SecurityResult).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from jumpoint.core.secret import Secret
from protocols.vnc import messages as m
from protocols.vnc.errors import auth_failed, policy_refused, protocol_error
from protocols.vnc.stream import RfbStream

SUBTYPE_NAMES = {
    m.SEC_NONE: "None",
    m.SEC_VNC_AUTH: "VncAuth",
    m.VENCRYPT_PLAIN: "Plain",
    m.VENCRYPT_TLS_NONE: "TLSNone",
    m.VENCRYPT_TLS_VNC: "TLSVnc",
    m.VENCRYPT_TLS_PLAIN: "TLSPlain",
    m.VENCRYPT_X509_NONE: "X509None",
    m.VENCRYPT_X509_VNC: "X509Vnc",
    m.VENCRYPT_X509_PLAIN: "X509Plain",
}
X509_SUBTYPES = (m.VENCRYPT_X509_VNC, m.VENCRYPT_X509_NONE)
ANON_TLS_SUBTYPES = (m.VENCRYPT_TLS_VNC, m.VENCRYPT_TLS_NONE)
NEEDS_PASSWORD = frozenset({m.VENCRYPT_X509_VNC, m.VENCRYPT_TLS_VNC, m.SEC_VNC_AUTH})
PLAIN_WARNING = (
    "the VNC session is not encrypted: the screen, the keys typed and the clipboard cross the network in clear"
)
ANON_TLS_CIPHERS = "aNULL:!eNULL:@SECLEVEL=0"

_BIT_REVERSED = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def vnc_auth_response(password: bytes, challenge: bytes) -> bytes:
    """The VNC Authentication answer: the 16-byte challenge DES-encrypted (ECB) with the password as the key.

    The key is the first 8 bytes of the password, zero-padded, each byte bit-reversed (VNC's historical quirk);
    single DES is run as TripleDES with the key repeated three times.
    """
    if len(challenge) != 16:
        raise ValueError("a VNC challenge is 16 bytes")
    key = password[:8].ljust(8, b"\0").translate(_BIT_REVERSED)
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()  # noqa: S305 - the protocol's own DES
    return encryptor.update(challenge) + encryptor.finalize()


def password_bytes(password: Secret) -> bytes:
    """The bytes VNC authentication uses: the first 8 characters, Latin-1 (others become ``?``)."""
    return password.reveal()[:8].encode("latin-1", errors="replace")


@dataclass(frozen=True, slots=True)
class SecurityPolicy:
    """What the connection may use."""

    password: Secret | None = None
    tls_ca_file: Path | None = None
    allow_unencrypted: bool = True


@dataclass(frozen=True, slots=True)
class SecurityOutcome:
    """How the session is protected."""

    name: str
    """``None``, ``VncAuth`` or ``VeNCrypt/<subtype>``."""
    encrypted: bool
    server_verified: bool
    """The server proved its identity with a certificate we verified (X509 subtypes)."""
    certificate_sha256: str | None
    """The server certificate's fingerprint (``SHA256:AB:CD:...``) under TLS, for pinning later."""
    tls: str | None
    warning: str | None


def choose_vencrypt_subtype(offered: Sequence[int], policy: SecurityPolicy, where: str) -> int:
    """The VeNCrypt subtype to use among ``offered``; raises if none fits the policy."""
    order = [*X509_SUBTYPES, *ANON_TLS_SUBTYPES]
    if policy.allow_unencrypted:
        order += [m.SEC_VNC_AUTH, m.SEC_NONE]
    usable = [t for t in order if t in offered]
    for subtype in usable:
        if subtype not in NEEDS_PASSWORD or policy.password:
            return subtype
    if usable:
        raise auth_failed(where, "the server asks for a password and the Jump Item has none")
    names = ", ".join(SUBTYPE_NAMES.get(t, str(t)) for t in offered) or "none"
    raise policy_refused(where, f"no acceptable VeNCrypt subtype (the server offers {names})")


def choose_type(offered: Sequence[int], policy: SecurityPolicy, where: str) -> int:
    """The RFB security type to use among ``offered``; raises if none fits the policy."""
    if m.SEC_VENCRYPT in offered:
        return m.SEC_VENCRYPT
    plain = [t for t in (m.SEC_VNC_AUTH, m.SEC_NONE) if t in offered]
    if plain and not policy.allow_unencrypted:
        raise policy_refused(where, "the server offers only unencrypted security types and the Jump Item forbids them")
    if m.SEC_VNC_AUTH in plain and policy.password:
        return m.SEC_VNC_AUTH
    if m.SEC_NONE in plain:
        return m.SEC_NONE
    if plain:
        raise auth_failed(where, "the server asks for a password and the Jump Item has none")
    raise policy_refused(where, f"no supported security type (the server offers {sorted(offered)})")


def tls_context(x509: bool, ca_file: Path | None) -> ssl.SSLContext:
    """A client TLS context: verifying (X509: ``ca_file`` or the system CAs, host name checked) or anonymous."""
    if x509:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # anonymous Diffie-Hellman: there is no certificate to verify
    context.set_ciphers(ANON_TLS_CIPHERS)
    context.maximum_version = ssl.TLSVersion.TLSv1_2  # TLS 1.3 has no anonymous cipher suites
    return context


async def read_reason(stream: RfbStream) -> str:
    """A length-prefixed reason string (capped; the rest is skipped)."""
    length = await stream.u32()
    text = await stream.read(min(length, m.MAX_REASON_BYTES))
    await stream.discard(length - len(text))
    return m.decode_text(text)


class Handshake:
    """The handshake of one connection, up to (not including) ClientInit."""

    def __init__(
        self,
        stream: RfbStream,
        *,
        host: str,
        where: str,
        policy: SecurityPolicy,
        log: logging.Logger | logging.LoggerAdapter[logging.Logger],
    ) -> None:
        self.stream = stream
        self.host = host
        self.where = where
        self.policy = policy
        self.log = log
        self.minor = 8
        self.stage = "the RFB version exchange"

    async def run(self) -> SecurityOutcome:
        """Version, security, authentication and result; the outcome or an error."""
        stream = self.stream
        try:
            major, minor = m.parse_version(await stream.read(12))
        except ValueError:
            raise protocol_error(self.where, "it did not send an RFB protocol version") from None
        if major != 3 or minor < 3:
            raise protocol_error(self.where, f"unsupported RFB version {major}.{minor}")
        self.minor = 8 if minor >= 8 else 7 if minor == 7 else 3  # 3.5 and other odd minors are 3.3
        stream.write(m.encode_version(3, self.minor))
        self.stage = "the security handshake"
        if self.minor == 3:
            chosen = await stream.u32()
            if chosen == m.SEC_INVALID:
                raise protocol_error(self.where, "the connection was refused: " + await read_reason(stream))
            choose_type([chosen], self.policy, self.where)
        else:
            count = await stream.u8()
            if count == 0:
                raise protocol_error(self.where, "the connection was refused: " + await read_reason(stream))
            offered = list(await stream.read(count))
            chosen = choose_type(offered, self.policy, self.where)
            stream.write(bytes((chosen,)))
        if chosen == m.SEC_VENCRYPT:
            return await self._vencrypt()
        outcome = await self._inner(chosen, tls=False)
        return outcome

    async def _vencrypt(self) -> SecurityOutcome:
        stream = self.stream
        major, minor = await stream.u8(), await stream.u8()
        if (major, minor) < (0, 2):
            raise protocol_error(self.where, f"VeNCrypt {major}.{minor} is not supported (0.2 is needed)")
        stream.write(bytes((0, 2)))
        if await stream.u8() != 0:
            raise protocol_error(self.where, "the server refused VeNCrypt version 0.2")
        count = await stream.u8()
        raw = await stream.read(4 * count)
        offered = [int.from_bytes(raw[i : i + 4], "big") for i in range(0, len(raw), 4)]
        subtype = choose_vencrypt_subtype(offered, self.policy, self.where)
        stream.write(subtype.to_bytes(4, "big"))
        if subtype in (m.SEC_VNC_AUTH, m.SEC_NONE):  # a plain subtype: no TLS, no acknowledgement byte
            return await self._inner(subtype, tls=False, prefix="VeNCrypt/")
        if await stream.u8() != 1:
            raise protocol_error(self.where, f"the server refused VeNCrypt subtype {SUBTYPE_NAMES[subtype]}")
        x509 = subtype in X509_SUBTYPES
        self.stage = "the TLS handshake"
        await stream.start_tls(tls_context(x509, self.policy.tls_ca_file), self.host if x509 else None)
        self.stage = "the authentication"
        inner = m.SEC_VNC_AUTH if subtype in NEEDS_PASSWORD else m.SEC_NONE
        outcome = await self._inner(inner, tls=True, server_verified=x509, name=f"VeNCrypt/{SUBTYPE_NAMES[subtype]}")
        return outcome

    async def _inner(
        self, kind: int, *, tls: bool, server_verified: bool = False, name: str | None = None, prefix: str = ""
    ) -> SecurityOutcome:
        stream = self.stream
        self.stage = "the authentication"
        if kind == m.SEC_VNC_AUTH:
            assert self.policy.password is not None
            challenge = await stream.read(16)
            stream.write(vnc_auth_response(password_bytes(self.policy.password), challenge))
        if kind == m.SEC_VNC_AUTH or self.minor == 8:
            result = await stream.u32()
            if result != 0:
                said = await read_reason(stream) if self.minor == 8 else ""
                if kind == m.SEC_VNC_AUTH:
                    raise auth_failed(self.where, said or "authentication failed")
                raise protocol_error(self.where, "the server refused the connection: " + (said or "no reason given"))
        if kind == m.SEC_NONE and self.policy.password:
            self.log.info("the VNC server %s asked for no password; the configured one was not used", self.where)
        return SecurityOutcome(
            name=name or prefix + SUBTYPE_NAMES[kind],
            encrypted=tls,
            server_verified=server_verified,
            certificate_sha256=stream.peer_certificate_sha256() if tls else None,
            tls=stream.tls_version() if tls else None,
            warning=None if tls else PLAIN_WARNING,
        )
