"""The console's hub when it is one node of several: every call goes to the node that can answer it.

A Jumpoint member's tunnel lands on one node, and its sessions live there; everything about a session (its API
calls, its browser sockets) is routed to that node, which the session id names (``<node>_...``), as do invitation
ids, external keys and guest tokens. Questions about everything (live sessions, a rep's invitations, Jumpoint
states) are asked of every node and the answers merged. A new Jump goes to the node holding the least busy member
of the item's Jumpoint; Join Existing finds the item's running session on any node.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from console_web.auth.guests import Guest, guest_token
from console_web.auth.principal import Principal
from console_web.auth.request_auth import authenticate, check_origin
from console_web.cluster import codec
from console_web.cluster.bus import NodeUnreachable
from console_web.cluster.node import ClusterNode
from console_web.cluster.relayed_socket import relay_browser
from console_web.cluster.remote_files import RemoteFileChannel
from console_web.hub.browser_socket import browser_socket, refuse_full, resume_position, serve_browser
from console_web.hub.clusters import JumpointLive
from console_web.hub.file_channel import FileOp, FileOperation
from console_web.hub.jump import JumpRequest, SessionInfo
from jumpoint.core import wire
from jumpoint.core.errors import Busy, Conflict, JumpError, JumpointUnavailable, NotFound, Unauthorized

if TYPE_CHECKING:
    from console_web.hub.hub import Hub

log = logging.getLogger(__name__)


class ClusterHub:
    """:class:`~console_web.api.hubapi.HubApi` over every node of the cluster (this node's hub included)."""

    def __init__(self, hub: Hub, node: ClusterNode) -> None:
        self.hub = hub
        self.node = node

    # --- routing helpers ---------------------------------------------------------------------------
    async def _at(self, identifier: str, op: str, args: dict[str, Any], gone: str) -> Any:
        """``op`` on the node ``identifier`` was made on; NotFound(gone) when no running node has it."""
        node = self.node.node_of(identifier)
        if node is None:
            raise NotFound(gone)
        try:
            return await self.node.call(node, op, args)
        except NodeUnreachable as exc:
            raise NotFound(gone, hint=exc.message) from None

    async def _everywhere(self, op: str, args: dict[str, Any]) -> list[Any]:
        """The results of ``op`` from every node that answered it without an error."""
        results = []
        for node, result in await self.node.broadcast(op, args):
            if isinstance(result, JumpError):
                log.warning("console node %s could not answer %s: %s", node, op, result.message)
            else:
                results.append(result)
        return results

    async def _session(self, session_id: str, op: str, principal: Principal, **args: Any) -> Any:
        body = {"session_id": session_id, "principal": codec.principal_to(principal), **args}
        return await self._at(session_id, op, body, f"session {session_id} does not exist or has ended")

    # --- Jumpoints ---------------------------------------------------------------------------------
    async def jumpoints_live(self, jumpoint_ids: Sequence[int]) -> dict[int, JumpointLive]:
        """Each Jumpoint's state across the nodes its members' tunnels landed on."""
        parts = await self._everywhere("jumpoints.live", {"ids": list(jumpoint_ids)})
        return codec.merge_jumpoints([codec.jumpoints_from(p) for p in parts])

    async def _nodes_by_load(self, jumpoint_id: int) -> list[str]:
        loads = [
            (load, node)
            for node, load in await self.node.broadcast("jumpoint.load", {"jumpoint_id": jumpoint_id})
            if isinstance(load, int)
        ]
        return [node for _, node in sorted(loads)]

    async def host_keys_removed(self, jumpoint_id: int, host: str, port: int, fingerprint: str | None) -> int:
        """Every node tells its members of the Jumpoint; how many members were told."""
        args = {"jumpoint_id": jumpoint_id, "host": host, "port": port, "fingerprint": fingerprint}
        return sum(n for n in await self._everywhere("jumpoint.keys_removed", args) if isinstance(n, int))

    async def member_revoked(self, jumpoint_id: int, member_id: int, hostname: str) -> None:
        """The node holding the member's tunnel closes it."""
        await self._everywhere(
            "jumpoint.member_revoked", {"jumpoint_id": jumpoint_id, "member_id": member_id, "hostname": hostname}
        )

    async def jumpoint_request(self, jumpoint_id: int, op: str, args: dict[str, Any]) -> Any:
        """Ask the least busy connected member of the Jumpoint, on whichever node it is."""
        for node in await self._nodes_by_load(jumpoint_id) or [self.node.node_id]:
            return await self.node.call(node, "jumpoint.request", {"jumpoint_id": jumpoint_id, "op": op, "args": args})
        raise JumpointUnavailable("the Jumpoint is not connected")  # pragma: no cover (the loop always returns)

    # --- sessions ----------------------------------------------------------------------------------
    async def start_session(self, principal: Principal, jump: JumpRequest) -> SessionInfo:
        """Join the item's running session wherever it runs, or start one on the node with the least busy member."""
        body = {"principal": codec.principal_to(principal), "jump": codec.jump_to(jump)}
        if jump.session_policy == "join_existing":
            running = [
                (r["started_at"], r["session_id"])
                for r in await self._everywhere("session.for_item", {"item_id": jump.item_id})
                if isinstance(r, dict)
            ]
            for _, session_id in sorted(running):
                try:
                    return codec.session_from(
                        await self._at(session_id, "session.join", body, "the item's running session has ended")
                    )
                except NotFound:
                    continue
        nodes = await self._nodes_by_load(jump.jumpoint_id)
        last: JumpError = JumpointUnavailable(
            "the Jumpoint for this item is not connected",
            hint="start the Jumpoint service on its host, or pick an item on a connected Jumpoint",
        )
        for node in nodes:
            try:
                return codec.session_from(await self.node.call(node, "session.start", body))
            except (JumpointUnavailable, Busy) as exc:  # its member went away or filled up meanwhile
                last = exc
        raise last

    async def list_sessions(self, principal: Principal) -> list[SessionInfo]:
        """The live sessions the caller may see, on every node, oldest first."""
        parts = await self._everywhere("sessions.list", {"principal": codec.principal_to(principal)})
        sessions = [codec.session_from(s) for part in parts if isinstance(part, list) for s in part]
        return sorted(sessions, key=lambda s: s.started_at)

    async def get_session(self, session_id: str, principal: Principal) -> SessionInfo:
        """One live session, from its node."""
        return codec.session_from(await self._session(session_id, "session.get", principal))

    async def end_session(self, session_id: str, principal: Principal) -> None:
        """End a session on its node."""
        await self._session(session_id, "session.end", principal)

    async def note_file_event(self, session_id: str, text: str) -> None:
        """A file event in the session's timeline, on its node."""
        node = self.node.node_of(session_id)
        if node is not None:
            try:
                await self.node.call(node, "session.note", {"session_id": session_id, "text": text})
            except JumpError as exc:
                log.info("the file event of session %s was not noted: %s", session_id, exc.message)

    async def open_file_channel(self, session_id: str, principal: Principal, op: FileOp) -> FileOperation:
        """A file operation on the session's node: this node's own channel, or one relayed through a pipe."""
        node = self.node.node_of(session_id)
        if node is None or node == self.node.node_id:
            return await self.hub.open_file_channel(session_id, principal, op)
        pipe = self.node.open_pipe(node)
        body = {"pipe": pipe.id, "session_id": session_id, "principal": codec.principal_to(principal)}
        try:
            first = await self._at(session_id, "file.open", body | {"op": codec.file_op_to(op)}, "the session ended")
            return RemoteFileChannel(pipe, wire.FileResult.model_validate(first))
        except BaseException:
            await pipe.close()
            raise

    # --- sharing -----------------------------------------------------------------------------------
    async def invite_users(self, session_id: str, principal: Principal, user_ids: list[int]) -> list[dict[str, Any]]:
        """Invite reps (on the session's node)."""
        made: list[dict[str, Any]] = await self._session(session_id, "session.invite", principal, user_ids=user_ids)
        return made

    async def session_invitations(self, session_id: str, principal: Principal) -> list[dict[str, Any]]:
        """A session's pending invitations."""
        items: list[dict[str, Any]] = await self._session(session_id, "session.invitations", principal)
        return items

    async def cancel_invitation(self, session_id: str, invitation_id: str, principal: Principal) -> None:
        """Cancel an invitation."""
        await self._session(session_id, "session.cancel_invitation", principal, invitation_id=invitation_id)

    async def my_invitations(self, principal: Principal) -> list[dict[str, Any]]:
        """The caller's pending invitations, from every node, oldest first."""
        parts = await self._everywhere("invitations.mine", {"principal": codec.principal_to(principal)})
        items = [i for part in parts if isinstance(part, list) for i in part if isinstance(i, dict)]
        return sorted(items, key=lambda i: str(i.get("created_at", "")))

    async def accept_invitation(self, invitation_id: str, principal: Principal) -> str:
        """Accept (on the invitation's node): the session id."""
        body = {"invitation_id": invitation_id, "principal": codec.principal_to(principal)}
        session_id: str = await self._at(invitation_id, "invitation.accept", body, "this invitation does not exist")
        return session_id

    async def decline_invitation(self, invitation_id: str, principal: Principal) -> None:
        """Decline (on the invitation's node)."""
        body = {"invitation_id": invitation_id, "principal": codec.principal_to(principal)}
        await self._at(invitation_id, "invitation.decline", body, "this invitation does not exist")

    async def create_external_key(
        self, session_id: str, principal: Principal, *, description: str, minutes: int, mode: str
    ) -> tuple[str, dict[str, Any]]:
        """A one-time external key made on the session's node."""
        made = await self._session(
            session_id, "session.create_key", principal, description=description, minutes=minutes, mode=mode
        )
        return str(made["key"]), dict(made["listing"])

    async def external_keys(self, session_id: str, principal: Principal) -> list[dict[str, Any]]:
        """Unused keys of a session."""
        items: list[dict[str, Any]] = await self._session(session_id, "session.keys", principal)
        return items

    async def cancel_external_key(self, session_id: str, key_id: str, principal: Principal) -> None:
        """Cancel an unused key."""
        await self._session(session_id, "session.cancel_key", principal, key_id=key_id)

    async def redeem_external_key(self, key: str, display_name: str, source: str | None) -> tuple[str, Guest]:
        """Spend a key on the node it was made on."""
        gone = "this invitation link is not valid: it was already used, cancelled, or it expired"
        body = {"key": key, "display_name": display_name, "source": source}
        made = await self._at(key, "key.redeem", body, gone)
        return str(made["token"]), codec.guest_from(made["guest"])

    async def guest_of(self, request: web.BaseRequest) -> Guest | None:
        """The guest of the request's cookie, asked of the node that made it."""
        token = guest_token(request)
        node = self.node.node_of(token) if token else None
        if token is None or node is None:
            return None
        try:
            found = await self.node.call(node, "guest.lookup", {"token": token})
        except JumpError:
            return None
        return codec.guest_from(found) if found is not None else None

    # --- browser sockets ---------------------------------------------------------------------------
    async def handle_browser(self, request: web.Request) -> web.StreamResponse:
        """``GET /api/v1/sessions/{id}/ws``: served here for a session of this node, else relayed to its node."""
        session_id = request.match_info["session_id"]
        node = self.node.node_of(session_id)
        if node is None or node == self.node.node_id:
            return await serve_browser(self.hub, request)
        args: dict[str, Any] = {"session_id": session_id, "pos": resume_position(request)}
        try:
            args["principal"] = codec.principal_to(await authenticate(request))
        except Unauthorized:
            token = guest_token(request)
            if token is None:
                raise
            args["guest_token"] = token
            args["address"] = request.remote
        check_origin(request)
        pipe = self.node.open_pipe(node)
        args["pipe"] = pipe.id
        ws = browser_socket(self.hub)
        try:
            await self.node.call(node, "socket.open", args)
        except Conflict as exc:
            await pipe.close()
            return await refuse_full(ws, request, exc)
        except NodeUnreachable:
            await pipe.close()
            raise NotFound("this session does not exist or has ended", hint="Jump again from the console") from None
        except JumpError:
            await pipe.close()
            raise
        await ws.prepare(request)
        await relay_browser(ws, pipe)
        return ws
