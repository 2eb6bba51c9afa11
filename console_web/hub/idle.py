"""The idle timer of a live session: warn when nobody typed for a while, end the session at the timeout.

The clock starts when the target is reached (:meth:`IdleTimer.restart`) and any participant's keys reset it
(:meth:`IdleTimer.touch`). The session's 1 s housekeeping tick calls :meth:`IdleTimer.check`, which warns at the
:meth:`IdleTimer.thresholds` (an ``idle`` message and a timeline event) and ends the session at the timeout
(``sessions.idle_timeout_seconds``; 0 turns it off).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from console_web.hub.session_hooks import CLOSE_ENDED

if TYPE_CHECKING:
    from console_web.hub.session import LiveSession


class IdleTimer:
    """No input for ``idle_timeout_seconds`` ends the session; participants are warned before."""

    def __init__(self, session: LiveSession) -> None:
        self._session = session
        self.last_input = time.monotonic()
        self.warnings_sent = 0

    def restart(self) -> None:
        """The target was reached: the idle clock starts now."""
        self.last_input = time.monotonic()

    def touch(self) -> None:
        """Someone typed: the clock starts again, and a warning that was shown is over (``idle`` with null)."""
        self.last_input = time.monotonic()
        if self.warnings_sent:
            self.warnings_sent = 0
            self._session.broadcast({"t": "idle", "seconds_left": None})

    def thresholds(self) -> list[float]:
        """Seconds without input at which participants are warned: a third, two thirds, and a minute before
        (for short timeouts, a tenth of it before, but at least 1.5 s so the 1 s housekeeping tick sees it)."""
        total = float(self._session.settings.idle_timeout_seconds)
        last = total - max(1.5, min(60.0, total / 10))
        return [total / 3, total * 2 / 3, last]

    def check(self, now: float) -> None:
        """The housekeeping tick: warn, or end the session once the timeout has passed (connected sessions)."""
        session = self._session
        total = float(session.settings.idle_timeout_seconds)
        if total <= 0 or session.state != "connected":
            return
        idle = now - self.last_input
        if idle >= total:
            session.audit("session.idle_timeout", {"seconds": int(total)})
            session.fail_soft(f"no input for {duration(int(total))}", CLOSE_ENDED)
            return
        thresholds = self.thresholds()
        if self.warnings_sent < len(thresholds) and idle >= thresholds[self.warnings_sent]:
            self.warnings_sent += 1
            left = round(total - idle)
            session.broadcast({"t": "idle", "seconds_left": left})
            session.system(f"No input for {duration(round(idle))}: the session ends in {duration(left)} without input")


def duration(seconds: int) -> str:
    """``seconds`` for people: "1 second", "90 seconds", "3 minutes"."""
    if seconds >= 120:
        return f"{round(seconds / 60)} minutes"
    return f"{seconds} second{'s' if seconds != 1 else ''}"
