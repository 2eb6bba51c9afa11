"""``GET /api/client_script``: the Client Scripting API URL that starts a Jump from outside the console."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from console_web.api.bodies import read_query
from console_web.api.routing import endpoint
from console_web.api.schemas import ClientScriptQuery
from console_web.auth.request_auth import authenticate
from jumpoint.core.errors import Unauthorized


@endpoint(
    "GET",
    "/api/client_script",
    access="public",
    summary="Client Scripting API: start a Jump by search",
    tag="client-script",
    query=ClientScriptQuery,
    status=302,
    description="Logged in: 302 to /console?jump_search=S (one match jumps, several -> pick, none -> error). "
    "Not logged in: 302 to /login?next=<this URL>.",
)
async def client_script(request: web.Request) -> web.StreamResponse:
    """Validate the command, then redirect to the console (or to the login page first)."""
    query = read_query(request, ClientScriptQuery)
    try:
        await authenticate(request)
    except Unauthorized:
        raise web.HTTPFound("/login?next=" + quote(str(request.rel_url), safe="")) from None
    raise web.HTTPFound("/console?jump_search=" + quote(query.search_string, safe=""))
