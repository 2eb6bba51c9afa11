"""Credential injection in real Chromium against a real sshd: the "Inject Credentials" dialog a rep sees when a
Jump Item offers credentials (its own scopes or its Jump Group's), logging in without a password prompt, jumping
without a credential, items with a fixed credential, the editors' credential fields (administrators only), and
proof that the secret never reaches the browser nor the console's debug log.

The built-in Jumpoint's local credential store (``<state_dir>/jumpoint``) is filled while the console runs."""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Response, WebSocket, expect

from credential_store.local import LocalCredentialStore
from jumpoint.core.secret import Secret
from tests.e2e.test_web_console import (
    Api,
    accept_host_key,
    answer_password,
    builtin_jumpoint,
    login_with_form,
    no_csp_violations,
    run_in_terminal,
    wait_for_terminal,
)
from tests.fixtures.console import ConsoleServer, running_console
from tests.fixtures.sshd import SshServer

LAB_SCOPE = "local:lab/"
LOGIN_REF = "local:lab/login"
OTHER_REF = "local:lab/other"
PROD_REF = "local:prod/db"
DECOY_PASSWORD = "decoy-" + secrets.token_hex(8)
TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml", "+json")


# ---- helpers -----------------------------------------------------------------------------------------------


@dataclass
class Lab:
    """A shared Jump Group with a rep in it, prepared by the administrator (through ``admin``'s own context)."""

    admin: Api
    group: dict[str, Any]
    rep_name: str
    rep_password: str


def fill_store(server: ConsoleServer, sshd: SshServer) -> None:
    """lab/login logs in to ``sshd``; lab/other is a decoy in the same folder; prod/db is outside the lab scope."""
    store = LocalCredentialStore(server.state_dir / "jumpoint")
    store.add("lab/login", "password", sshd.username, password=Secret(sshd.password))
    store.add("lab/other", "password", "nobody", password=Secret(DECOY_PASSWORD))
    store.add("prod/db", "password", "dba", password=Secret(DECOY_PASSWORD))


def prepare_lab(
    server: ConsoleServer,
    sshd: SshServer,
    factory: Callable[[], BrowserContext],
    credential_scopes: list[str] | None = None,
) -> Lab:
    """Fill the store; as the administrator, create a shared group (with ``credential_scopes``) and a rep in it."""
    fill_store(server, sshd)
    admin = Api(factory(), server)
    admin.login()
    group = admin.call(
        "POST", "/jump-groups", {"name": "Lab " + secrets.token_hex(3), "credential_scopes": credential_scopes or []}
    )
    rep_name = "rep" + secrets.token_hex(3)
    rep_password = "Rep-" + secrets.token_urlsafe(12)
    rep = admin.call("POST", "/users", {"username": rep_name, "password": rep_password, "is_admin": False})
    admin.call("PUT", f"/jump-groups/{group['id']}/members/{rep['id']}")
    return Lab(admin=admin, group=group, rep_name=rep_name, rep_password=rep_password)


def lab_item(lab: Lab, name: str, sshd: SshServer, **extra: Any) -> dict[str, Any]:
    """A Jump Item to ``sshd`` in the lab group, made by the administrator."""
    body = {
        "name": name,
        "jumpoint_id": builtin_jumpoint(lab.admin)["id"],
        "group_id": lab.group["id"],
        "hostname": sshd.host,
        "port": sshd.port,
        "protocol": "ssh",
        "username": sshd.username,
        **extra,
    }
    item: dict[str, Any] = lab.admin.call("POST", "/jump-items", body)
    return item


def admin_console(lab: Lab) -> Page:
    """The console page of the administrator's context (logged in already through its API calls)."""
    page = lab.admin.context.new_page()
    page.goto(lab.admin.server.url + "/console")
    expect(page.locator("#user-name")).to_have_text(lab.admin.server.admin_username)
    return page


def rep_console(context: BrowserContext, server: ConsoleServer, lab: Lab, *, form: bool = True) -> Page:
    """The rep logs in (with the login form, or else through the API: no page navigates away from an answer
    whose body a test wants to read) and opens the console."""
    page = context.new_page()
    if form:
        page.goto(server.url + "/console")
        login_with_form(page, lab.rep_name, lab.rep_password)
        page.wait_for_url(re.compile(r"/console$"))
    else:
        Api(context, server).login(lab.rep_name, lab.rep_password)
        page.goto(server.url + "/console")
    expect(page.locator("#user-name")).to_have_text(lab.rep_name)
    return page


def item_row(console: Page, name: str) -> Any:
    return console.locator("tr.item-row", has_text=name)


def open_credential_dialog(console: Page, name: str) -> Any:
    """Click Jump on ``name``: the Inject Credentials dialog opens instead of a session tab."""
    pages = len(console.context.pages)
    item_row(console, name).get_by_role("button", name="Jump").click()
    dialog = console.get_by_test_id("credential-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("heading")).to_have_text("Inject Credentials")
    assert len(console.context.pages) == pages, "a session tab opened before a credential was chosen"
    return dialog


def offered(dialog: Any) -> list[str]:
    refs: list[str] = dialog.locator("[role=option] .credential-ref").all_inner_texts()
    return refs


def option(dialog: Any, ref: str) -> Any:
    return dialog.locator(f'[role=option][data-ref="{ref}"]')


def click_for_session(context: BrowserContext, button: Any) -> Page:
    """Click ``button`` (in the console) and return the session tab it opens."""
    with context.expect_page() as new_page:
        button.click()
    session = new_page.value
    session.wait_for_url(re.compile(r"/sessions/[A-Za-z0-9_-]+$"))
    return session


def logged_in_without_password(session: Page, sshd: SshServer) -> None:
    """After the host key, the session connects with no password prompt; whoami names the sshd user."""
    accept_host_key(session)
    expect(session.locator("#session-state")).to_have_text("connected", timeout=20_000)
    expect(session.locator("dialog.prompt-dialog input[type=password]")).to_have_count(0)
    marker = secrets.token_hex(3)
    run_in_terminal(session, f"echo who-{marker}=$(whoami)")
    wait_for_terminal(session, lambda text: f"who-{marker}={sshd.username}" in text, f"whoami = {sshd.username}")
    expect(session.locator("dialog.prompt-dialog")).to_have_count(0)


class Capture:
    """Every HTTP response body (text types) and WebSocket frame, both ways, of all pages of a context."""

    def __init__(self, context: BrowserContext) -> None:
        self.bodies: list[tuple[str, str]] = []
        self.frames: list[tuple[str, str]] = []
        self.unread: list[str] = []
        context.on("response", self._response)
        context.on("page", self._page)
        for page in context.pages:
            self._page(page)

    def _page(self, page: Page) -> None:
        page.on("websocket", self._websocket)

    def _websocket(self, ws: WebSocket) -> None:
        ws.on("framesent", lambda payload: self.frames.append((f"sent {ws.url}", self._text(payload))))
        ws.on("framereceived", lambda payload: self.frames.append((f"received {ws.url}", self._text(payload))))

    def _response(self, response: Response) -> None:
        kind = response.headers.get("content-type", "")
        if not any(t in kind for t in TEXT_TYPES):
            return
        try:
            body = response.body()
        except Exception as exc:  # a redirect or a response the browser already dropped
            self.unread.append(f"{response.url}: {exc}")
            return
        self.bodies.append((response.url, body.decode("utf-8", errors="replace")))

    @staticmethod
    def _text(payload: str | bytes) -> str:
        return payload if isinstance(payload, str) else payload.decode("utf-8", errors="replace")


def secret_forms(secret: str) -> list[str]:
    raw = secret.encode()
    return [secret, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("=")]


def assert_secret_absent(where: str, texts: list[tuple[str, str]], secret: str) -> None:
    for form in secret_forms(secret):
        found = [label for label, text in texts if form in text]
        assert not found, f"the secret ({form!r}) appears in {where}: {found}"


@pytest.fixture
def debug_console(request: pytest.FixtureRequest) -> Iterator[ConsoleServer]:
    """A console (with the built-in Jumpoint) that logs at debug level."""
    with running_console(request, log_level="debug") as server:
        yield server


# ---- tests -------------------------------------------------------------------------------------------------


def test_a_rep_picks_a_credential_the_admin_scoped_and_logs_in_without_the_secret_reaching_the_browser(
    context: BrowserContext,
    browser_context_factory: Callable[[], BrowserContext],
    debug_console: ConsoleServer,
    sshd_server: SshServer,
) -> None:
    server = debug_console
    lab = prepare_lab(server, sshd_server, browser_context_factory)
    lab_item(lab, "Lab web", sshd_server)

    # The administrator gives the item the scope local:lab/ in the item editor.
    admin_page = admin_console(lab)
    item_row(admin_page, "Lab web").get_by_role("button", name="Edit").click()
    form = admin_page.locator("dialog form.item-form")
    form.locator("[name=credential_scopes]").fill(LAB_SCOPE)
    form.get_by_role("button", name="Save").click()
    expect(admin_page.locator("dialog")).to_have_count(0)
    expect(admin_page.locator("#console-error")).to_contain_text("Saved 'Lab web'")
    no_csp_violations(admin_page)

    # Everything the rep's browser receives or sends from here on is captured.
    capture = Capture(context)
    console = rep_console(context, server, lab, form=False)
    dialog = open_credential_dialog(console, "Lab web")
    options = dialog.get_by_role("option")
    expect(options).to_have_count(2)
    assert offered(dialog) == [LOGIN_REF, OTHER_REF]
    expect(dialog).not_to_contain_text("prod/db")
    expect(options.first).to_contain_text("Password")
    expect(dialog.get_by_test_id("credential-status")).to_have_text("2 credentials.")
    expect(dialog.get_by_test_id("credential-search")).to_be_focused()
    expect(dialog.get_by_test_id("jump-with-credential")).to_be_disabled()

    # Typing narrows the list (at once in the browser, then by asking the Jumpoint again).
    with console.expect_response(lambda r: "/credentials?search=login" in r.url) as searched:
        dialog.get_by_test_id("credential-search").fill("login")
    assert searched.value.json()["credentials"] == [{"ref": LOGIN_REF, "kind": "password"}]
    expect(options).to_have_count(1)
    dialog.get_by_test_id("credential-search").fill("no-such-credential")
    expect(dialog.get_by_test_id("credential-status")).to_have_text("No credential matches 'no-such-credential'.")
    dialog.get_by_test_id("credential-search").fill("")
    expect(options).to_have_count(2)

    # The keyboard moves through the list: ArrowDown selects the first, then the second, ArrowUp goes back.
    dialog.get_by_test_id("credential-search").press("ArrowDown")
    expect(dialog.get_by_test_id("credential-list")).to_be_focused()
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    console.keyboard.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    expect(options.nth(0)).to_have_attribute("aria-selected", "false")
    console.keyboard.press("ArrowUp")
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    expect(dialog.get_by_test_id("jump-with-credential")).to_be_enabled()

    # Escape closes the dialog without jumping; Jump again, pick lab/login with the mouse and Jump with it.
    console.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    assert len(context.pages) == 1
    dialog = open_credential_dialog(console, "Lab web")
    option(dialog, LOGIN_REF).click()
    expect(option(dialog, LOGIN_REF)).to_have_attribute("aria-selected", "true")
    session = click_for_session(context, dialog.get_by_test_id("jump-with-credential"))
    expect(console.get_by_test_id("credential-dialog")).to_have_count(0)
    logged_in_without_password(session, sshd_server)
    no_csp_violations(console)
    no_csp_violations(session)

    # The proof: the secret is in no response, no WebSocket frame, no page, and not in the console's debug log.
    session.get_by_test_id("end-session").click()
    session.get_by_test_id("confirm").click()
    expect(session.locator("#session-ended")).to_be_visible(timeout=20_000)
    pages = [(f"page {page.url}", page.content()) for page in context.pages]
    assert not capture.unread, f"response bodies that could not be read: {capture.unread}"
    assert any(url.endswith("/jump") for url, _ in capture.bodies), "the Jump's answer was not captured"
    assert any("/credentials" in url for url, _ in capture.bodies), "no credential listing was captured"
    assert any(LOGIN_REF in text for _, text in capture.bodies)
    assert capture.frames, "no WebSocket frame was captured"
    assert any(sshd_server.username in text for _, text in capture.frames), "the terminal output was not captured"
    assert_secret_absent("an HTTP response", capture.bodies, sshd_server.password)
    assert_secret_absent("a WebSocket frame", capture.frames, sshd_server.password)
    assert_secret_absent("a page", pages, sshd_server.password)
    log = server.output()
    assert " DEBUG " in log, "the console did not log at debug level"
    assert LOGIN_REF.split(":", 1)[1] in log, "the console's log does not mention the credential used"
    assert_secret_absent("the console's output", [("console output", log)], sshd_server.password)
    assert_secret_absent("the console's output", [("console output", log)], DECOY_PASSWORD)


def test_jump_without_a_credential_asks_for_the_password_in_the_session(
    context: BrowserContext,
    browser_context_factory: Callable[[], BrowserContext],
    console_server: ConsoleServer,
    sshd_server: SshServer,
) -> None:
    lab = prepare_lab(console_server, sshd_server, browser_context_factory)
    lab_item(lab, "Lab manual", sshd_server, credential_scopes=[LAB_SCOPE])
    console = rep_console(context, console_server, lab)

    # Cancel: no session.
    dialog = open_credential_dialog(console, "Lab manual")
    expect(dialog.get_by_role("option")).to_have_count(2)
    dialog.get_by_test_id("credential-cancel").click()
    expect(dialog).to_have_count(0)
    assert len(context.pages) == 1

    dialog = open_credential_dialog(console, "Lab manual")
    session = click_for_session(context, dialog.get_by_test_id("jump-without-credential"))
    accept_host_key(session)
    answer_password(session, sshd_server.password)
    expect(session.locator("#session-state")).to_have_text("connected", timeout=20_000)
    run_in_terminal(session, "echo manual-$((5*5))")
    wait_for_terminal(session, lambda text: "manual-25" in text, "manual-25")
    no_csp_violations(console)

    # Reconnect after the shell exits asks for the credential again, in the session's own tab; this time one is
    # picked, so nothing asks for the password (the host key was saved the first time).
    first_url = session.url
    run_in_terminal(session, "exit")
    expect(session.locator("#session-state")).to_have_text("ended", timeout=20_000)
    session.get_by_test_id("reconnect-session").click()
    dialog = session.get_by_test_id("credential-dialog")
    expect(dialog).to_be_visible()
    assert session.url == first_url, "the Jump started before a credential was chosen"
    option(dialog, LOGIN_REF).click()
    dialog.get_by_test_id("jump-with-credential").click()
    session.wait_for_url(lambda url: url != first_url and re.search(r"/sessions/[A-Za-z0-9_-]+$", url) is not None)
    expect(session.locator("#session-state")).to_have_text("connected", timeout=20_000)
    marker = secrets.token_hex(3)
    run_in_terminal(session, f"echo who-{marker}=$(whoami)")
    wait_for_terminal(session, lambda text: f"who-{marker}={sshd_server.username}" in text, "whoami after reconnect")
    expect(session.locator("dialog.prompt-dialog")).to_have_count(0)
    no_csp_violations(session)


def test_an_item_with_its_own_credential_jumps_without_the_dialog(
    context: BrowserContext,
    browser_context_factory: Callable[[], BrowserContext],
    console_server: ConsoleServer,
    sshd_server: SshServer,
) -> None:
    lab = prepare_lab(console_server, sshd_server, browser_context_factory, credential_scopes=[LAB_SCOPE])
    lab_item(lab, "Lab fixed", sshd_server, credential_ref=LOGIN_REF)
    console = rep_console(context, console_server, lab)
    session = click_for_session(context, item_row(console, "Lab fixed").get_by_role("button", name="Jump"))
    expect(console.get_by_test_id("credential-dialog")).to_have_count(0)
    logged_in_without_password(session, sshd_server)
    no_csp_violations(console)


def test_the_item_editor_shows_the_credential_fields_to_the_admin_only_and_warns_when_a_rep_changed_the_target(
    context: BrowserContext,
    browser_context_factory: Callable[[], BrowserContext],
    console_server: ConsoleServer,
    sshd_server: SshServer,
) -> None:
    lab = prepare_lab(console_server, sshd_server, browser_context_factory)
    item = lab_item(lab, "Lab edited", sshd_server, credential_scopes=[LAB_SCOPE])
    admin_page = admin_console(lab)
    item_row(admin_page, "Lab edited").get_by_role("button", name="Edit").click()
    form = admin_page.locator("dialog form.item-form")
    expect(form.locator("[name=credential_ref]")).to_be_visible()
    expect(form.locator("[name=credential_ref]")).to_have_value("")
    expect(form.locator("[name=credential_scopes]")).to_have_value(LAB_SCOPE)
    expect(form.get_by_test_id("credential-fields")).to_contain_text("vault:secret/linux/web01")
    expect(form.get_by_test_id("credential-not-injected")).to_have_count(0)
    # A scope the API refuses is shown next to the field.
    form.locator("[name=credential_scopes]").fill("local:lab/\nvault:")
    form.get_by_role("button", name="Save").click()
    expect(form.locator("[data-field-error=credential_scopes]")).to_contain_text("Line 2")
    form.locator("[name=credential_scopes]").fill(LAB_SCOPE)
    form.get_by_role("button", name="Cancel").click()

    # The rep sees no credential field; saving a comment keeps the target approved.
    console = rep_console(context, console_server, lab)
    item_row(console, "Lab edited").get_by_role("button", name="Edit").click()
    form = console.locator("dialog form.item-form")
    expect(form.locator("[name=credential_ref]")).to_have_count(0)
    expect(form.locator("[name=credential_scopes]")).to_have_count(0)
    expect(form.get_by_test_id("credential-admin-only")).to_contain_text("Only administrators assign credentials")
    form.locator("[name=comments]").fill("checked by the rep")
    form.get_by_role("button", name="Save").click()
    expect(console.locator("dialog")).to_have_count(0)
    assert lab.admin.call("GET", f"/jump-items/{item['id']}")["target_by_admin"] is True

    # The rep points the item elsewhere: no credential is injected until an administrator saves it again.
    item_row(console, "Lab edited").get_by_role("button", name="Edit").click()
    form = console.locator("dialog form.item-form")
    form.locator("[name=hostname]").fill("localhost")
    form.get_by_role("button", name="Save").click()
    expect(console.locator("dialog")).to_have_count(0)
    expect(item_row(console, "Lab edited").get_by_test_id("item-needs-review")).to_be_visible()
    dialog = open_credential_dialog(console, "Lab edited")
    expect(dialog.get_by_test_id("credential-problem")).to_contain_text("last changed by a rep")
    expect(dialog.get_by_role("option")).to_have_count(0)
    dialog.get_by_test_id("credential-cancel").click()

    admin_page.reload()
    item_row(admin_page, "Lab edited").get_by_role("button", name="Edit").click()
    form = admin_page.locator("dialog form.item-form")
    expect(form.get_by_test_id("credential-not-injected")).to_have_text(
        "Credentials are not injected into this item: a rep changed its target. "
        "An administrator must review and save it."
    )
    form.get_by_role("button", name="Save").click()
    expect(admin_page.locator("dialog")).to_have_count(0)
    assert lab.admin.call("GET", f"/jump-items/{item['id']}")["target_by_admin"] is True
    expect(item_row(admin_page, "Lab edited").get_by_test_id("item-needs-review")).to_have_count(0)
    no_csp_violations(admin_page)
    no_csp_violations(console)


def test_a_group_s_scopes_set_in_the_admin_page_offer_the_group_s_credentials(
    context: BrowserContext,
    browser_context_factory: Callable[[], BrowserContext],
    console_server: ConsoleServer,
    sshd_server: SshServer,
) -> None:
    lab = prepare_lab(console_server, sshd_server, browser_context_factory)
    admin_page = lab.admin.context.new_page()
    admin_page.goto(console_server.url + "/admin")

    # A new group with a scope the API refuses shows the error by the field; a valid one is created.
    name = "Scoped " + secrets.token_hex(3)
    group_form = admin_page.locator("#group-form")
    admin_page.fill("#new-group-name", name)
    admin_page.fill("#new-group-scopes", "local:../etc")
    admin_page.get_by_role("button", name="Create Jump Group").click()
    expect(group_form.locator("[data-field-error=credential_scopes]")).to_contain_text("Line 1")
    admin_page.fill("#new-group-scopes", "local:prod/db\n\n")
    admin_page.get_by_role("button", name="Create Jump Group").click()
    expect(group_form.locator(".alert")).to_contain_text(f"Created the Jump Group '{name}'")
    expect(admin_page.get_by_test_id(f"group-scopes-{name}")).to_contain_text(PROD_REF)

    # Edit the scopes of the lab group: local:lab/ instead of nothing.
    admin_page.get_by_test_id(f"group-scopes-edit-{lab.group['name']}").click()
    editor = admin_page.get_by_test_id("group-scopes-dialog")
    expect(editor.locator("textarea")).to_be_focused()
    editor.locator("textarea").fill(LAB_SCOPE)
    editor.get_by_test_id("group-scopes-save").click()
    expect(editor).to_have_count(0)
    expect(admin_page.get_by_test_id(f"group-scopes-{lab.group['name']}")).to_contain_text(LAB_SCOPE)
    group = lab.admin.call("GET", f"/jump-groups/{lab.group['id']}")
    assert group["credential_scopes"] == [LAB_SCOPE]
    no_csp_violations(admin_page)

    # An item of the group without scopes of its own offers the group's credentials.
    lab_item(lab, "Lab grouped", sshd_server)
    console = rep_console(context, console_server, lab)
    dialog = open_credential_dialog(console, "Lab grouped")
    expect(dialog.get_by_role("option")).to_have_count(2)
    assert offered(dialog) == [LOGIN_REF, OTHER_REF]
    # A double click on a credential jumps with it.
    with context.expect_page() as new_page:
        option(dialog, LOGIN_REF).dblclick()
    session = new_page.value
    session.wait_for_url(re.compile(r"/sessions/[A-Za-z0-9_-]+$"))
    logged_in_without_password(session, sshd_server)


def test_the_client_script_path_asks_for_a_credential_and_a_refused_jump_shows_the_hint(
    context: BrowserContext,
    browser_context_factory: Callable[[], BrowserContext],
    console_server: ConsoleServer,
    sshd_server: SshServer,
) -> None:
    lab = prepare_lab(console_server, sshd_server, browser_context_factory)
    unique = "cs" + secrets.token_hex(4)
    lab_item(lab, f"Scripted {unique}", sshd_server, credential_scopes=[LAB_SCOPE])
    console = rep_console(context, console_server, lab)
    console.goto(console_server.url + "/console?jump_search=" + unique)
    dialog = console.get_by_test_id("credential-dialog")
    expect(dialog.get_by_role("option")).to_have_count(2)
    assert len(context.pages) == 1
    option(dialog, LOGIN_REF).click()
    session = click_for_session(context, dialog.get_by_test_id("jump-with-credential"))
    logged_in_without_password(session, sshd_server)

    # The administrator takes the scope away while the dialog is open: the Jump is refused with the API's hint.
    item = lab.admin.call("GET", "/jump-items?search=" + unique)["items"][0]
    dialog = open_credential_dialog(console, f"Scripted {unique}")
    expect(dialog.get_by_role("option")).to_have_count(2)
    lab.admin.call("PATCH", f"/jump-items/{item['id']}", {"credential_scopes": []})
    option(dialog, OTHER_REF).click()
    dialog.get_by_test_id("jump-with-credential").click()
    error = console.locator("#console-error")
    expect(error).to_contain_text("is not offered for Jump Item")
    expect(error.locator(".alert-hint")).to_contain_text("pick one from the item's credential list")
    console.wait_for_timeout(300)
    assert len(context.pages) == 2, [p.url for p in context.pages]
    no_csp_violations(console)
