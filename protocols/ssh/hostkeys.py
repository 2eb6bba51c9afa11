"""Host key verification before any credential is sent: probe, check the cache, ask the rep, pin.

The probe runs a key exchange only (no authentication). The verdict of the Jumpoint's cache decides:
``valid`` continues, ``mismatch`` always refuses (there is no override here: an administrator removes the
cached key after checking with the machine's owner), ``unknown`` asks the rep (save, once, abort). The
login connection is then pinned to exactly the probed key.
"""

from __future__ import annotations

import base64

import asyncssh

from jumpoint.core.adapter import AdapterContext
from jumpoint.core.errors import HostKeyMismatch, HostKeyRejected
from jumpoint.core.events import Notice
from jumpoint.core.hostkeys import HostKey

# The order OpenSSH clients use, so the rep sees the same key (ED25519 first) as with `ssh`.
PROBE_HOST_KEY_ALGS: tuple[str, ...] = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
)


def to_host_key(key: asyncssh.SSHKey) -> HostKey:
    """The core value of an asyncssh public key (``ssh-rsa`` for every RSA signature algorithm)."""
    return HostKey(algorithm=key.get_algorithm(), blob_b64=base64.b64encode(key.public_data).decode("ascii"))


def pinned_algorithms(key: asyncssh.SSHKey) -> list[str]:
    """The host key algorithms that can only be satisfied by ``key``'s type, in probe preference order."""
    own = {alg.decode("ascii") for alg in key.sig_algorithms}
    return [alg for alg in PROBE_HOST_KEY_ALGS if alg in own] or [key.get_algorithm()]


def mismatch(host: str, port: int, cached: tuple[HostKey, ...], presented: HostKey) -> HostKeyMismatch:
    """The refusal shown when the server's key differs from every cached key."""
    where = f"{host}:{port}"
    old = ", ".join(f"{key.fingerprint} ({key.algorithm})" for key in cached) or "(none)"
    return HostKeyMismatch(
        f"the host key of {where} has changed: the Jumpoint trusts {old} but the server now presents "
        f"{presented.fingerprint} ({presented.algorithm}). Someone may be intercepting the connection, "
        "or the machine was reinstalled; the connection was refused",
        hint=(
            "verify the new fingerprint with the machine's owner; if the change is legitimate, "
            f"an administrator removes the cached key of {where} from the Jumpoint's known hosts, "
            "then connect again"
        ),
        details={
            "target": where,
            "cached": [key.fingerprint for key in cached],
            "presented": presented.fingerprint,
        },
    )


async def verify(host: str, port: int, key: asyncssh.SSHKey, ctx: AdapterContext) -> list[Notice]:
    """Decide whether to log in to a server presenting ``key``; return the notices for the session timeline.

    Raises HostKeyMismatch (changed key, also when another key was saved for the host while the rep decided to
    save this one), HostKeyRejected (the rep aborted) or Cancelled (the rep went away).
    """
    presented = to_host_key(key)
    verdict = ctx.host_keys.check(host, port, presented)
    if verdict.status == "valid":
        return []
    if verdict.status == "mismatch":
        ctx.log.warning("host key of %s:%d changed to %s: refused", host, port, presented.fingerprint)
        raise mismatch(host, port, verdict.known, presented)
    decision = await ctx.prompter.ask_host_key(host, port, presented, known=verdict.known)
    if decision == "save":
        try:
            ctx.host_keys.trust(host, port, presented)
        except HostKeyMismatch:
            ctx.log.warning(
                "host key %s of %s:%d not saved: another key was saved for it meanwhile; refused",
                presented.fingerprint,
                host,
                port,
            )
            raise
        ctx.log.info("host key %s of %s:%d saved", presented.fingerprint, host, port)
        return [
            Notice(
                kind="host_key_saved",
                text=f"host key {presented.fingerprint} ({presented.algorithm}) of {host}:{port} saved",
            )
        ]
    if decision == "once":
        ctx.log.info("host key %s of %s:%d accepted once", presented.fingerprint, host, port)
        return [
            Notice(
                kind="info",
                text=f"host key {presented.fingerprint} of {host}:{port} accepted for this session only",
            )
        ]
    raise HostKeyRejected(
        f"the connection to {host}:{port} was aborted: its host key {presented.fingerprint} was not accepted",
        hint="connect again and choose to trust the key once you have verified it with the machine's owner",
        details={"target": f"{host}:{port}", "presented": presented.fingerprint},
    )
