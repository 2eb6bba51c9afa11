"""The timeline history a socket gets when it attaches: in frames under the text-frame limit, the newest entries
that fit, and how many older ones were left out."""

from __future__ import annotations

import json
from typing import Any

from console_web.hub.timeline import HISTORY_FRAME_BYTES, HISTORY_KEPT, HISTORY_SENT_BYTES, Timeline, clean_chat_text
from jumpoint.core.wire import dumps_json


def _decoded(messages: list[str]) -> list[dict[str, Any]]:
    return [json.loads(m) for m in messages]


def test_a_short_history_is_one_message_with_every_entry_and_none_omitted() -> None:
    timeline = Timeline()
    items = [timeline.add("system", "", "alice joined"), timeline.add("chat", "alice", "hello\nthere")]
    [message] = timeline.history_messages()
    expected = {"t": "timeline", "history": True, "omitted": 0, "entries": [i.to_dict() for i in items]}
    assert message == dumps_json(expected)  # exactly what encoding the whole message would give


def test_an_empty_timeline_still_sends_the_history_message_that_clears_the_page() -> None:
    assert _decoded(Timeline().history_messages()) == [{"t": "timeline", "history": True, "omitted": 0, "entries": []}]


def test_5000_chat_messages_of_2048_emoji_go_out_in_frames_under_64_kib_newest_first_kept() -> None:
    timeline = Timeline()
    text = clean_chat_text("\U0001f600" * 2048)  # the reviewer's case: a 39.5 MiB message before
    for _ in range(HISTORY_KEPT):
        timeline.add("chat", "guest", text)

    messages = timeline.history_messages()

    assert all(len(m.encode()) <= HISTORY_FRAME_BYTES for m in messages)
    assert sum(len(m.encode()) for m in messages) <= HISTORY_SENT_BYTES + len(messages) * 64
    first, *rest = _decoded(messages)
    assert first["history"] is True and "continued" not in first
    assert all(m["continued"] is True and "history" not in m for m in rest)
    seqs = [e["seq"] for m in (first, *rest) for e in m["entries"]]
    assert seqs == list(range(seqs[0], HISTORY_KEPT + 1))  # the newest, in order, no gap between frames
    assert first["omitted"] == seqs[0] - 1 > 0


def test_frames_are_filled_up_to_the_limit_and_the_total_is_capped() -> None:
    timeline = Timeline()
    for n in range(100):
        timeline.add("chat", "alice", f"message {n} " + "x" * 200)

    messages = timeline.history_messages(frame_bytes=1000, total_bytes=3000)

    assert all(len(m.encode()) <= 1000 for m in messages)
    decoded = _decoded(messages)
    entries = [e for m in decoded for e in m["entries"]]
    assert 3000 - 400 < sum(len(dumps_json(e).encode()) + 1 for e in entries) <= 3000
    assert [e["seq"] for e in entries][-1] == 100
    assert decoded[0]["omitted"] == 100 - len(entries)
    assert all(m["entries"] for m in decoded)


def test_an_entry_too_big_for_a_frame_is_left_out_with_every_older_one() -> None:
    timeline = Timeline()
    timeline.add("chat", "alice", "old")
    timeline.add("system", "", "y" * 2000)
    timeline.add("chat", "alice", "new")
    [message] = _decoded(timeline.history_messages(frame_bytes=1000))
    assert [e["text"] for e in message["entries"]] == ["new"]
    assert message["omitted"] == 2
