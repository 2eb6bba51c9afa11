"""Turning what hvac and requests raise into the core's errors, with messages an operator can act on.

Every message names the Vault URL and what was asked (:class:`Operation`); none carries a secret, a token or a
request body. Vault's own ``errors`` text is quoted where it helps (it never holds secret values).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import hvac.exceptions
import requests.exceptions

from credential_store.vault.transport import AnswerTooLarge
from jumpoint.core.errors import (
    BadRequest,
    CredentialStoreDenied,
    CredentialStoreUnavailable,
    JumpError,
    NotFound,
)

VAULT_TEXT_MAX = 300


@dataclass(frozen=True, slots=True)
class Operation:
    """What a Vault call was for: ``what`` for messages (``secret 'secret/x'``), and the API path and the
    policy capability it needs, for the permission-denied hint."""

    what: str
    api_path: str
    capability: str
    login: str | None = None


def vault_text(exc: hvac.exceptions.VaultError) -> str:
    """Vault's ``errors`` joined and tidied (``1 error occurred: * permission denied`` becomes one line)."""
    errors = exc.errors if isinstance(exc.errors, list) else []
    text = "; ".join(str(e) for e in errors) if errors else ""
    text = " ".join(text.replace("*", " ").split())
    text = text.removeprefix("1 error occurred: ").strip()
    return text[:VAULT_TEXT_MAX]


def translate(exc: BaseException, *, url: str, op: Operation, timeout: float) -> JumpError:
    """The core error for ``exc``, raised by a call to Vault at ``url`` doing ``op``."""
    if isinstance(exc, JumpError):
        return exc
    if isinstance(exc, hvac.exceptions.VaultError):
        return _from_vault(exc, url=url, op=op)
    if isinstance(exc, asyncio.TimeoutError | requests.exceptions.Timeout):
        return CredentialStoreUnavailable(
            f"Vault at {url} did not answer within {timeout:g} s ({op.what})",
            hint="check that Vault is up and reachable from the Jumpoint, or raise timeout_seconds",
        )
    if isinstance(exc, AnswerTooLarge):
        return CredentialStoreUnavailable(
            f"Vault at {url} sent an answer larger than {_size(exc.limit)} ({op.what}); it was not read",
            hint="check that the url points at Vault's API; a folder this large must be split to be listed",
        )
    if isinstance(exc, requests.exceptions.SSLError):
        return _tls_error(exc, url)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return CredentialStoreUnavailable(
            f"cannot connect to Vault at {url}: {_connection_cause(exc)}",
            hint="check the store's url and that Vault is reachable from the Jumpoint",
        )
    if isinstance(exc, requests.exceptions.RequestException | ValueError | KeyError | TypeError):
        return CredentialStoreUnavailable(
            f"Vault at {url} gave an answer the Jumpoint cannot use ({op.what}): {type(exc).__name__}",
            hint="check that the url points at Vault's API",
        )
    return CredentialStoreUnavailable(f"the request to Vault at {url} failed ({op.what}): {type(exc).__name__}")


def _size(limit: int) -> str:
    mib = 1024 * 1024
    return f"{limit // mib} MiB" if limit % mib == 0 else f"{limit} bytes"


def _from_vault(exc: hvac.exceptions.VaultError, *, url: str, op: Operation) -> JumpError:
    text = vault_text(exc)
    lowered = text.lower()
    if "sealed" in lowered:
        return CredentialStoreUnavailable(
            f"Vault at {url} is sealed", hint="a Vault operator must unseal it ('vault operator unseal')"
        )
    if "node not active" in lowered or "standby" in lowered:
        return CredentialStoreUnavailable(
            f"Vault at {url} is a standby node and could not serve the request: {text}",
            hint="point url at the active node or at the cluster's load balancer, and check the cluster's health",
        )
    if op.login is not None and isinstance(exc, hvac.exceptions.InvalidPath):
        return CredentialStoreDenied(
            f"Vault at {url} has no {op.login} login at {op.api_path}",
            hint="check the store's auth.mount (and namespace) against Vault's enabled auth methods",
        )
    if op.login is not None and isinstance(exc, hvac.exceptions.InvalidRequest | hvac.exceptions.Forbidden):
        return CredentialStoreDenied(f"Vault at {url} refused the {op.login} login: {text or 'permission denied'}")
    if isinstance(exc, hvac.exceptions.Forbidden):
        return CredentialStoreDenied(
            f"Vault at {url} denied access to {op.what}",
            hint=f"the Jumpoint's Vault policy needs the '{op.capability}' capability on '{op.api_path}'",
        )
    if isinstance(exc, hvac.exceptions.InvalidPath):
        return NotFound(f"there is no {op.what} in Vault at {url}", hint="check the credential reference")
    if isinstance(exc, hvac.exceptions.VaultNotInitialized):
        return CredentialStoreUnavailable(f"Vault at {url} is not initialised", hint="run 'vault operator init'")
    if isinstance(exc, hvac.exceptions.RateLimitExceeded):
        return CredentialStoreUnavailable(
            f"Vault at {url} refused the request as over its rate limit ({op.what})", hint="try again shortly"
        )
    if isinstance(exc, hvac.exceptions.InvalidRequest):
        return BadRequest(f"Vault at {url} refused the request for {op.what}: {text or 'invalid request'}")
    status = f"HTTP {exc.__class__.__name__}"
    return CredentialStoreUnavailable(f"Vault at {url} failed on {op.what}: {text or status}")


def _tls_error(exc: requests.exceptions.SSLError, url: str) -> CredentialStoreUnavailable:
    detail = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in detail or "certificate verify failed" in detail:
        reason = "certificate verify failed"
        for marker in (
            "unable to get local issuer certificate",
            "self-signed certificate",
            "self signed certificate",
            "certificate has expired",
            "Hostname mismatch",
            "IP address mismatch",
        ):
            if marker in detail:
                reason = marker
                break
        return CredentialStoreUnavailable(
            f"cannot connect to Vault at {url}: TLS certificate verification failed ({reason})",
            hint="set ca_file to the CA bundle that signed Vault's certificate (and check the host name in url)",
        )
    return CredentialStoreUnavailable(
        f"cannot connect to Vault at {url}: the TLS handshake failed",
        hint="check that url uses the scheme (http or https) Vault listens with, and ca_file",
    )


def _connection_cause(exc: requests.exceptions.ConnectionError) -> str:
    detail = str(exc)
    if "Connection refused" in detail or "Errno 111" in detail:
        return "connection refused (is Vault listening on that address and port?)"
    for marker in (
        "NameResolutionError",
        "Name or service not known",
        "nodename nor servname",
        "getaddrinfo failed",
        "Temporary failure in name resolution",
        "No address associated",
    ):
        if marker in detail:
            return "the host name does not resolve"
    if "Network is unreachable" in detail or "No route to host" in detail:
        return "the network is unreachable"
    if "RemoteDisconnected" in detail or "Connection aborted" in detail or "reset by peer" in detail:
        return "the connection was closed before Vault answered"
    return "the connection failed"
