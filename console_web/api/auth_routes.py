"""``/auth/login``, ``/auth/logout`` and ``/me``.

What the audit trail and the log keep of a refused login: the user name when it names a user; for a name that
matches no user (perhaps a password typed into the wrong field) only its length and a tag, the first 8 hex digits of
an HMAC under a key this process draws at start, so repeats of one name can be told apart from a spray of many
without the name being recoverable. Attempts refused by the rate limit are audited once a minute per limit reached
(``login.rate_limited``), not once each.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import Any

from aiohttp import web
from sqlalchemy import select, update

from console_web.api.bodies import json_model, no_content, read_body
from console_web.api.context import LOGIN_LIMITER_KEY, client_ip, config_of, db_of, principal_of
from console_web.api.routing import endpoint
from console_web.api.schemas import LoginIn, LoginOut, MeOut, UserOut
from console_web.auth.cookies import clear_session_cookie, set_session_cookie
from console_web.auth.passwords import verify_password
from console_web.auth.ratelimit import SlidingWindowLimiter
from console_web.auth.request_auth import check_origin
from console_web.auth.websessions import end_web_session, start_web_session
from console_web.db.models import User, WebSession
from console_web.db.repo import audit
from jumpoint.core.errors import TooManyRequests, Unauthorized

log = logging.getLogger(__name__)

WRONG_LOGIN = "wrong username or password"
# The per-address limit is this many times security.login_attempts_per_minute: high enough that failures for other
# names from a shared address (an office NAT, a TLS proxy) do not lock out an account whose own limit is not reached.
ADDRESS_LIMIT_FACTOR = 10
_UNKNOWN_NAME_KEY = secrets.token_bytes(32)
THROTTLED_NOTE = "further refused attempts against this limit in the next minute are not audited one by one"


@endpoint(
    "POST",
    "/auth/login",
    access="public",
    summary="Log in (sets the session cookie)",
    tag="auth",
    body=LoginIn,
    response=LoginOut,
    description="Rate limited: security.login_attempts_per_minute attempts per username, and "
    f"{ADDRESS_LIMIT_FACTOR} times as many per client address, that did not end in a login (429 with Retry-After).",
)
async def login(request: web.Request) -> web.StreamResponse:
    """Check the password, start a login session, set the cookie and return the CSRF token.

    Every attempt takes a slot of the per-username and the per-address limit *before* the password is checked
    (no await between the check and the count, so parallel requests cannot all pass the check); a successful
    login gives the address's slot back and clears the username's count. A limit reached is 429
    ``too many failed logins ...; try again in N seconds`` with ``Retry-After``; the first refusal against that limit
    in a minute is audited, the others are not. A failure is audited and logged with the user name only when it names
    a user (:func:`_who`).
    """
    check_origin(request)
    body = await read_body(request, LoginIn)
    db = db_of(request)
    config = config_of(request)
    limiter = request.app[LOGIN_LIMITER_KEY]
    username = body.username.strip().lower()
    address = client_ip(request)
    user_key, address_key = f"user:{username}", f"ip:{address}"
    refusal = _rate_limited(limiter, user_key, address_key, config.security.login_attempts_per_minute)
    if refusal is not None:
        reached_key, error = refusal
        audited_key = f"audited:{reached_key}"
        if limiter.retry_after(audited_key, 1) is None:
            limiter.record(audited_key)  # before the awaits: parallel refusals write one row
            async with db.session() as session:
                known = await session.scalar(select(User.id).where(User.username == username))
            await audit(
                db,
                action="login.rate_limited",
                source_address=address,
                detail={
                    **_who(username, known is not None),
                    "limit": "username" if reached_key == user_key else "address",
                    "note": THROTTLED_NOTE,
                },
            )
        raise error
    # The slots are taken synchronously right after the check: from here on this attempt counts until it succeeds.
    limiter.record(user_key)
    address_slot = limiter.record(address_key)
    async with db.session() as session:
        user = await session.scalar(select(User).where(User.username == username))
        stored = None if user is None else user.password_hash
    verdict = await verify_password(stored, body.password)
    if user is None or not verdict.ok:
        who = _who(username, user is not None)
        await audit(
            db,
            action="login.failed",
            actor_user_id=None if user is None else user.id,
            source_address=address,
            detail=who,
        )
        if user is None:
            unknown = who["unknown_user"]
            log.info(
                "failed login for an unknown user name (%d characters, tag %s) from %s",
                unknown["length"],
                unknown["tag"],
                address,
            )
        else:
            log.info("failed login for %r from %s", username, address)
        raise Unauthorized(WRONG_LOGIN)
    if user.disabled:
        await audit(
            db,
            action="login.failed",
            actor_user_id=user.id,
            source_address=address,
            detail={"username": username, "reason": "disabled"},
        )
        raise Unauthorized("this account is disabled", hint="ask an administrator")
    limiter.reset(user_key)
    limiter.forget(address_key, address_slot)
    if verdict.new_hash is not None:
        async with db.session() as session:
            await session.execute(update(User).where(User.id == user.id).values(password_hash=verdict.new_hash))
    started = await start_web_session(db, user.id, config.security)
    await audit(
        db,
        action="login.ok",
        actor_user_id=user.id,
        source_address=address,
        detail={"username": username},
    )
    log.info("user %s logged in", username)
    response = json_model(LoginOut(user=UserOut.model_validate(user), csrf_token=started.csrf_token))
    set_session_cookie(response, request, started.cookie_token, config.security.session_max_hours * 3600)
    return response


def _who(username: str, known: bool) -> dict[str, Any]:
    """What the audit detail says about the name typed: ``{"username": name}`` when it names a user, else
    ``{"unknown_user": {"length": N, "tag": "<8 hex digits>"}}``, which does not reveal the name (see the module)."""
    if known:
        return {"username": username}
    tag = hmac.new(_UNKNOWN_NAME_KEY, username.encode(), hashlib.sha256).hexdigest()[:8]
    return {"unknown_user": {"length": len(username), "tag": tag}}


def _rate_limited(
    limiter: SlidingWindowLimiter, user_key: str, address_key: str, per_user: int
) -> tuple[str, TooManyRequests] | None:
    """The limiter key reached and the 429 to answer when ``user_key`` has ``per_user`` or ``address_key`` has
    ``ADDRESS_LIMIT_FACTOR`` times as many attempts in the window, else None (the longer wait wins when both are
    reached)."""
    reached = [
        (wait, whose, key)
        for wait, whose, key in (
            (limiter.retry_after(user_key, per_user), "for this username", user_key),
            (limiter.retry_after(address_key, per_user * ADDRESS_LIMIT_FACTOR), "from this address", address_key),
        )
        if wait is not None
    ]
    if not reached:
        return None
    wait, whose, key = max(reached)
    return key, TooManyRequests(
        f"too many failed logins {whose}; try again in {wait} seconds", details={"retry_after_seconds": wait}
    )


@endpoint("POST", "/auth/logout", access="user", summary="Log out (ends the login session)", tag="auth", status=204)
async def logout(request: web.Request) -> web.StreamResponse:
    """End the caller's login session and clear the cookie."""
    principal = principal_of(request)
    if principal.web_session_id is not None:
        await end_web_session(db_of(request), principal.web_session_id)
    await audit(
        db_of(request),
        action="logout",
        actor_user_id=principal.user_id,
        source_address=client_ip(request),
        detail={"via": principal.via},
    )
    response = no_content()
    clear_session_cookie(response, request)
    return response


@endpoint("GET", "/me", access="user", summary="Who am I", tag="auth", response=MeOut)
async def me(request: web.Request) -> web.StreamResponse:
    """The caller, with the CSRF token when authenticated by the login cookie."""
    principal = principal_of(request)
    csrf: str | None = None
    if principal.web_session_id is not None:
        async with db_of(request).session() as session:
            csrf = await session.scalar(select(WebSession.csrf_token).where(WebSession.id == principal.web_session_id))
    return json_model(
        MeOut(
            id=principal.user_id,
            username=principal.username,
            display_name=principal.display_name,
            is_admin=principal.is_admin,
            csrf_token=csrf,
        )
    )
