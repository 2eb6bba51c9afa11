"""The ordered terminal stream of one session: a bounded log that every participant's socket reads at its own pace.

Each entry has a *position*: an output chunk of n bytes occupies n positions, every other entry (an encoded JSON
event such as ``resize``) occupies one. Readers keep a cursor (a position); fan-out costs one append and N cursors,
never N copies. The log keeps the most recent entries, up to ``capacity`` (see below), so a late joiner or a
reconnecting browser can be served from it; a cursor older than the retained start has been *evicted*, and that
reader must be resynchronised from a screen snapshot instead.

The capacity bounds memory, not just payload: each entry is charged its length plus :data:`ENTRY_OVERHEAD` (what
its slot, position and object header take), and a small output chunk is merged into the small output entry before
it. So a flood of one-byte chunks or of tiny events keeps the log near ``capacity`` bytes of memory, and small
chunks still fill the log with output rather than with overhead (a pacing socket a flow-control window behind is
not evicted by a target that writes in small pieces).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

Entry = bytes | str

ENTRY_OVERHEAD = 128
"""What an entry costs against the capacity beyond its length: its list slots, its position and output count, and
the header of its bytes or str object (measured: about 88 bytes, plus 33 to 49 of header)."""
MERGE_BELOW = 1024
"""An output chunk shorter than this is merged into the output entry before it while that one is shorter too (so
entries under it are rare, and merging copies at most about twice this per append); see :class:`StreamLog`."""


@dataclass(frozen=True, slots=True)
class Batch:
    """What a reader gets: entries in order, starting at ``pos``; ``end`` is the position after the last one."""

    pos: int
    entries: list[Entry]
    end: int


class StreamLog:
    """A bounded, append-only log of terminal entries with positions (see the module docstring).

    The retained entries cost at most ``capacity`` (each its length plus :data:`ENTRY_OVERHEAD`), or are the single
    newest entry. Merging never changes what a position holds, only which entry holds it; it is limited to entries
    under ``capacity // 1024`` bytes, so eviction stays fine-grained in a small log.
    """

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._merge_below = min(MERGE_BELOW, capacity // 1024)
        self._starts: list[int] = []  # position of each entry
        self._out_before: list[int] = []  # output bytes before each entry
        self._items: list[Entry] = []
        self._first = 0  # index of the first retained entry (entries before it are dead, compacted lazily)
        self._bytes = 0  # retained cost: lengths plus ENTRY_OVERHEAD each
        self.head = 0  # the position after the last entry
        self.output_total = 0  # output bytes ever appended
        self._last_read: tuple[int, int, int, Batch] | None = None  # readers in step share one merged batch

    @property
    def start(self) -> int:
        """The oldest retained position (== ``head`` when empty)."""
        return self._starts[self._first] if self._first < len(self._items) else self.head

    def append_output(self, data: bytes) -> None:
        """Append terminal output (empty chunks are ignored; a small one may be merged into the entry before it)."""
        n = len(data)
        if not n:
            return
        items = self._items
        if n < self._merge_below and len(items) > self._first:
            last = items[-1]
            if isinstance(last, bytes) and len(last) < self._merge_below:
                # the last entry ends at the head, so its positions and output count go on without a gap
                items[-1] = last + data
                self.head += n
                self.output_total += n
                self._bytes += n
                self._evict()
                return
        self._append(data, n)
        self.output_total += n

    def append_event(self, encoded: str) -> int:
        """Append one encoded JSON event; return the position it occupies."""
        pos = self.head
        self._append(encoded, 1)
        return pos

    def _append(self, item: Entry, width: int) -> None:
        self._starts.append(self.head)
        self._out_before.append(self.output_total)
        self._items.append(item)
        self.head += width
        self._bytes += len(item) + ENTRY_OVERHEAD
        self._evict()

    def _evict(self) -> None:
        items = self._items
        while self._bytes > self.capacity and len(items) - self._first > 1:
            self._bytes -= len(items[self._first]) + ENTRY_OVERHEAD
            items[self._first] = b""  # drop the reference now; the slot goes at compaction
            self._first += 1
        if self._first > 1024 and self._first * 2 > len(items):
            del self._starts[: self._first], self._out_before[: self._first], items[: self._first]
            self._first = 0

    def evicted(self, pos: int) -> bool:
        """Whether ``pos`` is no longer served from the log."""
        return pos < self.start

    def output_at(self, pos: int) -> int:
        """How many output bytes lie before ``pos`` (for flow-control credit); ``pos`` must not be evicted."""
        if pos >= self.head:
            return self.output_total
        i = bisect_right(self._starts, pos, lo=self._first) - 1
        item = self._items[i]
        return self._out_before[i] + (pos - self._starts[i] if isinstance(item, bytes) else 0)

    def read(self, pos: int, limit: int, max_bytes: int) -> Batch | None:
        """Entries from ``pos`` up to (not past) position ``limit``, about ``max_bytes`` at most (at least one).

        Consecutive output is merged into one chunk. Returns None when ``pos`` was evicted; an empty batch when
        ``pos`` is at ``limit`` or the head. The entries must not be changed: readers that keep in step (the
        usual fan-out) are given the same batch, merged once.
        """
        if pos < self.start:
            return None
        limit = min(limit, self.head)
        if pos >= limit:
            return Batch(pos, [], pos)
        last = self._last_read
        if last is not None and last[0] == pos and last[1] == limit and last[2] == max_bytes:
            return last[3]  # what lies between pos and limit never changes once appended
        batch = self._read(pos, limit, max_bytes)
        self._last_read = (pos, limit, max_bytes, batch)
        return batch

    def _read(self, pos: int, limit: int, max_bytes: int) -> Batch:
        out: list[Entry] = []
        i = bisect_right(self._starts, pos, lo=self._first) - 1
        cursor = pos
        size = 0
        pending: list[bytes] = []
        items, starts = self._items, self._starts
        while i < len(items) and cursor < limit and size < max_bytes:
            item = items[i]
            if isinstance(item, bytes):
                skip = cursor - starts[i]
                take = min(len(item) - skip, limit - cursor, max_bytes - size)
                pending.append(item[skip : skip + take] if skip or take < len(item) else item)
                cursor += take
                size += take
                if skip + take < len(item):
                    break
            else:
                if pending:
                    out.append(pending[0] if len(pending) == 1 else b"".join(pending))
                    pending = []
                out.append(item)
                cursor += 1
                size += len(item)
            i += 1
        if pending:
            out.append(pending[0] if len(pending) == 1 else b"".join(pending))
        return Batch(pos, out, cursor)
