"""Messages a browser may send on a session socket, validated before anything acts on them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from console_web.hub.timeline import CHAT_MAX
from jumpoint.core import wire
from jumpoint.core.errors import ProtocolViolation

MAX_TEXT_FRAME = 64 * 1024


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResizeIn(_In):
    """The panel's terminal size."""

    t: Literal["resize"]
    cols: Annotated[int, Field(ge=1, le=1000)]
    rows: Annotated[int, Field(ge=1, le=500)]


class EndIn(_In):
    """End the session for everyone."""

    t: Literal["end"]


class LeaveIn(_In):
    """Leave the session (it goes on)."""

    t: Literal["leave"]


class ChatIn(_In):
    """A chat message (validated further by the timeline: not empty, no control characters)."""

    t: Literal["chat"]
    text: Annotated[str, Field(min_length=1, max_length=CHAT_MAX)]


ParticipantId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9a-f]+$")]


class SetModeIn(_In):
    """The owner makes a participant a peer or an observer."""

    t: Literal["set_mode"]
    participant: ParticipantId
    mode: Literal["peer", "observer"]


class TransferIn(_In):
    """The owner hands the session to another participant."""

    t: Literal["transfer"]
    participant: ParticipantId


class RemoveIn(_In):
    """The owner removes a participant."""

    t: Literal["remove"]
    participant: ParticipantId


BrowserMessage = Annotated[
    ResizeIn | EndIn | LeaveIn | ChatIn | SetModeIn | TransferIn | RemoveIn | wire.HostKeyAnswer | wire.TextAnswer,
    Field(discriminator="t"),
]
_adapter: TypeAdapter[BrowserMessage] = TypeAdapter(BrowserMessage)


def parse_browser_message(text: str) -> BrowserMessage:
    """Validate one JSON text frame; raise ProtocolViolation naming the bad field."""
    if len(text) > MAX_TEXT_FRAME:
        raise ProtocolViolation(f"message of {len(text)} characters is over {MAX_TEXT_FRAME}")
    try:
        return _adapter.validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "message"
        # never echo input back: it may be a password answer
        raise ProtocolViolation(f"malformed message at {where}: {first['msg']}") from None
