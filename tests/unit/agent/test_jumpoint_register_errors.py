"""``jumpoint register`` against servers that are not an OpenJump console, or with a malformed flag: each mistake is
one clear error naming what to check, never a traceback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from jumpoint.agent.config import ConsoleTrust
from jumpoint.agent.registration import register
from jumpoint.core.errors import ConfigError, Conflict, JumpointUnavailable

Reply = Callable[[web.Request], web.Response]


@pytest.fixture
async def console_like() -> AsyncIterator[Callable[[Reply], TestServer]]:
    servers: list[TestServer] = []

    def serve(reply: Reply) -> TestServer:
        app = web.Application()

        async def handler(request: web.Request) -> web.Response:
            return reply(request)

        app.router.add_post("/api/v1/jumpoint/register", handler)
        server = TestServer(app)
        servers.append(server)
        return server

    yield serve
    for server in servers:
        await server.close()


async def test_a_proxy_error_page_says_the_server_did_not_answer_as_a_console(
    console_like: Callable[[Reply], TestServer],
) -> None:
    page = "<html>Bad Gateway</html>"
    server = console_like(lambda _r: web.Response(status=502, text=page, content_type="text/html"))
    await server.start_server()
    url = str(server.make_url("/"))
    with pytest.raises(JumpointUnavailable, match=r"did not answer as an OpenJump console \(HTTP 502\)") as err:
        await register(url, "key", ConsoleTrust(), None, hostname="jp-a")
    assert "--console" in (err.value.hint or "")


async def test_a_success_without_a_token_says_the_server_did_not_answer_as_a_console(
    console_like: Callable[[Reply], TestServer],
) -> None:
    server = console_like(lambda _r: web.json_response({"jumpoint_id": 1, "name": "LAN"}, status=201))
    await server.start_server()
    with pytest.raises(JumpointUnavailable, match=r"did not answer as an OpenJump console \(HTTP 201\)"):
        await register(str(server.make_url("/")), "key", ConsoleTrust(), None, hostname="jp-a")


async def test_a_console_error_is_passed_on_as_the_console_said_it(
    console_like: Callable[[Reply], TestServer],
) -> None:
    error = {"code": "conflict", "who": "user", "message": "this registration key was already used"}
    server = console_like(lambda _r: web.json_response({"error": error}, status=409))
    await server.start_server()
    with pytest.raises(Conflict, match="this registration key was already used"):
        await register(str(server.make_url("/")), "key", ConsoleTrust(), None, hostname="jp-a")


@pytest.mark.parametrize("flag", ["zz:11", "AB:CD", "AB" * 32])
async def test_a_malformed_fingerprint_flag_is_refused_before_anything_is_sent(flag: str) -> None:
    with pytest.raises(ConfigError, match="is not a SHA-256 fingerprint"):
        await register("https://127.0.0.1:1", "key", ConsoleTrust(), flag, hostname="jp-a")
