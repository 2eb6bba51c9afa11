"""The console's requests on the tunnel's channel 0: the host-key cache and the credentials a rep may inject.

Each request runs as its own task, so a slow credential store never stalls the tunnel's reader; at most
:data:`MAX_CONCURRENT` run at once and a request beyond that is answered Busy at once. A list too large for
one frame is answered in parts (``wire.encode_reply``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from credential_store.stores import CredentialStores
from jumpoint.core import wire
from jumpoint.core.credentials import LIST_LIMIT, CredentialQuery
from jumpoint.core.errors import BadRequest, Busy, InternalError, JumpError
from jumpoint.core.hostkeys import HostKeyStore

MAX_CONCURRENT = 8
MAX_LIST = 2 * LIST_LIMIT  # the console asks for one more than it shows, to tell the rep the list was cut
log = logging.getLogger(__name__)

SendFrame = Callable[[bytes], Awaitable[None]]


class TunnelRequests:
    """Answers :class:`~jumpoint.core.wire.Request` messages; :meth:`close` cancels those still running.

    ``credentials`` may be replaced at any time (a configuration reload); requests already running keep theirs.
    """

    def __init__(self, host_keys: HostKeyStore, credentials: CredentialStores | None, send: SendFrame) -> None:
        self._host_keys = host_keys
        self.credentials = credentials
        self._send = send
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, req: wire.Request) -> None:
        """Start answering ``req``; the reply is sent when ready."""
        if len(self._tasks) >= MAX_CONCURRENT:
            error = Busy(f"the Jumpoint is already answering {MAX_CONCURRENT} requests", hint="try again shortly")
            self._spawn(self._reply_error(req.id, error), req)
            return
        self._spawn(self._answer(req), req)

    def close(self) -> None:
        """Cancel every request still running (the tunnel is gone)."""
        for task in self._tasks:
            task.cancel()

    def _spawn(self, coro: Awaitable[None], req: wire.Request) -> None:
        async def run() -> None:
            await coro

        task = asyncio.create_task(run(), name=f"request-{req.id}-{req.op}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, req: wire.Request) -> None:
        try:
            result = await self._run(req.op, req.args)
        except JumpError as exc:
            await self._reply_error(req.id, exc)
            return
        except Exception as exc:
            log.exception("request %s failed", req.op)
            await self._reply_error(req.id, InternalError(f"the Jumpoint failed to answer {req.op}: {exc!r}"))
            return
        for frame in wire.encode_reply(req.id, result):
            await self._send(frame)

    async def _reply_error(self, req_id: int, error: JumpError) -> None:
        await self._send(wire.encode_control(0, wire.Reply(id=req_id, error=wire.ErrorBody(**error.to_dict()))))

    async def _run(self, op: str, args: Mapping[str, Any]) -> Any:
        if op == "hostkeys.list":
            return [
                {
                    "host": k.host,
                    "port": k.port,
                    "algorithm": k.key.algorithm,
                    "fingerprint": k.key.fingerprint,
                    "key": k.key.blob_b64,
                    "added_at": k.added_at,
                }
                for k in self._host_keys.list()
            ]
        if op == "hostkeys.remove":
            host, port, fingerprint = args.get("host"), args.get("port"), args.get("fingerprint")
            if not isinstance(host, str) or not isinstance(port, int):
                raise BadRequest("hostkeys.remove needs 'host' (text) and 'port' (number)")
            removed = self._host_keys.remove(host, port, fingerprint if isinstance(fingerprint, str) else None)
            log.info("removed %d cached host key(s) of %s:%d on request", removed, host, port)
            return {"removed": removed}
        if op == "credentials.list":
            return await self._list_credentials(args)
        raise BadRequest(f"unknown request {op!r}")

    async def _list_credentials(self, args: Mapping[str, Any]) -> list[dict[str, Any]]:
        scopes, item, user = args.get("scopes"), args.get("item"), args.get("user")
        search, limit = args.get("search") or "", args.get("limit") or LIST_LIMIT
        if not isinstance(scopes, list) or not isinstance(item, str) or not isinstance(user, str):
            raise BadRequest("credentials.list needs 'scopes' (a list), 'item' and 'user' (text)")
        if not isinstance(search, str) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST:
            raise BadRequest(f"credentials.list needs 'search' as text and 'limit' from 1 to {MAX_LIST}")
        if self.credentials is None:
            raise BadRequest("this Jumpoint has no credential store")
        query = CredentialQuery(scopes=tuple(scopes), item=item, user=user, search=search, limit=limit)
        listing = await self.credentials.list_for(query)
        entries: list[dict[str, Any]] = [{"ref": c.ref, "kind": c.kind} for c in listing.credentials]
        entries += [{"store": store, "error": error} for store, error in listing.errors.items()]
        return entries
