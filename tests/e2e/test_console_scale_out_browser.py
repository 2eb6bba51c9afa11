"""Two console nodes in real Chromium: the Jumpoint (node A's built-in one) and the owner on node A, a second rep on
node B joining the same session. The nodes share PostgreSQL, Redis and a recordings directory, as in production."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.e2e.test_shared_sessions_browser import BOB_PASSWORD, _shared_item
from tests.e2e.test_web_console import (
    Api,
    connect_with_password,
    jump_from_console,
    run_in_terminal,
    wait_for_terminal,
)
from tests.fixtures.console import ConsoleServer, start_console
from tests.fixtures.postgres import PostgresServer
from tests.fixtures.redis import *  # noqa: F403
from tests.fixtures.redis import RedisServer, unique_node_ids
from tests.fixtures.sshd import SshServer


@dataclass
class TwoNodes:
    """Node A (with the built-in Jumpoint) and node B."""

    a: ConsoleServer
    b: ConsoleServer


@pytest.fixture
def two_nodes(
    request: pytest.FixtureRequest, postgres_server: PostgresServer, redis_server: RedisServer
) -> Iterator[TwoNodes]:
    database_url = postgres_server.console_database().url
    shared = Path(tempfile.mkdtemp(prefix="oj-cluster-"))
    servers: list[ConsoleServer] = []
    try:
        for node_id in unique_node_ids(2):
            state_dir = shared / node_id
            state_dir.mkdir()
            extra = [
                "recordings:",
                f"  directory: {shared / 'recordings'}",
                "cluster:",
                f"  node_id: {node_id}",
                f"  redis_url: {redis_server.url}",
            ]
            password = servers[0].admin_password if servers else None
            try:
                servers.append(
                    start_console(state_dir, database_url=database_url, extra_config=extra, admin_password=password)
                )
            except RuntimeError as exc:
                pytest.fail(f"console node {node_id} did not start: {exc}")
        yield TwoNodes(servers[0], servers[1])
    finally:
        report = getattr(request.node, "rep_call", None)
        for server in servers:
            server.stop()
            if report is None or report.failed:
                print(server.output(), file=sys.stderr)
        shutil.rmtree(shared, ignore_errors=True)


def test_a_rep_on_node_b_joins_the_session_started_on_node_a_and_both_work_in_it(
    context: BrowserContext,
    browser_context_factory: Callable[[], BrowserContext],
    two_nodes: TwoNodes,
    sshd_server: SshServer,
) -> None:
    a, b = two_nodes.a, two_nodes.b
    admin = Api(context, a)
    admin.login()
    _shared_item(admin, sshd_server)  # "Shared sshd", join existing, in a group with Bob
    console_a = context.new_page()
    console_a.goto(a.url + "/console")
    owner = jump_from_console(context, console_a, "Shared sshd")
    connect_with_password(owner, sshd_server)
    run_in_terminal(owner, "echo owner-$((6*7))")
    wait_for_terminal(owner, lambda text: "owner-42" in text, "owner-42")

    bob_context = browser_context_factory()
    Api(bob_context, b).login("bob", BOB_PASSWORD)
    console_b = bob_context.new_page()
    console_b.goto(b.url + "/console")
    joined = jump_from_console(bob_context, console_b, "Shared sshd")
    assert joined.url.startswith(b.url)  # Bob's tab talks to node B only
    wait_for_terminal(joined, lambda text: "owner-42" in text, "the owner's screen, through node B")
    expect(owner.get_by_test_id("timeline")).to_contain_text("Bob joined the session")

    run_in_terminal(joined, "echo bob-on-b-$((20+22))")
    wait_for_terminal(owner, lambda text: "bob-on-b-42" in text, "Bob's command on the owner's screen")
    joined.get_by_test_id("chat-input").fill("typed on node B")
    joined.get_by_test_id("chat-send").click()
    expect(owner.get_by_test_id("timeline")).to_contain_text("typed on node B")
