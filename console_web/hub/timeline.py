"""A session's timeline: chat messages and system events, in order, as every participant sees them."""

from __future__ import annotations

import unicodedata
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from jumpoint.core.errors import BadRequest

CHAT_MAX = 2048
HISTORY_KEPT = 5000  # entries a joiner is sent; older ones stay in the database (the session report has them all)

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

    def history(self) -> list[dict[str, Any]]:
        """Every kept entry, oldest first."""
        return [item.to_dict() for item in self._items]
