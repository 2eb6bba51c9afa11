"""Typed access to what the application and the request hold."""

from __future__ import annotations

from aiohttp import web

from console_web.appkeys import CONFIG_KEY, DB_KEY
from console_web.auth.ratelimit import SlidingWindowLimiter
from console_web.auth.request_auth import principal_of
from console_web.config import ConsoleConfig
from console_web.db.database import Database

LOGIN_LIMITER_KEY: web.AppKey[SlidingWindowLimiter] = web.AppKey("openjump.login_limiter", SlidingWindowLimiter)

__all__ = ["LOGIN_LIMITER_KEY", "client_ip", "config_of", "db_of", "principal_of"]


def db_of(request: web.Request) -> Database:
    """The application's database."""
    return request.app[DB_KEY]


def config_of(request: web.Request) -> ConsoleConfig:
    """The application's configuration."""
    return request.app[CONFIG_KEY]


def client_ip(request: web.Request) -> str:
    """The address the request came from, as recorded in audit events (``unknown`` when the transport has none).

    This is the TCP peer: behind a reverse proxy it is the proxy's address (no forwarded header is trusted).
    """
    return request.remote or "unknown"
