"""A console behind a TLS proxy (``listen.tls.mode: off``, ``listen.public_url`` https), as a browser sees it: the
cookies' Secure flag and ``__Host-`` names, and the Origin check against ``listen.public_url``."""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from console_web.appkeys import CONFIG_KEY
from console_web.auth.guests import guest_token, set_guest_cookie
from console_web.auth.request_auth import normalise_origin
from console_web.config import ConsoleConfig, ListenSettings, TlsSettings
from console_web.web.pages import content_security_policy

Console = Any
ConsoleFactory = Any
ALICE = {"username": "alice", "password": "alice-password-1"}
PUBLIC = "https://console.example.com"


def behind_proxy(public_url: str = PUBLIC + "/") -> ListenSettings:
    return ListenSettings(public_url=public_url, tls=TlsSettings(mode="off"))


def error_of(body: dict[str, Any]) -> str:
    return str(body["error"]["message"])


def set_cookie_of(resp: Any) -> tuple[str, str, str]:
    """(name, value, the whole Set-Cookie header) of the one cookie ``resp`` sets."""
    header = resp.headers["Set-Cookie"]
    (morsel,) = SimpleCookie(header).values()
    return morsel.key, morsel.value, header


def mocked_request(public_url: str | None, **kwargs: Any) -> web.Request:
    app = web.Application()
    app[CONFIG_KEY] = ConsoleConfig(listen=ListenSettings(public_url=public_url, tls=TlsSettings(mode="off")))
    return make_mocked_request("GET", "/", app=app, **kwargs)


async def test_behind_a_tls_proxy_the_login_cookie_is_secure_and_host_prefixed(
    make_console: ConsoleFactory,
) -> None:
    console = await make_console(listen=behind_proxy())
    resp = await console.client.post("/api/v1/auth/login", json=ALICE, headers={"Origin": PUBLIC})
    assert resp.status == 200
    name, token, header = set_cookie_of(resp)
    assert name == "__Host-oj_session"
    for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
        assert flag in header
    assert "Domain" not in header
    console.client.session.cookie_jar.clear()
    me = await console.client.get("/api/v1/me", headers={"Cookie": f"__Host-oj_session={token}"})
    assert me.status == 200
    assert (await me.json())["username"] == "alice"
    # The name the console reads is the one it sets: a plain oj_session cookie is not a login here.
    plain = await console.client.get("/api/v1/me", headers={"Cookie": f"oj_session={token}"})
    assert plain.status == 401
    csrf = (await resp.json())["csrf_token"]
    out = await console.client.post(
        "/api/v1/auth/logout",
        headers={"Cookie": f"__Host-oj_session={token}", "X-CSRF-Token": csrf, "Origin": PUBLIC},
    )
    assert out.status == 204
    name, _, header = set_cookie_of(out)
    assert name == "__Host-oj_session" and "Secure" in header and "Max-Age=0" in header


async def test_over_plain_http_the_console_reads_the_cookie_it_sets(console: Console) -> None:
    resp = await console.client.post("/api/v1/auth/login", json=ALICE)
    assert resp.status == 200
    name, token, header = set_cookie_of(resp)
    assert name == "oj_session"
    assert "Secure" not in header
    console.client.session.cookie_jar.clear()
    assert (await console.client.get("/api/v1/me", headers={"Cookie": f"oj_session={token}"})).status == 200
    assert (await console.client.get("/api/v1/me", headers={"Cookie": f"__Host-oj_session={token}"})).status == 401


def test_behind_a_tls_proxy_the_guest_cookie_is_secure_and_host_prefixed() -> None:
    response = web.Response()
    set_guest_cookie(response, mocked_request(PUBLIC + "/"), "guest-token")
    cookie = response.cookies.output()
    assert "__Host-oj_guest=guest-token" in cookie
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    sent = mocked_request(PUBLIC + "/", headers={"Cookie": "__Host-oj_guest=guest-token"})
    assert guest_token(sent) == "guest-token"
    assert guest_token(mocked_request(PUBLIC + "/", headers={"Cookie": "oj_guest=guest-token"})) is None
    plain = web.Response()
    set_guest_cookie(plain, mocked_request(None), "guest-token")
    assert "oj_guest=guest-token" in plain.cookies.output() and "Secure" not in plain.cookies.output()


def test_behind_a_tls_proxy_pages_allow_their_secure_websocket() -> None:
    request = mocked_request(PUBLIC + "/", headers={"Host": "console.example.com"})
    assert "connect-src 'self' wss://console.example.com;" in content_security_policy(request)


@pytest.mark.parametrize(
    ("public_url", "origin"),
    [
        ("https://console.example.com:443/", "https://console.example.com"),
        ("https://example.com/openjump/", "https://example.com"),
        ("HTTPS://Console.Example.COM", "https://console.example.com"),
        ("https://console.example.com:8443/", "https://console.example.com:8443"),
        ("http://console.example.com:80", "http://console.example.com"),
    ],
)
async def test_login_from_the_origin_of_public_url_is_allowed_however_the_url_is_written(
    make_console: ConsoleFactory, public_url: str, origin: str
) -> None:
    console = await make_console(listen=behind_proxy(public_url))
    resp = await console.client.post("/api/v1/auth/login", json=ALICE, headers={"Origin": origin})
    assert resp.status == 200, await resp.text()


async def test_a_refused_origin_names_listen_public_url_and_the_origin_expected(make_console: ConsoleFactory) -> None:
    console = await make_console(listen=behind_proxy("https://console.example.com:8443/"))
    resp = await console.client.post("/api/v1/auth/login", json=ALICE, headers={"Origin": PUBLIC})
    assert resp.status == 403
    error = (await resp.json())["error"]
    assert error["message"].startswith(
        "requests from 'https://console.example.com' are not allowed; "
        "only from https://console.example.com:8443 (listen.public_url) or http://127.0.0.1:"
    )
    assert "listen.public_url" in error["hint"]


async def test_without_public_url_a_refused_origin_says_to_set_it(console: Console) -> None:
    resp = await console.client.post("/api/v1/auth/login", json=ALICE, headers={"Origin": PUBLIC})
    assert resp.status == 403
    error = (await resp.json())["error"]
    assert error["message"].startswith("requests from 'https://console.example.com' are not allowed; only from http://")
    assert "listen.public_url is not set" in error["message"]
    assert "set listen.public_url" in error["hint"]


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Console.Example.com:443/path?q=1", "https://console.example.com"),
        ("http://console.example.com:80/", "http://console.example.com"),
        ("https://console.example.com:80", "https://console.example.com:80"),
        ("http://[::1]:8080/", "http://[::1]:8080"),
        ("https://user@console.example.com/", "https://console.example.com"),
        ("null", None),
        ("console.example.com", None),
        ("ftp://console.example.com", None),
        ("https://console.example.com:99999", None),
        ("https://", None),
    ],
)
def test_origins_are_compared_normalised(url: str, origin: str | None) -> None:
    assert normalise_origin(url) == origin
