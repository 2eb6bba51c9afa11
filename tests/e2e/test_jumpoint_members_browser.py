"""The admin page's Jumpoint members in real Chromium: a Jumpoint with several registered hosts shows its members
(connected or not, since when, active sessions), and an administrator revokes one of them."""

from __future__ import annotations

import re

from playwright.sync_api import BrowserContext, expect

from tests.e2e.test_web_console import Api, builtin_jumpoint, no_csp_violations
from tests.fixtures.console import ConsoleServer


def test_the_admin_sees_each_member_of_a_jumpoint_and_revokes_one(
    context: BrowserContext, console_server: ConsoleServer
) -> None:
    api = Api(context, console_server)
    api.login()
    builtin = builtin_jumpoint(api)
    created = api.call("POST", "/jumpoints", {"name": "LAN-E"})
    tokens = {}
    for host in ("jp-a.lan", "jp-b.lan"):
        key = api.call("POST", f"/jumpoints/{created['id']}/registration-keys", {})
        tokens[host] = api.call("POST", "/jumpoint/register", {"key": key["key"], "hostname": host})["token"]

    page = context.new_page()
    page.goto(console_server.url + "/admin")  # logged in through the API: the context shares its cookie
    page.wait_for_url(re.compile(r"/admin$"))
    expect(page.get_by_test_id("jumpoint-state-LAN-E")).to_have_text("Not connected (0 of 2 members)")
    expect(page.get_by_test_id(f"jumpoint-state-{builtin['name']}")).to_have_text("Connected")

    # The built-in Jumpoint's one member is connected.
    page.get_by_role("button", name=f"Members of {builtin['name']}").click()
    member_row = page.locator("#members-list tr[data-member]")
    expect(member_row).to_have_count(1)
    expect(member_row).to_contain_text("built-in")
    expect(member_row).to_contain_text("Connected since")

    # LAN-E has two members, neither connected; revoking one leaves the other.
    page.get_by_role("button", name="Members of LAN-E").click()
    expect(page.locator("#members-list tr[data-member]")).to_have_count(2)
    expect(page.locator('#members-list tr[data-member="jp-a.lan"]')).to_contain_text("Not connected")
    page.get_by_role("button", name="Revoke jp-b.lan from LAN-E").click()
    page.get_by_test_id("confirm").click()
    expect(page.locator("#members-error")).to_contain_text("Revoked the member jp-b.lan of LAN-E")
    expect(page.locator("#members-list tr[data-member]")).to_have_count(1)
    expect(page.get_by_test_id("jumpoint-state-LAN-E")).to_have_text("Not connected")
    no_csp_violations(page)

    refused = context.request.get(
        console_server.url + "/api/v1/jumpoint/tunnel",
        headers={"Authorization": f"Bearer {tokens['jp-b.lan']}"},
    )
    assert refused.status == 401
