"""The systemd notification protocol (``sd_notify``), written out: a datagram to ``$NOTIFY_SOCKET``.

systemd passes ``NOTIFY_SOCKET`` to a ``Type=notify`` service: a filesystem path, or an abstract socket name
written with a leading ``@`` (the socket address then starts with a NUL byte). A notification is one datagram of
newline-separated ``KEY=VALUE`` lines (``READY=1``, ``STATUS=...``, ``WATCHDOG=1``, ``STOPPING=1``,
``RELOADING=1``, ``EXTEND_TIMEOUT_USEC=...``). Without ``NOTIFY_SOCKET`` (not under systemd) every call is a no-op.

The watchdog (``WatchdogSec=`` in the unit) shows up as ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``, which must be
ours); :func:`watchdog_loop` pings at half that interval from the event loop, so a loop that hangs stops the pings
and systemd restarts the service.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)


def notify_address(environ: Mapping[str, str]) -> str | bytes | None:
    """The socket address ``NOTIFY_SOCKET`` names (bytes for an abstract name), or None when unset or unsupported."""
    value = environ.get("NOTIFY_SOCKET", "")
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    if value:
        log.warning("ignoring NOTIFY_SOCKET=%r: only unix socket paths and @abstract names are supported", value)
    return None


def watchdog_interval(environ: Mapping[str, str], pid: int | None = None) -> float | None:
    """The watchdog timeout in seconds from ``WATCHDOG_USEC``, or None when there is no watchdog for this process
    (unset, malformed, zero, or ``WATCHDOG_PID`` naming another process)."""
    usec = environ.get("WATCHDOG_USEC", "")
    if not (usec.isascii() and usec.isdigit()) or int(usec) == 0:
        return None
    owner = environ.get("WATCHDOG_PID", "")
    if owner and owner != str(os.getpid() if pid is None else pid):
        return None
    return int(usec) / 1_000_000


class Notifier:
    """Sends notifications to systemd; never raises (a lost notification is logged once at debug level)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.address = notify_address(env)
        self.watchdog_seconds = watchdog_interval(env)
        self._sock: socket.socket | None = None
        self._warned = False
        self.ready = False
        if self.address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.setblocking(False)  # a full receive queue drops the message instead of blocking the loop

    @property
    def enabled(self) -> bool:
        """True when running under systemd's notification socket."""
        return self._sock is not None

    def send(self, **fields: str | int) -> bool:
        """Send ``KEY=VALUE`` lines (``send(READY=1, STATUS="...")``); True when the datagram went out."""
        if self._sock is None or self.address is None:
            return False
        lines = []
        for key, value in fields.items():
            text = str(value).replace("\n", " ")
            lines.append(f"{key}={text}")
        try:
            self._sock.sendto("\n".join(lines).encode(), self.address)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.debug("could not notify systemd: %s", exc)
            return False
        return True

    def mark_ready(self, status: str) -> None:
        """``READY=1`` with a status line (once; later calls only update the status)."""
        if self.ready:
            self.send(STATUS=status)
            return
        self.ready = True
        self.send(READY=1, STATUS=status)

    def status(self, text: str) -> None:
        """The one-line status ``systemctl status`` shows."""
        self.send(STATUS=text)

    def reloading(self) -> None:
        """``RELOADING=1`` (with the monotonic time newer systemd versions ask for); end with :meth:`reloaded`."""
        if self.ready:
            self.send(RELOADING=1, MONOTONIC_USEC=time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)

    def reloaded(self, status: str) -> None:
        """``READY=1`` again after a reload."""
        if self.ready:
            self.send(READY=1, STATUS=status)

    def stopping(self, status: str, *, extend_seconds: float | None = None) -> None:
        """``STOPPING=1``; ``extend_seconds`` asks systemd to wait that long for the stop (the drain) to finish."""
        fields: dict[str, str | int] = {"STOPPING": 1, "STATUS": status}
        if extend_seconds is not None:
            fields["EXTEND_TIMEOUT_USEC"] = int(extend_seconds * 1_000_000)
        self.send(**fields)

    def close(self) -> None:
        """Close the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


async def watchdog_loop(notifier: Notifier) -> None:
    """Send ``WATCHDOG=1`` every half watchdog interval until cancelled (returns at once without a watchdog).

    It runs on the event loop on purpose: if the loop hangs, the pings stop and systemd restarts the service.
    """
    interval = notifier.watchdog_seconds
    if interval is None or not notifier.enabled:
        return
    log.debug("systemd watchdog: %.1f s, pinging every %.1f s", interval, interval / 2)
    while True:
        notifier.send(WATCHDOG=1)
        await asyncio.sleep(interval / 2)
