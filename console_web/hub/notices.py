"""A session's notices from the Jumpoint (``notice {kind, text, subject?}``): audited and put in the timeline.

``credential_injected`` becomes ``credential.injected`` (the credential, the item, the rep who jumped); any other kind
``session.notice.<kind>`` with ``{kind, text}``, or ``session.notice.other`` when the kind is not
1..:data:`NOTICE_KIND_MAX` characters of ``[a-z0-9_]`` (a third-party adapter's, or one too long for the audit action
column, which would cut it short): the kind is in the detail either way, whole.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from jumpoint.core import wire

if TYPE_CHECKING:
    from console_web.hub.session import LiveSession

NOTICE_ACTION = "session.notice."
NOTICE_KIND_MAX = 64 - len(NOTICE_ACTION)
"""The longest kind that names its audit action: ``session.notice.<kind>`` fits the action column (64 characters)."""
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

    def on_notice(self, msg: wire.NoticeMsg) -> None:
        """Audit the notice and put its text in the timeline."""
        session = self._session
        if msg.kind == CREDENTIAL_INJECTED:
            # who jumped (and so chose or was given the credential), on which item, with which credential
            detail = {"credential": msg.subject, "item_id": session.jump.item_id, "item_name": session.jump.item_name}
            session.audit("credential.injected", detail, actor=session.owner.identity)
        else:
            session.audit(notice_action(msg.kind), {"kind": msg.kind, "text": msg.text})
        session.system(msg.text)


__all__ = [
    "NOTICE_KIND_MAX",
    "SessionNotices",
    "notice_action",
]
