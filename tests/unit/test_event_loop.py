"""The services' event loop: uvloop by default, the standard loop on request, anything else refused."""

from __future__ import annotations

import asyncio
import inspect

import pytest
import uvloop

from jumpoint.core import event_loop
from jumpoint.core.errors import ConfigError


async def _loop_type() -> type:
    return type(asyncio.get_running_loop())


def test_services_run_on_uvloop_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(event_loop.ENVIRONMENT_VARIABLE, raising=False)
    assert issubclass(event_loop.run(_loop_type()), uvloop.Loop)


def test_asyncio_loop_is_used_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(event_loop.ENVIRONMENT_VARIABLE, "asyncio")
    loop_type = event_loop.run(_loop_type())
    assert not issubclass(loop_type, uvloop.Loop)
    assert issubclass(loop_type, asyncio.BaseEventLoop)


def test_unknown_event_loop_is_refused_with_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(event_loop.ENVIRONMENT_VARIABLE, "tokio")
    coroutine = _loop_type()
    with pytest.raises(ConfigError, match=r"OPENJUMP_EVENT_LOOP='tokio'.*uvloop, asyncio"):
        event_loop.run(coroutine)
    assert inspect.getcoroutinestate(coroutine) == inspect.CORO_CLOSED  # no "never awaited" warning


def test_empty_setting_means_the_default() -> None:
    assert event_loop.loop_factory({event_loop.ENVIRONMENT_VARIABLE: ""}) is uvloop.new_event_loop
