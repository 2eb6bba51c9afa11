"""What the API hands the session hub to start a Jump."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jumpoint.core.adapter import Target


@dataclass(frozen=True, slots=True)
class JumpRequest:
    """A validated Jump: the item it came from, the Jumpoint to run it on, and the target settings."""

    item_id: int
    item_name: str
    jumpoint_id: int
    target: Target
    session_policy: str = "start_new"
    record_session: bool = True
    record_input: bool = False


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A live session as the API reports it."""

    session_id: str
    item_id: int
    item_name: str
    owner_user_id: int
    jumpoint_id: int
    protocol: str
    state: str
    started_at: str
    participants: list[dict[str, Any]] = field(default_factory=list)
    joined: bool = False
