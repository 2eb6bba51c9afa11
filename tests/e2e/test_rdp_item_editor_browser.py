"""The RDP Jump Item in the editor of the web console (real Chromium): fields shown for RDP, saved, edited, and the
Jump sends the room the session page has for the desktop."""

from __future__ import annotations

import re
import secrets

from playwright.sync_api import BrowserContext, expect

from credential_store.local import LocalCredentialStore
from jumpoint.core.secret import Secret
from tests.e2e.test_vnc_browser import wait_for_desktop
from tests.e2e.test_web_console import (
    Api,
    builtin_jumpoint,
    items_of,
    login_with_form,
    no_csp_violations,
    personal_group,
)
from tests.fixtures.console import ConsoleServer
from tests.fixtures.vnc import VncServer, xvnc

__all__ = ["xvnc"]  # the fixture, imported for pytest


def test_an_rdp_item_is_made_and_edited_in_the_editor_and_its_jump_sends_the_desktop_size(
    context: BrowserContext, console_server: ConsoleServer
) -> None:
    page = context.new_page()
    page.goto(console_server.url + "/console")
    login_with_form(page, console_server.admin_username, console_server.admin_password)
    page.wait_for_url(re.compile(r"/console$"))
    api = Api(context, console_server)

    page.get_by_role("button", name="Create").click()
    form = page.locator("dialog form.item-form")
    expect(form.get_by_test_id("desktop-fields")).to_be_hidden()
    expect(page.locator("dialog h2")).to_have_text("Create New Shell Jump Shortcut")
    form.locator("[name=name]").fill("Windows lab")
    form.locator("[name=jumpoint_id]").select_option(label=builtin_jumpoint(api)["name"])
    form.locator("[name=hostname]").fill("127.0.0.1")
    form.locator("[name=protocol]").select_option("rdp")
    expect(form.get_by_test_id("desktop-fields")).to_be_visible()
    expect(form.get_by_test_id("rdp-fields")).to_be_visible()
    expect(page.locator("dialog h2")).to_have_text("Create New Remote RDP Jump Shortcut")
    expect(form.get_by_test_id("vnc-fields")).to_be_hidden()
    expect(form.locator("[name=terminal_type]")).to_be_hidden()
    expect(form.locator("[name=port]")).to_have_value("3389")
    form.locator("[name=port]").fill("1")  # nothing listens there: the Jump itself is what is checked
    form.locator("[name=username]").fill("alice")
    form.get_by_label("Domain").fill("CORP")
    expect(form.get_by_test_id("rdp-weak-security")).to_be_hidden()
    form.get_by_label("Security").select_option(label="Classic RDP security (weak)")
    expect(form.get_by_test_id("rdp-weak-security")).to_be_visible()
    form.get_by_label("Security").select_option(label="NLA only")
    form.get_by_label("Console Session").check()
    form.get_by_label("Ignore Untrusted Certificate").check()
    form.locator("[name=quality]").select_option("video")
    form.locator("[name=group_id]").select_option(value=str(personal_group(api)["id"]))
    form.get_by_role("button", name="Create").click()
    expect(page.locator("dialog")).to_have_count(0)
    row = page.locator("tr.item-row", has_text="Windows lab")
    expect(row).to_contain_text("RDP")
    expect(row).to_contain_text("127.0.0.1:1")

    item = next(i for i in items_of(api.call("GET", "/jump-items")) if i["name"] == "Windows lab")
    assert (item["protocol"], item["port"], item["username"], item["domain"]) == ("rdp", 1, "alice", "CORP")
    assert (item["rdp_security"], item["console_session"], item["ignore_certificate"], item["quality"]) == (
        "nla",
        True,
        True,
        "video",
    )

    # Editing shows the saved values; a change is saved.
    row.get_by_role("button", name="Edit").click()
    form = page.locator("dialog form.item-form")
    expect(form.get_by_label("Domain")).to_have_value("CORP")
    expect(form.get_by_label("Security")).to_have_value("nla")
    expect(form.get_by_label("Console Session")).to_be_checked()
    expect(form.get_by_label("Ignore Untrusted Certificate")).to_be_checked()
    form.get_by_label("Domain").fill("corp.example.com")
    form.get_by_label("Console Session").uncheck()
    form.get_by_role("button", name="Save").click()
    expect(page.locator("dialog")).to_have_count(0)
    item = api.call("GET", f"/jump-items/{item['id']}")
    assert (item["domain"], item["console_session"], item["target_by_admin"]) == ("corp.example.com", False, True)

    # The Jump sends the desktop size the session page will have.
    with context.expect_page() as opened, page.expect_request(lambda r: r.url.endswith("/jump")) as sent:
        row.get_by_role("button", name="Jump").click()
    body = sent.value.post_data_json
    assert body is not None
    inner = page.evaluate("[innerWidth, innerHeight]")
    assert body["desktop_width"] == inner[0] - 320 and body["desktop_height"] == inner[1] - 114, (body, inner)
    session = opened.value
    session.wait_for_url(re.compile(r"/sessions/[A-Za-z0-9_-]+$"))
    no_csp_violations(page)


def test_the_desktop_size_a_jump_sends_is_the_room_the_session_page_gives_the_desktop(
    context: BrowserContext, console_server: ConsoleServer, xvnc: VncServer
) -> None:
    LocalCredentialStore(console_server.state_dir / "jumpoint").add(
        "vnc/size", "password", None, password=Secret(xvnc.password), replace=True
    )
    for repeat, (width, height) in enumerate(((1200, 800), (1200, 800), (1600, 900), (1024, 700))):
        repeat = repeat == 1
        page = context.new_page()
        page.set_viewport_size({"width": width, "height": height})
        page.goto(console_server.url + "/console")
        if page.locator("#username").count():
            login_with_form(page, console_server.admin_username, console_server.admin_password)
        page.wait_for_url(re.compile(r"/console$"))
        api = Api(context, console_server)
        name = f"Desk {width} {len(context.pages)} {secrets.token_hex(2)}"
        page.get_by_role("button", name="Create").click()
        form = page.locator("dialog form.item-form")
        form.locator("[name=name]").fill(name)
        form.locator("[name=jumpoint_id]").select_option(label=builtin_jumpoint(api)["name"])
        form.locator("[name=hostname]").fill(xvnc.host)
        form.locator("[name=protocol]").select_option("vnc")
        form.locator("[name=port]").fill(str(xvnc.port))
        form.locator("[name=credential_ref]").fill("local:vnc/size")
        form.locator("[name=group_id]").select_option(value=str(personal_group(api)["id"]))
        form.get_by_role("button", name="Create").click()
        expect(page.locator("dialog")).to_have_count(0)
        row = page.locator("tr.item-row", has_text=name)
        with context.expect_page() as opened, page.expect_request(lambda r: r.url.endswith("/jump")) as sent:
            row.get_by_role("button", name="Jump").click()
        body = sent.value.post_data_json
        assert body is not None
        session = opened.value
        session.set_viewport_size({"width": width, "height": height})
        session.wait_for_url(re.compile(r"/sessions/[A-Za-z0-9_-]+$"))
        wait_for_desktop(session, 1280, 800)
        expect(session.locator("#session-state")).to_have_text("connected")
        room = session.evaluate(
            "(() => { const s = document.querySelector('.desktop-screen'); return [s.clientWidth, s.clientHeight]; })()"
        )
        assert 0 <= room[0] - body["desktop_width"] <= 1, (body, room)
        assert 0 <= room[1] - body["desktop_height"] <= 40, (body, room)
        if repeat:  # the second Jump from a window of this width: what the first session page measured
            assert [body["desktop_width"], body["desktop_height"]] == room, (body, room)
        session.wait_for_timeout(800)  # the session page remembers its room
        session.close()
        page.close()
