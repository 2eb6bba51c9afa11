"""``GET /openapi.json``: the generated OpenAPI document."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from console_web.api.routing import ROUTES, endpoint

_cache: dict[int, dict[str, Any]] = {}


@endpoint("GET", "/openapi.json", access="public", summary="This API's OpenAPI 3.1 document", tag="meta")
async def openapi_document(request: web.Request) -> web.StreamResponse:
    """The document, built once from the route table."""
    from console_web.openapi import build_openapi  # here: console_web.openapi imports this package

    doc = _cache.get(len(ROUTES))
    if doc is None:
        doc = _cache[len(ROUTES)] = build_openapi(ROUTES)
    return web.json_response(doc)
