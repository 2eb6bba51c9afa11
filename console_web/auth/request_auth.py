"""Who is making this request: a Bearer API token or the login session cookie; plus CSRF and Origin checks.

Works on any aiohttp request, WebSocket upgrades included (the session hub calls :func:`authenticate` and
:func:`check_origin`).
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import delete, select, update

from console_web.appkeys import CONFIG_KEY, DB_KEY
from console_web.auth.cookies import cookie_token
from console_web.auth.principal import Principal
from console_web.auth.tokens import API_TOKEN_PREFIX, hash_secret
from console_web.db.clock import utcnow
from console_web.db.models import ApiToken, User, WebSession
from jumpoint.core.errors import Forbidden, Unauthorized

log = logging.getLogger(__name__)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "X-CSRF-Token"
TOUCH_EVERY = timedelta(seconds=30)
MAX_CREDENTIAL_LEN = 512
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Authenticated:
    """A resolved principal and, for a login session, its CSRF token."""

    principal: Principal
    csrf_token: str | None


_AUTH_KEY: web.RequestKey[Authenticated] = web.RequestKey("openjump.authenticated", Authenticated)
PRINCIPAL_KEY: web.RequestKey[Principal] = web.RequestKey("openjump.principal", Principal)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <API token>'")
    return value.strip()


def _principal(user: User, via: str, address: str | None, web_session_id: str | None = None) -> Principal:
    if user.disabled:
        raise Unauthorized("this account is disabled", hint="ask an administrator")
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        is_admin=user.is_admin,
        via="token" if via == "token" else "session",
        web_session_id=web_session_id,
        address=address,
    )


async def _by_token(request: web.Request, token: str) -> Authenticated:
    if not token.startswith(API_TOKEN_PREFIX) or len(token) > MAX_CREDENTIAL_LEN:
        raise Unauthorized("this API token is not valid")
    digest = hash_secret(token)
    now = utcnow()
    async with request.app[DB_KEY].session() as session:
        row = (
            await session.execute(
                select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == digest)
            )
        ).first()
        if row is None:
            raise Unauthorized("this API token is not valid (it may have been revoked)")
        api_token, user = row
        if api_token.expires_at is not None and api_token.expires_at <= now:
            raise Unauthorized("this API token has expired", hint="create a new one")
        principal = _principal(user, "token", request.remote)
        if api_token.last_used_at is None or now - api_token.last_used_at > TOUCH_EVERY:
            api_token.last_used_at = now
    return Authenticated(principal, None)


async def _by_cookie(request: web.Request, token: str) -> Authenticated:
    if len(token) > MAX_CREDENTIAL_LEN:
        raise Unauthorized("your login session is not valid; log in again")
    session_id = hash_secret(token)
    security = request.app[CONFIG_KEY].security
    now = utcnow()
    async with request.app[DB_KEY].session() as session:
        row = (
            await session.execute(
                select(WebSession, User).join(User, User.id == WebSession.user_id).where(WebSession.id == session_id)
            )
        ).first()
        if row is None:
            raise Unauthorized("you are not logged in (or your login session ended); log in again")
        web_session, user = row
        idle_limit = web_session.last_seen_at + timedelta(minutes=security.session_idle_minutes)
        expired = web_session.expires_at <= now or idle_limit <= now
        if not expired:
            principal = _principal(user, "session", request.remote, session_id)
            if now - web_session.last_seen_at > TOUCH_EVERY:
                await session.execute(update(WebSession).where(WebSession.id == session_id).values(last_seen_at=now))
            csrf = web_session.csrf_token
    if expired:
        async with request.app[DB_KEY].session() as session:
            await session.execute(delete(WebSession).where(WebSession.id == session_id))
        raise Unauthorized("your login session has expired; log in again")
    return Authenticated(principal, csrf)


async def resolve(request: web.Request) -> Authenticated:
    """Authenticate once per request (the result is cached on it); raise Unauthorized."""
    cached = request.get(_AUTH_KEY)
    if isinstance(cached, Authenticated):
        return cached
    bearer = _bearer(request)
    if bearer is not None:
        result = await _by_token(request, bearer)
    else:
        token = cookie_token(request)
        if token is None:
            raise Unauthorized("you are not logged in", hint="log in, or send 'Authorization: Bearer <API token>'")
        result = await _by_cookie(request, token)
    request[_AUTH_KEY] = result
    request[PRINCIPAL_KEY] = result.principal
    return result


async def authenticate(request: web.Request) -> Principal:
    """The user making ``request`` (Bearer API token first, else the login cookie); raise Unauthorized.

    Disabled users, expired or revoked tokens and expired login sessions are all Unauthorized.
    """
    return (await resolve(request)).principal


def normalise_origin(url: str) -> str | None:
    """The origin of ``url`` (an ``Origin`` header or a URL such as ``listen.public_url``) as
    ``scheme://host[:port]``: scheme and host lower-cased, the scheme's default port (80, 443) left out, IPv6
    literals in brackets, any path, query or user info ignored. None when it is not an http(s) URL with a host
    (the ``null`` origin included)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname  # lower-cased, without IPv6 brackets
    if scheme not in DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def own_origin(request: web.Request) -> str:
    """``scheme://host`` of this request as it reached the console (behind a proxy: as the proxy forwarded it)."""
    return f"{request.scheme}://{request.host}"


def check_origin(request: web.Request) -> None:
    """If an ``Origin`` header is present it must be this console's own or ``listen.public_url``'s, compared as
    normalised origins (:func:`normalise_origin`: ``https://Console.example.com:443/x`` is
    ``https://console.example.com``); else Forbidden naming the origins expected and ``listen.public_url``."""
    origin = request.headers.get("Origin")
    if origin is None:
        return
    own = normalise_origin(own_origin(request))
    public_url = request.app[CONFIG_KEY].listen.public_url
    public = normalise_origin(public_url) if public_url else None
    sent = normalise_origin(origin)
    if sent is not None and sent in (own, public):
        return
    shown = origin[:200]
    if public is not None:
        expected = f"{public} (listen.public_url)"
        if own is not None and own != public:
            expected += f" or {own} (the address this request came to)"
        hint = "open the console at listen.public_url, or correct listen.public_url to the URL browsers use"
    else:
        expected = f"{own or own_origin(request)} (the address this request came to; listen.public_url is not set)"
        hint = "open the console at its own address; behind a proxy, set listen.public_url to the URL browsers use"
    log.warning("request refused: Origin %r is not this console's; expected %s", shown, expected)
    raise Forbidden(f"requests from {shown!r} are not allowed; only from {expected}", hint=hint)


def check_csrf(request: web.Request, expected: str | None) -> None:
    """On unsafe methods, the ``X-CSRF-Token`` header must equal the login session's CSRF token."""
    if request.method not in UNSAFE_METHODS or expected is None:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden(
            "missing or wrong CSRF token",
            hint=f"send the csrf_token from login or GET /api/v1/me in the {CSRF_HEADER} header",
        )


def principal_of(request: web.Request) -> Principal:
    """The Principal the middleware put on this request; Unauthorized if the route did not authenticate."""
    principal = request.get(PRINCIPAL_KEY)
    if not isinstance(principal, Principal):
        raise Unauthorized("you are not logged in")
    return principal
