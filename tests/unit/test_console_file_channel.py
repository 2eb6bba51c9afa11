"""The console's end of a file operation: what it accepts from the Jumpoint on a download."""

from __future__ import annotations

import pytest

from console_web.hub.file_channel import FileChannel
from jumpoint.core import wire
from jumpoint.core.errors import ProtocolViolation


class FakeLink:
    """What FileChannel uses of a JumpointLink."""

    def __init__(self) -> None:
        self.file_channels: dict[int, FileChannel] = {}
        self.frames: list[bytes] = []

    def allocate_channel(self) -> int:
        return 7

    async def send(self, frame: bytes) -> None:
        self.frames.append(frame)


async def test_an_empty_data_frame_on_a_download_is_a_protocol_violation() -> None:
    request = wire.FileOpen(session_channel=1, op="download", path="/srv/a/x")
    channel = FileChannel(FakeLink(), request)  # type: ignore[arg-type]
    channel.on_control(wire.FileResult(path="/srv/a/x", kind="file", size=3))
    channel.on_output(b"abc")
    with pytest.raises(ProtocolViolation, match="empty DATA"):
        channel.on_output(b"")  # it would count nothing against the window: a flood of them would queue without bound
    assert await channel.read() == b"abc"
