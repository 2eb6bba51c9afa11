"""An in-memory sliding-window counter with a bounded number of keys (for login attempts)."""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable


class SlidingWindowLimiter:
    """Counts events per key over the last ``window`` seconds; remembers at most ``max_keys`` keys.

    When full, the least recently touched key is forgotten (an attacker can only make the limiter forget
    other keys, never grow memory).
    """

    def __init__(
        self, *, window: float = 60.0, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        self._events: OrderedDict[str, deque[float]] = OrderedDict()

    def _prune(self, key: str, now: float) -> deque[float] | None:
        events = self._events.get(key)
        if events is None:
            return None
        while events and events[0] <= now - self.window:
            events.popleft()
        if not events:
            del self._events[key]
            return None
        return events

    def retry_after(self, key: str, limit: int) -> int | None:
        """Seconds to wait if ``key`` already has ``limit`` events in the window, else None."""
        now = self._clock()
        events = self._prune(key, now)
        if events is None or len(events) < limit:
            return None
        return max(1, math.ceil(events[-limit] + self.window - now))

    def record(self, key: str) -> float:
        """Count one event for ``key`` now; returns its time, which :meth:`forget` takes to remove it again."""
        now = self._clock()
        events = self._prune(key, now)
        if events is None:
            events = deque(maxlen=1000)
            self._events[key] = events
            while len(self._events) > self.max_keys:
                self._events.popitem(last=False)
        else:
            self._events.move_to_end(key)
        events.append(now)
        return now

    def forget(self, key: str, at: float) -> None:
        """Remove the one event of ``key`` that :meth:`record` counted ``at`` (an attempt that turned out fine).

        Nothing happens when that event is gone already (out of the window, reset, or the key evicted).
        """
        events = self._events.get(key)
        if events is None:
            return
        try:
            events.remove(at)
        except ValueError:
            return
        if not events:
            del self._events[key]

    def reset(self, key: str) -> None:
        """Forget ``key`` (after a successful login)."""
        self._events.pop(key, None)

    def __len__(self) -> int:
        return len(self._events)
