"""Messages a browser may send on a session socket, validated before anything acts on them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

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


BrowserMessage = Annotated[
    ResizeIn | EndIn | wire.HostKeyAnswer | wire.TextAnswer,
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
