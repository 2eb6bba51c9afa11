"""The aiohttp middleware of the API: errors as JSON, the 64 KiB body limit, authentication and CSRF.

A route handler declares who may call it with :func:`mark_access` (``public``, ``user`` or ``admin``); the
middleware then authenticates the request, checks CSRF and Origin for cookie-authenticated unsafe methods,
enforces ``admin`` and puts the :class:`Principal` on the request (``request[PRINCIPAL_KEY]``).
Handlers without a mark are left alone (they may call :func:`authenticate` themselves).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiohttp import web

from console_web.auth.request_auth import check_csrf, check_origin, resolve
from jumpoint.core.errors import (
    Forbidden,
    InternalError,
    JumpError,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
)

log = logging.getLogger(__name__)

Access = Literal["public", "user", "admin"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ACCESS_ATTR = "openjump_access"
STREAMED_BODY_ATTR = "openjump_streamed_body"
MAX_BODY = 64 * 1024
API_PREFIX = "/api/"


def mark_access(handler: Any, access: Access) -> None:
    """Declare who may call ``handler`` (read by :func:`api_middleware`)."""
    setattr(handler, ACCESS_ATTR, access)


def mark_streamed_body(handler: Any) -> None:
    """Declare that ``handler`` streams its body itself (file uploads), so the 64 KiB limit does not apply."""
    setattr(handler, STREAMED_BODY_ATTR, True)


def access_of(request: web.Request) -> Access | None:
    """The access mark of the handler the request was routed to, or None."""
    handler = request.match_info.handler
    access = getattr(handler, ACCESS_ATTR, None)
    return access if access in ("public", "user", "admin") else None


def error_response(err: JumpError) -> web.Response:
    """The JSON error body ``{"error": err.to_dict()}`` with the error's HTTP status."""
    response = web.json_response({"error": err.to_dict()}, status=err.http_status)
    if isinstance(err, TooManyRequests):
        retry = err.details.get("retry_after_seconds")
        if isinstance(retry, int):
            response.headers["Retry-After"] = str(retry)
    return response


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    if exc.status == 404:
        return error_response(NotFound(f"there is no API route {request.method} {request.path}"))
    if exc.status == 405:
        allowed = exc.headers.get("Allow", "")
        body = {
            "error": {
                "code": "bad_request",
                "who": "user",
                "message": f"{request.method} is not allowed on {request.path}; allowed: {allowed}",
            }
        }
        return web.json_response(body, status=405, headers={"Allow": allowed})
    if exc.status == 413:
        return error_response(PayloadTooLarge("the request body is larger than 64 KiB"))
    body = {"error": {"code": "bad_request", "who": "user", "message": exc.reason}}
    return web.json_response(body, status=exc.status)


def check_body_size(request: web.BaseRequest) -> None:
    """Refuse a declared body over 64 KiB (bodies without Content-Length are bounded when read)."""
    length = request.content_length
    if length is not None and length > MAX_BODY:
        raise PayloadTooLarge(f"the request body is {length} bytes; the limit is {MAX_BODY} bytes (64 KiB)")


async def _authorize(request: web.Request, access: Access) -> None:
    if access == "public":
        return
    auth = await resolve(request)
    if auth.principal.via == "session" and request.method in ("POST", "PUT", "PATCH", "DELETE"):
        check_origin(request)
        check_csrf(request, auth.csrf_token)
    if access == "admin" and not auth.principal.is_admin:
        raise Forbidden("only an administrator may do this")


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Errors -> JSON, body limit, authentication; see the module docstring."""
    try:
        if not getattr(request.match_info.handler, STREAMED_BODY_ATTR, False):
            check_body_size(request)
        access = access_of(request)
        if access is not None:
            await _authorize(request, access)
        return await handler(request)
    except JumpError as err:
        if err.http_status >= 500:
            log.warning("%s %s failed: %s (%s)", request.method, request.path, err.code, err.message)
        return error_response(err)
    except web.HTTPException as exc:
        if exc.status >= 400 and request.path.startswith(API_PREFIX):
            return _http_error(request, exc)
        raise
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("unexpected error in %s %s", request.method, request.path)
        return error_response(InternalError("something went wrong inside the console; the log has the details"))
