"""The protocol adapter interface: what every protocol implements and what the Jumpoint gives it.

An adapter turns one protocol into the unified session: ``connect`` returns a :class:`Connection` whose
``events()`` yield output events and whose ``send`` takes input events. The adapter never imports the
agent or the console: everything it needs arrives in the :class:`AdapterContext`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator
from typing_extensions import TypeIs

from jumpoint.core.credentials import REF_MAX, CredentialSource
from jumpoint.core.desktop import DesktopInput, DesktopOutput
from jumpoint.core.events import Notice, TerminalInput, TerminalOutput
from jumpoint.core.hostkeys import HostKey, HostKeyDecision, HostKeyStore
from jumpoint.core.prompt_patterns import CompiledPrompt, compile_prompt_pattern
from jumpoint.core.secret import Secret

Protocol_ = Literal["ssh", "telnet", "vnc", "rdp"]
DESKTOP_PROTOCOLS = frozenset({"vnc", "rdp"})
TerminalType = Literal["xterm", "vt100"]
DesktopQuality = Literal["black_and_white", "few_colors", "more_colors", "full_color", "video"]
RdpSecurity = Literal["auto", "nla", "tls", "rdp"]
DESKTOP_SIDE_MIN = 200
DESKTOP_SIDE_MAX = 8192

HOSTNAME_MAX = 253
PROMPT_PATTERN_MAX = 256

PromptPattern = Annotated[str, Field(min_length=1, max_length=PROMPT_PATTERN_MAX)]


class Target(BaseModel):
    """What to connect to and how: built by the console from a Jump Item, validated again on the Jumpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    protocol: Protocol_
    hostname: Annotated[str, Field(min_length=1, max_length=HOSTNAME_MAX)]
    port: Annotated[int, Field(ge=1, le=65535)]
    username: Annotated[str, Field(max_length=128)] = ""
    terminal_type: TerminalType = "xterm"
    keepalive_seconds: Annotated[int, Field(ge=0, le=3600)] = 0
    credential_ref: Annotated[str, Field(max_length=REF_MAX)] | None = None
    cols: Annotated[int, Field(ge=1, le=1000)] = 80
    rows: Annotated[int, Field(ge=1, le=500)] = 24
    connect_timeout: Annotated[float, Field(gt=0, le=120)] = 15.0
    # Telnet auto-login: regular expressions (Python syntax, case-insensitive) matched against the text the
    # server sends; None means the adapter's defaults.
    login_prompt: PromptPattern | None = None
    password_prompt: PromptPattern | None = None
    login_failure: PromptPattern | None = None
    # Desktops: the picture quality the session starts with (participants may change it).
    quality: DesktopQuality = "full_color"
    # Desktops whose size the client chooses (RDP): the viewer's viewport at Jump; None: the adapter's default.
    desktop_width: Annotated[int, Field(ge=DESKTOP_SIDE_MIN, le=DESKTOP_SIDE_MAX)] | None = None
    desktop_height: Annotated[int, Field(ge=DESKTOP_SIDE_MIN, le=DESKTOP_SIDE_MAX)] | None = None
    # RDP: the Windows domain (empty: a local account); the security to use (auto: NLA or TLS, whichever the
    # server offers; never classic RDP security unless asked for); the console (admin) session; connect without
    # asking when the server's certificate is not trusted (the item's "Ignore Untrusted Certificate").
    domain: Annotated[str, Field(max_length=128)] = ""
    rdp_security: RdpSecurity = "auto"
    console_session: bool = False
    ignore_certificate: bool = False

    @property
    def kind(self) -> Literal["terminal", "desktop"]:
        """Whether the session is a terminal (SSH, Telnet) or a desktop (VNC, RDP)."""
        return "desktop" if self.protocol in DESKTOP_PROTOCOLS else "terminal"

    @field_validator("login_prompt", "password_prompt", "login_failure")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            check_prompt_pattern(value)
        return value

    @field_validator("hostname")
    @classmethod
    def _hostname_is_plain(cls, value: str) -> str:
        if any(ch.isspace() or ch in "/@\\" for ch in value) or value.startswith("-"):
            raise ValueError("must be a host name or an IP address, without spaces, '/', '@' or a leading '-'")
        return value


def check_prompt_pattern(pattern: str) -> CompiledPrompt:
    """Compile a prompt pattern (RE2, case-insensitive: :mod:`jumpoint.core.prompt_patterns`); raise ValueError
    saying what is wrong (a user wrote it)."""
    return compile_prompt_pattern(pattern)


@dataclass(frozen=True, slots=True)
class PromptField:
    """One question of a prompt: its text, and whether the answer may be shown as typed."""

    text: str
    echo: bool


class Prompter(Protocol):
    """Asks the people in the session a question and waits for the owner's answer."""

    async def ask_host_key(
        self, host: str, port: int, key: HostKey, *, known: tuple[HostKey, ...] = ()
    ) -> HostKeyDecision:
        """Show an unknown host key; return ``save``, ``once`` or ``abort``."""
        ...

    async def ask_text(self, title: str, instruction: str, fields: list[PromptField]) -> list[Secret]:
        """Ask for one answer per field (a password, an MFA code); raise ``Cancelled`` if the rep cancels."""
        ...


@dataclass(slots=True)
class Limits:
    """Bounds an adapter must respect."""

    max_output_chunk: int = 64 * 1024
    max_prompt_answer: int = 4096


@dataclass(slots=True)
class AdapterContext:
    """What a connection is given instead of importing things."""

    session_id: str
    host_keys: HostKeyStore
    prompter: Prompter
    credentials: CredentialSource | None
    log: logging.LoggerAdapter[logging.Logger]
    limits: Limits = field(default_factory=Limits)


class Connection(Protocol):
    """A live connection to one target, owned by one session, as byte streams both ways.

    A terminal's ``Output`` events carry terminal bytes and ``Keys`` carry typed bytes. A desktop
    (:class:`DesktopConnection`) is wrapped by the Jumpoint into this same shape, speaking the desktop stream of
    :mod:`jumpoint.core.desktop_wire`: ``Output`` carries whole output messages (first a KEYFRAME and a complete
    picture) and ``Keys`` carries input messages, REFRESH among them (answered with a new KEYFRAME). So the tunnel,
    flow control, the console's stream and its browser sockets carry both kinds as bytes.
    """

    @property
    def kind(self) -> Literal["terminal", "desktop"]:
        """``terminal``, or ``desktop`` for a wrapped desktop."""
        ...

    def events(self) -> AsyncIterator[TerminalOutput]:
        """Output events until the target closes; the iterator ends then. Raises TargetError on failure."""
        ...

    async def send(self, event: TerminalInput) -> None:
        """Deliver one input event to the target."""
        ...

    async def snapshot(self) -> dict[str, Any]:
        """What a late joiner or a recording keyframe needs to show the current screen exactly."""
        ...

    async def close(self) -> None:
        """Close the connection; idempotent."""
        ...


class DesktopConnection(Protocol):
    """A live desktop (VNC, RDP) as the desktop vocabulary of :mod:`jumpoint.core.desktop`.

    ``events()`` yields ``DesktopSize`` first, then each update's events and ``FrameEnd`` (``Damage`` means "these
    pixels changed": read them with :meth:`pixels` before taking the events after the next ``FrameEnd``), and
    ``Notice`` events. The Jumpoint turns this into the desktop stream (encoding, keyframes) for the browser.
    """

    @property
    def kind(self) -> Literal["desktop"]:
        """Always ``desktop``."""
        ...

    def events(self) -> AsyncIterator[DesktopOutput | Notice]:
        """Output events until the target closes; raises TargetError on failure."""
        ...

    def pixels(self, x: int, y: int, width: int, height: int) -> bytes:
        """The current RGBA rows of a region of the desktop."""
        ...

    async def send(self, event: DesktopInput) -> None:
        """Deliver one input event (never dropped: waits while the target is slow)."""
        ...

    async def close(self) -> None:
        """Close the connection; idempotent."""
        ...


def is_desktop(connection: Connection | DesktopConnection) -> TypeIs[DesktopConnection]:
    """Whether an adapter's connection is a desktop (to be wrapped into the desktop stream)."""
    return connection.kind == "desktop"


class ProtocolAdapter(Protocol):
    """A protocol: its name, its kind and how to connect. Registered under the ``openjump.protocols`` entry point."""

    name: str
    kind: Literal["terminal", "desktop"]

    async def connect(self, target: Target, ctx: AdapterContext) -> Connection | DesktopConnection:
        """Connect and log in; raise a TargetError (or Cancelled) on failure, never a library exception."""
        ...
