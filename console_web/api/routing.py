"""The route table: one declaration per route drives both the aiohttp router and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel

from console_web.auth.middleware import Access, mark_access, mark_streamed_body

API_V1 = "/api/v1"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    """One API route: where, who, what it takes and returns (``handler`` None: served elsewhere)."""

    method: str
    path: str
    access: Access
    summary: str
    tag: str
    handler: Handler | None = None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    websocket: bool = False
    description: str = ""

    @property
    def full_path(self) -> str:
        """The path as served (``/api/v1`` prefixed unless it already starts with ``/api/``)."""
        return self.path if self.path.startswith("/api/") else API_V1 + self.path


ROUTES: list[Route] = []


def endpoint(
    method: str,
    path: str,
    *,
    access: Access,
    summary: str,
    tag: str,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    description: str = "",
    streamed_body: bool = False,
) -> Callable[[Handler], Handler]:
    """Declare an API route served by the decorated handler (appended to :data:`ROUTES`).

    ``streamed_body``: the handler reads its (raw, unbounded) body itself, as a stream.
    """

    def register(handler: Handler) -> Handler:
        mark_access(handler, access)
        if streamed_body:
            mark_streamed_body(handler)
        ROUTES.append(
            Route(method, path, access, summary, tag, handler, body, query, response, status, False, description)
        )
        return handler

    return register


def external_websocket(path: str, *, access: Access, summary: str, tag: str, description: str) -> None:
    """Declare a WebSocket route served by the session hub (documented here, registered there)."""
    ROUTES.append(Route("GET", path, access, summary, tag, websocket=True, description=description))


def add_routes(app: web.Application) -> None:
    """Register every declared route that has a handler."""
    for route in ROUTES:
        if route.handler is not None:
            app.router.add_route(route.method, route.full_path, route.handler)
