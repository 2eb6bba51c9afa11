"""The query and response models of ``/audit`` and ``/audit.csv``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import Field, field_validator

from console_web.api.schemas import Body, Id, Out
from console_web.db.audit_query import AuditFilter

AUDIT_PAGE_MAX = 500
AUDIT_PAGE_DEFAULT = 100


def as_utc(value: datetime | None) -> datetime | None:
    """An aware datetime; a time given without an offset is taken as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class AuditFilters(Body):
    """Filters of the audit log; they combine with AND."""

    action: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="an exact action, or a prefix ending in '.' or '*' (session. or session.*)"
    )
    user_id: Id | None = Field(default=None, description="events whose actor is this user")
    session_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    since: datetime | None = Field(default=None, description="ISO 8601, inclusive (no offset: UTC)")
    until: datetime | None = Field(default=None, description="ISO 8601, exclusive (no offset: UTC)")
    q: Annotated[str, Field(min_length=1, max_length=256)] | None = Field(
        default=None, description="case-insensitive text in the action, the detail or the actor's name"
    )

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return as_utc(value)

    def to_filter(self, before_id: int | None = None) -> AuditFilter:
        """The storage-layer filter."""
        return AuditFilter(
            action=self.action,
            user_id=self.user_id,
            session_id=self.session_id,
            since=self.since,
            until=self.until,
            q=self.q,
            before_id=before_id,
        )


class AuditQuery(AuditFilters):
    """Filters plus paging: ``limit`` events older than ``before_id`` (the ``next_before_id`` of a page)."""

    limit: Annotated[int, Field(ge=1, le=AUDIT_PAGE_MAX)] = AUDIT_PAGE_DEFAULT
    before_id: Id | None = None


class AuditEventOut(Out):
    """One audit event: who (a user, a Jumpoint, or neither), from where, did what, when."""

    id: int
    at: datetime
    action: str
    actor_user_id: int | None = None
    actor_name: str | None = Field(default=None, description="the actor's username (null: none, or deleted)")
    actor_jumpoint_id: int | None = None
    source_address: str | None = None
    session_id: str | None = None
    detail: dict[str, Any]


class AuditPageOut(Out):
    """Events newest first; pass ``next_before_id`` as ``before_id`` for older ones (null: no more)."""

    items: list[AuditEventOut]
    next_before_id: int | None = None
