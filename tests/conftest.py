"""What every test directory shares: the database the console's tests use (SQLite by default, PostgreSQL with
``OPENJUMP_TEST_DATABASE=postgresql``; ``tests/fixtures/postgres.py``), and the event loop the tests run on: the
one the services run on (``jumpoint/core/event_loop.py``; uvloop unless ``OPENJUMP_EVENT_LOOP=asyncio``).

On PostgreSQL, unit tests of SQLite's own settings (their names say ``sqlite``) are skipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jumpoint.core import event_loop
from tests.fixtures.postgres import *  # noqa: F403
from tests.fixtures.postgres import BACKEND_ENV, selected_backend

UNIT_TESTS = Path(__file__).resolve().parent / "unit"


def pytest_report_header(config: pytest.Config) -> str:
    """Say which database the console's tests use."""
    return f"console test database: {selected_backend()} ({BACKEND_ENV})"


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, object]:
    """Async tests and fixtures run on the services' event loop."""
    factory = event_loop.loop_factory()
    return {factory.__module__.split(".")[0]: factory}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, skip the unit tests of SQLite's own settings."""
    if selected_backend() != "postgresql":
        return
    skip = pytest.mark.skip(reason=f"an SQLite-only test ({BACKEND_ENV}=postgresql)")
    for item in items:
        if UNIT_TESTS in item.path.parents and "sqlite" in item.name.lower():
            item.add_marker(skip)
