"""End-to-end fixtures: Debian's Chromium driven by Playwright (sync API), a real console and a real sshd.

No ``playwright install`` here: the browser is ``/usr/bin/chromium``. Without it the tests are skipped, unless
``CI=true``: then they fail. On failure every open page of the test is saved as a screenshot under
``<pytest basetemp>/screenshots``.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright

from tests.fixtures.console import *  # noqa: F403
from tests.fixtures.sshd import *  # noqa: F403
from tests.fixtures.vnc import *  # noqa: F403

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Records Content-Security-Policy violations so tests can check the pages need no inline code or style.
CSP_RECORDER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sample || ''));
});
"""


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    """Keep each phase's report on the test item (``item.rep_setup``, ``rep_call``) for the fixtures."""
    report = yield
    setattr(item, "rep_" + report.when, report)
    return report


# Package scope, not session: Playwright's sync API keeps an event loop running in this thread until it stops,
# which would break the asyncio tests collected after the e2e package.
@pytest.fixture(scope="package")
def playwright_instance() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium package"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="package")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.getbasetemp() / "screenshots"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def context(browser: Browser, request: pytest.FixtureRequest, screenshot_dir: Path) -> Iterator[BrowserContext]:
    """A fresh browser context (its own cookies) that accepts the console's self-signed certificate."""
    ctx = browser.new_context(ignore_https_errors=True, viewport={"width": 1200, "height": 800})
    ctx.set_default_timeout(15_000)
    ctx.add_init_script(CSP_RECORDER)
    try:
        yield ctx
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is None or report.failed:
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
            for i, page in enumerate(ctx.pages):
                path = screenshot_dir / f"{name}-{i}.png"
                try:
                    page.screenshot(path=str(path), full_page=True)
                    print(f"screenshot of {page.url}: {path}", file=sys.stderr)
                except Exception as exc:  # a page that is gone cannot be photographed
                    print(f"no screenshot of {page.url}: {exc}", file=sys.stderr)
        ctx.close()


@pytest.fixture
def browser_context_factory(browser: Browser) -> Iterator[Callable[[], BrowserContext]]:
    """More browser contexts (other users, or an administrator preparing data), closed after the test."""
    made: list[BrowserContext] = []

    def factory() -> BrowserContext:
        ctx = browser.new_context(ignore_https_errors=True)
        made.append(ctx)
        return ctx

    yield factory
    for ctx in made:
        with contextlib.suppress(Exception):
            ctx.close()
