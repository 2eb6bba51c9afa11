"""The REST API (``/api/v1``) and ``/api/client_script``.

Call :func:`setup_api` on the application before it starts: it registers every route and appends the API
middleware (errors as JSON, 64 KiB bodies, authentication and CSRF) to ``app.middlewares`` itself, so
nothing needs to be passed to ``web.Application(...)``. If you prefer to build the Application with its
middlewares, pass ``middlewares=auth_middlewares()``; ``setup_api`` then does not add them a second time.
The application must hold ``CONFIG_KEY`` and ``DB_KEY`` (and ``HUB_KEY`` for the live-session routes).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

# Importing the handler modules declares their routes.
from console_web.api import (  # noqa: F401
    audit,
    auth_routes,
    client_script,
    docs,
    files,
    groups,
    history,
    history_desktop,
    history_files,
    item_credentials,
    items,
    jumpoints,
    recording_search,
    sessions,
    sharing,
    tokens,
    users,
)
from console_web.api.context import LOGIN_LIMITER_KEY
from console_web.api.routing import ROUTES, add_routes
from console_web.auth.middleware import api_middleware
from console_web.auth.ratelimit import SlidingWindowLimiter

__all__ = ["ROUTES", "auth_middlewares", "setup_api"]


def auth_middlewares() -> list[Any]:
    """The middlewares the API needs, in order (just the one)."""
    return [api_middleware]


def setup_api(app: web.Application) -> None:
    """Register the API routes, the login rate limiter and (unless already there) the API middleware."""
    add_routes(app)
    app[LOGIN_LIMITER_KEY] = SlidingWindowLimiter(window=60.0, max_keys=10_000)
    for middleware in auth_middlewares():
        if middleware not in app.middlewares:
            app.middlewares.append(middleware)
