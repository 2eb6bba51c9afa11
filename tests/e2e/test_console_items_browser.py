"""The rep console's Jump Item list and editor in real Chromium: a port given with the hostname, the editor's length
limits, stale search answers, more matches than the list shows, Client Scripting links with a blank search string,
the Sessions sidebar's errors, the logout message, and an End Session request that fails."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from typing import Any

from playwright.sync_api import BrowserContext, Locator, Page, Route, expect

from tests.e2e.test_web_console import (
    Api,
    builtin_jumpoint,
    connect_with_password,
    create_item,
    items_of,
    jump_from_console,
    login_with_form,
    no_csp_violations,
    personal_group,
    run_in_terminal,
    wait_for_terminal,
)
from tests.fixtures.console import ConsoleServer
from tests.fixtures.sshd import SshServer

CLIENT_SCRIPT = "/api/client_script?type=web_console&operation=execute&action=start_jump_item_session&search_string="


def console_page(context: BrowserContext, server: ConsoleServer) -> Page:
    page = context.new_page()
    page.goto(server.url + "/console")
    expect(page.locator("#user-name")).not_to_be_empty()
    return page


def open_editor(page: Page) -> Locator:
    page.get_by_role("button", name="Create").click()
    form = page.locator("dialog form.item-form")
    expect(form).to_have_count(1)
    return form


def add_item(api: Api, name: str, hostname: str) -> None:
    """A Jump Item in the caller's personal group, through the built-in Jumpoint (no session is started on it)."""
    body = {"name": name, "jumpoint_id": builtin_jumpoint(api)["id"], "group_id": personal_group(api)["id"]}
    api.call("POST", "/jump-items", {**body, "hostname": hostname})


def find_item(api: Api, name: str) -> dict[str, Any]:
    found = [i for i in items_of(api.call("GET", "/jump-items?search=" + name)) if i["name"] == name]
    assert len(found) == 1, found
    return found[0]


def test_the_item_editor_takes_the_port_from_the_hostname(
    context: BrowserContext,
    browser_context_factory: Callable[[], BrowserContext],
    console_server: ConsoleServer,
) -> None:
    api = Api(context, console_server)
    api.login()
    page = console_page(context, console_server)

    # An administrator types host:port once: Port follows, and the item is on that port.
    form = open_editor(page)
    form.locator("[name=name]").fill("Admin host-port")
    expect(form.locator("[name=port]")).to_have_value("22")
    form.locator("[name=hostname]").fill("127.0.0.1:2222")
    expect(form.locator("[name=port]")).to_have_value("2222")
    form.locator("[name=hostname]").fill("127.0.0.1")
    expect(form.locator("[name=port]")).to_have_value("22")  # back to what it was
    form.locator("[name=hostname]").fill("127.0.0.1:2323")
    form.locator("[name=protocol]").select_option("telnet")
    expect(form.locator("[name=port]")).to_have_value("2323")  # the hostname's port stays
    form.locator("[name=hostname]").fill("127.0.0.1")
    expect(form.locator("[name=port]")).to_have_value("23")  # back to the default, of the protocol now chosen
    form.locator("[name=protocol]").select_option("ssh")
    form.locator("[name=hostname]").fill("127.0.0.1:2222")
    form.get_by_role("button", name="Create").click()
    expect(page.locator("dialog")).to_have_count(0)
    item = find_item(api, "Admin host-port")
    assert (item["hostname"], item["port"]) == ("127.0.0.1", 2222), item
    expect(page.locator("tr.item-row", has_text="Admin host-port")).to_contain_text("127.0.0.1:2222")

    # An IPv6 address in brackets with a port; a Port changed afterwards is a clear conflict, not a silent pick.
    form = open_editor(page)
    form.locator("[name=name]").fill("Admin v6-port")
    form.locator("[name=hostname]").fill("[::1]:2200")
    expect(form.locator("[name=port]")).to_have_value("2200")
    form.locator("[name=port]").fill("2201")
    form.get_by_role("button", name="Create").click()
    expect(form.locator("[data-field-error=port]")).to_contain_text("The Hostname / IP gives port 2200")
    form.locator("[name=port]").fill("")
    form.get_by_role("button", name="Create").click()
    expect(page.locator("dialog")).to_have_count(0)
    item = find_item(api, "Admin v6-port")
    assert (item["hostname"], item["port"]) == ("::1", 2200), item

    # A rep (no administrator) creates one the same way.
    rep_name = "rep" + secrets.token_hex(3)
    rep_password = "Rep-" + secrets.token_urlsafe(12)
    api.call("POST", "/users", {"username": rep_name, "password": rep_password, "is_admin": False})
    rep_context = browser_context_factory()
    rep = Api(rep_context, console_server)
    rep.login(rep_name, rep_password)
    rep_page = console_page(rep_context, console_server)
    form = open_editor(rep_page)
    form.locator("[name=name]").fill("Rep host-port")
    form.locator("[name=jumpoint_id]").select_option(label="Built-in")
    form.locator("[name=hostname]").fill("localhost:2022")
    form.get_by_role("button", name="Create").click()
    expect(rep_page.locator("dialog")).to_have_count(0)
    item = find_item(rep, "Rep host-port")
    assert (item["hostname"], item["port"]) == ("localhost", 2022), item
    no_csp_violations(page)
    no_csp_violations(rep_page)


def test_the_item_editor_counts_lengths_as_the_api_does(context: BrowserContext, console_server: ConsoleServer) -> None:
    api = Api(context, console_server)
    api.login()
    page = console_page(context, console_server)
    form = open_editor(page)

    # 100 emoji are 100 characters for the API (at most 128), 200 UTF-16 units for a maxlength attribute.
    name = "\U0001f600" * 100
    form.locator("[name=name]").fill(name)
    assert form.locator("[name=name]").input_value() == name
    form.locator("[name=hostname]").fill("10.0.0.9")
    # The API takes at most 64 characters of tag: the editor says so before asking.
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if r.method == "POST" else None)
    form.locator("[name=tag]").fill("t" * 65)
    form.get_by_role("button", name="Create").click()
    expect(form.locator("[data-field-error=tag]")).to_have_text("A tag has at most 64 characters (this one has 65).")
    assert requests == []
    form.locator("[name=name]").fill("n" * 129)
    form.get_by_role("button", name="Create").click()
    expect(form.locator("[data-field-error=name]")).to_contain_text("at most 128 characters")
    assert requests == []

    # A full-length host name still has room for :port.
    host = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(host) == 253
    form.locator("[name=hostname]").fill(host + ":2222")
    assert form.locator("[name=hostname]").input_value() == host + ":2222"
    form.locator("[name=name]").fill(name)
    form.locator("[name=tag]").fill("t" * 64)
    form.get_by_role("button", name="Create").click()
    expect(page.locator("dialog")).to_have_count(0)
    item = next(i for i in items_of(api.call("GET", "/jump-items")) if i["name"] == name)
    assert (item["hostname"], item["port"], item["tag"]) == (host, 2222, "t" * 64), item


def test_an_older_search_answer_does_not_replace_a_newer_one(
    context: BrowserContext, console_server: ConsoleServer
) -> None:
    api = Api(context, console_server)
    api.login()
    add_item(api, "alpha-one", "10.0.0.1")
    add_item(api, "beta-one", "10.0.0.1")
    page = console_page(context, console_server)
    expect(page.locator("tr.item-row")).to_have_count(2)

    held: list[Route] = []
    page.route(re.compile(r".*/api/v1/jump-items\?search=beta$"), lambda route: held.append(route))
    page.fill("#search", "beta")
    page.wait_for_timeout(600)  # past the 250 ms typing pause: the beta request is out, and held
    assert len(held) == 1
    page.fill("#search", "alpha")
    rows = page.locator("tr.item-row td.item-name")
    expect(rows).to_have_text(["alpha-one"])
    with page.expect_response(re.compile(r".*/api/v1/jump-items\?search=beta$")):
        held[0].continue_()
    page.wait_for_timeout(300)  # the page has read the stale answer by now
    expect(rows).to_have_text(["alpha-one"])
    expect(page.locator("#search")).to_have_value("alpha")


def test_more_matches_than_the_list_shows_are_announced(context: BrowserContext, console_server: ConsoleServer) -> None:
    api = Api(context, console_server)
    api.login()
    jumpoint = builtin_jumpoint(api)["id"]
    group = personal_group(api)["id"]
    for i in range(201):
        body = {"name": f"bulk-{i:03}", "jumpoint_id": jumpoint, "group_id": group, "hostname": "10.1.0.1"}
        api.call("POST", "/jump-items", body)
    add_item(api, "lone", "10.1.0.2")
    assert api.call("GET", "/jump-items")["truncated"] is True

    page = console_page(context, console_server)
    expect(page.locator("tr.item-row")).to_have_count(200)
    notice = page.locator("#items-truncated")
    expect(notice).to_be_visible()
    expect(notice).to_have_text("Showing the first 200 Jump Items: narrow the search.")
    page.fill("#search", "lone")
    expect(page.locator("tr.item-row")).to_have_count(1)
    expect(notice).to_be_hidden()

    # A Client Scripting link that matches them all: the picker tells the rep to refine the link.
    page.goto(console_server.url + "/console?jump_search=bulk")
    picker = page.locator("dialog")
    expect(picker).to_contain_text("Several Jump Items match: pick one")
    expect(picker.locator(".picker-item")).to_have_count(200)
    expect(picker.get_by_test_id("picker-truncated")).to_contain_text("make the link's search string more specific")
    no_csp_violations(page)


def test_a_client_script_link_with_a_blank_search_string_says_so(
    context: BrowserContext, console_server: ConsoleServer
) -> None:
    api = Api(context, console_server)
    api.login()
    # The API refuses a search string of spaces, as it refuses an empty one.
    for blank in ("", "%20%20"):
        answer = context.request.get(console_server.url + CLIENT_SCRIPT + blank, max_redirects=0)
        assert answer.status == 400, (blank, answer.status, answer.text())
        assert "search_string: the search string is empty" in answer.json()["error"]["message"]
    answer = context.request.get(console_server.url + CLIENT_SCRIPT + "%20db%201%20", max_redirects=0)
    assert answer.status == 302
    assert answer.headers["location"] == "/console?jump_search=db%201"

    # The console, given a blank search (an older link, or typed by hand), says what is wrong.
    page = context.new_page()
    page.goto(console_server.url + "/console?jump_search=%20%20")
    error = page.locator("#console-error")
    expect(error).to_contain_text("The link's search string is empty.")
    expect(page).to_have_url(re.compile(r"/console$"))
    expect(page.locator("dialog")).to_have_count(0)
    no_csp_violations(page)


def test_the_sessions_sidebar_shows_the_api_message_and_hint(
    context: BrowserContext, console_server: ConsoleServer
) -> None:
    api = Api(context, console_server)
    api.login()
    page = context.new_page()
    error = {"code": "unavailable", "who": "console", "message": "The session hub is restarting."}
    body = {"error": {**error, "hint": "Try again in a minute."}}
    page.route(
        re.compile(r".*/api/v1/sessions$"),
        lambda route: route.fulfill(status=503, content_type="application/json", body=json.dumps(body)),
    )
    page.goto(console_server.url + "/console")
    shown = page.get_by_test_id("sessions-error")
    expect(shown).to_contain_text("Could not list sessions: The session hub is restarting.")
    expect(shown).to_contain_text("Try again in a minute.")


def test_logout_says_so_on_the_login_page_and_only_that(context: BrowserContext, console_server: ConsoleServer) -> None:
    page = context.new_page()
    page.goto(console_server.url + "/login")
    login_with_form(page, console_server.admin_username, console_server.admin_password)
    page.wait_for_url(re.compile(r"/console$"))
    page.get_by_role("button", name="Logout").click()
    page.wait_for_url(re.compile(r"/login\?logged_out=1$"))
    notice = page.locator("#login-error")
    expect(notice).to_have_text("You have been logged out.")
    expect(notice).to_have_class(re.compile(r"\balert-info\b"))
    # Logged out indeed: the console sends the browser back to the login page.
    page.goto(console_server.url + "/console")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(notice).to_be_hidden()
    # The text is fixed: a link cannot make the login page say something else.
    page.goto(console_server.url + "/login?logged_out=Your%20account%20is%20locked%3A%20call%20555")
    expect(page.locator("#login-form")).to_be_visible()
    page.wait_for_timeout(300)
    expect(notice).to_be_hidden()
    assert "555" not in page.locator("body").inner_text()
    no_csp_violations(page)


def test_a_failed_end_session_gives_the_session_back(
    context: BrowserContext, console_server: ConsoleServer, sshd_server: SshServer
) -> None:
    api = Api(context, console_server)
    api.login()
    create_item(api, "End retry", sshd_server)
    console = console_page(context, console_server)
    session = jump_from_console(context, console, "End retry")
    connect_with_password(session, sshd_server)

    # The End request is lost once (a network blip): the session stays usable, and End can be tried again.
    lost: list[str] = []

    def blip(route: Route) -> None:
        if lost:
            route.continue_()
        else:
            lost.append(route.request.url)
            route.abort()

    session.route("**/api/v1/sessions/*/end", blip)
    session.get_by_test_id("end-session").click()
    session.get_by_test_id("confirm").click()
    expect(session.locator("#session-banner")).to_contain_text("The console cannot be reached.")
    assert len(lost) == 1
    expect(session.locator("#session-state")).to_have_text("connected")
    expect(session.get_by_test_id("end-session")).to_be_enabled()
    run_in_terminal(session, "echo zz-$((40+2))")
    wait_for_terminal(session, lambda text: "zz-42" in text, "zz-42")

    session.get_by_test_id("end-session").click()
    session.get_by_test_id("confirm").click()
    expect(session.locator("#session-ended")).to_be_visible(timeout=20_000)
    expect(session.locator("#session-state")).to_have_text("ended")
    no_csp_violations(session)
