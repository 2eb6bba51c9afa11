"""The console's view of a desktop stream: where its complete pictures (keyframes) start.

A desktop session's stream is the byte stream of :mod:`jumpoint.core.desktop_wire`; the console does not decode
pictures, it only scans message headers (checking types and caps) and remembers where each KEYFRAME marker lies.
A socket that attaches, or falls too far behind, restarts at the newest keyframe still in the log; when none is
left, the session asks the Jumpoint for a new one (a REFRESH input message) and the socket waits for it.
"""

from __future__ import annotations

import time
from collections import deque

from jumpoint.core import desktop_wire

KEEP_KEYFRAMES = 32
REQUEST_INTERVAL = 1.0  # seconds between keyframe requests while one is awaited


class DesktopScreen:
    """Keyframe positions of one desktop stream (its positions are byte offsets: desktops add no events)."""

    def __init__(self) -> None:
        self._scanner = desktop_wire.HeaderScanner(desktop_wire.OUTPUT_TYPES)
        self._keyframes: deque[int] = deque(maxlen=KEEP_KEYFRAMES)
        self._requested_at: float | None = None
        self._last_keyframe_at = time.monotonic()
        self.size: tuple[int, int] = (0, 0)

    def feed(self, data: bytes) -> bool:
        """Scan output; True when it started a new keyframe. Raises ProtocolViolation for a malformed stream."""
        started = False
        for offset, kind, _length in self._scanner.feed(data):
            if kind == desktop_wire.KEYFRAME:
                self._keyframes.append(offset)
                self._requested_at = None
                self._last_keyframe_at = time.monotonic()
                started = True
        return started

    def keyframe_at_or_after(self, start: int) -> int | None:
        """The newest keyframe position not evicted from a log that now begins at ``start``."""
        if self._keyframes and self._keyframes[-1] >= start:
            return self._keyframes[-1]
        return None

    def keyframe_age(self, now: float) -> float:
        """Seconds since the last keyframe began (or since the session started, before the first)."""
        return now - self._last_keyframe_at

    def should_request(self) -> bool:
        """Whether to ask the Jumpoint for a keyframe now (none asked for in the last second)."""
        now = time.monotonic()
        if self._requested_at is not None and now - self._requested_at < REQUEST_INTERVAL:
            return False
        self._requested_at = now
        return True

    def close(self) -> None:
        """Nothing to release."""
