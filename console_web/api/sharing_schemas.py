"""Bodies and answers of the session-sharing API (invitations, external keys, the rep directory, guest join)."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from console_web.api.schemas import Body, Id, Out

# Bidirectional embeddings, overrides and isolates: they reorder how the text around a name is shown.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_display_name(value: str) -> str:
    """A guest's name as others see it (the timeline, the roster, logs, the audit trail): ``value`` without
    surrounding white space. ValueError when nothing visible is left, or for control characters (line breaks and
    tabs included: a name is one line) and bidirectional overrides or isolates."""
    name = value.strip()
    if not name:
        raise ValueError("cannot be blank")
    if any(unicodedata.category(ch) in ("Cc", "Cs") or ch in BIDI_CONTROLS for ch in name):
        raise ValueError("a name cannot contain control characters or bidirectional text overrides")
    return name


Description = Annotated[str, Field(min_length=1, max_length=256)]
DisplayName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(clean_display_name)]


class InviteIn(Body):
    """Invite one rep (``user_id``) or every member of a shared Jump Group (``group_id``)."""

    user_id: Id | None = None
    group_id: Id | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> InviteIn:
        if (self.user_id is None) == (self.group_id is None):
            raise ValueError("give exactly one of user_id or group_id")
        return self


class InvitationFrom(Out):
    """Who invited."""

    id: int | None
    name: str


class InvitationOut(Out):
    """A pending invitation."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True, serialize_by_alias=True)

    id: str
    session_id: str
    user_id: int
    item_name: str
    from_: InvitationFrom = Field(alias="from")
    created_at: str


class InvitationList(Out):
    """Pending invitations."""

    items: list[InvitationOut]


class AcceptOut(Out):
    """The session to open after accepting."""

    session_id: str
    url: str
    page: str


class ExternalKeyIn(Body):
    """A one-time key for someone without an account."""

    description: Description
    expires_minutes: Annotated[int, Field(ge=1, le=1440)] = 60
    mode: Literal["observer", "peer"] = "observer"


class ExternalKeyOut(Out):
    """An unused external key (the key itself is shown only at creation)."""

    id: str
    description: str
    mode: str
    expires_at: str
    created_at: str
    created_by: str


class ExternalKeyCreated(ExternalKeyOut):
    """A new external key: ``key`` and ``url`` are shown this once."""

    key: str
    url: str


class ExternalKeyList(Out):
    """Unused external keys."""

    items: list[ExternalKeyOut]


class JoinIn(Body):
    """An external invitee joins with the key from their link."""

    key: Annotated[str, Field(min_length=8, max_length=128)]
    display_name: DisplayName


class JoinOut(Out):
    """Where the guest goes next."""

    session_id: str
    page: str


class DirectoryUser(Out):
    """A rep who can be invited."""

    id: int
    username: str
    display_name: str


class DirectoryGroup(Out):
    """A shared Jump Group whose members can be invited together."""

    id: int
    name: str


class DirectoryOut(Out):
    """Reps and shared groups."""

    users: list[DirectoryUser]
    groups: list[DirectoryGroup]
