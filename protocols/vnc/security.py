"""The RFB security handshake: protocol version, security type choice, TLS upgrade, authentication, result.

Supported: None (1), VNC Authentication (2: DES challenge-response) and VeNCrypt 0.2 (19) with the subtypes
X509Vnc, X509None (TLS with certificate verification, against ``tls_ca_file`` or the system CAs, the server name
being the host we connect to), TLSVnc and TLSNone (anonymous TLS: encrypted but the server is not authenticated).
VeNCrypt's Plain variants (user name + password) are not supported.

The choice: the strongest the server offers that the policy allows, in this order — X509Vnc, X509None, TLSVnc,
TLSNone, then, only when ``allow_unencrypted``, VncAuth and None (the types needing a password are skipped without
one, unless :attr:`SecurityPolicy.password_expected`). A plain-text session is allowed by default but reported
(:attr:`SecurityOutcome.warning`, logged by the client), and so is anonymous TLS (encrypted, server not
authenticated). A refused password raises ``TargetAuthFailed`` carrying the server's reason (RFB 3.8
SecurityResult).

Trust on first use (what the adapter does, like SSH host keys): :meth:`Handshake.probe` negotiates up to the TLS
handshake and no further (nothing secret is sent) and reports the choice and the server's certificate
(:class:`ProbeResult`, :class:`ServerCertificate`); the login connection then sets
:attr:`SecurityPolicy.pinned_sha256` (the X509 certificate must be exactly that one, checked right after the TLS
handshake, before any password) and :attr:`SecurityPolicy.expected` (the same security must be chosen again, so a
server cannot downgrade between the probe and the login).
"""

from __future__ import annotations

import hashlib
import logging
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from jumpoint.core.hostkeys import certificate_fingerprint
from jumpoint.core.secret import Secret
from protocols.vnc import messages as m
from protocols.vnc.errors import auth_failed, certificate_changed, policy_refused, protocol_error
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
TLS_SUBTYPES = frozenset({*X509_SUBTYPES, *ANON_TLS_SUBTYPES})
NEEDS_PASSWORD = frozenset({m.VENCRYPT_X509_VNC, m.VENCRYPT_TLS_VNC, m.SEC_VNC_AUTH})
PLAIN_WARNING = (
    "the VNC session is not encrypted: the screen, the keys typed and the clipboard cross the network in clear"
)
ANON_TLS_WARNING = (
    "the VNC session is encrypted with anonymous TLS, but the server is not authenticated: nothing proves which "
    "machine answered (prefer a VeNCrypt X509 security type on the server)"
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
    """What the connection may use.

    ``password_expected``: choose as if a password will be given (the probe, which has none yet).
    ``pinned_sha256``: an X509 server's certificate must have exactly this SHA-256 (then the CAs are not consulted:
    the pin is stricter). ``expected``: the security name (:attr:`SecurityOutcome.name`) a probe found; a server now
    choosing anything else is refused before authentication.
    """

    password: Secret | None = None
    tls_ca_file: Path | None = None
    allow_unencrypted: bool = True
    password_expected: bool = False
    pinned_sha256: bytes | None = None
    expected: str | None = None

    @property
    def has_password(self) -> bool:
        """A password is (or will be) available for the types that need one."""
        return bool(self.password) or self.password_expected


@dataclass(frozen=True, slots=True)
class ServerCertificate:
    """The TLS certificate a VeNCrypt X509 server presented during a probe."""

    der: bytes
    ca_verified: bool
    """It verified against the CA file or the system CAs, for the host name connected to."""
    ca_failure: str | None = None
    """Why it did not (``self-signed certificate``, a name mismatch ...); None when verified."""

    @property
    def sha256(self) -> bytes:
        """The SHA-256 of the DER certificate (32 bytes)."""
        return hashlib.sha256(self.der).digest()

    @property
    def fingerprint(self) -> str:
        """``SHA256:AB:CD:...`` (see :func:`certificate_fingerprint`)."""
        return certificate_fingerprint(self.sha256)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What a probe learnt, nothing secret having been sent.

    ``security``: the name the login will use (``VeNCrypt/X509Vnc``, ``VncAuth``, ``None`` ...);
    ``needs_password``: that security asks for one; ``encrypted``: TLS; ``certificate``: the X509 server
    certificate (None for anonymous TLS and plain types).
    """

    security: str
    needs_password: bool
    encrypted: bool
    certificate: ServerCertificate | None = None

    @property
    def anonymous_tls(self) -> bool:
        """Encrypted, but no certificate authenticates the server."""
        return self.encrypted and self.certificate is None


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
        if subtype not in NEEDS_PASSWORD or policy.has_password:
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
    if m.SEC_VNC_AUTH in plain and policy.has_password:
        return m.SEC_VNC_AUTH
    if m.SEC_NONE in plain:
        return m.SEC_NONE
    if plain:
        raise auth_failed(where, "the server asks for a password and the Jump Item has none")
    raise policy_refused(where, f"no supported security type (the server offers {sorted(offered)})")


def tls_context(x509: bool, ca_file: Path | None, *, verify: bool = True) -> ssl.SSLContext:
    """A client TLS context: verifying (X509: ``ca_file`` or the system CAs, host name checked), certificate-reading
    (X509 with ``verify=False``: the caller checks the certificate itself, against a pin or the rep's decision) or
    anonymous (not X509)."""
    if x509 and verify:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if x509:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the certificate is checked against its pinned SHA-256 instead
        return context
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
        self.security = ""
        """The name of the security chosen (set by :meth:`negotiate`)."""

    async def run(self) -> SecurityOutcome:
        """Version, security, authentication and result; the outcome or an error."""
        chosen = await self.negotiate()
        if chosen not in TLS_SUBTYPES:
            return await self._inner(chosen, tls=False, name=self.security)
        x509 = chosen in X509_SUBTYPES
        pinned = self.policy.pinned_sha256
        await self._start_tls(chosen, tls_context(x509, self.policy.tls_ca_file, verify=pinned is None))
        if x509 and pinned is not None:
            der = self.stream.peer_certificate_der() or b""
            presented = hashlib.sha256(der).digest()
            if presented != pinned:
                raise certificate_changed(
                    self.where, certificate_fingerprint(pinned), certificate_fingerprint(presented)
                )
        inner = m.SEC_VNC_AUTH if chosen in NEEDS_PASSWORD else m.SEC_NONE
        return await self._inner(inner, tls=True, server_verified=x509, name=self.security)

    async def probe(self, *, verify: bool) -> ProbeResult:
        """Negotiate as :meth:`run` would, then stop: for an X509 subtype after the TLS handshake (``verify``: with
        the CAs, so an unverifiable certificate raises ``ssl.SSLCertVerificationError``; else reading the
        certificate unverified), otherwise right after the choice. No password, no authentication."""
        chosen = await self.negotiate()
        needs_password = chosen in NEEDS_PASSWORD
        if chosen not in X509_SUBTYPES:
            return ProbeResult(self.security, needs_password, encrypted=chosen in TLS_SUBTYPES)
        await self._start_tls(chosen, tls_context(True, self.policy.tls_ca_file, verify=verify))
        der = self.stream.peer_certificate_der()
        if not der:
            raise protocol_error(self.where, "the TLS handshake ended without a server certificate")
        return ProbeResult(self.security, needs_password, encrypted=True, certificate=ServerCertificate(der, verify))

    async def negotiate(self) -> int:
        """The version exchange and the choice of security type (for VeNCrypt, of its subtype, also when the subtype
        is a plain ``VncAuth``/``None``); sets :attr:`security` to the name the outcome will carry. Raises before
        anything else is sent if :attr:`SecurityPolicy.expected` names another security."""
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
        if chosen != m.SEC_VENCRYPT:
            self._expect(SUBTYPE_NAMES[chosen])
            return chosen
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
        self._expect("VeNCrypt/" + SUBTYPE_NAMES[subtype])
        stream.write(subtype.to_bytes(4, "big"))
        return subtype

    def _expect(self, name: str) -> None:
        self.security = name
        expected = self.policy.expected
        if expected is not None and name != expected:
            raise policy_refused(
                self.where,
                f"the server now offers {name} where {expected} was checked a moment ago; refused before logging in",
            )

    async def _start_tls(self, subtype: int, context: ssl.SSLContext) -> None:
        """The server's acknowledgement of a TLS subtype, then the TLS handshake (X509: for the host's name)."""
        if await self.stream.u8() != 1:
            raise protocol_error(self.where, f"the server refused VeNCrypt subtype {SUBTYPE_NAMES[subtype]}")
        self.stage = "the TLS handshake"
        x509 = subtype in X509_SUBTYPES
        await self.stream.start_tls(context, self.host if x509 else None)
        self.stage = "the authentication"

    async def _inner(self, kind: int, *, tls: bool, name: str, server_verified: bool = False) -> SecurityOutcome:
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
            name=name,
            encrypted=tls,
            server_verified=server_verified,
            certificate_sha256=stream.peer_certificate_sha256() if tls else None,
            tls=stream.tls_version() if tls else None,
            warning=PLAIN_WARNING if not tls else None if server_verified else ANON_TLS_WARNING,
        )
