"""Resolve a target once and open TCP sockets to it, so the key probe and the login reach the same address."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

from protocols.ssh.errors import from_os_error

_SockAddr = tuple[str, int] | tuple[str, int, int, int]
_AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, _SockAddr]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A resolved target: ``host:port`` as configured (for messages) and its addresses, resolver order."""

    where: str
    addresses: tuple[_AddrInfo, ...]


async def resolve(host: str, port: int) -> Endpoint:
    """Resolve ``host``; raise TargetUnreachable naming it if it does not resolve."""
    where = f"{host}:{port}"
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise from_os_error(where, exc) from exc
    if not infos:
        raise from_os_error(where, socket.gaierror(socket.EAI_NONAME, "no address"))
    return Endpoint(where, tuple(infos))  # type: ignore[arg-type]


async def open_socket(endpoint: Endpoint) -> socket.socket:
    """Connect to the first address that accepts; raise TargetUnreachable with the last error otherwise.

    The caller bounds the time (``asyncio.timeout``); the socket is non-blocking and owned by the caller.
    """
    loop = asyncio.get_running_loop()
    last: OSError | None = None
    for family, kind, proto, _name, address in endpoint.addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    assert last is not None
    raise from_os_error(endpoint.where, last) from last
