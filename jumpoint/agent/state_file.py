"""The running Jumpoint's state, published as a small JSON file for ``jumpoint status``.

``<state_dir>/status.json`` (mode 0600, like everything in the state directory) is rewritten atomically
(a temporary file renamed over it) whenever the tunnel comes up or goes down, a session starts, connects or
ends, or the Jumpoint starts draining; changes close together are written once (at most every
:data:`MIN_INTERVAL` seconds), so a busy Jumpoint does not rewrite it for every session. ``jumpoint status``
reads it without talking to the process, so it works with the health port off and needs only read access to
the state directory (root, or the service user). A file whose ``pid`` is no longer running is reported as
stale: the process ended without writing ``stopped`` (killed, or the host went down).

The file holds no secret: the console URL, the Jumpoint's id and name, the sessions' ids, protocols and targets.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jumpoint.agent.tunnel import TunnelClient

STATUS_FILE = "status.json"
FORMAT_VERSION = 1
MIN_INTERVAL = 0.5
log = logging.getLogger(__name__)


def iso(timestamp: float | None) -> str | None:
    """A wall-clock time as ISO 8601 in UTC, or None."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def write_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file renamed over it (mode 0600)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=1)
        fh.write("\n")
    os.replace(tmp, path)


def snapshot(
    client: TunnelClient,
    *,
    started_at: float,
    health: str | None,
    stopped: bool = False,
    pid: int | None = None,
) -> dict[str, Any]:
    """The status document for ``client`` now."""
    status = client.status
    if stopped:
        state = "stopped"
    elif status.draining:
        state = "draining"
    elif status.connected:
        state = "connected"
    else:
        state = "connecting"
    return {
        "version": FORMAT_VERSION,
        "pid": os.getpid() if pid is None else pid,
        "state": state,
        "console_url": client.settings.console_url,
        "jumpoint_id": status.jumpoint_id,
        "jumpoint_name": status.jumpoint_name,
        "connected": status.connected and not stopped,
        "since": iso(status.changed_at),
        "last_error": status.last_error,
        "reconnects": status.reconnects,
        "started_at": iso(started_at),
        "updated_at": iso(time.time()),
        "health": health,
        "sessions": [
            {
                "session_id": s.session_id,
                "protocol": s.protocol,
                "state": s.state,
                "since": iso(s.started_at),
                "target": s.target,
            }
            for s in ([] if stopped else client.sessions())
        ],
    }


class StatePublisher:
    """Keeps ``status.json`` up to date for one running :class:`TunnelClient` (a listener of the client)."""

    def __init__(self, state_dir: Path, client: TunnelClient, *, health: str | None = None) -> None:
        self.path = state_dir / STATUS_FILE
        self.client = client
        self.health = health
        self.started_at = time.time()
        self._pending: asyncio.Handle | None = None
        self._written_at = 0.0
        self._failed = False

    def changed(self) -> None:
        """Write the file soon: at the end of this event-loop turn, or :data:`MIN_INTERVAL` after the last write."""
        if self._pending is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no running loop: write now
            self.write()
            return
        delay = self._written_at + MIN_INTERVAL - time.monotonic()
        self._pending = loop.call_later(delay, self.write) if delay > 0 else loop.call_soon(self.write)

    def write(self, *, stopped: bool = False) -> None:
        """Write the file now (a pending write is dropped); a failure is logged (once until it works again),
        never raised."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self._written_at = time.monotonic()
        try:
            write_atomically(
                self.path, snapshot(self.client, started_at=self.started_at, health=self.health, stopped=stopped)
            )
        except OSError as exc:
            if not self._failed:
                log.warning("cannot write %s (jumpoint status will be out of date): %s", self.path, exc)
            self._failed = True
            return
        self._failed = False


@dataclass(frozen=True, slots=True)
class PublishedState:
    """What ``jumpoint status`` read: the document, and whether its process still runs."""

    data: dict[str, Any]
    running: bool


def read_state(state_dir: Path) -> PublishedState | None:
    """The published state, or None when no Jumpoint ever ran with this state directory; a file that cannot
    be parsed is reported as None too (it is rewritten on the next change)."""
    try:
        data = json.loads((state_dir / STATUS_FILE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid = data.get("pid")
    running = data.get("state") != "stopped" and isinstance(pid, int) and pid_alive(pid)
    return PublishedState(data, running)


def pid_alive(pid: int) -> bool:
    """True when a process ``pid`` exists (ours or another user's)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ago(iso_time: str | None, now: float | None = None) -> str:
    """``2025-01-02T03:04:05+00:00 (3 min ago)``, or ``unknown``."""
    if not iso_time:
        return "unknown"
    try:
        then = datetime.fromisoformat(iso_time).timestamp()
    except ValueError:
        return iso_time
    seconds = max(0, int((time.time() if now is None else now) - then))
    if seconds < 120:
        span = f"{seconds} s"
    elif seconds < 7200:
        span = f"{seconds // 60} min"
    elif seconds < 172800:
        span = f"{seconds // 3600} h"
    else:
        span = f"{seconds // 86400} days"
    return f"{iso_time} ({span} ago)"
