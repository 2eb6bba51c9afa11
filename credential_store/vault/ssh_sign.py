"""SSH certificates from Vault's SSH secrets engine: a fresh key pair per fetch, signed for one login.

Each fetch generates an Ed25519 key pair in memory, sends only the public key to
``POST /v1/<mount>/sign/<role>`` (``cert_type: user``, ``valid_principals: <username>``, ``ttl``), and returns
the private key (OpenSSH format, no passphrase, wrapped in a Secret) with the signed certificate. The private
key is never written anywhere and never leaves the returned Credential.
"""

from __future__ import annotations

import re
from typing import Any

import hvac
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from credential_store.vault.errors import Operation
from credential_store.vault.paths import SshRole
from credential_store.vault.session import VaultSession
from credential_store.vault.transport import as_dict
from jumpoint.core.credentials import Credential
from jumpoint.core.errors import BadRequest
from jumpoint.core.secret import Secret

# A principal is one login name: no commas (Vault splits valid_principals on them), spaces or control characters.
PRINCIPAL = re.compile(r"[^\s,\x00-\x1f\x7f]{1,256}")
CERT_PREFIX = re.compile(r"(ssh|ecdsa-sha2)-[a-z0-9-]+-cert-v01@openssh\.com ")


def new_key_pair() -> tuple[Secret, str]:
    """A fresh Ed25519 key pair: (private key in OpenSSH format, public key line)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return Secret(private), public.decode()


async def sign(session: VaultSession, name: str, role: SshRole, username: str | None, ttl_seconds: int) -> Credential:
    """Have Vault sign a new key for ``username`` under ``role``; the credential is named ``name``."""
    if username is None:
        raise BadRequest(
            f"the Vault SSH role '{role.path}' signs a certificate for one login, but no username was given",
            hint="set the Jump Item's username",
        )
    if not PRINCIPAL.fullmatch(username):
        raise BadRequest(
            f"'{username[:64]}' cannot be an SSH certificate principal (no spaces, commas or control characters)"
        )
    private_key, public_key = new_key_pair()
    op = Operation(f"SSH role '{role.path}'", f"{role.mount}/sign/{role.role}", "update")

    def call(client: hvac.Client) -> str:
        answer: Any = client.secrets.ssh.sign_ssh_key(
            name=role.role,
            public_key=public_key,
            ttl=f"{ttl_seconds}s",
            valid_principals=username,
            cert_type="user",
            mount_point=role.mount,
        )
        signed = as_dict(as_dict(answer, "sign answer").get("data"), "sign data").get("signed_key")
        if not isinstance(signed, str) or not CERT_PREFIX.match(signed.strip() + " "):
            raise ValueError("sign answer without an OpenSSH certificate")
        return signed.strip()

    certificate: str = await session.call(call, op)
    return Credential(
        name=name, kind="ssh_certificate", username=username, private_key=private_key, certificate=certificate
    )
