"""The login session cookie: its name and flags.

Browsers reach the console over HTTPS when the request itself came over TLS, or when ``listen.public_url`` is an
``https`` URL (TLS ended at a proxy in front of a console with ``listen.tls.mode: off``). Then the cookie is
``__Host-oj_session`` with Secure; otherwise (plain HTTP, such as a test on 127.0.0.1) ``oj_session`` without it.
The name the console reads is always the one it sets for the same request.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from console_web.appkeys import CONFIG_KEY

SECURE_COOKIE = "__Host-oj_session"
PLAIN_COOKIE = "oj_session"


def _public_url(request: web.BaseRequest) -> str | None:
    """``listen.public_url`` of the application serving ``request`` (None when unset or not knowable)."""
    if not isinstance(request, web.Request):
        return None
    config = request.app.get(CONFIG_KEY)
    listen = getattr(config, "listen", None)
    url = getattr(listen, "public_url", None)
    return url if isinstance(url, str) else None


def browser_uses_https(request: web.BaseRequest) -> bool:
    """Whether the browser reached the console over HTTPS: the request came over TLS, or ``listen.public_url``
    is ``https`` (a TLS proxy in front). Decides the cookies' Secure flag and ``__Host-`` names."""
    if request.secure:
        return True
    public_url = _public_url(request)
    if not public_url:
        return False
    try:
        return urlsplit(public_url.strip()).scheme.lower() == "https"
    except ValueError:
        return False


def cookie_name(request: web.BaseRequest) -> str:
    """``__Host-oj_session`` when the browser uses HTTPS (:func:`browser_uses_https`), else ``oj_session``."""
    return SECURE_COOKIE if browser_uses_https(request) else PLAIN_COOKIE


def cookie_token(request: web.BaseRequest) -> str | None:
    """The session token the browser sent, if any: only the cookie named as :func:`set_session_cookie` names it for
    this request (so a plain ``oj_session`` cookie is never read where the console sets ``__Host-oj_session``)."""
    return request.cookies.get(cookie_name(request)) or None


def set_session_cookie(response: web.StreamResponse, request: web.BaseRequest, token: str, max_age: int) -> None:
    """Set the cookie: HttpOnly, SameSite=Strict, Path=/, and Secure when the browser uses HTTPS."""
    response.set_cookie(
        cookie_name(request),
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=browser_uses_https(request),
    )


def clear_session_cookie(response: web.StreamResponse, request: web.BaseRequest) -> None:
    """Tell the browser to forget the cookie."""
    response.del_cookie(
        cookie_name(request), path="/", secure=browser_uses_https(request), httponly=True, samesite="Strict"
    )
