"""The console's history writer (``console_web.hub.records``): behind its database, it says so and refuses what
asks first, but it never drops a write it was given."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from console_web.hub import records
from console_web.hub.records import RecordWriter
from jumpoint.core.errors import Busy


class StalledDatabase:
    """A database whose transactions wait until the test lets them through."""

    def __init__(self) -> None:
        self.open = asyncio.Event()

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[object]:
        await self.open.wait()
        yield object()


async def test_a_writer_behind_its_database_refuses_what_asks_first_and_still_writes_everything_it_was_given(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(records, "QUEUE_LIMIT", 10)
    database = StalledDatabase()
    writer = RecordWriter(database)  # type: ignore[arg-type]
    written: list[int] = []

    def write(n: int) -> records.Write:
        async def apply(_: Any) -> None:
            written.append(n)

        return apply

    writer.check_room("change a participant's mode")
    for n in range(25):
        writer.submit(write(n), f"write {n}")
    await asyncio.sleep(0)

    assert writer.behind
    with pytest.raises(Busy, match=r"cannot change a participant's mode now: \d+ history writes are waiting") as exc:
        writer.check_room("change a participant's mode")
    assert exc.value.who == "us"
    assert [r.levelno for r in caplog.records if "are waiting for the database" in r.getMessage()] == [logging.ERROR]

    database.open.set()
    await writer.flush()
    assert written == list(range(25))  # in order, none dropped
    assert not writer.behind
    writer.check_room("change a participant's mode")
    await writer.close()
