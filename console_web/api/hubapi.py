"""The slice of the session hub the REST API uses (the hub in console_web/hub/hub.py implements it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from aiohttp import web

from console_web.appkeys import HUB_API_KEY, HUB_KEY
from console_web.auth.guests import Guest
from console_web.auth.principal import Principal
from console_web.hub.clusters import JumpointLive
from console_web.hub.file_channel import FileOp, FileOperation
from console_web.hub.jump import JumpRequest, SessionInfo
from jumpoint.core.errors import ServiceError


class HubApi(Protocol):
    """What the API calls on the hub; nothing else."""

    async def jumpoints_live(self, jumpoint_ids: Sequence[int]) -> dict[int, JumpointLive]:
        """For each Jumpoint: whether a member may take a Jump now, and its connected members by member id."""
        ...

    async def guest_of(self, request: web.BaseRequest) -> Guest | None:
        """The external guest whose cookie the request carries, if it is live."""
        ...

    async def host_keys_removed(self, jumpoint_id: int, host: str, port: int, fingerprint: str | None) -> int:
        """Tell every connected member of the Jumpoint that keys were removed on the console; how many were told."""
        ...

    async def member_revoked(self, jumpoint_id: int, member_id: int, hostname: str) -> None:
        """Close the tunnel of a member whose token was revoked (its sessions end)."""
        ...

    async def start_session(self, principal: Principal, jump: JumpRequest) -> SessionInfo:
        """Start a Jump; raises JumpointUnavailable, Busy, ..."""
        ...

    async def list_sessions(self, principal: Principal) -> list[SessionInfo]:
        """Live sessions the principal may see (admins: all)."""
        ...

    async def get_session(self, session_id: str, principal: Principal) -> SessionInfo:
        """One live session; raises NotFound or Forbidden."""
        ...

    async def end_session(self, session_id: str, principal: Principal) -> None:
        """End a live session for everyone."""
        ...

    async def jumpoint_request(self, jumpoint_id: int, op: str, args: dict[str, Any]) -> Any:
        """A request through the tunnel of a connected member of the Jumpoint (``credentials.list``)."""
        ...

    async def open_file_channel(self, session_id: str, principal: Principal, op: FileOp) -> FileOperation:
        """Start a file operation on a live session's target (owner or peer reps only)."""
        ...

    async def note_file_event(self, session_id: str, text: str) -> None:
        """A file transfer event in the session's timeline."""
        ...

    async def invite_users(self, session_id: str, principal: Principal, user_ids: list[int]) -> list[dict[str, Any]]:
        """Invite reps into a session the caller owns."""
        ...

    async def session_invitations(self, session_id: str, principal: Principal) -> list[dict[str, Any]]:
        """Pending invitations of a session the caller owns."""
        ...

    async def cancel_invitation(self, session_id: str, invitation_id: str, principal: Principal) -> None:
        """Cancel an invitation (owner)."""
        ...

    async def my_invitations(self, principal: Principal) -> list[dict[str, Any]]:
        """The caller's pending invitations."""
        ...

    async def accept_invitation(self, invitation_id: str, principal: Principal) -> str:
        """Accept: returns the session id."""
        ...

    async def decline_invitation(self, invitation_id: str, principal: Principal) -> None:
        """Decline an invitation."""
        ...

    async def create_external_key(
        self, session_id: str, principal: Principal, *, description: str, minutes: int, mode: str
    ) -> tuple[str, dict[str, Any]]:
        """A one-time external key (returned once) and its listing."""
        ...

    async def external_keys(self, session_id: str, principal: Principal) -> list[dict[str, Any]]:
        """Unused keys of a session the caller owns."""
        ...

    async def cancel_external_key(self, session_id: str, key_id: str, principal: Principal) -> None:
        """Cancel an unused key (owner)."""
        ...

    async def redeem_external_key(self, key: str, display_name: str, source: str | None) -> tuple[str, Guest]:
        """Spend a key: the guest cookie token and the guest."""
        ...


def hub_of(request: web.Request) -> HubApi:
    """The application's hub; ServiceError if it is not running."""
    hub = hub_or_none(request)
    if hub is None:
        raise ServiceError("the session hub is not running")
    return hub


def hub_or_none(request: web.Request) -> HubApi | None:
    """The application's hub, or None when it is not running (lists still work)."""
    hub: HubApi | None = request.app.get(HUB_API_KEY) or request.app.get(HUB_KEY)
    return hub
