"""The terminal event vocabulary shared by every terminal protocol (SSH, Telnet).

Output events flow from the target to the people in the session; input events flow back. One renderer
(xterm.js) and one recording format serve every protocol of this kind. The desktop vocabulary joins
this module when the first desktop protocol lands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MAX_COLS = 1000
MAX_ROWS = 500


@dataclass(frozen=True, slots=True)
class Output:
    """Bytes the target wrote to the terminal, exactly as received."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Resize:
    """The terminal size in character cells; as input, the browser's new size."""

    cols: int
    rows: int

    def __post_init__(self) -> None:
        if not (1 <= self.cols <= MAX_COLS and 1 <= self.rows <= MAX_ROWS):
            raise ValueError(f"terminal size {self.cols}x{self.rows} is outside 1x1..{MAX_COLS}x{MAX_ROWS}")


@dataclass(frozen=True, slots=True)
class Title:
    """The window title the remote program set."""

    text: str


@dataclass(frozen=True, slots=True)
class Bell:
    """The remote rang the bell."""


@dataclass(frozen=True, slots=True)
class EchoChanged:
    """Whether the remote is echoing input (off at password prompts): recorders must not record keys then."""

    echo: bool


@dataclass(frozen=True, slots=True)
class Keys:
    """Bytes typed or pasted by a participant, to be written to the terminal."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Notice:
    """A system event for the session timeline (host key saved, credential injected by name).

    ``subject`` names what the event is about for the audit trail (the credential's reference), never a secret.
    """

    kind: Literal["host_key_saved", "credential_injected", "keepalive_failed", "info"]
    text: str
    subject: str | None = None


TerminalOutput = Output | Resize | Title | Bell | EchoChanged | Notice
TerminalInput = Keys | Resize
