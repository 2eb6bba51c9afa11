"""``jumpoint install-service``: the systemd unit of a Jumpoint, filled in for this host, and the steps after it.

:func:`render_unit` writes the unit text; ``config/openjump-jumpoint.service`` in the repository is exactly its
output for the defaults (a test keeps them equal). :func:`install_unit` writes it into the unit directory and
refuses to replace a different unit unless forced. :func:`plan` gathers what the unit needs from this host (the
installed ``jumpoint`` command, the configuration and its state directory) and what the operator still has to
do, with warnings for set-ups the hardening would break (a command or configuration under ``/home``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from jumpoint.agent.config import JumpointConfig, load_jumpoint_config
from jumpoint.agent.registration import REGISTRATION_FILE
from jumpoint.core.errors import ConfigError, Conflict

UNIT_NAME = "openjump-jumpoint.service"
DEFAULT_USER = "openjump-jumpoint"
DEFAULT_CONFIG = Path("/etc/openjump/jumpoint.yaml")
DEFAULT_COMMAND = ("/usr/local/bin/jumpoint",)
DEFAULT_UNIT_DIR = Path("/etc/systemd/system")
STATE_DIRECTORY = "openjump-jumpoint"
STATE_PATH = Path("/var/lib") / STATE_DIRECTORY
HIDDEN_BY_PROTECT_HOME = (Path("/home"), Path("/root"), Path("/run/user"))
START_TIMEOUT_SECONDS = 120
WATCHDOG_SECONDS = 30
MIN_STOP_TIMEOUT_SECONDS = 60


def quote(arg: str) -> str:
    """One argument of a systemd command line: ``%`` and ``$`` escaped, quoted when it holds spaces or quotes."""
    text = arg.replace("%", "%%").replace("$", "$$")
    if not text or any(c in text for c in " \t\"'\\;"):
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


@dataclass(frozen=True, slots=True)
class UnitOptions:
    """What differs between installations: the command, the configuration, the user, extra writable paths."""

    command: tuple[str, ...] = DEFAULT_COMMAND
    config: Path = DEFAULT_CONFIG
    user: str = DEFAULT_USER
    read_write_paths: tuple[Path, ...] = ()
    drain_seconds: float = 30.0


def render_unit(options: UnitOptions = UnitOptions()) -> str:
    """The unit file text for ``options``."""
    exec_start = " ".join(quote(a) for a in (*options.command, "--config", str(options.config), "run"))
    stop_timeout = max(MIN_STOP_TIMEOUT_SECONDS, int(options.drain_seconds) + 30)
    lines = [
        "# OpenJump Jumpoint: the outbound agent in a customer LAN (see docs/operations.md).",
        "# Written by `jumpoint install-service`; keep local changes in `systemctl edit openjump-jumpoint`.",
        "[Unit]",
        "Description=OpenJump Jumpoint (outbound agent for the OpenJump console)",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "# READY=1 once the tunnel to the console is up; until then the unit is 'activating'. A start that cannot",
        "# reach the console fails after TimeoutStartSec and is retried (Restart=always).",
        "Type=notify",
        "NotifyAccess=main",
        f"ExecStart={exec_start}",
        "# SIGHUP reloads logging, limits, drain time, tunnel timings and credential stores",
        "ExecReload=/bin/kill -HUP $MAINPID",
        f"User={options.user}",
        f"Group={options.user}",
        "Restart=always",
        "RestartSec=5",
        "# exit status 2 is a configuration error (not registered, a bad key): restarting would not help",
        "RestartPreventExitStatus=2",
        f"TimeoutStartSec={START_TIMEOUT_SECONDS}",
        "# SIGTERM drains sessions (shutdown.drain_seconds; the Jumpoint extends this timeout for the drain)",
        f"TimeoutStopSec={stop_timeout}",
        "KillMode=mixed",
        "# WATCHDOG=1 comes from the event loop every WatchdogSec/2: a hung loop is restarted",
        f"WatchdogSec={WATCHDOG_SECONDS}",
        f"StateDirectory={STATE_DIRECTORY}",
        "StateDirectoryMode=0700",
        "UMask=0077",
    ]
    if options.read_write_paths:
        lines.append("ReadWritePaths=" + " ".join(quote(str(p)) for p in options.read_write_paths))
    lines += [
        "# hardening: `systemd-analyze security openjump-jumpoint` rates it",
        "CapabilityBoundingSet=",
        "AmbientCapabilities=",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "ProtectControlGroups=yes",
        "ProtectClock=yes",
        "ProtectHostname=yes",
        "ProtectProc=invisible",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "RestrictNamespaces=yes",
        "RestrictRealtime=yes",
        "RestrictSUIDSGID=yes",
        "LockPersonality=yes",
        "RemoveIPC=yes",
        "SystemCallArchitectures=native",
        "SystemCallFilter=@system-service",
        "SystemCallErrorNumber=EPERM",
        "# not MemoryDenyWriteExecute: libffi closures (cffi, used by cryptography) may need writable code pages",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)


def find_command() -> tuple[str, ...]:
    """The installed ``jumpoint`` command: next to this Python (a venv or pipx), else on PATH, else
    ``python -m jumpoint.agent.cli``; absolute paths, symlinks kept (a venv's python is one)."""
    beside = Path(os.path.abspath(sys.executable)).parent / "jumpoint"
    if beside.is_file() and os.access(beside, os.X_OK):
        return (str(beside),)
    found = shutil.which("jumpoint")
    if found:
        return (os.path.abspath(found),)
    return (os.path.abspath(sys.executable), "-m", "jumpoint.agent.cli")


def _hidden(path: Path) -> bool:
    return any(path == top or top in path.parents for top in HIDDEN_BY_PROTECT_HOME)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@dataclass
class InstallPlan:
    """The unit to write and what to tell the operator."""

    options: UnitOptions
    config: JumpointConfig | None
    warnings: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The unit file text."""
        return render_unit(self.options)


def plan(config_path: Path, user: str, command: tuple[str, ...] | None = None) -> InstallPlan:
    """Work out the unit for ``config_path`` run as ``user``; ConfigError when the configuration exists but is
    invalid or names a relative state directory (a service has no meaningful working directory)."""
    config_path = Path(os.path.abspath(config_path))
    command = command if command is not None else find_command()
    warnings: list[str] = []
    config: JumpointConfig | None = None
    state_dir = STATE_PATH
    drain = 30.0
    if config_path.exists():
        config = load_jumpoint_config(config_path)
        drain = config.shutdown.drain_seconds
        if not config.state_dir.is_absolute():
            raise ConfigError(
                f"{config_path}: state_dir {str(config.state_dir)!r} is relative; a service needs an absolute one",
                hint=f"set state_dir: {STATE_PATH} (the unit's StateDirectory)",
            )
        state_dir = config.state_dir
    else:
        warnings.append(
            f"{config_path} does not exist yet: create it (config/jumpoint.example.yaml) with state_dir: {STATE_PATH}"
        )
    extra = () if state_dir == STATE_PATH else (state_dir,)
    if extra:
        warnings.append(
            f"state_dir is {state_dir}, not the unit's StateDirectory {STATE_PATH}: the unit makes it writable "
            f"(ReadWritePaths), but systemd will not create it or give it to {user}"
        )
    if _hidden(Path(command[0])):
        warnings.append(
            f"{command[0]} is under a home directory, which ProtectHome=yes hides from the service: install the "
            "Jumpoint system-wide (e.g. a venv in /opt/openjump, or PIPX_HOME=/opt/pipx PIPX_BIN_DIR=/usr/local/bin "
            "pipx install ...) and run install-service from there"
        )
    if _hidden(config_path) or _hidden(state_dir):
        warnings.append("the configuration or the state directory is under a home directory, hidden by ProtectHome")
    options = UnitOptions(command=command, config=config_path, user=user, read_write_paths=extra, drain_seconds=drain)
    result = InstallPlan(options, config, warnings)
    result.steps = _next_steps(result, state_dir, config_path, user)
    return result


def _next_steps(plan: InstallPlan, state_dir: Path, config_path: Path, user: str) -> list[str]:
    jumpoint = " ".join(quote(a) for a in plan.options.command)
    unit = UNIT_NAME.removesuffix(".service")
    steps: list[str] = []
    if not _user_exists(user):
        steps.append(f"sudo useradd --system --user-group --home-dir {STATE_PATH} --shell /usr/sbin/nologin {user}")
    if not (state_dir / REGISTRATION_FILE).exists():
        steps.append(f"sudo install -d -m 0700 -o {user} -g {user} {state_dir}")
        steps.append(
            f"sudo -u {user} {jumpoint} --config {config_path} register --console https://CONSOLE:8443 --key ojr_..."
        )
    steps += [
        "sudo systemctl daemon-reload",
        f"sudo systemctl enable --now {unit}",
        f"systemctl status {unit}; journalctl -u {unit} -f",
        f"sudo -u {user} {jumpoint} --config {config_path} status",
    ]
    return steps


def install_unit(text: str, unit_dir: Path, *, force: bool = False) -> tuple[Path, bool]:
    """Write ``text`` as ``unit_dir/openjump-jumpoint.service`` (mode 0644); returns the path and whether it
    changed. Conflict when a different unit is there and ``force`` is not set."""
    path = unit_dir / UNIT_NAME
    try:
        existing: str | None = path.read_text()
    except FileNotFoundError:
        existing = None
    if existing == text:
        return path, False
    if existing is not None and not force:
        raise Conflict(
            f"{path} exists and differs from the unit this command would write",
            hint="compare with --dry-run, then use --force to replace it (local changes belong in "
            "`systemctl edit openjump-jumpoint`)",
        )
    unit_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.chmod(0o644)
    os.replace(tmp, path)
    return path, True
