"""Who is making a request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user, and how they authenticated (a login session or an API token)."""

    user_id: int
    username: str
    display_name: str
    is_admin: bool
    via: Literal["session", "token"]
    web_session_id: str | None = None
    address: str | None = None
    """The address the request came from (the TCP peer), for audit events."""
