"""The OpenAPI 3.1 document, generated from the route table and the pydantic models (one source of truth)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from console_web.api.routing import Route
from console_web.api.schemas import ErrorBody

REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}")
Mode = Literal["validation", "serialization"]


def _path_params(route: Route) -> list[dict[str, Any]]:
    params = []
    for name in _PARAM.findall(route.path):
        is_text = route.path.startswith(("/sessions/", "/session-history/")) and name in ("id", "session_id")
        schema: dict[str, Any] = {"type": "string", "maxLength": 64} if is_text else {"type": "integer", "minimum": 1}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return params


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _status_text(status: int) -> str:
    return {200: "OK", 201: "Created", 204: "No Content", 302: "Redirect", 101: "Switching Protocols"}.get(status, "OK")


def build_openapi(
    routes: Iterable[Route], *, title: str = "OpenJump console API", version: str = "1"
) -> dict[str, Any]:
    """An OpenAPI 3.1 document listing every route (WebSocket routes marked ``x-websocket``)."""
    routes = list(routes)
    wanted: list[tuple[type[BaseModel], Mode]] = [(ErrorBody, "serialization")]
    for route in routes:
        if route.body is not None:
            wanted.append((route.body, "validation"))
        if route.response is not None:
            wanted.append((route.response, "serialization"))
    unique = list(dict.fromkeys(wanted))
    refs, defs = models_json_schema(unique, ref_template=REF)

    def ref(model: type[BaseModel], mode: Mode) -> dict[str, Any]:
        return dict(refs[(model, mode)])

    error = {
        "description": "Error",
        "content": {"application/json": {"schema": ref(ErrorBody, "serialization")}},
    }
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        op: dict[str, Any] = {
            "summary": route.summary,
            "tags": [route.tag],
            "operationId": route.method.lower() + "_" + re.sub(r"[^a-zA-Z0-9]+", "_", route.full_path).strip("_"),
            "x-access": route.access,
            "security": [] if route.access == "public" else [{"cookieAuth": []}, {"bearerAuth": []}],
        }
        if route.description:
            op["description"] = route.description
        params = _path_params(route) + (_query_params(route.query) if route.query is not None else [])
        if params:
            op["parameters"] = params
        if route.body is not None:
            op["requestBody"] = {
                "required": False,
                "content": {"application/json": {"schema": ref(route.body, "validation")}},
            }
        status = 101 if route.websocket else route.status
        ok: dict[str, Any] = {"description": _status_text(status)}
        if route.response is not None:
            ok["content"] = {"application/json": {"schema": ref(route.response, "serialization")}}
        op["responses"] = {str(status): ok, "default": error}
        if route.websocket:
            op["x-websocket"] = True
        paths.setdefault(route.full_path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "cookieAuth": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "oj_session",
                    "description": "__Host-oj_session over HTTPS; send X-CSRF-Token on unsafe methods",
                },
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "an API token (ojt_...)"},
            },
        },
    }
