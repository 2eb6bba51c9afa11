"""A session's timeline: chat messages and system events, in order, as every participant sees them."""

from __future__ import annotations

import unicodedata
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from jumpoint.core.errors import BadRequest
from jumpoint.core.wire import dumps_json

CHAT_MAX = 2048
HISTORY_KEPT = 5000  # entries kept in memory; older ones stay in the database (the session report has them all)
HISTORY_FRAME_BYTES = 64 * 1024
"""The most one ``timeline`` history message takes, as UTF-8 (a text frame's limit, docs/protocol.md)."""
HISTORY_SENT_BYTES = 1024 * 1024
"""The most the entries of the history sent to one socket take in all (5,000 short entries fit; 5,000 chat messages
of 2,048 emoji would be 40 MiB). The newest entries that fit are sent."""

Kind = Literal["chat", "system"]


@dataclass(frozen=True, slots=True)
class TimelineItem:
    """One chat message or system event."""

    seq: int
    at: datetime
    kind: Kind
    author: str
    author_user_id: int | None
    text: str

    def to_dict(self) -> dict[str, Any]:
        """The entry as browsers get it."""
        return {"seq": self.seq, "at": self.at.isoformat(), "kind": self.kind, "author": self.author, "text": self.text}


def clean_chat_text(text: str) -> str:
    """Validate a chat message: Unicode, 1..2048 characters, not only white space; control characters refused."""
    if len(text) > CHAT_MAX:
        raise BadRequest(f"a chat message is at most {CHAT_MAX} characters (this one has {len(text)})")
    if not text.strip():
        raise BadRequest("a chat message cannot be empty")
    for ch in text:
        if ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cs"):
            raise BadRequest("a chat message cannot contain control characters")
    return text


class Timeline:
    """The entries of one session, bounded in memory (see HISTORY_KEPT)."""

    def __init__(self) -> None:
        self._items: deque[TimelineItem] = deque(maxlen=HISTORY_KEPT)
        self._seq = 0

    def add(self, kind: Kind, author: str, text: str, author_user_id: int | None = None) -> TimelineItem:
        """Append an entry and return it."""
        self._seq += 1
        item = TimelineItem(self._seq, datetime.now(UTC), kind, author, author_user_id, text)
        self._items.append(item)
        return item

    def history_messages(
        self, frame_bytes: int = HISTORY_FRAME_BYTES, total_bytes: int = HISTORY_SENT_BYTES
    ) -> list[str]:
        """The history for a socket that attaches, as encoded ``timeline`` messages of at most ``frame_bytes`` bytes
        of UTF-8 each: the newest kept entries whose encodings take at most ``total_bytes`` in all, oldest first.

        The first message is ``{"t": "timeline", "history": true, "omitted": N, "entries": [..]}`` (it replaces what
        the browser shows; ``omitted``: how many older entries of the session were left out, those no longer kept
        in memory included; the session report has them all); each further
        one is ``{"t": "timeline", "continued": true, "entries": [..]}`` with the entries that follow. There is always
        a first message (with no entries for an empty timeline). An entry too big for a message on its own (none is:
        chat and event texts are bounded) is left out with every older one.
        """
        first_head = '{"t":"timeline","history":true,"omitted":%d,"entries":['
        more_head = '{"t":"timeline","continued":true,"entries":['
        tail = "]}"
        # the room for entries in any message, the commas between them counted with each entry
        room = frame_bytes - len(first_head % self._seq) - len(tail)
        picked: list[tuple[str, int]] = []
        used = 0
        omitted = self._seq  # entries are numbered from 1: those before the oldest one sent are left out
        for item in reversed(self._items):
            text = dumps_json(item.to_dict())
            size = len(text.encode()) + 1
            if size > room or used + size > total_bytes:
                break
            picked.append((text, size))
            used += size
            omitted = item.seq - 1
        picked.reverse()
        pages: list[list[str]] = [[]]
        filled = 0
        for text, size in picked:
            if filled + size > room and pages[-1]:
                pages.append([])
                filled = 0
            pages[-1].append(text)
            filled += size
        heads = [first_head % omitted] + [more_head] * (len(pages) - 1)
        return [head + ",".join(page) + tail for head, page in zip(heads, pages, strict=True)]
