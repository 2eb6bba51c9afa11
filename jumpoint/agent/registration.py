"""Registering a Jumpoint with the console (one-time key -> long-lived token) and the saved result."""

from __future__ import annotations

import json
import os
import socket
import ssl
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp

from jumpoint.agent.config import FINGERPRINT_PATTERN, ConsoleTrust
from jumpoint.core.errors import ConfigError, JumpError, JumpointUnavailable

REGISTRATION_FILE = "registration.json"


@dataclass(frozen=True, slots=True)
class Registration:
    """What the Jumpoint keeps after registering: where the console is and the token it was given."""

    console_url: str
    token: str
    jumpoint_id: int
    name: str
    fingerprint: str | None = None

    def __repr__(self) -> str:
        return f"Registration(console_url={self.console_url!r}, jumpoint_id={self.jumpoint_id}, name={self.name!r})"


def ssl_for(trust: ConsoleTrust, fingerprint: str | None = None) -> ssl.SSLContext | aiohttp.Fingerprint | bool:
    """The aiohttp ``ssl=`` value: a pinned SHA-256 fingerprint, a CA file, or the system CAs.

    Raises ConfigError naming ``trust.ca_file`` when that file cannot be read as PEM certificates."""
    pinned = fingerprint or trust.fingerprint
    if pinned:
        return aiohttp.Fingerprint(bytes.fromhex(pinned.replace(":", "")))
    if trust.ca_file is not None:
        try:
            return ssl.create_default_context(cafile=str(trust.ca_file))
        except OSError as exc:  # ssl.SSLError too: not PEM
            reason = exc.strerror or str(exc)
            raise ConfigError(f"trust.ca_file: cannot use {trust.ca_file} as CA certificates (PEM): {reason}") from None
    return True


def save_registration(state_dir: Path, reg: Registration) -> Path:
    """Write the registration atomically with mode 0600."""
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = state_dir / REGISTRATION_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(asdict(reg), fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def load_registration(state_dir: Path) -> Registration:
    """Read the saved registration; ConfigError says how to register when there is none."""
    path = state_dir / REGISTRATION_FILE
    try:
        data = json.loads(path.read_text())
        return Registration(**data)
    except FileNotFoundError:
        raise ConfigError(
            f"this Jumpoint is not registered ({path} is missing)",
            hint="run `jumpoint register --console URL --key KEY` with a key from the console's admin page",
        ) from None
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"{path} is unreadable or malformed: {exc}", hint="register the Jumpoint again") from None


async def register(
    console_url: str, key: str, trust: ConsoleTrust, fingerprint: str | None, *, hostname: str | None = None
) -> Registration:
    """Spend a one-time registration key and return the registration (not yet saved).

    The console adds this host as a member of the key's Jumpoint, shown as ``hostname`` (default: the system's
    host name); a Jumpoint with members already becomes (or grows) a cluster.
    """
    if fingerprint is not None and not FINGERPRINT_PATTERN.fullmatch(fingerprint):
        raise ConfigError(
            f"--fingerprint {fingerprint!r} is not a SHA-256 fingerprint",
            hint="give the 32 bytes the console printed at start, as hex pairs with colons (AB:CD:...)",
        )
    url = console_url.rstrip("/") + "/api/v1/jumpoint/register"
    body = {"key": key, "hostname": (hostname or socket.gethostname())[:253]}
    ssl_param = ssl_for(trust, fingerprint)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, json=body, ssl=ssl_param, timeout=aiohttp.ClientTimeout(total=30)) as resp,
        ):
            status = resp.status
            try:
                data = await resp.json(content_type=None)
            except ValueError:
                data = None
            if status != 200 and status != 201:
                error = data.get("error") if isinstance(data, dict) else None
                if isinstance(error, dict):
                    raise JumpError.from_dict(error)
                raise _not_a_console(console_url, status)
    except aiohttp.ServerFingerprintMismatch:
        raise ConfigError("the console's certificate does not match the fingerprint given") from None
    except (aiohttp.ClientError, OSError) as exc:
        raise JumpointUnavailable(f"cannot reach the console at {console_url}: {exc}") from None
    if not isinstance(data, dict):
        raise _not_a_console(console_url, status)
    try:
        return Registration(
            console_url=console_url.rstrip("/"),
            token=_text(data["token"]),
            jumpoint_id=int(data["jumpoint_id"]),
            name=_text(data["name"]),
            fingerprint=fingerprint,
        )
    except (KeyError, TypeError, ValueError):
        raise _not_a_console(console_url, status) from None


def _text(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("not a non-empty string")
    return value


def _not_a_console(console_url: str, status: int) -> JumpointUnavailable:
    return JumpointUnavailable(
        f"the server at {console_url} did not answer as an OpenJump console (HTTP {status})",
        hint="check the --console URL (the console's address, e.g. https://console.example.com:8443) and any proxy",
    )
