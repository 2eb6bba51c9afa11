"""When a terminal floods output, small takes are followed by a short hold; anything else is never held."""

from __future__ import annotations

from jumpoint.core.output_pacing import BURST_GAP, FLOOD_BYTES, FLOOD_HOLD, FULL_FRAME, FloodPacer


def test_a_burst_past_the_flood_size_holds_after_each_small_take() -> None:
    pacer = FloodPacer()
    now = 100.0
    holds = []
    for _ in range(40):
        holds.append(pacer.took(1024, now))
        now += 0.0001
    first_hold = FLOOD_BYTES // 1024 - 1
    assert holds[:first_hold] == [0.0] * first_hold
    assert holds[first_hold:] == [FLOOD_HOLD] * (40 - first_hold)


def test_large_takes_are_never_held() -> None:
    pacer = FloodPacer()
    assert [pacer.took(FULL_FRAME, 5.0 + k * 0.001) for k in range(10)] == [0.0] * 10


def test_a_pause_in_the_output_ends_the_burst() -> None:
    pacer = FloodPacer()
    now = 7.0
    for _ in range(FLOOD_BYTES // 4096 + 1):
        pacer.took(4096, now)
        now += 0.001
    assert pacer.took(4096, now) == FLOOD_HOLD
    now += BURST_GAP * 2  # the command finished; the rep types again
    assert pacer.took(1, now) == 0.0
    assert pacer.took(1, now + 0.0005) == 0.0
