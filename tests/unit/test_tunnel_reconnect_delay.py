"""How long a Jumpoint waits before it reconnects its tunnel (``jumpoint.agent.tunnel.reconnect_delay``)."""

from __future__ import annotations

import random

import pytest

from jumpoint.agent.tunnel import reconnect_delay


@pytest.mark.parametrize(("attempt", "cap"), [(1, 2.0), (2, 4.0), (3, 8.0), (5, 32.0), (6, 60.0), (40, 60.0)])
def test_the_wait_grows_exponentially_up_to_the_maximum_with_full_jitter(attempt: int, cap: float) -> None:
    random.seed(attempt)
    waits = [reconnect_delay(attempt, 1.0, 60.0, console_restarting=False) for _ in range(2000)]
    assert all(0 <= w <= cap for w in waits)
    assert max(waits) > 0.9 * cap  # spread over the whole range, not bunched at the start
    assert min(waits) < 0.1 * cap


def test_while_the_console_restarts_the_wait_stays_short_however_many_attempts_failed() -> None:
    waits = [reconnect_delay(attempt, 1.0, 60.0, console_restarting=True) for attempt in range(1, 40)]
    assert all(0 <= w <= 2.0 for w in waits)


def test_a_maximum_below_the_minimum_still_bounds_the_wait() -> None:
    assert all(reconnect_delay(a, 5.0, 3.0, restarting) <= 3.0 for a in range(1, 10) for restarting in (True, False))
