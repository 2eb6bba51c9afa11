"""The HTML pages of the web rep console and the static files they load.

The pages (``console_web/static/*.html``) are plain HTML that load one bundled ES module each from
``/static/dist/``. The bundle is built by ``npm ci && npm run build`` in ``console_web/frontend``; the
build writes content-hashed file names and ``dist/manifest.json`` mapping each plain name (``console.js``)
to its hashed file, and the pages' ``/static/dist/<plain name>`` references are rewritten from it when
served. Hashed files are cached for a year (``immutable``); pages are never cached.

Every page except ``/login`` and ``/join/<key>`` needs a logged-in user (a session page also opens for the
external invitee of that session); without one the browser is sent to
``/login?next=<path and query>``. Every page carries a strict Content-Security-Policy (no inline scripts
or styles).
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

from aiohttp import web

from console_web.api.hubapi import hub_or_none
from console_web.auth.cookies import browser_uses_https
from console_web.auth.request_auth import authenticate
from jumpoint.core.errors import Unauthorized

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
DIST_DIR = STATIC_DIR / "dist"
MANIFEST = DIST_DIR / "manifest.json"

BUILD_HINT = "run `npm ci && npm run build` in console_web/frontend"
_DIST_REF = re.compile(r"/static/dist/([A-Za-z0-9_.-]+)")
_HASHED_NAME = re.compile(r"-[A-Z0-9]{8}\.(?:js|css)(?:\.map)?$")
_HOST_OK = re.compile(r"^[A-Za-z0-9.\-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$")
_STATIC_SUFFIXES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".map": "application/json",
    ".txt": "text/plain",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
PAGES = {
    "login": "login.html",
    "console": "console.html",
    "admin": "admin.html",
    "session": "session.html",
    "join": "join.html",
    "history": "history.html",
    "report": "report.html",
    "audit": "audit.html",
}


class FrontendNotBuilt(Exception):
    """The bundle (``static/dist/manifest.json`` or a file it names) is missing."""


@dataclass
class _PageCache:
    """Rendered pages, keyed by name; reloaded when the manifest changes (a rebuild while running)."""

    manifest_mtime: float | None = None
    pages: dict[str, str] = field(default_factory=dict)

    def page(self, name: str) -> str:
        try:
            mtime = MANIFEST.stat().st_mtime
        except OSError:
            self.manifest_mtime = None
            self.pages.clear()
            raise FrontendNotBuilt(f"{MANIFEST} is missing") from None
        if mtime != self.manifest_mtime:
            self.pages.clear()
            self.manifest_mtime = mtime
        if name not in self.pages:
            self.pages[name] = _render(PAGES[name], _load_manifest())
        return self.pages[name]


def _load_manifest() -> dict[str, str]:
    try:
        data = json.loads(MANIFEST.read_text())
    except (OSError, ValueError) as exc:
        raise FrontendNotBuilt(f"cannot read {MANIFEST}: {exc}") from None
    if not isinstance(data, dict):
        raise FrontendNotBuilt(f"{MANIFEST} is not a mapping")
    return {str(k): str(v) for k, v in data.items()}


def _render(filename: str, manifest: dict[str, str]) -> str:
    text = (STATIC_DIR / filename).read_text()

    def swap(match: re.Match[str]) -> str:
        plain = match.group(1)
        hashed = manifest.get(plain)
        if hashed is None or not (DIST_DIR / hashed).is_file():
            raise FrontendNotBuilt(f"{plain} is not in the built bundle")
        return "/static/dist/" + hashed

    return _DIST_REF.sub(swap, text)


_CACHE: web.AppKey[_PageCache] = web.AppKey("openjump.pages", _PageCache)


def content_security_policy(request: web.BaseRequest) -> str:
    """The pages' CSP: only our own scripts, styles and connections (WebSockets to this host included)."""
    connect = "'self'"
    host = request.host
    if _HOST_OK.match(host):
        connect += f" wss://{host}" if browser_uses_https(request) else f" ws://{host}"
    return (
        "default-src 'self'; "
        # 'wasm-unsafe-eval' lets the recording player compile its WebAssembly terminal; it allows no JS eval.
        "script-src 'self' 'wasm-unsafe-eval'; "
        "style-src 'self'; "
        "img-src 'self' data:; "
        "font-src 'self'; "
        f"connect-src {connect}; "
        "object-src 'none'; "
        "base-uri 'none'; "
        "form-action 'self'; "
        "frame-ancestors 'none'"
    )


def security_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """The headers every page (and static file) carries."""
    response.headers["Content-Security-Policy"] = content_security_policy(request)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"


def _login_redirect(request: web.Request) -> web.Response:
    target = "/login?next=" + quote(request.path_qs, safe="")
    response = web.Response(status=302, headers={"Location": target, "Cache-Control": "no-store"})
    security_headers(request, response)
    return response


def safe_next(value: str | None) -> str:
    """A same-origin relative path to go to after logging in, or ``/console``."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/console"
    if any(ord(ch) < 0x20 or ch in "\\\x7f" for ch in value):
        return "/console"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith("/login"):
        return "/console"
    return value


def _not_built_response(request: web.Request, reason: str) -> web.Response:
    log.error("front-end not built (%s): %s", reason, BUILD_HINT)
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Front-end not built</title></head>"
        "<body><h1>500: front-end not built</h1>"
        f"<p>front-end not built: {html.escape(BUILD_HINT)}</p>"
        f"<p>({html.escape(reason)})</p></body></html>"
    )
    response = web.Response(status=500, text=body, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"
    security_headers(request, response)
    return response


def _page_response(request: web.Request, name: str) -> web.Response:
    try:
        text = request.app[_CACHE].page(name)
    except FrontendNotBuilt as exc:
        return _not_built_response(request, str(exc))
    response = web.Response(text=text, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"
    security_headers(request, response)
    return response


async def _guest_of_session(request: web.Request) -> bool:
    """Whether the request carries the guest cookie of the session in its path (external invitees)."""
    hub = hub_or_none(request)
    guest = await hub.guest_of(request) if hub is not None else None
    return guest is not None and guest.session_id == request.match_info.get("session_id")


async def session_page(request: web.Request) -> web.StreamResponse:
    """``/sessions/{id}``: the session panel, for reps and for the external invitee of that session."""
    if not await _guest_of_session(request) and not await _logged_in(request):
        return _login_redirect(request)
    return _page_response(request, "session")


async def join_page(request: web.Request) -> web.StreamResponse:
    """``/join/{key}``: where an external invitee enters a name (public; the key is checked on submit)."""
    return _page_response(request, "join")


async def _logged_in(request: web.Request) -> bool:
    try:
        await authenticate(request)
    except Unauthorized:
        return False
    return True


def _page(name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        if not await _logged_in(request):
            return _login_redirect(request)
        return _page_response(request, name)

    handler.__name__ = f"page_{name}"
    return handler


async def root(request: web.Request) -> web.StreamResponse:
    """``/``: the console."""
    response = web.Response(status=302, headers={"Location": "/console", "Cache-Control": "no-store"})
    security_headers(request, response)
    return response


async def login_page(request: web.Request) -> web.StreamResponse:
    """``/login``: the login form; a user who is logged in already goes straight on to ``next``.

    On a cross-site navigation (a Client Scripting link in another site) the browser holds the SameSite=Strict
    cookie back, so this serves the form; the page's own ``GET /api/v1/me`` is same-site, sends the cookie, and
    the page goes on to ``next`` when the user is logged in (``console_web/frontend/src/login.js``).
    """
    if await _logged_in(request):
        target = safe_next(request.query.get("next"))
        response = web.Response(status=302, headers={"Location": target, "Cache-Control": "no-store"})
        security_headers(request, response)
        return response
    return _page_response(request, "login")


async def static_file(request: web.Request) -> web.StreamResponse:
    """``/static/...``: the built bundle and stylesheets (never the page templates)."""
    rel = request.match_info["path"]
    base = STATIC_DIR.resolve()
    try:
        path = (base / rel).resolve()
        path.relative_to(base)
    except (ValueError, OSError):
        raise web.HTTPNotFound() from None
    content_type = _STATIC_SUFFIXES.get(path.suffix)
    if content_type is None or not path.is_file():
        if rel.startswith("dist/") and not DIST_DIR.is_dir():
            return _not_built_response(request, f"{DIST_DIR} is missing")
        raise web.HTTPNotFound()
    cache = IMMUTABLE if path.parent == DIST_DIR and _HASHED_NAME.search(path.name) else REVALIDATE
    response = web.FileResponse(path, headers={"Cache-Control": cache, "Content-Type": content_type})
    security_headers(request, response)
    return response


def setup_pages(app: web.Application) -> None:
    """Add ``/``, ``/login``, ``/console``, ``/admin``, ``/sessions/{session_id}`` and ``/static/``."""
    app[_CACHE] = _PageCache()
    app.router.add_get("/", root)
    app.router.add_get("/login", login_page)
    app.router.add_get("/console", _page("console"))
    app.router.add_get("/admin", _page("admin"))
    app.router.add_get("/sessions/{session_id:[A-Za-z0-9_-]{1,128}}", session_page)
    app.router.add_get("/join/{key:[A-Za-z0-9_-]{1,128}}", join_page)
    app.router.add_get("/history", _page("history"))
    app.router.add_get("/history/{session_id:[A-Za-z0-9_-]{1,128}}", _page("report"))
    app.router.add_get("/audit", _page("audit"))
    app.router.add_get("/static/{path:.+}", static_file)
