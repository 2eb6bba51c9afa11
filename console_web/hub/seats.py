"""The seats of a live session: who is in it, in which mode, who owns it, and the owner's roster actions.

One seat per rep (by user id) or external guest (:class:`~console_web.hub.participants.Participant`); the owner's
seat is created with the session. Reps get a seat when admitted (a join-existing Jump, an accepted invitation) or as
admins (observers). A seat outlives its sockets for ``reconnect_grace_seconds``; when the owner's seat goes, the
longest-present rep becomes the owner, and with no rep left the session ends. Every change is audited, put in the
timeline and announced with a ``roster`` message, so the owner's roster actions (mode changes, transfers, removals)
are limited: :data:`ROSTER_BURST` per participant within :data:`ROSTER_WINDOW_SECONDS` (then TooManyRequests), and
none while the console's history writer is behind (Busy, ``console_web/hub/records.py``); a refused action changes
nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from console_web.auth.ratelimit import SlidingWindowLimiter
from console_web.hub.participants import Connection, Identity, Mode, Participant
from console_web.hub.session_hooks import CLOSE_LEFT, CLOSE_NO_OWNER, CLOSE_REMOVED
from jumpoint.core.errors import Conflict, Forbidden, NotFound, TooManyRequests

if TYPE_CHECKING:
    from console_web.hub.session import LiveSession

ROSTER_BURST = 20
ROSTER_WINDOW_SECONDS = 10.0
"""A participant (the owner) may change modes, transfer and remove at most :data:`ROSTER_BURST` times within this many
seconds: each is an audit event, a timeline entry and a roster message to every socket, and a flood of them would
push the rest of the timeline out of what joiners are sent."""


class Seats:
    """The participants of one session (``participants`` by identity key), its owner, and the admitted reps."""

    def __init__(self, session: LiveSession, owner: Identity) -> None:
        self._session = session
        self.participants: dict[str, Participant] = {}
        self.admitted: dict[int, Mode] = {}  # reps allowed to take a seat (join-existing Jumps, invitations)
        self.owner = Participant(owner, "owner")
        self._roster_limiter = SlidingWindowLimiter(window=ROSTER_WINDOW_SECONDS, max_keys=1000)

    def connections(self) -> Iterator[Connection]:
        """Every attached socket of every seat."""
        for participant in self.participants.values():
            yield from participant.connections

    def seat_of(self, identity: Identity) -> Participant | None:
        """The identity's seat, if it has one."""
        return self.participants.get(identity.key)

    def may_view(self, identity: Identity) -> bool:
        """Participants and admitted reps (admins may always attach, as observers)."""
        if identity.key in self.participants:
            return True
        return identity.user_id is not None and (identity.user_id in self.admitted or identity.is_admin)

    def admit(self, user_id: int, mode: Mode = "peer") -> None:
        """Let a rep take a seat (a join-existing Jump or an accepted invitation)."""
        self.admitted.setdefault(user_id, mode)

    def add(self, participant: Participant, announce: bool = True) -> None:
        """Seat ``participant`` (the owner's seat is added without an announcement)."""
        session = self._session
        self.participants[participant.identity.key] = participant
        session.hooks.participant_joined(session, participant)
        session.audit(
            "session.joined",
            {"participant": participant.name, "mode": participant.mode, "external": participant.identity.external},
            participant.identity,
        )
        if announce:
            how = "an external invitee" if participant.identity.external else participant.mode
            session.system(f"{participant.name} joined the session ({how})")
            session.broadcast_roster()

    def take(self, identity: Identity, mode: Mode | None = None) -> Participant:
        """The identity's seat, created if it may have one; Forbidden/Conflict otherwise."""
        seat = self.participants.get(identity.key)
        if seat is not None:
            if identity.address is not None:  # what this participant does next is audited from where it is now
                seat.identity = replace(seat.identity, address=identity.address)
            return seat
        session = self._session
        if session.state == "ended":
            raise NotFound("this session has ended", hint="Jump again from the console")
        if identity.user_id is not None and identity.user_id in self.admitted:
            mode = mode or self.admitted[identity.user_id]
        elif identity.is_admin:
            mode = mode or "observer"
        elif mode is None:
            raise Forbidden("you are not a participant of this session", hint="ask its owner for an invitation")
        limit = session.settings.max_participants
        if len(self.participants) >= limit:
            raise Conflict(
                f"the session already has its limit of {limit} participants",
                hint="ask a participant to leave, or the administrator to raise sessions.max_participants",
            )
        seat = Participant(identity, "peer" if mode == "owner" else mode)
        self.add(seat)
        return seat

    def check_grace(self, now: float) -> None:
        """The housekeeping tick: release seats whose sockets have been gone for the grace period."""
        for participant in list(self.participants.values()):
            deadline = participant.released_at_deadline
            if deadline is not None and not participant.connections and now >= deadline:
                participant.released_at_deadline = None
                self.release(participant)
                if self._session.state == "ended":
                    return

    def release(self, participant: Participant) -> None:
        """The seat's grace period is over."""
        self.drop(participant, f"{participant.name} lost the connection and left", "disconnected", None)
        if participant is self.owner:
            self._owner_gone()

    def drop(self, participant: Participant, text: str, reason: str, close: tuple[int, str] | None) -> None:
        """Remove the seat; its sockets close with ``close`` (default: left) once their queues are sent."""
        session = self._session
        self.participants.pop(participant.identity.key, None)
        if participant.identity.user_id is not None:
            self.admitted.pop(participant.identity.user_id, None)
        for conn in participant.connections:
            conn.closing = close or (CLOSE_LEFT, reason)
            conn.wake.set()
        session.hooks.participant_left(session, participant, reason)
        session.audit("session.left", {"participant": participant.name, "reason": reason}, participant.identity)
        session.system(text)
        session.broadcast_roster()
        session.pump.credit_wake.set()

    def _owner_gone(self) -> None:
        """Ownership passes to the longest-present rep; with none left, the session ends."""
        reps = [p for p in self.participants.values() if not p.identity.external]
        if reps:
            heir = min(reps, key=lambda p: p.joined_at)
            detail = {"from": self.owner.name, "to": heir.name, "reason": "the owner lost the connection"}
            self._session.audit("session.owner_changed", detail)  # no actor: the console decided
            self.make_owner(heir, f"{heir.name} is now the owner (the owner left)")
            return
        for conn in self.connections():
            conn.closing = (CLOSE_NO_OWNER, "no owner remains")
        self._session.fail_soft("no owner remains in the session", CLOSE_NO_OWNER)

    def make_owner(self, heir: Participant, text: str) -> None:
        """``heir`` owns the session now (the old owner, if still seated, becomes a peer)."""
        session = self._session
        old = self.owner
        if old.identity.key in self.participants and old is not heir:
            old.mode = "peer"
            session.tell(old, {"t": "you", **session.you(old)})
        heir.mode = "owner"
        self.owner = heir
        session.tell(heir, {"t": "you", **session.you(heir)})
        if session.pending_prompt is not None:
            session.tell(heir, session.pending_prompt)
        session.system(text)
        session.broadcast_roster()
        session.hooks.owner_changed(session)

    # --- the owner's actions, and leaving ----------------------------------------------------------------
    def target(self, participant_id: str) -> Participant:
        """The participant with this id; NotFound otherwise."""
        for p in self.participants.values():
            if p.id == participant_id:
                return p
        raise NotFound(f"participant {participant_id} is not in this session")

    def require_owner(self, actor: Participant, what: str) -> None:
        """Forbidden unless ``actor`` owns the session."""
        if actor is not self.owner:
            raise Forbidden(f"only the session owner can {what}")

    def _take_roster_action(self, actor: Participant, what: str) -> None:
        """Count one roster action of ``actor`` about to happen (call it once the action is valid, before it changes
        anything). TooManyRequests past :data:`ROSTER_BURST` within :data:`ROSTER_WINDOW_SECONDS`; Busy when the
        console's history writer is behind (the action could not be recorded in time)."""
        key = actor.identity.key
        wait = self._roster_limiter.retry_after(key, ROSTER_BURST)
        if wait is not None:
            raise TooManyRequests(
                f"at most {ROSTER_BURST} mode changes, transfers and removals in {ROSTER_WINDOW_SECONDS:.0f} seconds",
                hint=f"wait {wait} s",
            )
        self._session.hooks.check_history_room(what)
        self._roster_limiter.record(key)

    def set_mode(self, actor: Participant, participant_id: str, mode: Mode) -> None:
        """The owner makes a participant a peer or an observer (a roster action, limited; none when it already is)."""
        session = self._session
        self.require_owner(actor, "change a participant's mode")
        target = self.target(participant_id)
        if target is self.owner:
            raise Conflict("the owner's mode changes only by transferring ownership")
        if mode == "owner":
            raise Conflict("use transfer to make someone the owner")
        if target.mode == mode:
            return
        self._take_roster_action(actor, "change a participant's mode")
        target.mode = mode
        session.tell(target, {"t": "you", **session.you(target)})
        session.audit("session.mode_changed", {"participant": target.name, "mode": mode}, actor.identity)
        session.system(f"{actor.name} made {target.name} {'an observer' if mode == 'observer' else 'a peer'}")
        session.broadcast_roster()

    def transfer(self, actor: Participant, participant_id: str) -> None:
        """The owner hands ownership to another rep and becomes a peer (a roster action, limited)."""
        self.require_owner(actor, "transfer ownership")
        target = self.target(participant_id)
        if target is actor:
            raise Conflict("you already own this session")
        if target.identity.external:
            raise Conflict("an external invitee cannot own a session")
        self._take_roster_action(actor, "transfer ownership")
        self._session.audit("session.transferred", {"from": actor.name, "to": target.name}, actor.identity)
        self.make_owner(target, f"{actor.name} transferred ownership to {target.name}")

    def remove(self, actor: Participant, participant_id: str) -> None:
        """The owner removes a participant from the session (a roster action, limited)."""
        self.require_owner(actor, "remove participants")
        target = self.target(participant_id)
        if target is actor:
            raise Conflict("you cannot remove yourself: end the session, or transfer ownership and leave")
        self._take_roster_action(actor, "remove participants")
        self._session.audit("session.removed", {"participant": target.name}, actor.identity)
        self.drop(target, f"{actor.name} removed {target.name}", f"removed by {actor.name}", (CLOSE_REMOVED, "removed"))

    def leave(self, actor: Participant) -> None:
        """A participant leaves; the session goes on. The owner must transfer first (or end the session)."""
        if actor is self.owner:
            raise Conflict("as the owner, transfer ownership first, or end the session for everyone")
        self.drop(actor, f"{actor.name} left the session", "left", (CLOSE_LEFT, "left"))
