"""The File Transfer view of an SSH session in real Chromium against a real sshd: browsing, hidden files, upload
(button and drag and drop, replacing only when confirmed), download, rename, delete, new folders, cancelling a
large upload, and what a rep without the upload permission sees. Files are checked on the sshd user's disk."""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, FilePayload, Locator, Page, expect

from tests.e2e.test_terminal_tools import open_session
from tests.e2e.test_web_console import no_csp_violations
from tests.fixtures.console import ConsoleServer
from tests.fixtures.sshd import SshServer

MiB = 1 << 20


@pytest.fixture
def remote_dir(sshd_server: SshServer) -> Iterator[Path]:
    """A fresh folder in the test login's home, owned by that login, removed afterwards."""
    account = pwd.getpwnam(sshd_server.username)
    path = Path(account.pw_dir) / f"e2e-files-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    os.chown(path, account.pw_uid, account.pw_gid)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def put(path: Path, data: bytes, mode: int = 0o644) -> Path:
    """A file on the target, owned by the test login."""
    path.write_bytes(data)
    account = pwd.getpwnam(path.parent.owner())
    os.chown(path, account.pw_uid, account.pw_gid)
    path.chmod(mode)
    return path


def folder(path: Path) -> Path:
    path.mkdir()
    account = pwd.getpwnam(path.parent.owner())
    os.chown(path, account.pw_uid, account.pw_gid)
    return path


def open_files(context: BrowserContext, server: ConsoleServer, sshd: SshServer, remote: Path) -> tuple[Page, Locator]:
    """A connected session with the Files view open on ``remote`` (reached from the home folder by a click)."""
    session = open_session(context, server, sshd, name="Files sshd")
    session.get_by_test_id("files-toggle").click()
    panel = session.get_by_test_id("files-panel")
    expect(panel).to_be_visible()
    expect(panel.get_by_test_id("files-breadcrumbs")).to_contain_text(remote.parent.name)
    panel.get_by_test_id(f"file-open-{remote.name}").click()
    expect(panel.locator(".crumb.current")).to_have_text(remote.name)
    return session, panel


def row(panel: Locator, name: str) -> Locator:
    return panel.get_by_test_id(f"file-row-{name}")


def transfer(panel: Locator, name: str) -> Locator:
    return panel.get_by_test_id("transfers").get_by_test_id(f"transfer-{name}")


def payload(name: str, data: bytes, mime: str = "application/octet-stream") -> FilePayload:
    """A file for ``set_input_files`` that exists only in memory."""
    return {"name": name, "mimeType": mime, "buffer": data}


def wait_until(page: Page, predicate: Callable[[], bool], what: str, timeout_ms: int = 15_000) -> None:
    for _ in range(timeout_ms // 100):
        if predicate():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out waiting for {what}")


# ---- tests -------------------------------------------------------------------------------------------------


def test_browsing_lists_folders_first_hides_dot_files_until_asked_and_breadcrumbs_lead_back(
    context: BrowserContext, console_server: ConsoleServer, sshd_server: SshServer, remote_dir: Path
) -> None:
    put(remote_dir / "notes.txt", b"hello", 0o640)
    put(remote_dir / ".profile-copy", b"secret")
    sub = folder(remote_dir / "zz-sub")
    put(sub / "inner.log", b"x" * 2048)
    session, panel = open_files(context, console_server, sshd_server, remote_dir)

    rows = panel.locator("tr.file-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("data-testid", "file-row-zz-sub")  # folders first
    notes = row(panel, "notes.txt")
    expect(notes.locator(".col-size")).to_have_text("5 B")
    expect(notes.locator(".col-mode")).to_have_text("-rw-r-----")
    expect(notes.locator(".col-mtime")).not_to_be_empty()
    expect(row(panel, ".profile-copy")).to_have_count(0)
    expect(panel.get_by_test_id("files-summary")).to_contain_text("1 hidden")

    panel.get_by_test_id("files-hidden").check()
    expect(row(panel, ".profile-copy")).to_be_visible()
    panel.get_by_test_id("files-hidden").uncheck()
    expect(row(panel, ".profile-copy")).to_have_count(0)

    # a double click opens a folder; each breadcrumb segment leads back
    row(panel, "zz-sub").dblclick()
    expect(row(panel, "inner.log")).to_be_visible()
    expect(row(panel, "inner.log").locator(".col-size")).to_have_text("2.0 KiB")
    crumbs = panel.get_by_test_id("files-breadcrumbs")
    expect(crumbs).to_contain_text(remote_dir.name)
    crumbs.get_by_role("button", name=remote_dir.name).click()
    expect(row(panel, "notes.txt")).to_be_visible()
    crumbs.get_by_role("button", name="/", exact=True).click()
    expect(panel.locator(".crumb.current")).to_have_text("/")
    expect(row(panel, "home")).to_be_visible()
    expect(panel.get_by_test_id("files-up")).to_be_disabled()
    no_csp_violations(session)


def test_an_uploaded_file_lands_on_the_target_and_an_existing_one_is_replaced_only_when_confirmed(
    context: BrowserContext, console_server: ConsoleServer, sshd_server: SshServer, remote_dir: Path
) -> None:
    session, panel = open_files(context, console_server, sshd_server, remote_dir)
    data = os.urandom(300 * 1024)
    panel.get_by_test_id("files-upload").set_input_files(
        [
            payload("report.bin", data),
            payload("readme.txt", b"read me\n", "text/plain"),
        ]
    )
    expect(transfer(panel, "report.bin")).to_have_attribute("data-state", "done", timeout=20_000)
    expect(transfer(panel, "readme.txt")).to_have_attribute("data-state", "done", timeout=20_000)
    expect(transfer(panel, "report.bin")).to_contain_text("100%")
    assert (remote_dir / "report.bin").read_bytes() == data
    assert (remote_dir / "readme.txt").read_bytes() == b"read me\n"
    expect(row(panel, "report.bin").locator(".col-size")).to_have_text("300 KiB")

    # the same name again: the browser asks; Cancel keeps the file as it was
    upload = panel.get_by_test_id("files-upload")
    upload.set_input_files([payload("readme.txt", b"second version\n", "text/plain")])
    dialog = session.get_by_test_id("confirm-dialog")
    expect(dialog).to_contain_text("already exists")
    session.get_by_test_id("confirm-cancel").click()
    session.wait_for_timeout(500)
    assert (remote_dir / "readme.txt").read_bytes() == b"read me\n"
    # ... and Replace replaces it
    upload.set_input_files([payload("readme.txt", b"second version\n", "text/plain")])
    session.get_by_test_id("confirm").click()
    expect(transfer(panel, "readme.txt")).to_have_attribute("data-state", "done", timeout=20_000)
    assert (remote_dir / "readme.txt").read_bytes() == b"second version\n"

    # files dropped on the panel are uploaded too
    handle = session.evaluate_handle(
        "() => { const dt = new DataTransfer(); dt.items.add(new File(['dropped bytes'], 'dropped.txt')); return dt; }"
    )
    panel.dispatch_event("dragenter", {"dataTransfer": handle})
    expect(panel).to_have_class(re.compile(r"\bdrop-active\b"))
    panel.dispatch_event("drop", {"dataTransfer": handle})
    expect(transfer(panel, "dropped.txt")).to_have_attribute("data-state", "done", timeout=20_000)
    assert (remote_dir / "dropped.txt").read_bytes() == b"dropped bytes"
    expect(row(panel, "dropped.txt")).to_be_visible()
    no_csp_violations(session)


def test_a_downloaded_file_has_the_same_bytes_as_on_the_target(
    context: BrowserContext, console_server: ConsoleServer, sshd_server: SshServer, remote_dir: Path, tmp_path: Path
) -> None:
    data = os.urandom(3 * MiB + 123)
    put(remote_dir / "dump.bin", data)
    session, panel = open_files(context, console_server, sshd_server, remote_dir)
    with session.expect_download(timeout=30_000) as info:
        panel.get_by_test_id("file-download-dump.bin").click()
    download = info.value
    assert download.suggested_filename == "dump.bin"
    saved = tmp_path / "dump.bin"
    download.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    done = transfer(panel, "dump.bin")
    expect(done).to_have_attribute("data-state", "done")
    expect(done).to_contain_text("100%")
    expect(done.get_by_test_id("transfer-cancel-dump.bin")).to_have_count(0)


def test_rename_delete_after_confirming_and_new_folder_change_the_target(
    context: BrowserContext, console_server: ConsoleServer, sshd_server: SshServer, remote_dir: Path
) -> None:
    put(remote_dir / "old-name.txt", b"contents")
    full = folder(remote_dir / "full")
    put(full / "keep.txt", b"k")
    session, panel = open_files(context, console_server, sshd_server, remote_dir)

    panel.get_by_test_id("file-rename-old-name.txt").click()
    field = session.get_by_test_id("rename-input")
    expect(field).to_have_value("old-name.txt")
    field.fill("new-name.txt")
    session.get_by_test_id("rename-submit").click()
    expect(row(panel, "new-name.txt")).to_be_visible()
    expect(row(panel, "old-name.txt")).to_have_count(0)
    assert (remote_dir / "new-name.txt").read_bytes() == b"contents"
    assert not (remote_dir / "old-name.txt").exists()

    # delete asks first, says it is permanent; Cancel keeps the file
    panel.get_by_test_id("file-delete-new-name.txt").click()
    dialog = session.get_by_test_id("confirm-dialog")
    expect(dialog).to_contain_text("permanently")
    session.get_by_test_id("confirm-cancel").click()
    assert (remote_dir / "new-name.txt").exists()
    panel.get_by_test_id("file-delete-new-name.txt").click()
    session.get_by_test_id("confirm").click()
    expect(row(panel, "new-name.txt")).to_have_count(0)
    assert not (remote_dir / "new-name.txt").exists()

    # a folder that is not empty is not deleted: the console's message is shown
    panel.get_by_test_id("file-delete-full").click()
    session.get_by_test_id("confirm").click()
    expect(panel.get_by_test_id("files-error")).to_contain_text("not empty")
    assert (full / "keep.txt").exists()

    panel.get_by_test_id("files-mkdir").click()
    session.get_by_test_id("mkdir-input").fill("made-here")
    session.get_by_test_id("mkdir-submit").click()
    expect(row(panel, "made-here")).to_be_visible()
    assert (remote_dir / "made-here").is_dir()
    # the same name again is refused with the console's message, in the dialog
    panel.get_by_test_id("files-mkdir").click()
    session.get_by_test_id("mkdir-input").fill("made-here")
    session.get_by_test_id("mkdir-submit").click()
    expect(session.get_by_test_id("mkdir-dialog")).to_contain_text("already exists")
    session.get_by_test_id("mkdir-dialog").get_by_role("button", name="Cancel").click()
    no_csp_violations(session)


def test_cancelling_a_large_upload_leaves_nothing_on_the_target(
    context: BrowserContext, console_server: ConsoleServer, sshd_server: SshServer, remote_dir: Path, tmp_path: Path
) -> None:
    big = tmp_path / "huge.img"
    with big.open("wb") as f:
        f.truncate(1024 * MiB)  # sparse: cheap to make, slow enough to send to cancel halfway
    session, panel = open_files(context, console_server, sshd_server, remote_dir)
    panel.get_by_test_id("files-upload").set_input_files(str(big))
    row_ = transfer(panel, "huge.img")
    percent = row_.get_by_test_id("transfer-percent")
    wait_until(
        session,
        lambda: percent.inner_text().rstrip("%").isdigit() and 0 < int(percent.inner_text().rstrip("%")) < 90,
        "the upload to be under way",
        timeout_ms=30_000,
    )
    expect(row_.get_by_test_id("transfer-speed")).to_contain_text("/s")
    panel.get_by_test_id("transfer-cancel-huge.img").click()
    expect(row_).to_have_attribute("data-state", "cancelled")
    expect(row_.get_by_test_id("transfer-status")).to_have_text("cancelled")
    # nothing under the real name, and the hidden temporary file is removed
    wait_until(session, lambda: not any(remote_dir.iterdir()), f"{remote_dir} to be empty again")
    panel.get_by_test_id("files-refresh").click()
    expect(row(panel, "huge.img")).to_have_count(0)


def test_a_rep_whose_upload_permission_is_taken_away_is_refused_and_told_so(
    context: BrowserContext, console_server: ConsoleServer, sshd_server: SshServer, remote_dir: Path
) -> None:
    _, panel = open_files(context, console_server, sshd_server, remote_dir)
    expect(panel.get_by_test_id("files-permissions")).to_be_hidden()

    # an administrator (here: the same one, on the admin page) turns the upload permission off
    admin = context.new_page()
    admin.goto(console_server.url + "/admin")
    admin.get_by_test_id(f"user-edit-{console_server.admin_username}").click()
    dialog = admin.get_by_test_id("user-edit-dialog")
    dialog.get_by_label("May upload files to targets").uncheck()
    expect(dialog.get_by_label("May download files from targets")).to_be_checked()
    admin.get_by_test_id("user-save").click()
    expect(dialog).to_have_count(0)
    rights = admin.locator(f"#users-list tr[data-username='{console_server.admin_username}'] td").nth(3)
    expect(rights).to_have_text("download")
    admin.close()

    # the open view still offers the upload: the console refuses it and the reason is shown
    panel.get_by_test_id("files-upload").set_input_files([payload("nope.txt", b"no")])
    refused = transfer(panel, "nope.txt")
    expect(refused).to_have_attribute("data-state", "failed", timeout=20_000)
    expect(refused).to_contain_text("you may not upload files")
    assert not (remote_dir / "nope.txt").exists()
    # the view learnt the new permissions: no more upload, and it says why
    expect(panel.get_by_test_id("files-permissions")).to_contain_text("You may not upload or change files")
    expect(panel.get_by_test_id("files-upload-input")).to_be_disabled()
    expect(panel.get_by_test_id("files-mkdir")).to_be_disabled()
    expect(panel.get_by_test_id("files-upload")).to_have_attribute("aria-disabled", "true")
