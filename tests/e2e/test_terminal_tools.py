"""The session panel's terminal tools in real Chromium against a real sshd: clipboard, font size, search, special
keys, reconnecting after the target closed the session, what observers get, and the Telnet warning."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.test_web_console import (
    Api,
    answer_password,
    builtin_jumpoint,
    connect_with_password,
    create_item,
    jump_from_console,
    no_csp_violations,
    personal_group,
    run_in_terminal,
    terminal_size,
    terminal_text,
    wait_for_terminal,
)
from tests.fixtures.console import ConsoleServer
from tests.fixtures.sshd import SshServer
from tests.fixtures.telnetd import TelnetServer, start_busybox_telnetd

BOB_PASSWORD = "bob-password-4711"
CLIPBOARD = ["clipboard-read", "clipboard-write"]


# ---- helpers -----------------------------------------------------------------------------------------------


def open_session(
    context: BrowserContext, server: ConsoleServer, sshd: SshServer, name: str = "Tools sshd", **item: Any
) -> Page:
    """Log in as the administrator, create an item for ``sshd`` (with ``item``'s fields), Jump to it from the
    console and log in."""
    api = Api(context, server)
    api.login()
    create_item(api, name, sshd, **item)
    console = context.new_page()
    console.goto(server.url + "/console")
    session = jump_from_console(context, console, name)
    connect_with_password(session, sshd)
    return session


def set_clipboard(page: Page, text: str) -> None:
    page.evaluate("text => navigator.clipboard.writeText(text)", text)


def clipboard(page: Page) -> str:
    text: str = page.evaluate("() => navigator.clipboard.readText()")
    return text


def wait_for_clipboard(page: Page, predicate: Callable[[str], bool], what: str) -> str:
    for _ in range(50):
        text = clipboard(page)
        if predicate(text):
            return text
        page.wait_for_timeout(100)
    raise AssertionError(f"the clipboard never held {what}; it holds {clipboard(page)!r}")


def run_and_wait(session: Page, command: str, expected: str) -> None:
    run_in_terminal(session, command)
    wait_for_terminal(session, lambda text: expected in text, expected)


def terminal_row(session: Page, text: str) -> Any:
    """The terminal's row that shows exactly ``text`` (the output line, not the command that printed it)."""
    return session.locator(".xterm-rows > div", has_text=re.compile(rf"^\s*{re.escape(text)}\s*$"))


def click_paste(session: Page) -> None:
    """Click Paste and wait until the terminal has the focus back (the text was handed to xterm.js)."""
    session.get_by_test_id("paste").click()
    expect(session.locator(".xterm-helper-textarea")).to_be_focused()


def send_special_key(session: Page, key: str) -> None:
    session.get_by_test_id("special-keys").click()
    session.get_by_test_id(f"key-{key}").click()
    expect(session.get_by_test_id("special-keys-menu")).to_be_hidden()


# ---- clipboard ---------------------------------------------------------------------------------------------


def test_pasted_text_reaches_the_remote_and_is_bracketed_only_when_the_remote_asked_for_it(
    context: BrowserContext, console_server: ConsoleServer, sshd_server: SshServer
) -> None:
    context.grant_permissions(CLIPBOARD, origin=console_server.url)
    session = open_session(context, console_server, sshd_server)

    # the remote turns bracketed paste on (DEC mode 2004): the Paste button sends the text between the markers
    run_and_wait(session, "printf '\\e[?2004h'; echo READY-$((2*3)); cat -v", "READY-6")
    set_clipboard(session, "pasted-words")
    click_paste(session)
    session.keyboard.press("Enter")
    wait_for_terminal(session, lambda text: "^[[200~pasted-words^[[201~" in text, "the bracketed paste")
    session.keyboard.press("Control+c")

    # without mode 2004 the same text arrives as it is
    run_and_wait(session, "echo PLAIN-$((3*3)); cat -v", "PLAIN-9")
    set_clipboard(session, "plain-words")
    click_paste(session)
    session.keyboard.press("Enter")
    wait_for_terminal(session, lambda text: re.search(r"^\s*plain-words\s*$", text, re.M), "the plain paste")
    assert "^[[200~plain-words" not in terminal_text(session)
    session.keyboard.press("Control+c")

    # Ctrl+Shift+V pastes too (the browser's paste, handled by xterm.js)
    set_clipboard(session, "echo shortcut-$((9*9))")
    session.locator(".xterm-screen").click()
    session.keyboard.press("Control+Shift+V")
    session.keyboard.press("Enter")
    wait_for_terminal(session, lambda text: "shortcut-81" in text, "the output of the pasted command")
    no_csp_violations(session)


def test_copying_a_selection_puts_it_on_the_clipboard_by_button_shortcut_and_copy_on_select(
    context: BrowserContext, console_server: ConsoleServer, sshd_server: SshServer
) -> None:
    context.grant_permissions(CLIPBOARD, origin=console_server.url)
    session = open_session(context, console_server, sshd_server)
    run_and_wait(session, "echo copy-me-$((4*4))", "copy-me-16")
    row = terminal_row(session, "copy-me-16")

    # the Copy button
    set_clipboard(session, "")
    row.click(click_count=3, force=True)
    session.get_by_test_id("copy").click()
    wait_for_clipboard(session, lambda text: "copy-me-16" in text, "the selected line")
    expect(session.get_by_test_id("tool-status")).to_contain_text("Copied")

    # Ctrl+Shift+C in the terminal
    set_clipboard(session, "")
    row.click(click_count=3, force=True)
    session.keyboard.press("Control+Shift+C")
    wait_for_clipboard(session, lambda text: "copy-me-16" in text, "the line copied with Ctrl+Shift+C")
    # ... which is not sent to the remote as Ctrl+C: the shell is still at its prompt and runs the next command
    run_and_wait(session, "echo still-here-$((5+5))", "still-here-10")

    # copy on select (a remembered setting)
    session.get_by_test_id("terminal-settings").click()
    session.get_by_test_id("settings-copy-on-select").check()
    session.get_by_test_id("settings-save").click()
    expect(session.get_by_test_id("settings-dialog")).to_have_count(0)
    set_clipboard(session, "")
    terminal_row(session, "still-here-10").click(click_count=3, force=True)
    wait_for_clipboard(session, lambda text: "still-here-10" in text, "the selection, copied on select")
    prefs = session.evaluate("() => JSON.parse(localStorage.getItem('openjump.terminal'))")
    assert prefs["copyOnSelect"] is True, prefs


# ---- font size and scrollback ------------------------------------------------------------------------------


def test_a_larger_font_refits_the_terminal_and_the_remote_sees_the_new_size(
    context: BrowserContext, console_server: ConsoleServer, sshd_server: SshServer
) -> None:
    session = open_session(context, console_server, sshd_server)
    before = terminal_size(session, 1)
    for _ in range(4):
        session.get_by_test_id("font-larger").click()
    expect(session.get_by_test_id("font-reset")).to_have_text("18 px")
    session.wait_for_timeout(500)
    bigger = terminal_size(session, 2)
    assert bigger[0] < before[0] and bigger[1] < before[1], (before, bigger)
    prefs = session.evaluate("() => JSON.parse(localStorage.getItem('openjump.terminal'))")
    assert prefs["fontSize"] == 18, prefs

    # remembered: a new session page starts with the same font size
    session.reload()
    expect(session.get_by_test_id("font-reset")).to_have_text("18 px")
    expect(session.locator("#session-state")).to_have_text("connected", timeout=20_000)
    session.get_by_test_id("font-reset").click()
    expect(session.get_by_test_id("font-reset")).to_have_text("14 px")
    session.wait_for_timeout(500)
    assert terminal_size(session, 3) == before


def test_search_finds_a_line_that_scrolled_out_of_view_and_escape_closes_it(
    context: BrowserContext, console_server: ConsoleServer, sshd_server: SshServer
) -> None:
    session = open_session(context, console_server, sshd_server)
    run_in_terminal(session, "echo needle-$((6*7)); seq 1 300; echo seq-done")
    wait_for_terminal(session, lambda text: re.search(r"^\s*seq-done\s*$", text, re.M), "the end of seq")
    assert "needle-42" not in terminal_text(session), "the line should have scrolled out of view"

    session.get_by_test_id("search-toggle").click()
    box = session.get_by_test_id("search-input")
    expect(box).to_be_focused()
    box.fill("needle-42")
    expect(session.get_by_test_id("search-count")).to_have_text("1 of 1")
    wait_for_terminal(session, lambda text: "needle-42" in text, "the match, scrolled into view")
    expect(session.locator(".xterm-find-result-decoration").first).to_be_attached()

    box.fill("no-such-text-anywhere")
    expect(session.get_by_test_id("search-count")).to_have_text("No matches")
    box.fill("seq-done")
    box.press("Enter")
    expect(session.get_by_test_id("search-count")).to_contain_text("of")
    box.press("Escape")
    expect(session.get_by_test_id("search-bar")).to_be_hidden()
    expect(session.locator(".xterm-helper-textarea")).to_be_focused()

    # the scrollback size is a remembered setting
    session.get_by_test_id("terminal-settings").click()
    field = session.get_by_test_id("settings-scrollback")
    field.fill("500")
    session.get_by_test_id("settings-save").click()
    expect(session.get_by_test_id("settings-dialog")).to_contain_text("1000")
    field.fill("20000")
    session.get_by_test_id("settings-save").click()
    expect(session.get_by_test_id("settings-dialog")).to_have_count(0)
    prefs = session.evaluate("() => JSON.parse(localStorage.getItem('openjump.terminal'))")
    assert prefs["scrollback"] == 20000, prefs
    no_csp_violations(session)


# ---- special keys ------------------------------------------------------------------------------------------


def test_special_keys_interrupt_a_command_and_send_function_keys_as_xterm_does(
    context: BrowserContext, console_server: ConsoleServer, sshd_server: SshServer
) -> None:
    session = open_session(context, console_server, sshd_server)
    run_in_terminal(session, "sleep 100")
    session.wait_for_timeout(500)
    send_special_key(session, "ctrl-c")
    run_and_wait(session, "echo interrupted-$((3+4))", "interrupted-7")

    run_and_wait(session, "echo KEYS-$((2+2)); cat -v", "KEYS-4")
    for key in ("f1", "f5", "f12", "esc"):
        send_special_key(session, key)
    session.keyboard.press("Enter")
    wait_for_terminal(session, lambda text: "^[OP^[[15~^[[24~^[" in text, "the function keys as cat -v shows them")

    # the menu works from the keyboard: Down opens it on the first item, End goes to the last, Escape closes it
    keys = session.get_by_test_id("special-keys")
    keys.focus()
    keys.press("ArrowDown")
    expect(session.get_by_test_id("key-ctrl-c")).to_be_focused()
    session.keyboard.press("ArrowDown")
    expect(session.get_by_test_id("key-ctrl-d")).to_be_focused()
    session.keyboard.press("Enter")  # Ctrl+D ends cat
    run_and_wait(session, "echo after-cat-$((1+1))", "after-cat-2")
    keys.focus()
    keys.press("ArrowDown")
    session.keyboard.press("Escape")
    expect(session.get_by_test_id("special-keys-menu")).to_be_hidden()
    expect(keys).to_be_focused()


def test_special_keys_send_a_vt100_s_function_keys_to_a_vt100_item_which_has_no_f11_or_f12(
    context: BrowserContext, console_server: ConsoleServer, sshd_server: SshServer
) -> None:
    session = open_session(context, console_server, sshd_server, "VT100 sshd", terminal_type="vt100")
    run_and_wait(session, "echo TERM-IS-$TERM; cat -v", "TERM-IS-vt100")
    for key in ("f1", "f4", "f5", "f6", "f7", "f8", "f9", "f10"):
        send_special_key(session, key)
    session.keyboard.press("Enter")
    expected = "^[OP^[OS^[Ot^[Ou^[Ov^[Ol^[Ow^[Ox"
    wait_for_terminal(session, lambda text: expected in text, "a VT100's function keys as cat -v shows them")
    session.get_by_test_id("special-keys").click()
    expect(session.get_by_test_id("key-f10")).to_be_visible()
    expect(session.get_by_test_id("key-f11")).to_have_count(0)
    expect(session.get_by_test_id("key-f12")).to_have_count(0)
    session.keyboard.press("Escape")
    no_csp_violations(session)


# ---- reconnect ---------------------------------------------------------------------------------------------


def test_reconnect_after_the_remote_shell_exits_opens_a_new_working_session(
    context: BrowserContext, console_server: ConsoleServer, sshd_server: SshServer
) -> None:
    session = open_session(context, console_server, sshd_server)
    first_url = session.url
    run_in_terminal(session, "exit")
    expect(session.locator("#session-state")).to_have_text("ended", timeout=20_000)
    reconnect = session.get_by_test_id("reconnect-session")
    expect(reconnect).to_be_visible()
    expect(session.get_by_test_id("paste")).to_be_hidden()
    reconnect.click()
    session.wait_for_url(lambda url: url != first_url and re.search(r"/sessions/[A-Za-z0-9_-]+$", url) is not None)
    # the host key was saved the first time: only the password is asked
    answer_password(session, sshd_server.password)
    expect(session.locator("#session-state")).to_have_text("connected", timeout=20_000)
    run_and_wait(session, "echo again-$((10*10))", "again-100")


# ---- observers ---------------------------------------------------------------------------------------------


def test_an_observer_gets_no_paste_no_special_keys_and_no_files_and_cannot_paste(
    context: BrowserContext,
    browser_context_factory: Callable[[], BrowserContext],
    console_server: ConsoleServer,
    sshd_server: SshServer,
) -> None:
    admin = Api(context, console_server)
    admin.login()
    bob = admin.call("POST", "/users", {"username": "bob", "password": BOB_PASSWORD, "display_name": "Bob"})
    group = admin.call("POST", "/jump-groups", {"name": "Support team"})
    admin.call("PUT", f"/jump-groups/{group['id']}/members/{bob['id']}")
    admin.call(
        "POST",
        "/jump-items",
        {
            "name": "Shared sshd",
            "group_id": group["id"],
            "jumpoint_id": builtin_jumpoint(admin)["id"],
            "hostname": sshd_server.host,
            "port": sshd_server.port,
            "protocol": "ssh",
            "username": sshd_server.username,
            "session_policy": "join_existing",
        },
    )
    console = context.new_page()
    console.goto(console_server.url + "/console")
    owner = jump_from_console(context, console, "Shared sshd")
    connect_with_password(owner, sshd_server)

    bob_context = browser_context_factory()
    bob_context.grant_permissions(CLIPBOARD, origin=console_server.url)
    Api(bob_context, console_server).login("bob", BOB_PASSWORD)
    bob_console = bob_context.new_page()
    bob_console.goto(console_server.url + "/console")
    joined = jump_from_console(bob_context, bob_console, "Shared sshd")
    expect(joined.locator("#session-state")).to_have_text("connected", timeout=20_000)
    # a peer may type: paste, special keys and files are there
    expect(joined.get_by_test_id("paste")).to_be_visible()
    expect(joined.get_by_test_id("special-keys")).to_be_visible()
    expect(joined.get_by_test_id("files-toggle")).to_be_visible()

    owner.get_by_test_id("participant-Bob").get_by_test_id("mode-select").select_option("observer")
    expect(joined.get_by_test_id("view-only")).to_be_visible(timeout=10_000)
    for testid in ("paste", "special-keys", "files-toggle"):
        expect(joined.get_by_test_id(testid)).to_be_hidden()
    # copying stays possible for an observer
    expect(joined.get_by_test_id("copy")).to_be_visible()

    # the browser's paste does not type either
    set_clipboard(joined, "echo observer-pasted-$((2*21))")
    joined.locator(".xterm-screen").click()
    joined.keyboard.press("Control+Shift+V")
    joined.keyboard.press("Enter")
    run_and_wait(owner, "echo owner-after-$((1+2))", "owner-after-3")
    assert "observer-pasted-42" not in terminal_text(owner)


# ---- telnet ------------------------------------------------------------------------------------------------


SWITCH_LOGIN = r"""#!/bin/sh
# Talks like a network switch's console: its own "User Name:" prompt, then a password read without echo.
printf 'Model 42 switch\r\n\r\nUser Name: '
read -r user
stty -echo
printf 'Password: '
read -r password
stty echo
printf '%s %s\n' "$user" "$password" >> "$(dirname "$0")/logins"
printf '\r\nWelcome to the switch\r\nswitch> '
exec cat >/dev/null
"""


@dataclass
class Switch:
    """A real busybox telnetd whose login program behaves like a network switch."""

    server: TelnetServer
    logins_path: Path

    @property
    def logins(self) -> list[str]:
        return self.logins_path.read_text().splitlines() if self.logins_path.exists() else []


@pytest.fixture
def switch(tmp_path: Path) -> Iterator[Switch]:
    script = tmp_path / "switch" / "login.sh"
    script.parent.mkdir()
    script.write_text(SWITCH_LOGIN)
    script.chmod(0o755)
    server = start_busybox_telnetd(tmp_path / "telnetd", login_program=str(script))
    try:
        yield Switch(server, script.parent / "logins")
    finally:
        server.stop()


def test_a_telnet_item_is_created_with_prompt_patterns_and_its_session_warns_that_it_is_not_encrypted(
    context: BrowserContext, console_server: ConsoleServer, switch: Switch
) -> None:
    host, port = "127.0.0.1", switch.server.port
    api = Api(context, console_server)
    api.login()
    page = context.new_page()
    page.goto(console_server.url + "/console")
    page.get_by_role("button", name="Create").click()
    form = page.locator("dialog form.item-form")
    expect(form.get_by_test_id("telnet-fields")).to_be_hidden()
    form.locator("[name=name]").fill("Old switch")
    form.locator("[name=jumpoint_id]").select_option(label="Built-in")
    form.locator("[name=hostname]").fill(host)
    form.locator("[name=protocol]").select_option("telnet")
    expect(form.locator("[name=port]")).to_have_value("23")
    expect(form.get_by_test_id("telnet-warning")).to_contain_text("plain text")
    expect(form.locator("[name=login_prompt]")).to_have_attribute(
        "placeholder", "(?:login|username|user name)\\s*:\\s*$"
    )
    expect(form.locator("[name=password_prompt]")).to_have_attribute("placeholder", "password\\s*:\\s*$")
    form.locator("[name=port]").fill(str(port))
    form.locator("[name=username]").fill("netadmin")
    form.locator("[name=login_prompt]").fill("User Name:\\s*$")
    expect(form.get_by_test_id("record-policy-hint")).to_contain_text("recording policy can override")
    form.get_by_role("button", name="Create").click()
    expect(page.locator("dialog")).to_have_count(0)
    items = api.call("GET", "/jump-items?search=Old%20switch")["items"]
    assert len(items) == 1, items
    item = items[0]
    assert (item["protocol"], item["port"], item["login_prompt"]) == ("telnet", port, "User Name:\\s*$"), item
    assert item["password_prompt"] is None and item["group_id"] == personal_group(api)["id"], item

    # the custom login prompt is recognised: the item's user name is sent, the rep is asked for the password
    session = jump_from_console(context, page, "Old switch")
    answer_password(session, "switch-secret")
    expect(session.locator("#session-state")).to_have_text("connected", timeout=20_000)
    wait_for_terminal(session, lambda text: "Welcome to the switch" in text, "the device's welcome")
    assert switch.logins == ["netadmin switch-secret"], switch.logins
    assert "switch-secret" not in terminal_text(session)
    warning = session.get_by_test_id("plaintext-warning")
    expect(warning).to_be_visible()
    expect(warning).to_have_text("Not encrypted")
    # no SFTP over telnet
    expect(session.get_by_test_id("files-toggle")).to_be_hidden()
    no_csp_violations(session)
