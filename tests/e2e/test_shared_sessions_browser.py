"""Shared sessions in real Chromium: two reps and an external invitee, each in their own browser context."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.test_web_console import (
    Api,
    builtin_jumpoint,
    connect_with_password,
    jump_from_console,
    run_in_terminal,
    terminal_text,
    wait_for_terminal,
)
from tests.fixtures.console import ConsoleServer
from tests.fixtures.sshd import SshServer

BOB_PASSWORD = "bob-password-4711"


def _shared_item(api: Api, sshd: SshServer) -> tuple[dict[str, Any], dict[str, Any]]:
    bob = api.call("POST", "/users", {"username": "bob", "password": BOB_PASSWORD, "display_name": "Bob"})
    group = api.call("POST", "/jump-groups", {"name": "Support team"})
    api.call("PUT", f"/jump-groups/{group['id']}/members/{bob['id']}")
    item = api.call(
        "POST",
        "/jump-items",
        {
            "name": "Shared sshd",
            "group_id": group["id"],
            "jumpoint_id": builtin_jumpoint(api)["id"],
            "hostname": sshd.host,
            "port": sshd.port,
            "protocol": "ssh",
            "username": sshd.username,
            "session_policy": "join_existing",
        },
    )
    return bob, item


def _owner_in_session(context: BrowserContext, server: ConsoleServer, sshd: SshServer) -> tuple[Api, Page]:
    """The administrator creates the shared item, Jumps to it from the console and logs in: (their API, the tab)."""
    admin = Api(context, server)
    admin.login()
    _shared_item(admin, sshd)
    console = context.new_page()
    console.goto(server.url + "/console")
    owner = jump_from_console(context, console, "Shared sshd")
    connect_with_password(owner, sshd)
    return admin, owner


def test_a_second_rep_joins_sees_the_screen_and_chat_and_is_view_only_as_an_observer(
    context: BrowserContext,
    browser_context_factory: Callable[[], BrowserContext],
    console_server: ConsoleServer,
    sshd_server: SshServer,
) -> None:
    _, owner = _owner_in_session(context, console_server, sshd_server)
    run_in_terminal(owner, "echo owner-$((6*7))")
    wait_for_terminal(owner, lambda text: "owner-42" in text, "owner-42")
    owner.get_by_test_id("chat-input").fill("hello Bob, see https://example.com/kb/7")
    owner.get_by_test_id("chat-send").click()

    bob_context = browser_context_factory()
    Api(bob_context, console_server).login("bob", BOB_PASSWORD)
    bob_console = bob_context.new_page()
    bob_console.goto(console_server.url + "/console")
    joined = jump_from_console(bob_context, bob_console, "Shared sshd")
    # the late joiner sees the owner's screen and the chat history, with the URL as a link
    wait_for_terminal(joined, lambda text: "owner-42" in text, "the owner's output")
    timeline = joined.get_by_test_id("timeline")
    expect(timeline).to_contain_text("hello Bob")
    expect(timeline.locator("a[href='https://example.com/kb/7']")).to_have_count(1)
    # the owner is told, and sees Bob in the participants list
    expect(owner.get_by_test_id("timeline")).to_contain_text("Bob joined the session")
    bob_row = owner.get_by_test_id("participant-Bob")
    expect(bob_row).to_be_visible()

    # the owner makes Bob an observer: his keys are ignored, the owner's still work
    bob_row.get_by_test_id("mode-select").select_option("observer")
    expect(joined.get_by_test_id("view-only")).to_be_visible(timeout=10_000)
    run_in_terminal(joined, "echo bob-typed-$((1+1))")
    run_in_terminal(owner, "echo owner-again-$((2+2))")
    wait_for_terminal(joined, lambda text: "owner-again-4" in text, "the owner's second command")
    assert "bob-typed-2" not in terminal_text(owner)


def test_an_external_invitee_joins_with_a_one_time_link(
    context: BrowserContext,
    browser_context_factory: Callable[[], BrowserContext],
    console_server: ConsoleServer,
    sshd_server: SshServer,
) -> None:
    admin, owner = _owner_in_session(context, console_server, sshd_server)
    run_in_terminal(owner, "echo for-the-vendor-$((3*3))")
    wait_for_terminal(owner, lambda text: "for-the-vendor-9" in text, "for-the-vendor-9")
    session_id = owner.url.rsplit("/", 1)[1]
    key = admin.call("POST", f"/sessions/{session_id}/external-keys", {"description": "vendor"})

    guest_context = browser_context_factory()
    guest = guest_context.new_page()
    guest.goto(key["url"])
    guest.get_by_test_id("display-name").fill("Vera Vendor")
    guest.get_by_test_id("join").click()
    guest.wait_for_url(f"**/sessions/{session_id}")
    wait_for_terminal(guest, lambda text: "for-the-vendor-9" in text, "the owner's output")
    expect(guest.get_by_test_id("view-only")).to_be_visible()
    expect(owner.get_by_test_id("timeline")).to_contain_text("Vera Vendor joined the session")

    # the link works once
    again = browser_context_factory().new_page()
    again.goto(key["url"])
    again.get_by_test_id("display-name").fill("Someone Else")
    again.get_by_test_id("join").click()
    expect(again.get_by_test_id("join-error")).to_contain_text("already used")
