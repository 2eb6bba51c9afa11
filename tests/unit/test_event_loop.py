"""The console and the Jumpoint run on uvloop unless OPENJUMP_EVENT_LOOP=asyncio asks for the standard loop."""

from __future__ import annotations

import asyncio

import pytest

from jumpoint.core import event_loop


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_the_default_loop_is_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(event_loop.ENV_VAR, raising=False)
    assert event_loop.run(_loop_module()).startswith("uvloop")


def test_the_standard_loop_can_be_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(event_loop.ENV_VAR, "asyncio")
    assert event_loop.run(_loop_module()).startswith("asyncio")
