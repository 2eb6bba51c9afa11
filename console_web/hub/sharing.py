"""Invitations to live sessions: named reps (or every member of a group) and one-time external keys.

Both live in memory with the session they belong to, and vanish when accepted, declined, cancelled, when the owner
leaves or transfers, or when the session ends. External keys are kept only as SHA-256 hashes.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from jumpoint.core.errors import Conflict, NotFound

MAX_PENDING_PER_SESSION = 200


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Invitation:
    """A named rep invited into a session."""

    id: str
    session_id: str
    user_id: int
    item_name: str
    from_user_id: int | None
    from_name: str
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        """As the API returns it."""
        return {
            "id": self.id,
            "session_id": self.session_id,
            "user_id": self.user_id,
            "item_name": self.item_name,
            "from": {"id": self.from_user_id, "name": self.from_name},
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ExternalKey:
    """A one-time key that lets one external person join one session."""

    id: str
    session_id: str
    key_hash: str
    description: str
    mode: str
    expires_at: datetime
    created_by: str
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        """As the API lists it (never the key itself)."""
        return {
            "id": self.id,
            "description": self.description,
            "mode": self.mode,
            "expires_at": self.expires_at.isoformat(),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }


class Invitations:
    """Pending invitations and external keys of every live session."""

    def __init__(self, id_prefix: str = "") -> None:
        self._prefix = id_prefix  # a console node's "<node>_" in a cluster: ids and keys say where they live
        self._invitations: dict[str, Invitation] = {}
        self._keys: dict[str, ExternalKey] = {}  # by key hash

    # --- named reps ------------------------------------------------------------------------------
    def invite(
        self,
        *,
        session_id: str,
        user_ids: Sequence[int],
        item_name: str,
        from_user_id: int | None,
        from_name: str,
        skip_invited: bool,
    ) -> list[Invitation]:
        """Invite reps, all of them or none. One active invitation per rep and session: with ``skip_invited`` (a
        group) reps who have one are skipped, otherwise they are a Conflict. Conflict, inviting nobody, when the
        session would have more than MAX_PENDING_PER_SESSION pending invitations."""
        pending = self.for_session(session_id)
        invited = {i.user_id for i in pending}
        if not skip_invited and invited.intersection(user_ids):
            raise Conflict("this rep already has an active invitation to this session")
        new = [u for u in dict.fromkeys(user_ids) if u not in invited]
        if len(pending) + len(new) > MAX_PENDING_PER_SESSION:
            raise Conflict(
                f"a session has at most {MAX_PENDING_PER_SESSION} pending invitations "
                f"({len(pending)} pending, {len(new)} more asked for); nobody was invited",
                hint="cancel pending invitations first",
            )
        made = [
            Invitation(self._prefix + secrets.token_hex(8), session_id, u, item_name, from_user_id, from_name)
            for u in new
        ]
        self._invitations.update((i.id, i) for i in made)
        return made

    def for_user(self, user_id: int) -> list[Invitation]:
        """A rep's pending invitations, oldest first."""
        return sorted((i for i in self._invitations.values() if i.user_id == user_id), key=lambda i: i.created_at)

    def for_session(self, session_id: str) -> list[Invitation]:
        """A session's pending invitations."""
        return [i for i in self._invitations.values() if i.session_id == session_id]

    def take(self, invitation_id: str, user_id: int) -> Invitation:
        """Remove and return the rep's invitation (accepting or declining it); NotFound otherwise."""
        invitation = self._invitations.get(invitation_id)
        if invitation is None or invitation.user_id != user_id:
            raise NotFound("this invitation does not exist any more", hint="it was cancelled or the session ended")
        del self._invitations[invitation_id]
        return invitation

    def cancel(self, session_id: str, invitation_id: str) -> Invitation:
        """The owner cancels an invitation."""
        invitation = self._invitations.get(invitation_id)
        if invitation is None or invitation.session_id != session_id:
            raise NotFound("this invitation does not exist any more")
        del self._invitations[invitation_id]
        return invitation

    # --- external keys ---------------------------------------------------------------------------
    def create_key(
        self, *, session_id: str, description: str, mode: str, minutes: int, created_by: str
    ) -> tuple[str, ExternalKey]:
        """A new one-time key (returned once) for an external person."""
        if sum(1 for k in self._keys.values() if k.session_id == session_id) >= MAX_PENDING_PER_SESSION:
            raise Conflict(f"a session has at most {MAX_PENDING_PER_SESSION} unused external keys")
        key = self._prefix + secrets.token_urlsafe(24)
        record = ExternalKey(
            id=secrets.token_hex(8),
            session_id=session_id,
            key_hash=_hash(key),
            description=description,
            mode=mode,
            expires_at=datetime.now(UTC) + timedelta(minutes=minutes),
            created_by=created_by,
        )
        self._keys[record.key_hash] = record
        return key, record

    def keys_for_session(self, session_id: str) -> list[ExternalKey]:
        """A session's unused, unexpired keys."""
        self._expire()
        return [k for k in self._keys.values() if k.session_id == session_id]

    def cancel_key(self, session_id: str, key_id: str) -> ExternalKey:
        """The owner cancels an unused key."""
        for key_hash, record in self._keys.items():
            if record.id == key_id and record.session_id == session_id:
                del self._keys[key_hash]
                return record
        raise NotFound("this external key does not exist any more")

    def redeem(self, key: str) -> ExternalKey:
        """Spend a key (single use); NotFound, with one message for every reason, when it cannot be used."""
        self._expire()
        record = self._keys.pop(_hash(key), None) if 8 <= len(key) <= 128 else None
        if record is None:
            raise NotFound(
                "this invitation link is not valid: it was already used, cancelled, or it expired",
                hint="ask the person who invited you for a new link",
            )
        return record

    def _expire(self) -> None:
        now = datetime.now(UTC)
        for key_hash, record in list(self._keys.items()):
            if record.expires_at <= now:
                del self._keys[key_hash]

    # --- lifecycle -------------------------------------------------------------------------------
    def drop_session(self, session_id: str) -> None:
        """The session ended, or its owner changed: every pending invitation and key of it is void."""
        for inv_id, invitation in list(self._invitations.items()):
            if invitation.session_id == session_id:
                del self._invitations[inv_id]
        for key_hash, record in list(self._keys.items()):
            if record.session_id == session_id:
                del self._keys[key_hash]
