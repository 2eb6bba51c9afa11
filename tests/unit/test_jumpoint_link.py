"""The console's end of a member's tunnel (``console_web.hub.link``): what a member sends that is dropped is logged,
but a flood of it costs the log one line a minute, not one per frame."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from aiohttp import web

from console_web.hub import link as link_module
from console_web.hub.link import JumpointLink
from jumpoint.core import wire


class ScriptedTunnel:
    """A member's WebSocket that delivers the given messages, then ends."""

    closed = False

    def __init__(self, messages: list[SimpleNamespace]) -> None:
        self._messages = messages

    async def __aiter__(self) -> AsyncIterator[SimpleNamespace]:
        for msg in self._messages:
            yield msg


def text(data: str) -> SimpleNamespace:
    return SimpleNamespace(type=web.WSMsgType.TEXT, data=data)


def binary(data: bytes) -> SimpleNamespace:
    return SimpleNamespace(type=web.WSMsgType.BINARY, data=data)


async def serve(messages: list[SimpleNamespace], link: JumpointLink | None = None) -> JumpointLink:
    """Let a member's link (a new one unless given) read ``messages``."""
    tunnel = ScriptedTunnel(messages)
    if link is None:
        link = JumpointLink(1, "LAN", "jp-a", tunnel, member_id=1)  # type: ignore[arg-type]
    link.ws = tunnel  # type: ignore[assignment]
    await link.serve()
    return link


def dropped_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == link_module.__name__]


async def test_a_flood_of_text_messages_from_a_member_is_logged_once_without_its_content(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=link_module.__name__)

    await serve([text("secret-looking payload " * 100)] * 1000)

    [line] = dropped_lines(caplog)
    assert "non-binary" in line and "secret-looking" not in line


async def test_a_flood_of_malformed_frames_and_unexpected_tunnel_messages_is_logged_once_per_kind_a_minute(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.WARNING, logger=link_module.__name__)
    unexpected = wire.encode_control(0, wire.HostKeysSync(keys=[]))  # the console's own message, sent back to it
    clock = [1000.0]
    monkeypatch.setattr(link_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))  # the link's clock only

    link = await serve([binary(b"\x07")] * 500 + [binary(unexpected)] * 500)
    assert len(dropped_lines(caplog)) == 2

    caplog.clear()
    clock[0] += link_module.PEER_LOG_INTERVAL - 1
    await serve([binary(b"\x07")] * 3, link)
    assert dropped_lines(caplog) == []
    clock[0] += 1
    await serve([binary(b"\x07")] * 3, link)
    [line] = dropped_lines(caplog)
    assert line.startswith("dropping a malformed frame")
    assert line.endswith("(and 502 more dropped since the last such line)")
