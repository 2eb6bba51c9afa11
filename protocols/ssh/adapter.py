"""The SSH Shell Jump adapter: verify the host key, log in, open a shell on a PTY.

Sequence of :meth:`SshAdapter.connect`:

1. resolve the name once; probe the server's host key with a key exchange only (no credential is sent);
2. check it against the Jumpoint's cache, asking the rep about an unknown key (see ``hostkeys``);
3. connect again to the same address, pinned to exactly that key, and log in (see ``auth``);
4. open a session with a PTY (``term_type`` exactly as the Jump Item says) and a login shell.

The network stages (resolve, TCP connect, key exchange) are each bounded by ``target.connect_timeout``; the
time a rep takes to answer a prompt is not (the login itself is bounded by ``login_timeout``). Every failure
leaves as a :class:`~jumpoint.core.errors.TargetError` or a user error (``Cancelled``, ``NotFound``), never
as a library exception. The user's ``~/.ssh`` (config, keys, known hosts, agent) is never read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Literal, TypeVar

import asyncssh

from jumpoint.core.adapter import AdapterContext, PromptField, Target
from jumpoint.core.credentials import Credential, fetch_item_credential
from jumpoint.core.errors import BadRequest, InternalError, JumpError, TargetProtocolError
from jumpoint.core.output_buffer import DEFAULT_BUFFER_LIMIT
from jumpoint.core.target_errors import timed_out
from protocols.ssh.auth import LoginClient
from protocols.ssh.connection import ShellSession, SshConnection
from protocols.ssh.errors import from_ssh_error
from protocols.ssh.hostkeys import PROBE_HOST_KEY_ALGS, pinned_algorithms, to_host_key, verify
from protocols.ssh.net import Endpoint, open_socket, resolve
from protocols.ssh.read_pieces import SocketInPieces

_T = TypeVar("_T")

DEFAULT_LOGIN_TIMEOUT = 300.0
DEFAULT_KEEPALIVE_COUNT_MAX = 3
DEFAULT_MAX_ATTEMPTS = 3


class SshAdapter:
    """SSH shells. Registered as the ``ssh`` entry point of ``openjump.protocols``.

    ``max_attempts``: how many times the rep may be asked for a password (like OpenSSH's
    NumberOfPasswordPrompts). ``login_timeout``: seconds for the whole login, prompts included.
    ``keepalive_count_max``: unanswered keepalives before the connection counts as lost.
    ``output_buffer``: unread output bytes per connection before the SSH channel is paused.
    """

    name = "ssh"
    kind: Literal["terminal"] = "terminal"

    def __init__(
        self,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        login_timeout: float = DEFAULT_LOGIN_TIMEOUT,
        keepalive_count_max: int = DEFAULT_KEEPALIVE_COUNT_MAX,
        output_buffer: int = DEFAULT_BUFFER_LIMIT,
    ) -> None:
        if max_attempts < 1 or login_timeout <= 0 or keepalive_count_max < 1 or output_buffer < 1024:
            raise ValueError(
                "SshAdapter: max_attempts >= 1, login_timeout > 0, keepalive_count_max >= 1, output_buffer >= 1024"
            )
        self.max_attempts = max_attempts
        self.login_timeout = login_timeout
        self.keepalive_count_max = keepalive_count_max
        self.output_buffer = output_buffer

    async def connect(self, target: Target, ctx: AdapterContext) -> SshConnection:
        """Verify the host key, log in, open a shell; raise TargetError, Cancelled or NotFound on failure."""
        if target.protocol != self.name:
            raise BadRequest(f"the SSH adapter cannot connect a {target.protocol!r} item")
        where = f"{target.hostname}:{target.port}"
        try:
            return await self._connect(target, ctx)
        except JumpError:
            raise
        except (asyncssh.Error, OSError) as exc:
            raise from_ssh_error(where, target.username, exc) from exc
        except Exception as exc:
            ctx.log.exception("unexpected failure connecting to %s", where)
            raise InternalError(f"unexpected failure connecting to {where}: {type(exc).__name__}") from exc

    # --- stages ------------------------------------------------------------------------------------
    async def _connect(self, target: Target, ctx: AdapterContext) -> SshConnection:
        host, port, timeout = target.hostname, target.port, target.connect_timeout
        endpoint = await _bounded(resolve(host, port), f"{host}:{port}", timeout, "resolving the host name")
        key = await self._probe(endpoint, target.username, timeout)
        notices = await verify(host, port, key, ctx)
        credential = _CredentialOnce(target, ctx)
        username = target.username or await self._username(target, ctx, credential)
        client = LoginClient(
            host=host,
            port=port,
            username=username,
            ctx=ctx,
            credential=credential.get,
            max_attempts=self.max_attempts,
        )
        conn = await self._login(endpoint, key, client, username, target)
        try:
            session = ShellSession(self.output_buffer)
            chan, _ = await conn.create_session(
                lambda: session,
                request_pty="force",
                term_type=target.terminal_type,
                term_size=(target.cols, target.rows),
                encoding=None,
            )
        except BaseException as exc:
            conn.abort()
            if isinstance(exc, asyncssh.Error | OSError):
                raise from_ssh_error(endpoint.where, username, exc, established=True) from exc
            raise
        ctx.log.info(
            "ssh shell open on %s as %s (%s %dx%d)",
            endpoint.where,
            username,
            target.terminal_type,
            target.cols,
            target.rows,
        )
        return SshConnection(
            conn,
            chan,
            session,
            where=endpoint.where,
            username=username,
            cols=target.cols,
            rows=target.rows,
            max_output_chunk=ctx.limits.max_output_chunk,
            notices=[*notices, *client.notices],
        )

    async def _probe(self, endpoint: Endpoint, username: str, limit: float) -> asyncssh.SSHKey:
        """The key the server presents first when offered OpenSSH's algorithm order; nothing is sent."""

        async def probe() -> asyncssh.SSHKey | None:
            sock = await open_socket(endpoint)
            try:
                return await asyncssh.get_server_host_key(
                    sock=sock,
                    server_host_key_algs=list(PROBE_HOST_KEY_ALGS),
                    config=[],
                    options=_isolated_options(),
                )
            except BaseException:
                sock.close()
                raise

        try:
            key = await _bounded(probe(), endpoint.where, limit, "SSH key exchange")
        except (asyncssh.Error, OSError) as exc:
            raise from_ssh_error(endpoint.where, username, exc, established=True) from exc
        if key is None:
            raise TargetProtocolError(f"{endpoint.where} presented no host key", hint="check the SSH server")
        return key

    async def _login(
        self, endpoint: Endpoint, key: asyncssh.SSHKey, client: LoginClient, username: str, target: Target
    ) -> asyncssh.SSHClientConnection:
        """Connect pinned to ``key`` and log in; TCP connect and key exchange are bounded by the timeout."""
        where, timeout = endpoint.where, target.connect_timeout
        sock = await _bounded(open_socket(endpoint), where, timeout, "TCP connect")
        task = asyncio.ensure_future(
            asyncssh.connect(
                tunnel=SocketInPieces(sock),
                client_factory=lambda: client,
                username=username,
                options=_isolated_options(),
                # connect() has its own config=() default ("load ~/.ssh/config") that overrides the options', so
                # the empty config must be repeated here
                config=[],
                known_hosts=([key], [], []),
                server_host_key_algs=pinned_algorithms(key),
                agent_forwarding=False,
                x11_forwarding=False,
                host_based_auth=False,
                password=None,
                login_timeout=self.login_timeout,
                keepalive_interval=target.keepalive_seconds,
                keepalive_count_max=self.keepalive_count_max,
            )
        )
        handshake = asyncio.ensure_future(client.handshake_done.wait())
        try:
            done, _ = await asyncio.wait({task, handshake}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if not done:
                raise timed_out(where, timeout, "SSH key exchange")
            return await task
        except BaseException as exc:
            await _cancel(task)
            sock.close()
            if client.failure is not None:
                raise client.failure from None
            if isinstance(exc, asyncssh.Error | OSError):
                pinned = to_host_key(key).fingerprint
                raise from_ssh_error(where, username, exc, pinned_key_fp=pinned, established=True) from exc
            raise
        finally:
            handshake.cancel()

    async def _username(self, target: Target, ctx: AdapterContext, credential: _CredentialOnce) -> str:
        """The login name when the Jump Item has none: the credential's, else the rep's answer."""
        stored = await credential.get()
        if stored is not None and stored.username:
            return stored.username
        answers = await ctx.prompter.ask_text(
            "Login", f"Log in to {target.hostname}:{target.port}", [PromptField("Login as:", echo=True)]
        )
        name = answers[0].reveal().strip() if len(answers) == 1 else ""
        if not name or len(name) > 128 or any(ch.isspace() or ord(ch) < 32 for ch in name):
            raise BadRequest("the login name must be 1 to 128 characters without spaces")
        return name


class _CredentialOnce:
    """Fetches the Jump Item's credential on first use, once per connection."""

    def __init__(self, target: Target, ctx: AdapterContext) -> None:
        self._ref = target.credential_ref
        self._username = target.username
        self._ctx = ctx
        self._purpose = f"ssh login to {target.hostname}:{target.port} for session {ctx.session_id}"
        self._task: asyncio.Future[Credential] | None = None

    async def get(self) -> Credential | None:
        if self._ref is None:
            return None
        if self._task is None:
            self._task = asyncio.ensure_future(self._fetch(self._ref))
        return await asyncio.shield(self._task)

    async def _fetch(self, ref: str) -> Credential:
        return await fetch_item_credential(self._ctx.credentials, ref, purpose=self._purpose, username=self._username)


PREFERRED_ENCRYPTION = "^aes128-gcm@openssh.com,aes256-gcm@openssh.com"
"""asyncssh's default ciphers with AES-GCM first (asyncssh's ``^`` prefix): both it and asyncssh's first choice,
ChaCha20-Poly1305, are authenticated ciphers every OpenSSH offers, but with the AES instructions of today's CPUs GCM
costs far less per byte: the Jumpoint's CPU for 27 MB of terminal output fell from ~0.46 to ~0.28 s
(docs/performance.md). A server without GCM gets ChaCha20-Poly1305 as before."""


def _isolated_options() -> asyncssh.SSHClientConnectionOptions:
    """Options that read nothing of the local user's (no ~/.ssh config, keys, agent, certificates), with the
    cipher preference above."""
    return asyncssh.SSHClientConnectionOptions(
        encryption_algs=PREFERRED_ENCRYPTION,
        config=[],
        client_keys=None,
        agent_path=None,
        pkcs11_provider=None,
        x509_trusted_certs=None,
        x509_trusted_cert_paths=[],
        gss_kex=False,
        gss_auth=False,
    )


async def _bounded(step: Awaitable[_T], where: str, seconds: float, stage: str) -> _T:
    """Run one network stage for at most ``seconds``; a timeout becomes TargetTimeout naming the stage."""
    try:
        async with asyncio.timeout(seconds):
            return await step
    except TimeoutError as exc:
        raise timed_out(where, seconds, stage) from exc


async def _cancel(task: asyncio.Future[_T]) -> None:
    """Cancel ``task`` if it still runs and wait for it, swallowing its outcome."""
    if not task.done():
        task.cancel()
    with contextlib.suppress(BaseException):
        await task
