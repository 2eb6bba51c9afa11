"""The Jumpoint's configuration file (YAML), validated into typed settings; unknown keys are errors."""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from jumpoint.core.config_files import load_config_file


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


FINGERPRINT_PATTERN = re.compile(r"^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$")
"""A SHA-256 certificate fingerprint as the console prints it: 32 hex pairs joined by colons."""


class ConsoleTrust(_Section):
    """How the Jumpoint checks the console's certificate: the system CAs, a CA file, or a pinned fingerprint."""

    ca_file: Path | None = None
    fingerprint: Annotated[str, Field(pattern=FINGERPRINT_PATTERN.pattern)] | None = None

    @field_validator("ca_file")
    @classmethod
    def _ca_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            what = "is not a file" if value.exists() else "does not exist"
            raise ValueError(f"{str(value)[:200]} {what} (the console's CA certificates, PEM)")
        return value


class TunnelOptions(_Section):
    """Heartbeats and reconnection back-off."""

    heartbeat_seconds: Annotated[float, Field(ge=2, le=300)] = 15
    reconnect_min_seconds: Annotated[float, Field(gt=0, le=60)] = 1
    reconnect_max_seconds: Annotated[float, Field(ge=1, le=3600)] = 60

    @model_validator(mode="after")
    def _min_below_max(self) -> TunnelOptions:
        if self.reconnect_min_seconds > self.reconnect_max_seconds:
            raise ValueError(
                f"reconnect_min_seconds ({self.reconnect_min_seconds:g}) is more than reconnect_max_seconds "
                f"({self.reconnect_max_seconds:g}): the minimum wait cannot be longer than the maximum"
            )
        return self


class JumpointLimits(_Section):
    """Bounds on what one Jumpoint runs."""

    max_sessions: Annotated[int, Field(ge=1, le=10000)] = 1000
    prompt_timeout_seconds: Annotated[int, Field(ge=5, le=3600)] = 300


class LoggingOptions(_Section):
    """Where and how the Jumpoint logs: standard output (journald under systemd), plain lines or JSON objects."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["plain", "json"] = "plain"


class ShutdownOptions(_Section):
    """A graceful stop (SIGTERM): new Jumps are refused, participants are told, and running sessions get
    ``drain_seconds`` to end on their own before they are closed (0 closes them at once)."""

    drain_seconds: Annotated[float, Field(ge=0, le=3600)] = 30


class HealthOptions(_Section):
    """The local HTTP port with ``/healthz``, ``/readyz`` and ``/metrics``; off unless ``listen`` is set.

    ``listen`` is ``HOST:PORT`` with an IP address (``[::1]:9471`` for IPv6) or ``localhost``; port 0 takes a
    free port (the one bound is logged and shown by ``jumpoint status``). Nothing on it is secret, but it says
    how busy the Jumpoint is, so keep it on loopback unless a Prometheus server elsewhere scrapes it.
    """

    listen: str | None = None

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value

    def address(self) -> tuple[str, int] | None:
        """``(host, port)`` to bind, or None when the port is off."""
        return None if self.listen is None else parse_listen(self.listen)


_ASCII_DIGITS = re.compile(r"[0-9]{1,5}")
HOSTNAME_PATTERN = r"^[^\s/@\\]+$"


def check_hostname(value: str) -> str:
    """``value`` if it is a host name the console accepts (``HOSTNAME_PATTERN``: no whitespace, '/', '@' or '\\';
    and no control or formatting character, which could forge lines in a log); ValueError otherwise."""
    if not re.fullmatch(HOSTNAME_PATTERN, value) or any(unicodedata.category(ch).startswith("C") for ch in value):
        raise ValueError("must be a host name without spaces, '/', '@', '\\' or control characters")
    return value


def parse_listen(value: str) -> tuple[str, int]:
    """``(host, port)`` of ``HOST:PORT``; ValueError saying what is wrong otherwise."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not _ASCII_DIGITS.fullmatch(port_text) or int(port_text) > 65535:
        raise ValueError(f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:9471) with a port from 0 to 65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        valid_ip = ":" in host
    else:
        valid_ip = ":" not in host
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            valid_ip = False
    if not valid_ip:
        raise ValueError(f"{value!r}: the host must be an IP address ([::1] for IPv6) or localhost")
    return host, int(port_text)


class JumpointConfig(_Section):
    """The whole Jumpoint configuration.

    The top-level ``log_level`` and ``log_format`` of earlier versions are still read, as ``logging.level`` and
    ``logging.format``; giving both spellings of one setting is an error.
    """

    state_dir: Path = Path("./jumpoint-state")
    console_url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    # The name this host gives the console when it registers and connects (a member of a Jumpoint cluster is
    # shown by it); default: the system's host name.
    hostname: Annotated[str, Field(min_length=1, max_length=253)] | None = None
    trust: ConsoleTrust = ConsoleTrust()
    tunnel: TunnelOptions = TunnelOptions()
    limits: JumpointLimits = JumpointLimits()
    logging: LoggingOptions = LoggingOptions()
    shutdown: ShutdownOptions = ShutdownOptions()
    health: HealthOptions = HealthOptions()
    credential_stores: dict[
        Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")], dict[Annotated[str, Field(max_length=64)], Any]
    ] = Field(default_factory=lambda: {"local": {"type": "local"}}, max_length=32)

    @field_validator("hostname")
    @classmethod
    def _hostname_is_printable(cls, value: str | None) -> str | None:
        return None if value is None else check_hostname(value)

    @model_validator(mode="before")
    @classmethod
    def _legacy_logging_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not ("log_level" in data or "log_format" in data):
            return data
        data = dict(data)
        block = data.get("logging")
        if block is not None and not isinstance(block, dict):
            return data  # reported by the field's own validation
        block = dict(block or {})
        for old, new in (("log_level", "level"), ("log_format", "format")):
            if old in data:
                if new in block:
                    raise ValueError(f"{old} and logging.{new} are the same setting; keep logging.{new} only")
                block[new] = data.pop(old)
        data["logging"] = block
        return data

    def host_name(self) -> str:
        """The name this host gives the console: ``hostname``, else the system's host name (at most 253
        characters)."""
        return (self.hostname or socket.gethostname())[:253]


def load_jumpoint_config(path: Path | None) -> JumpointConfig:
    """Load and validate the Jumpoint configuration (defaults when ``path`` is None)."""
    return load_config_file(JumpointConfig, path)
