"""The Jumpoint's configuration file (YAML), validated into typed settings; unknown keys are errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from jumpoint.core.config_files import load_config_file


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConsoleTrust(_Section):
    """How the Jumpoint checks the console's certificate: the system CAs, a CA file, or a pinned fingerprint."""

    ca_file: Path | None = None
    fingerprint: Annotated[str, Field(pattern=r"^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$")] | None = None


class TunnelOptions(_Section):
    """Heartbeats and reconnection back-off."""

    heartbeat_seconds: Annotated[float, Field(ge=2, le=300)] = 15
    reconnect_min_seconds: Annotated[float, Field(gt=0, le=60)] = 1
    reconnect_max_seconds: Annotated[float, Field(ge=1, le=3600)] = 60


class JumpointLimits(_Section):
    """Bounds on what one Jumpoint runs."""

    max_sessions: Annotated[int, Field(ge=1, le=10000)] = 1000
    prompt_timeout_seconds: Annotated[int, Field(ge=5, le=3600)] = 300


class JumpointConfig(_Section):
    """The whole Jumpoint configuration."""

    state_dir: Path = Path("./jumpoint-state")
    console_url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    trust: ConsoleTrust = ConsoleTrust()
    tunnel: TunnelOptions = TunnelOptions()
    limits: JumpointLimits = JumpointLimits()
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["plain", "json"] = "plain"
    credential_stores: dict[
        Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")], dict[Annotated[str, Field(max_length=64)], Any]
    ] = Field(default_factory=lambda: {"local": {"type": "local"}}, max_length=32)


def load_jumpoint_config(path: Path | None) -> JumpointConfig:
    """Load and validate the Jumpoint configuration (defaults when ``path`` is None)."""
    return load_config_file(JumpointConfig, path)
