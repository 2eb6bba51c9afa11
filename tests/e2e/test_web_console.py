"""The web rep console in a real browser: log in, manage Jump Items, Jump to a real sshd, use the terminal."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from playwright.sync_api import BrowserContext, Page, expect

from tests.fixtures.console import ConsoleServer
from tests.fixtures.sshd import SshServer

SIZE_RE = re.compile(r"SZ(\d)-(\d+)x(\d+)-END")


# ---- helpers -----------------------------------------------------------------------------------------------


class Api:
    """The console's REST API through the browser context's cookies (so the pages share the login)."""

    def __init__(self, context: BrowserContext, server: ConsoleServer) -> None:
        self.context = context
        self.server = server
        self.csrf = ""

    def login(self, username: str | None = None, password: str | None = None) -> None:
        answer = self.context.request.post(
            self.server.url + "/api/v1/auth/login",
            data={
                "username": username or self.server.admin_username,
                "password": password or self.server.admin_password,
            },
            headers={"Origin": self.server.url},
        )
        assert answer.ok, f"POST /api/v1/auth/login: {answer.status} {answer.text()}"
        self.csrf = answer.json()["csrf_token"]

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Origin": self.server.url, "X-CSRF-Token": self.csrf}
        answer = self.context.request.fetch(
            self.server.url + "/api/v1" + path, method=method, data=body, headers=headers
        )
        assert answer.ok, f"{method} /api/v1{path}: {answer.status} {answer.text()}"
        text = answer.text()
        return answer.json() if text else None


def items_of(answer: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = answer["items"] if isinstance(answer, dict) else answer
    return items


def builtin_jumpoint(api: Api) -> dict[str, Any]:
    jumpoints = items_of(api.call("GET", "/jumpoints"))
    assert jumpoints, "the console lists no Jumpoint (the built-in one should be there)"
    return next((j for j in jumpoints if j["name"] == "Built-in"), jumpoints[0])


def personal_group(api: Api) -> dict[str, Any]:
    groups = items_of(api.call("GET", "/jump-groups"))
    return next(g for g in groups if g.get("personal"))


def create_item(api: Api, name: str, sshd: SshServer, **extra: Any) -> dict[str, Any]:
    body = {
        "name": name,
        "jumpoint_id": builtin_jumpoint(api)["id"],
        "group_id": personal_group(api)["id"],
        "hostname": sshd.host,
        "port": sshd.port,
        "protocol": "ssh",
        "username": sshd.username,
        **extra,
    }
    item: dict[str, Any] = api.call("POST", "/jump-items", body)
    return item


def fingerprint(blob_b64: str) -> str:
    digest = hashlib.sha256(base64.b64decode(blob_b64)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def login_with_form(page: Page, username: str, password: str) -> None:
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")


def jump_from_console(context: BrowserContext, console: Page, item_name: str) -> Page:
    """Click Jump on the row of ``item_name``; return the session tab."""
    row = console.locator("tr.item-row", has_text=item_name)
    with context.expect_page() as new_page:
        row.get_by_role("button", name="Jump").click()
    session = new_page.value
    session.wait_for_url(re.compile(r"/sessions/[A-Za-z0-9_-]+$"))
    return session


def accept_host_key(session: Page, button: str = "Save Key and Connect") -> str:
    """Answer the unknown host key prompt; return the fingerprint it showed."""
    dialog = session.locator("dialog.prompt-dialog")
    expect(dialog).to_contain_text("is not known", timeout=20_000)
    shown = dialog.locator(".fingerprint").inner_text().strip()
    assert shown.startswith("SHA256:"), shown
    dialog.get_by_role("button", name=button).click()
    # the host-key question is gone (the password prompt may already be showing in its place)
    expect(session.locator("dialog.prompt-dialog", has_text="is not known")).to_have_count(0)
    return shown


def answer_password(session: Page, password: str) -> None:
    field = session.locator("dialog.prompt-dialog input[type=password]")
    expect(field).to_have_count(1, timeout=20_000)
    field.fill(password)
    session.locator("dialog.prompt-dialog").get_by_role("button", name="OK").click()
    expect(session.locator("dialog.prompt-dialog")).to_have_count(0)


def connect_with_password(session: Page, sshd: SshServer) -> str:
    shown = accept_host_key(session)
    answer_password(session, sshd.password)
    expect(session.locator("#session-state")).to_have_text("connected", timeout=20_000)
    return shown


def terminal_text(session: Page) -> str:
    return session.locator(".xterm-rows").inner_text().replace("\xa0", " ")


def run_in_terminal(session: Page, command: str) -> None:
    session.locator(".xterm-screen").click()
    session.keyboard.type(command)
    session.keyboard.press("Enter")


def wait_for_terminal(session: Page, predicate: Callable[[str], Any], what: str, timeout: float = 15.0) -> Any:
    deadline = timeout * 1000
    waited = 0
    while waited <= deadline:
        result = predicate(terminal_text(session))
        if result:
            return result
        session.wait_for_timeout(100)
        waited += 100
    raise AssertionError(f"the terminal never showed {what}; it shows:\n{terminal_text(session)}")


def terminal_size(session: Page, marker: int) -> tuple[int, int]:
    """``stty size`` of the remote shell, as (rows, cols)."""
    run_in_terminal(session, f"echo SZ{marker}-$(stty size | tr ' ' x)-END")

    def found(text: str) -> tuple[int, int] | None:
        for m in SIZE_RE.finditer(text):
            if int(m.group(1)) == marker:
                return int(m.group(2)), int(m.group(3))
        return None

    size: tuple[int, int] = wait_for_terminal(session, found, f"the output of stty size #{marker}")
    return size


def no_csp_violations(page: Page) -> None:
    violations = page.evaluate("window.__cspViolations || []")
    assert violations == [], f"Content-Security-Policy violations on {page.url}: {violations}"


# ---- tests -------------------------------------------------------------------------------------------------


def test_rep_logs_in_creates_item_jumps_and_runs_echo(
    context: BrowserContext, console_server: ConsoleServer, sshd_server: SshServer
) -> None:
    page = context.new_page()
    page.goto(console_server.url + "/console")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fconsole$"))
    login_with_form(page, console_server.admin_username, console_server.admin_password)
    page.wait_for_url(re.compile(r"/console$"))
    expect(page.locator("#user-name")).not_to_be_empty()

    # A shared Jump Group, made on the admin page, with the admin as a member.
    page.get_by_role("link", name="Admin").click()
    page.wait_for_url(re.compile(r"/admin$"))
    group_name = "Lab servers " + secrets.token_hex(3)
    page.fill("#new-group-name", group_name)
    page.get_by_role("button", name="Create Jump Group").click()
    group_row = page.locator("#groups-list tr", has_text=group_name)
    expect(group_row).to_have_count(1)
    group_row.locator("select").select_option(label=console_server.admin_username)
    expect(group_row.locator(".chip", has_text=console_server.admin_username)).to_have_count(1)
    no_csp_violations(page)

    # A Shell Jump shortcut to the test sshd through the built-in Jumpoint.
    page.goto(console_server.url + "/console")
    page.get_by_role("button", name="Create").click()
    form = page.locator("dialog form.item-form")
    expect(page.locator("dialog")).to_contain_text("Create New Shell Jump Shortcut")
    form.locator("[name=name]").fill("Test sshd")
    form.locator("[name=jumpoint_id]").select_option(label="Built-in")
    form.locator("[name=hostname]").fill(sshd_server.host)
    expect(form.locator("[name=port]")).to_have_value("22")
    form.locator("[name=port]").fill(str(sshd_server.port))
    form.locator("[name=username]").fill(sshd_server.username)
    form.locator("[name=group_id]").select_option(label=group_name)
    form.locator("[name=tag]").fill("lab")
    form.locator("[name=comments]").fill("OpenSSH started by the tests")
    form.get_by_role("button", name="Create").click()
    expect(page.locator("dialog")).to_have_count(0)
    row = page.locator("tr.item-row", has_text="Test sshd")
    expect(row).to_contain_text(sshd_server.host)
    expect(page.locator("tr.tag-row", has_text="lab")).to_have_count(1)
    no_csp_violations(page)

    # Jump: the session opens in its own tab; save the host key, answer the password prompt.
    session = jump_from_console(context, page, "Test sshd")
    connect_with_password(session, sshd_server)
    expect(session.locator("#item-name")).to_have_text("Test sshd")

    run_in_terminal(session, "echo hello-$((6*7))")
    wait_for_terminal(session, lambda text: "hello-42" in text, "hello-42")

    # Resizing the window resizes the remote terminal.
    before = terminal_size(session, 1)
    session.set_viewport_size({"width": 760, "height": 480})
    session.wait_for_timeout(600)
    after = terminal_size(session, 2)
    assert after != before, f"stty size stayed {before} after the window shrank"
    assert after[0] < before[0], (before, after)
    assert after[1] < before[1], (before, after)

    no_csp_violations(session)
    session.get_by_test_id("end-session").click()
    session.get_by_test_id("confirm").click()
    ended = session.locator("#session-ended")
    expect(ended).to_be_visible(timeout=20_000)
    expect(ended).to_contain_text("Session ended")
    expect(session.locator("#session-state")).to_have_text("ended")


def test_changed_host_key_is_refused_with_both_fingerprints(
    context: BrowserContext, console_server: ConsoleServer, fresh_sshd: Callable[[], SshServer]
) -> None:
    sshd = fresh_sshd()
    api = Api(context, console_server)
    api.login()
    create_item(api, "Rotating sshd", sshd)

    console = context.new_page()
    console.goto(console_server.url + "/console")
    first = jump_from_console(context, console, "Rotating sshd")
    saved = connect_with_password(first, sshd)
    old_fingerprints = {fingerprint(sshd.public_host_key(kind)[1]) for kind in ("ed25519", "rsa")}
    assert saved in old_fingerprints, (saved, old_fingerprints)
    first.get_by_test_id("end-session").click()
    first.get_by_test_id("confirm").click()
    expect(first.locator("#session-ended")).to_be_visible(timeout=20_000)

    sshd.rotate_host_keys()
    new_fingerprints = {fingerprint(sshd.public_host_key(kind)[1]) for kind in ("ed25519", "rsa")}
    assert not new_fingerprints & old_fingerprints

    second = jump_from_console(context, console, "Rotating sshd")
    banner = second.locator("#session-banner")
    expect(banner).to_be_visible(timeout=20_000)
    expect(banner).to_contain_text(saved)
    text = banner.inner_text()
    assert any(fp in text for fp in new_fingerprints), f"the new fingerprint is not shown: {text}"
    expect(second.locator("#session-state")).to_have_text("ended", timeout=20_000)
    expect(second.locator("dialog.prompt-dialog")).to_have_count(0)
    no_csp_violations(second)


def test_wrong_password_login_is_refused(context: BrowserContext, console_server: ConsoleServer) -> None:
    page = context.new_page()
    page.goto(console_server.url + "/login")
    login_with_form(page, console_server.admin_username, "not-the-password")
    error = page.locator("#login-error")
    expect(error).to_be_visible()
    expect(error).not_to_be_empty()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("#password")).to_have_value("")
    # Still logged out: the console sends the browser back to the login page.
    page.goto(console_server.url + "/console")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    no_csp_violations(page)


def test_client_script_url_jumps_after_login(
    context: BrowserContext,
    browser_context_factory: Callable[[], BrowserContext],
    console_server: ConsoleServer,
    sshd_server: SshServer,
) -> None:
    # Prepared by an administrator in another browser context (so this one starts logged out).
    setup = browser_context_factory()
    api = Api(setup, console_server)
    api.login()
    unique = "cs-" + secrets.token_hex(4)
    create_item(api, f"Scripted {unique}", sshd_server, comments=f"ticket {unique}")
    create_item(api, "Twin A", sshd_server, tag="twins")
    create_item(api, "Twin B", sshd_server, tag="twins")
    setup.close()

    page = context.new_page()
    query = "type=web_console&operation=execute&action=start_jump_item_session&search_string=" + quote(unique)
    page.goto(console_server.url + "/api/client_script?" + query)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    login_with_form(page, console_server.admin_username, console_server.admin_password)

    # One match: the session starts (in a new tab, or in this one when pop-ups are blocked).
    deadline = 20_000
    session: Page | None = None
    for _ in range(deadline // 200):
        session = next((p for p in context.pages if re.search(r"/sessions/[A-Za-z0-9_-]+$", p.url)), None)
        if session is not None:
            break
        page.wait_for_timeout(200)
    assert session is not None, f"no session tab opened; pages: {[p.url for p in context.pages]}"
    accept_host_key(session, button="Abort")

    # Several matches: pick one. None: a clear error.
    console = context.new_page()
    console.goto(console_server.url + "/console?jump_search=Twin")
    picker = console.locator("dialog")
    expect(picker).to_contain_text("Several Jump Items match: pick one")
    expect(picker.locator(".picker-item")).to_have_count(2)
    picker.get_by_role("button", name="Close").click()
    console.goto(console_server.url + "/console?jump_search=no-such-item")
    expect(console.locator("#console-error")).to_contain_text("No Jump Item matches 'no-such-item'")
    no_csp_violations(console)
