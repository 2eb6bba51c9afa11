"""The slice of the session hub the REST API uses (the hub in console_web/hub/hub.py implements it)."""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from console_web.appkeys import HUB_KEY
from console_web.auth.principal import Principal
from console_web.hub.jump import JumpRequest, SessionInfo
from jumpoint.core.errors import ServiceError


class HubApi(Protocol):
    """What the API calls on the hub; nothing else."""

    def is_connected(self, jumpoint_id: int) -> bool:
        """Whether the Jumpoint has a live tunnel."""
        ...

    async def start_session(self, principal: Principal, jump: JumpRequest) -> SessionInfo:
        """Start a Jump; raises JumpointUnavailable, Busy, ..."""
        ...

    def list_sessions(self, principal: Principal) -> list[SessionInfo]:
        """Live sessions the principal may see (admins: all)."""
        ...

    def get_session(self, session_id: str, principal: Principal) -> SessionInfo:
        """One live session; raises NotFound or Forbidden."""
        ...

    async def end_session(self, session_id: str, principal: Principal) -> None:
        """End a live session for everyone."""
        ...

    async def jumpoint_request(self, jumpoint_id: int, op: str, args: dict[str, Any]) -> Any:
        """An admin request through the Jumpoint's tunnel (``hostkeys.list``, ``hostkeys.remove``)."""
        ...


def hub_of(request: web.Request) -> HubApi:
    """The application's hub; ServiceError if it is not running."""
    hub: HubApi | None = request.app.get(HUB_KEY)
    if hub is None:
        raise ServiceError("the session hub is not running")
    return hub


def hub_or_none(request: web.Request) -> HubApi | None:
    """The application's hub, or None when it is not running (lists still work)."""
    hub: HubApi | None = request.app.get(HUB_KEY)
    return hub
