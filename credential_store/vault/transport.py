"""hvac is synchronous: each call runs on one of the store's own worker threads, bounded in time and in size.

* **Threads.** Each store has a small executor of its own (``WORKERS`` threads, named ``vault-<store>``), so a Vault
  that hangs can hold only those threads, never the event loop's default executor that other work shares.
* **Time.** A call has ``timeout_seconds`` of wall-clock time, start to finish. When it runs out, the waiting
  coroutine raises TimeoutError and the call's connections are shut down, so its thread stops at once even if the
  server is still trickling bytes (``requests``' own timeout applies to each read, not to the whole answer). Name
  resolution and connecting cannot be interrupted; ``requests`` bounds each connection attempt by the same
  ``timeout_seconds``. A call still queued when its time is up never starts.
* **Size.** An answer's body is read into memory only up to ``ANSWER_MAX`` bytes (the declared ``Content-Length``
  is checked first); a larger one ends the call with :class:`AnswerTooLarge` and its connection is closed. The body
  is not decompressed (the client asks for none), so the limit holds for what is parsed.

Exceptions come out raw; :mod:`credential_store.vault.errors` translates them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import hvac
import requests
import requests.adapters
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection

from credential_store.vault.settings import VaultSettings

T = TypeVar("T")
ANSWER_MAX = 1024 * 1024
"""The largest answer body read from Vault, in bytes (a KV secret's fields are at most 64 KiB each)."""
WORKERS = 4
"""Threads per store: calls beyond this many wait for one, within their own time limit."""
READ_CHUNK = 64 * 1024


class AnswerTooLarge(Exception):
    """Vault (or whatever answered in its place) sent a body larger than ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer is larger than {limit} bytes")
        self.limit = limit


class Transport:
    """Two hvac clients for one store (one sends the token, one does not, for logins) and the store's threads.

    ``run``, ``run_login`` and ``run_plain`` run a blocking call on the store's threads and return its result or
    raise what it raised; TimeoutError when ``timeout_seconds`` pass first (the call's connections are then shut
    down, releasing its thread). ``close`` ends it all; nothing may be run after it.
    """

    def __init__(self, name: str, settings: VaultSettings) -> None:
        self.url = settings.url
        self.timeout = float(settings.timeout_seconds)
        self.client = _client(settings)
        self.login_client = _client(settings)
        self._executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix=f"vault-{name}")
        self._lock = threading.Lock()
        self._running: set[_Deadline] = set()

    @property
    def busy(self) -> int:
        """How many calls hold one of the store's threads now."""
        with self._lock:
            return len(self._running)

    def set_token(self, token: str | None) -> None:
        """Use ``token`` for the calls that follow (None: no token, for a login)."""
        self.client.adapter.token = token

    async def run(self, call: Callable[[hvac.Client], T]) -> T:
        """Run ``call(client)`` on the store's threads within the time limit (see the class)."""
        client = self.client
        return await self._run(lambda: call(client))

    async def run_login(self, call: Callable[[hvac.Client], T]) -> T:
        """Like :meth:`run`, on a client that sends no token (a stale token must not spoil a login)."""
        client = self.login_client
        return await self._run(lambda: call(client))

    async def run_plain(self, call: Callable[[], T]) -> T:
        """Run a blocking helper (a file read) on the store's threads, within the same time limit."""
        return await self._run(call)

    def close(self) -> None:
        """Shut down the calls still running, close the HTTP connection pools and let the threads end."""
        with self._lock:
            running = list(self._running)
        for deadline in running:
            deadline.expire()
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.client.adapter.close()
        self.login_client.adapter.close()

    async def _run(self, call: Callable[[], T]) -> T:
        deadline = _Deadline()
        future = asyncio.get_running_loop().run_in_executor(self._executor, self._in_thread, deadline, call)
        try:
            return await asyncio.wait_for(future, self.timeout)
        finally:
            deadline.expire()  # nothing when the call has ended; else its connections are shut down

    def _in_thread(self, deadline: _Deadline, call: Callable[[], T]) -> T:
        if not deadline.start():
            raise TimeoutError("the call's time ran out before a thread was free")
        with self._lock:
            self._running.add(deadline)
        _current.deadline = deadline
        try:
            return call()
        finally:
            _current.deadline = None
            deadline.finish()
            with self._lock:
                self._running.discard(deadline)


# --- the time limit: shutting down a call's connections from the event loop ----------------------------------------
class _Deadline:
    """The connections one call uses; :meth:`expire` shuts them down (and any it opens later) unless it has ended.

    Each socket is watched through a duplicate of its descriptor, so it can be shut down whatever urllib3 has done
    with its own object (wrapped it in TLS, closed it); the duplicates are closed when the call ends.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._expired = False
        self._ended = False

    def start(self) -> bool:
        """Whether the call may start (its time has not run out while it waited for a thread)."""
        with self._lock:
            return not self._expired

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down when the time runs out (at once if it has)."""
        if sock.fileno() < 0:
            return
        copy = socket.socket(fileno=os.dup(sock.fileno()))
        with self._lock:
            if not self._ended:
                self._sockets.append(copy)
                if self._expired:
                    _shut(copy)
                return
        copy.close()

    def expire(self) -> None:
        """The time is up: shut down every watched socket, unless the call has ended."""
        with self._lock:
            if self._ended or self._expired:
                return
            self._expired = True
            for sock in self._sockets:
                _shut(sock)

    def release(self) -> None:
        """Stop watching the sockets so far: an answer was read and its connection goes back to the pool, where
        another call may take it (a request the call makes next watches its connection again)."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            sock.close()

    def finish(self) -> None:
        """The call has ended: stop watching."""
        with self._lock:
            self._ended = True
        self.release()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Current(threading.local):
    deadline: _Deadline | None = None


_current = _Current()


def _watch(sock: socket.socket | None) -> None:
    deadline = _current.deadline
    if deadline is not None and sock is not None:
        deadline.watch(sock)


class _WatchedHTTPConnection(HTTPConnection):
    """A connection whose socket the running call's :class:`_Deadline` watches, whether new or reused."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _watch(sock)  # before any TLS handshake, so a trickled handshake is cut off too
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self.sock)  # a connection from the pool (a new one has no socket yet, or is watched already)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    """The TLS counterpart of :class:`_WatchedHTTPConnection`."""


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def _watch_pools(manager: PoolManager) -> None:
    """Make ``manager`` open watched connections (a SOCKS proxy's own pools are left as they are)."""
    classes = dict(manager.pool_classes_by_scheme)
    if classes.get("http") is HTTPConnectionPool:
        classes["http"] = _WatchedHTTPConnectionPool
    if classes.get("https") is HTTPSConnectionPool:
        classes["https"] = _WatchedHTTPSConnectionPool
    manager.pool_classes_by_scheme = classes


# --- the size limit -------------------------------------------------------------------------------------------------
class _BoundedAdapter(requests.adapters.HTTPAdapter):
    """An adapter that reads each answer (redirects included) itself, at most ``ANSWER_MAX`` bytes of it."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _watch_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        _watch_pools(manager)
        return manager

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        """Send ``request`` and read the answer's body (whatever ``stream`` says); AnswerTooLarge past the limit."""
        response = super().send(request, stream=True, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
        try:
            body = _read_body(response)
        except BaseException:
            response.close()  # the body is not consumed: the connection is closed, not reused
            raise
        response._content = body
        response._content_consumed = True
        deadline = _current.deadline
        if deadline is not None:
            deadline.release()
        response.close()  # the connection goes back to the pool
        return response


def _read_body(response: requests.Response) -> bytes:
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > ANSWER_MAX:
        raise AnswerTooLarge(ANSWER_MAX)
    body = bytearray()
    for chunk in response.raw.stream(READ_CHUNK, decode_content=False):
        body += chunk
        if len(body) > ANSWER_MAX:
            raise AnswerTooLarge(ANSWER_MAX)
    return bytes(body)


def _client(settings: VaultSettings) -> hvac.Client:
    session = requests.Session()
    session.mount("http://", _BoundedAdapter())
    session.mount("https://", _BoundedAdapter())
    session.headers["Accept-Encoding"] = "identity"
    # hvac takes the session's own verify when it is set (True by default), so it must say the same.
    session.verify = settings.tls_verify_arg()
    # token="" (not None): hvac would otherwise pick up $VAULT_TOKEN or ~/.vault-token on its own.
    return hvac.Client(
        url=settings.url,
        token="",
        verify=settings.tls_verify_arg(),
        timeout=settings.timeout_seconds,
        namespace=settings.namespace,
        session=session,
    )


def as_dict(value: Any, what: str) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ValueError (Vault answered something that is not its API)."""
    if not isinstance(value, dict):
        raise ValueError(f"{what}: expected a JSON object")
    return value
