"""Reading and validating request bodies and query strings with pydantic; writing JSON responses."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from console_web.auth.middleware import MAX_BODY
from jumpoint.core.errors import BadRequest, NotFound, PayloadTooLarge

M = TypeVar("M", bound=BaseModel)


def _field_name(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc)


def validation_message(exc: ValidationError, model: type[BaseModel]) -> BadRequest:
    """A BadRequest whose message names each bad field and what was expected."""
    problems: list[dict[str, str]] = []
    for err in exc.errors(include_url=False):
        field = _field_name(tuple(err["loc"]))
        message = str(err["msg"])
        if err["type"] == "extra_forbidden":
            message = "unknown field (allowed: " + ", ".join(model.model_fields) + ")"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append({"field": field, "message": message})
    text = "; ".join(f"{p['field']}: {p['message']}" if p["field"] else p["message"] for p in problems)
    return BadRequest(text or "the request is not valid", details={"errors": problems})


async def read_body(request: web.Request, model: type[M]) -> M:
    """The JSON body validated as ``model`` (an empty body counts as ``{}``).

    400 for a wrong content type, invalid JSON or a field error; 413 above 64 KiB.
    """
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise PayloadTooLarge(f"the request body is larger than {MAX_BODY} bytes (64 KiB)")
    data: Any
    if not raw.strip():
        data = {}
    else:
        if request.content_type != "application/json":
            raise BadRequest(
                f"the body must be JSON sent with 'Content-Type: application/json', not {request.content_type!r}"
            )
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest(f"body must be a JSON object, not {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_message(exc, model) from None


def read_query(request: web.Request, model: type[M]) -> M:
    """The query string validated as ``model`` (each parameter given at most once)."""
    data: dict[str, str] = {}
    for key in request.query:
        values = request.query.getall(key)
        if len(values) > 1:
            raise BadRequest(f"{key}: give this parameter once")
        data[key] = values[0]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_message(exc, model) from None


def path_int(request: web.Request, name: str) -> int:
    """The integer path parameter ``name``; 404 if it is not a positive integer written in ASCII digits (``²`` or
    the Arabic-Indic one are not ids)."""
    text = request.match_info.get(name, "")
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise NotFound(f"{name} {text[:40]!r} is not a valid id")
    return int(text)


def json_model(model: BaseModel, *, status: int = 200) -> web.Response:
    """``model`` as a JSON response."""
    return web.Response(body=model.model_dump_json().encode(), status=status, content_type="application/json")


def no_content() -> web.Response:
    """An empty 204 response."""
    return web.Response(status=204)
