"""The query and response models of ``/session-history`` and ``/recordings/search``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, field_validator

from console_web.api.audit_schemas import as_utc
from console_web.api.schemas import Body, Id, Out

HISTORY_PAGE_MAX = 200
HISTORY_PAGE_DEFAULT = 50
SEARCH_LIMIT_MAX = 200
SEARCH_LIMIT_DEFAULT = 50


class HistoryQuery(Body):
    """Filters and paging of the session list (newest first)."""

    q: Annotated[str, Field(min_length=1, max_length=256)] | None = Field(
        default=None, description="case-insensitive text in the Jump Item name or the target"
    )
    user_id: Id | None = Field(default=None, description="sessions this user owned or took a seat in")
    since: datetime | None = Field(default=None, description="started at or after (ISO 8601; no offset: UTC)")
    until: datetime | None = Field(default=None, description="started before (ISO 8601; no offset: UTC)")
    limit: Annotated[int, Field(ge=1, le=HISTORY_PAGE_MAX)] = HISTORY_PAGE_DEFAULT
    before: Annotated[str, Field(min_length=3, max_length=100)] | None = Field(
        default=None, description="the next_before of the previous page"
    )

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return as_utc(value)


class PersonOut(Out):
    """A user as named in history."""

    id: int
    name: str


class HistorySessionOut(Out):
    """A session in history; ``live`` while it runs (then ``ended_at`` is null and the duration grows)."""

    id: str
    item_id: int | None = None
    item_name: str
    protocol: str
    target: str
    jumpoint_id: int
    owner: PersonOut
    started_at: datetime
    ended_at: datetime | None = None
    duration_seconds: int
    end_reason: str | None = None
    error_code: str | None = None
    live: bool
    recorded: bool = Field(description="a recording exists (was made and not deleted)")


class HistoryPageOut(Out):
    """Sessions newest first; pass ``next_before`` as ``before`` for older ones (null: no more)."""

    items: list[HistorySessionOut]
    next_before: str | None = None


class ParticipantOut(Out):
    """One seat: who, how (``owner``, ``peer``, ``observer``), when they joined and left, and why."""

    participant_id: str
    user_id: int | None = None
    name: str
    external: bool
    mode: str
    joined_at: datetime
    left_at: datetime | None = None
    left_reason: str | None = None


class TimelineOut(Out):
    """A chat message (``kind: chat``) or a system event (``kind: system``)."""

    seq: int
    at: datetime
    kind: str
    author: str
    text: str


class RecordingOut(Out):
    """The recording's state: ``available`` when its cast file (a desktop: its ``.ojd``) can be played; sizes in
    bytes (null: no file). ``kind`` and ``desktop_bytes`` are there only for a desktop session's recording."""

    available: bool
    deleted_at: datetime | None = None
    cast_bytes: int | None = None
    transcript_bytes: int | None = None
    kind: Literal["desktop"] | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="'desktop' for a desktop session (played from recording.ojd); absent for a terminal",
    )
    desktop_bytes: int | None = Field(
        default=None, exclude_if=lambda value: value is None, description="the size of recording.ojd"
    )


class ReportOut(Out):
    """Everything about one session; ``timeline_truncated`` when only the first entries are included
    (``timeline.txt`` has them all)."""

    session: HistorySessionOut
    participants: list[ParticipantOut]
    timeline: list[TimelineOut]
    timeline_truncated: bool
    recording: RecordingOut


class SearchQuery(Body):
    """Text to find in the transcripts of the sessions the caller may see."""

    q: Annotated[str, Field(min_length=2, max_length=256)]
    limit: Annotated[int, Field(ge=1, le=SEARCH_LIMIT_MAX)] = SEARCH_LIMIT_DEFAULT


class SearchHitOut(Out):
    """A transcript line that matched: ``time`` is seconds into the recording (open the report at ``?t=``)."""

    session_id: str
    item_name: str
    started_at: datetime
    line: int
    text: str
    time: float


class SearchOut(Out):
    """Matches, newest session first; ``truncated`` when more sessions or lines would have matched."""

    items: list[SearchHitOut]
    truncated: bool


class KeyframeOut(Out):
    """A place to start playing: ``offset`` (bytes into recording.ojd) starts a record beginning with a keyframe."""

    ms: int
    offset: int


class DesktopIndexOut(Out):
    """What a player of a desktop recording needs first (see docs/protocol.md, desktop recordings).

    ``end`` is where the last whole record ends (read recording.ojd up to there); ``keyframes`` are in time order
    (thinned out evenly when there are more than ``keyframes_max``); ``live`` while the session runs (the file grows:
    ask again for more)."""

    started_at: float = Field(description="epoch seconds of the recording's time zero")
    duration_ms: int
    data_start: int
    end: int
    keyframes: list[KeyframeOut]
    keyframes_max: int
    live: bool


ExportState = Literal["none", "queued", "running", "done", "failed"]


class ExportStatusOut(Out):
    """An MP4 export of a desktop recording: ``state`` (``none`` when none was made), ``progress`` 0..1, ``error``
    when it failed; for a finished one, the file's size and the video's size, frames and length."""

    state: ExportState
    progress: float
    error: str | None = None
    bytes: int | None = None
    width: int | None = None
    height: int | None = None
    frames: int | None = None
    duration_ms: int | None = None
