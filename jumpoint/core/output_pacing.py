"""``FloodPacer``: when a terminal floods output, read and forward it in fewer, larger pieces; never delay typing.

Every piece of output costs a fixed amount of work in the Jumpoint, the console and each browser, whatever its
size: a socket read, a tunnel frame, a WebSocket message. A server that writes its output a line at a time (busybox
telnetd sends each read of its pty as it comes: 102-byte segments for ``base64`` output) makes thousands of pieces
for what an SSH server sends in a few hundred 32 KiB packets, and the fixed costs dominate. The pacer watches what
the reader just took: once a burst of output (takes less than :data:`BURST_GAP` apart) has passed
:data:`FLOOD_BYTES`, a take smaller than :data:`FULL_FRAME` is followed by a pause of :data:`FLOOD_HOLD`, during
which the source is not read (:class:`~jumpoint.core.output_buffer.OutputBuffer` pauses it), so the kernel gathers
what arrives and one read and one frame carry it. Output that is not a flood (an echo, a prompt, a screenful after
a command) is never held: its burst stays under :data:`FLOOD_BYTES`. At most :data:`FLOOD_HOLD` is added to output
while a flood runs, far below what a screen can show.
"""

from __future__ import annotations

from typing import Final

BURST_GAP: Final = 0.005
"""Takes less than this apart belong to one burst of output."""
FLOOD_BYTES: Final = 16 * 1024
"""A burst past this size is a flood (a screenful of a wide terminal is about 10 KiB)."""
FULL_FRAME: Final = 32 * 1024
"""A take of at least this size is large enough already: no pause after it."""
FLOOD_HOLD: Final = 0.010
"""The pause after a small take during a flood: under a frame of a 60 Hz screen. Against 2 ms, busybox telnetd
floods cost the console and the Jumpoint a quarter less CPU with the same throughput (interleaved runs,
docs/performance.md)."""


class FloodPacer:
    """Decides, after each take of output, how long to hold before the next one. Pure logic: the caller passes the
    monotonic time."""

    __slots__ = ("_burst", "_last")

    def __init__(self) -> None:
        self._burst = 0
        self._last = float("-inf")

    def took(self, size: int, now: float) -> float:
        """Record a take of ``size`` bytes at ``now``; return the seconds to hold before the next (0.0: none)."""
        if now - self._last > BURST_GAP:
            self._burst = 0
        self._last = now
        self._burst += size
        if self._burst >= FLOOD_BYTES and size < FULL_FRAME:
            return FLOOD_HOLD
        return 0.0
