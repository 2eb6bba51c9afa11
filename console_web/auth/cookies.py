"""The login session cookie: its name and flags."""

from __future__ import annotations

from aiohttp import web

SECURE_COOKIE = "__Host-oj_session"
PLAIN_COOKIE = "oj_session"


def cookie_name(request: web.BaseRequest) -> str:
    """``__Host-oj_session`` over HTTPS, ``oj_session`` over plain HTTP."""
    return SECURE_COOKIE if request.secure else PLAIN_COOKIE


def cookie_token(request: web.BaseRequest) -> str | None:
    """The session token the browser sent, if any (the name matching this request's scheme wins)."""
    return request.cookies.get(cookie_name(request)) or request.cookies.get(SECURE_COOKIE) or None


def set_session_cookie(response: web.StreamResponse, request: web.BaseRequest, token: str, max_age: int) -> None:
    """Set the cookie: HttpOnly, SameSite=Strict, Path=/, Secure over HTTPS."""
    response.set_cookie(
        cookie_name(request),
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )


def clear_session_cookie(response: web.StreamResponse, request: web.BaseRequest) -> None:
    """Tell the browser to forget the cookie."""
    response.del_cookie(cookie_name(request), path="/", secure=request.secure, httponly=True, samesite="Strict")
