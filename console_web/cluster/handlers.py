"""What a console node answers for the others: each op runs on this node's own hub.

The ops mirror :class:`~console_web.api.hubapi.HubApi`: ``jumpoints.*`` and ``sessions.list``/``invitations.mine``
are asked of every node; ``session.*`` go to the node a session id names, ``invitation.*``, ``key.redeem`` and
``guest.lookup`` to the node their id or token names, and ``socket.open`` attaches a relayed browser socket to a
session here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from console_web.cluster import codec
from console_web.cluster.node import ClusterNode
from console_web.cluster.relayed_socket import RelayedSocket
from console_web.cluster.remote_files import serve_file_channel
from console_web.hub.browser_socket import guest_identity, run_socket, take_seat
from console_web.hub.participants import Identity, Mode, Participant, identity_of
from jumpoint.core.errors import BadRequest, JumpError, NotFound, ProtocolViolation, Unauthorized

if TYPE_CHECKING:
    from console_web.cluster.pipe import Pipe
    from console_web.hub.hub import Hub
    from console_web.hub.session import LiveSession

log = logging.getLogger(__name__)

Args = dict[str, Any]


def _str(args: Args, name: str, limit: int = 512) -> str:
    value = args.get(name)
    if not isinstance(value, str) or len(value) > limit:
        raise ProtocolViolation(f"another console node sent a request without a valid {name!r}")
    return value


def _int(args: Args, name: str) -> int:
    value = args.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolViolation(f"another console node sent a request without a valid {name!r}")
    return value


class HubHandlers:
    """The ops this node serves, over its hub."""

    def __init__(self, node: ClusterNode, hub: Hub) -> None:
        self._node = node
        self._hub = hub
        self._tasks: set[asyncio.Task[None]] = set()
        ops: dict[str, Callable[[Args, str], Awaitable[Any]]] = {
            "jumpoints.live": self._jumpoints_live,
            "jumpoint.load": self._jumpoint_load,
            "jumpoint.request": self._jumpoint_request,
            "jumpoint.keys_removed": self._keys_removed,
            "jumpoint.member_revoked": self._member_revoked,
            "session.start": self._session_start,
            "session.for_item": self._session_for_item,
            "session.join": self._session_join,
            "sessions.list": self._sessions_list,
            "sessions.ids": self._session_ids,
            "session.get": self._session_get,
            "session.end": self._session_end,
            "session.note": self._session_note,
            "session.invite": self._session_invite,
            "session.invitations": self._session_invitations,
            "session.cancel_invitation": self._cancel_invitation,
            "session.create_key": self._create_key,
            "session.keys": self._keys,
            "session.cancel_key": self._cancel_key,
            "invitations.mine": self._my_invitations,
            "invitation.accept": self._accept,
            "invitation.decline": self._decline,
            "key.redeem": self._redeem,
            "guest.lookup": self._guest_lookup,
            "socket.open": self._socket_open,
            "file.open": self._file_open,
        }
        for op, handler in ops.items():
            node.register(op, handler)

    # --- Jumpoints ---------------------------------------------------------------------------------
    async def _jumpoints_live(self, args: Args, _: str) -> Any:
        ids = args.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids) or len(ids) > 100_000:
            raise ProtocolViolation("jumpoints.live needs a list of ids")
        return codec.jumpoints_to(await self._hub.jumpoints_live(ids))

    async def _jumpoint_load(self, args: Args, _: str) -> Any:
        return self._hub.least_load(_int(args, "jumpoint_id"))

    async def _jumpoint_request(self, args: Args, _: str) -> Any:
        request_args = args.get("args")
        if not isinstance(request_args, dict):
            raise ProtocolViolation("jumpoint.request needs its args")
        return await self._hub.jumpoint_request(_int(args, "jumpoint_id"), _str(args, "op", 64), request_args)

    async def _keys_removed(self, args: Args, _: str) -> Any:
        fingerprint = args.get("fingerprint")
        return await self._hub.host_keys_removed(
            _int(args, "jumpoint_id"),
            _str(args, "host"),
            _int(args, "port"),
            fingerprint if isinstance(fingerprint, str) else None,
        )

    async def _member_revoked(self, args: Args, _: str) -> Any:
        await self._hub.member_revoked(_int(args, "jumpoint_id"), _int(args, "member_id"), _str(args, "hostname"))

    # --- sessions ----------------------------------------------------------------------------------
    async def _session_start(self, args: Args, _: str) -> Any:
        principal, jump = codec.principal_from(args.get("principal")), codec.jump_from(args.get("jump"))
        return codec.session_to(await self._hub.start_new(principal, jump))

    async def _session_for_item(self, args: Args, _: str) -> Any:
        running = self._hub.running_for_item(_int(args, "item_id"))
        if running is None:
            return None
        return {"session_id": running.session_id, "started_at": running.started_at.isoformat()}

    async def _session_join(self, args: Args, _: str) -> Any:
        principal, jump = codec.principal_from(args.get("principal")), codec.jump_from(args.get("jump"))
        joined = self._hub.join_running(principal, jump)
        if joined is None:
            raise NotFound("the item's running session has ended")
        return codec.session_to(joined)

    async def _sessions_list(self, args: Args, _: str) -> Any:
        principal = codec.principal_from(args.get("principal"))
        return [codec.session_to(s) for s in await self._hub.list_sessions(principal)]

    async def _session_ids(self, args: Args, _: str) -> Any:
        return list(self._hub.sessions)

    async def _session_get(self, args: Args, _: str) -> Any:
        principal = codec.principal_from(args.get("principal"))
        return codec.session_to(await self._hub.get_session(_str(args, "session_id"), principal))

    async def _session_end(self, args: Args, _: str) -> Any:
        await self._hub.end_session(_str(args, "session_id"), codec.principal_from(args.get("principal")))

    async def _session_note(self, args: Args, _: str) -> Any:
        await self._hub.note_file_event(_str(args, "session_id"), _str(args, "text", 8192))

    async def _session_invite(self, args: Args, _: str) -> Any:
        user_ids = args.get("user_ids")
        if not isinstance(user_ids, list) or not all(isinstance(u, int) for u in user_ids) or len(user_ids) > 1000:
            raise ProtocolViolation("session.invite needs a list of user ids")
        principal = codec.principal_from(args.get("principal"))
        return await self._hub.invite_users(_str(args, "session_id"), principal, user_ids)

    async def _session_invitations(self, args: Args, _: str) -> Any:
        principal = codec.principal_from(args.get("principal"))
        return await self._hub.session_invitations(_str(args, "session_id"), principal)

    async def _cancel_invitation(self, args: Args, _: str) -> Any:
        principal = codec.principal_from(args.get("principal"))
        await self._hub.cancel_invitation(_str(args, "session_id"), _str(args, "invitation_id"), principal)

    async def _create_key(self, args: Args, _: str) -> Any:
        principal = codec.principal_from(args.get("principal"))
        key, listing = await self._hub.create_external_key(
            _str(args, "session_id"),
            principal,
            description=_str(args, "description", 4096),
            minutes=_int(args, "minutes"),
            mode=_str(args, "mode", 16),
        )
        return {"key": key, "listing": listing}

    async def _keys(self, args: Args, _: str) -> Any:
        principal = codec.principal_from(args.get("principal"))
        return await self._hub.external_keys(_str(args, "session_id"), principal)

    async def _cancel_key(self, args: Args, _: str) -> Any:
        principal = codec.principal_from(args.get("principal"))
        await self._hub.cancel_external_key(_str(args, "session_id"), _str(args, "key_id"), principal)

    # --- invitations, keys and guests --------------------------------------------------------------
    async def _my_invitations(self, args: Args, _: str) -> Any:
        return await self._hub.my_invitations(codec.principal_from(args.get("principal")))

    async def _accept(self, args: Args, _: str) -> Any:
        principal = codec.principal_from(args.get("principal"))
        return await self._hub.accept_invitation(_str(args, "invitation_id"), principal)

    async def _decline(self, args: Args, _: str) -> Any:
        principal = codec.principal_from(args.get("principal"))
        await self._hub.decline_invitation(_str(args, "invitation_id"), principal)

    async def _redeem(self, args: Args, _: str) -> Any:
        source = args.get("source")
        token, guest = await self._hub.redeem_external_key(
            _str(args, "key"), _str(args, "display_name", 1024), source if isinstance(source, str) else None
        )
        return {"token": token, "guest": codec.guest_to(guest)}

    async def _guest_lookup(self, args: Args, _: str) -> Any:
        guest = self._hub.guests.by_token(_str(args, "token", 128))
        return codec.guest_to(guest) if guest is not None else None

    # --- relayed file operations -------------------------------------------------------------------
    async def _file_open(self, args: Args, asker: str) -> Any:
        """Open a file channel for a request node ``asker`` received; its bytes go through the pipe it opened."""
        principal = codec.principal_from(args.get("principal"))
        op = codec.file_op_from(args.get("op"))
        pipe = self._node.open_pipe(asker, _str(args, "pipe", 16))
        try:
            channel = await self._hub.open_file_channel(_str(args, "session_id"), principal, op)
        except BaseException:
            pipe.fail("the file operation did not open")
            raise
        self._spawn(serve_file_channel(channel, pipe))
        return channel.result.model_dump(mode="json") if channel.result is not None else None

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- relayed browser sockets -------------------------------------------------------------------
    async def _socket_open(self, args: Args, asker: str) -> Any:
        """Seat a browser that reached node ``asker`` and serve its socket through the pipe it opened."""
        session_id = _str(args, "session_id")
        identity, guest_mode = self._identity(args, session_id)
        resume = args.get("pos")
        if resume is not None and (not isinstance(resume, int) or resume < 0):
            raise BadRequest("pos must be a stream position")
        session, participant, resume_from = take_seat(self._hub, session_id, identity, guest_mode, resume)
        pipe = self._node.open_pipe(asker, _str(args, "pipe", 16))
        self._spawn(self._serve_socket(session, participant, pipe, resume_from))
        return {}

    def _identity(self, args: Args, session_id: str) -> tuple[Identity, Mode | None]:
        if args.get("principal") is not None:
            return identity_of(codec.principal_from(args["principal"])), None
        guest = self._hub.guests.by_token(_str(args, "guest_token", 128))
        if guest is None or guest.session_id != session_id:
            raise Unauthorized("this invitation is no longer valid", hint="ask for a new invitation link")
        address = args.get("address")
        return guest_identity(guest, address if isinstance(address, str) and len(address) <= 64 else None)

    async def _serve_socket(
        self, session: LiveSession, participant: Participant, pipe: Pipe, resume_from: int | None
    ) -> None:
        socket = RelayedSocket(pipe)
        try:
            await run_socket(session, participant, socket, resume_from)
        except JumpError as exc:
            log.info("a relayed socket from node %s ended: %s", pipe.peer, exc.message)
        finally:
            await socket.close(code=1000, message=b"")
