"""A Client Scripting link followed from another site (a ticketing tool) in real Chromium: the session cookie is
SameSite=Strict, so the browser holds it back on that cross-site navigation and the console sends the rep to
/login; the login page then finds the rep logged in (its own GET /api/v1/me is same-site) and goes on to the Jump."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from urllib.parse import quote

from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.e2e.test_web_console import Api, accept_host_key, create_item, login_with_form, no_csp_violations
from tests.fixtures.console import ConsoleServer
from tests.fixtures.sshd import SshServer

TICKETS = "https://tickets.example"  # another site: served by the browser context, never reaches the network


def test_a_client_script_link_on_another_site_lands_a_logged_in_rep_on_the_jump(
    context: BrowserContext,
    browser_context_factory: Callable[[], BrowserContext],
    console_server: ConsoleServer,
    sshd_server: SshServer,
) -> None:
    setup = browser_context_factory()
    api = Api(setup, console_server)
    api.login()
    unique = "xs-" + secrets.token_hex(4)
    create_item(api, f"Ticketed {unique}", sshd_server)
    setup.close()

    page = context.new_page()
    page.goto(console_server.url + "/login")
    login_with_form(page, console_server.admin_username, console_server.admin_password)
    page.wait_for_url(re.compile(r"/console"))
    cookie = next(c for c in context.cookies() if c["name"] == "__Host-oj_session")
    assert cookie["sameSite"] == "Strict"

    link = (
        console_server.url
        + "/api/client_script?type=web_console&operation=execute&action=start_jump_item_session&search_string="
        + quote(unique)
    )

    def ticket_page(route: Route) -> None:
        body = f'<!doctype html><title>Ticket 42</title><a id="open" href="{link}">Open in OpenJump</a>'
        route.fulfill(status=200, content_type="text/html", body=body)

    context.route(TICKETS + "/**", ticket_page)
    visited: list[str] = []
    page.on("framenavigated", lambda frame: visited.append(frame.url) if frame == page.main_frame else None)
    page.goto(TICKETS + "/ticket/42")
    page.click("#open")

    # One match: the session starts (in a new tab, or in this one when pop-ups are blocked); no login form needed.
    session: Page | None = None
    for _ in range(100):
        session = next((p for p in context.pages if re.search(r"/sessions/[A-Za-z0-9_-]+$", p.url)), None)
        if session is not None:
            break
        page.wait_for_timeout(200)
    assert session is not None, f"no session tab opened; this tab went through {visited}"
    # The browser did hold the cookie back (the console sent it to /login), and the login page went on by itself.
    assert any("/login?next=" in url for url in visited), visited
    assert any("/console?jump_search=" in url for url in visited), visited
    expect(page.locator("#login-form")).to_have_count(0)
    accept_host_key(session, button="Abort")
    no_csp_violations(page)
