"""A session's notices from the Jumpoint (``notice {kind, text, subject?}``): audited, put in the timeline, limited.

* **Audit.** ``credential_injected`` becomes ``credential.injected`` (the credential, the item, the rep who jumped);
  any other kind ``session.notice.<kind>`` with ``{kind, text}``, or ``session.notice.other`` when the kind is not
  1..:data:`NOTICE_KIND_MAX` characters of ``[a-z0-9_]`` (a third-party adapter's, or one too long for the audit
  action column, which would cut it short): the kind is in the detail either way, whole.
* **Limit.** Each notice is an audit event, a timeline entry and a message to every socket, and the Jumpoint may send
  them at any rate: a session takes at most :data:`NOTICE_BURST` within :data:`NOTICE_WINDOW_SECONDS`
  (``credential_injected`` has a budget of its own, so a flood of other notices cannot hide a credential's use), and
  none while the console's history writer is behind (``console_web/hub/records.py``). The rest are dropped and
  counted: one ``session.notices_dropped`` audit event and timeline entry (the count, the kinds, why) once the window
  that dropped the first of them is over, and a warning in the log.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from console_web.auth.ratelimit import SlidingWindowLimiter
from jumpoint.core import wire
from jumpoint.core.errors import Busy

if TYPE_CHECKING:
    from console_web.hub.session import LiveSession

NOTICE_BURST = 20
NOTICE_WINDOW_SECONDS = 10.0
"""A session takes at most :data:`NOTICE_BURST` notices (of each budget) within this many seconds."""
NOTICE_ACTION = "session.notice."
NOTICE_KIND_MAX = 64 - len(NOTICE_ACTION)
"""The longest kind that names its audit action: ``session.notice.<kind>`` fits the action column (64 characters)."""
DROPPED_KINDS_MAX = 8
"""How many distinct kinds a ``session.notices_dropped`` event names (the count covers every notice dropped)."""
_ACTION_KIND = re.compile(rf"[a-z0-9_]{{1,{NOTICE_KIND_MAX}}}")
CREDENTIAL_INJECTED = "credential_injected"


def notice_action(kind: str) -> str:
    """The audit action of a notice of ``kind``: ``session.notice.<kind>``, or ``session.notice.other`` for a kind
    that is not 1..:data:`NOTICE_KIND_MAX` characters of ``[a-z0-9_]``."""
    return NOTICE_ACTION + (kind if _ACTION_KIND.fullmatch(kind) else "other")


class SessionNotices:
    """The notices of one session (see the module docstring); the session calls :meth:`on_notice` for each."""

    def __init__(self, session: LiveSession) -> None:
        self._session = session
        self._limiter = SlidingWindowLimiter(window=NOTICE_WINDOW_SECONDS, max_keys=2)
        self._dropped = 0
        self._dropped_kinds: dict[str, int] = {}
        self._why: set[str] = set()
        self._summary: asyncio.TimerHandle | None = None

    @property
    def dropped(self) -> int:
        """Notices dropped since the last ``session.notices_dropped`` event (its count, once it is due)."""
        return self._dropped

    def on_notice(self, msg: wire.NoticeMsg) -> None:
        """Audit the notice and put its text in the timeline, unless it is over the limit or the history writer is
        behind: then it is counted in the next ``session.notices_dropped`` event instead."""
        session = self._session
        budget = "credential" if msg.kind == CREDENTIAL_INJECTED else "other"
        if self._limiter.retry_after(budget, NOTICE_BURST) is not None:
            self._drop(msg.kind, f"more than {NOTICE_BURST} in {NOTICE_WINDOW_SECONDS:g} s")
            return
        try:
            session.hooks.check_history_room("record a notice")
        except Busy:
            self._drop(msg.kind, "the console's history writes were behind its database")
            return
        self._limiter.record(budget)
        if msg.kind == CREDENTIAL_INJECTED:
            # who jumped (and so chose or was given the credential), on which item, with which credential
            detail = {"credential": msg.subject, "item_id": session.jump.item_id, "item_name": session.jump.item_name}
            session.audit("credential.injected", detail, actor=session.owner.identity)
        else:
            session.audit(notice_action(msg.kind), {"kind": msg.kind, "text": msg.text})
        session.system(msg.text)

    def _drop(self, kind: str, why: str) -> None:
        self._dropped += 1
        if kind in self._dropped_kinds or len(self._dropped_kinds) < DROPPED_KINDS_MAX:
            self._dropped_kinds[kind] = self._dropped_kinds.get(kind, 0) + 1
        self._why.add(why)
        if self._summary is None:  # the first one dropped: said at once in the log, counted in the event
            self._session.log.warning("dropping notices from the Jumpoint (%s); a count follows", why)
            self._summary = asyncio.get_running_loop().call_later(NOTICE_WINDOW_SECONDS, self._summarise)

    def _summarise(self) -> None:
        """The ``session.notices_dropped`` event for what was dropped since the previous one."""
        count, kinds, why = self._dropped, self._dropped_kinds, sorted(self._why)
        self._dropped, self._dropped_kinds, self._why, self._summary = 0, {}, set(), None
        session = self._session
        text = f"{count} notice{'s' if count != 1 else ''} from the Jumpoint dropped ({'; '.join(why)})"
        session.log.warning("%s; kinds: %s", text, kinds)
        session.audit("session.notices_dropped", {"count": count, "kinds": kinds, "why": why})
        session.system(text)


__all__ = [
    "DROPPED_KINDS_MAX",
    "NOTICE_BURST",
    "NOTICE_KIND_MAX",
    "NOTICE_WINDOW_SECONDS",
    "SessionNotices",
    "notice_action",
]
