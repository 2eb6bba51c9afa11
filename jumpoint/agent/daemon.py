"""``jumpoint run``: the Jumpoint as a long-running service.

:class:`JumpointDaemon` runs the tunnel client and everything around it:

* **systemd** (``Type=notify``): ``READY=1`` once the tunnel is first connected (the Jumpoint can serve a Jump;
  until then the unit is "activating"), a ``STATUS=`` line on every change, ``WATCHDOG=1`` pings from the
  event loop, ``STOPPING=1`` with ``EXTEND_TIMEOUT_USEC`` covering the drain, ``RELOADING=1`` around a reload.
  Outside systemd all of that is silent.
* **State** for ``jumpoint status``: ``<state_dir>/status.json`` (:mod:`jumpoint.agent.state_file`).
* **Health port** (``health.listen``): ``/healthz``, ``/readyz``, ``/metrics`` (:mod:`jumpoint.agent.health`).
* **Signals**: SIGTERM or SIGINT drains (new Jumps refused, participants told, sessions closed after
  ``shutdown.drain_seconds``); a second one closes the sessions at once. SIGHUP reloads the configuration
  file (:meth:`JumpointDaemon.reload` says what applies at once and what needs a restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from jumpoint.agent.config import JumpointConfig, load_jumpoint_config
from jumpoint.agent.health import HealthServer
from jumpoint.agent.metrics import JumpointMetrics
from jumpoint.agent.registration import Registration, ssl_for
from jumpoint.agent.service import build_credential_stores, build_tunnel_client
from jumpoint.agent.state_file import StatePublisher
from jumpoint.agent.systemd import Notifier, watchdog_loop
from jumpoint.agent.tunnel import CLOSE_GRACE_SECONDS, TunnelClient
from jumpoint.core.errors import ConfigError, JumpError
from jumpoint.core.logs import ProcessContext, setup_logging

log = logging.getLogger(__name__)

STOP_MARGIN_SECONDS = 15.0  # beyond the drain: closing sessions, the tunnel, the health port
RELOADABLE = ("logging", "tunnel", "limits", "shutdown", "credential_stores")
NEEDS_RESTART = ("state_dir", "console_url", "trust", "health", "hostname")


def start_logging(config: JumpointConfig, reg: Registration | None = None) -> ProcessContext:
    """Logging for ``run``: standard output (journald under systemd), with the Jumpoint's id and name on every
    line once known."""
    context: dict[str, Any] = {}
    if reg is not None:
        context = {"jumpoint_id": reg.jumpoint_id, "jumpoint": reg.name}
    return setup_logging(config.logging.level, config.logging.format, stream=sys.stdout, context=context)


class JumpointDaemon:
    """One run of the Jumpoint service, from start to a clean stop."""

    def __init__(
        self,
        config: JumpointConfig,
        reg: Registration,
        *,
        config_path: Path | None = None,
        log_context: ProcessContext | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        """Build the tunnel client (ConfigError names a bad credential store); nothing runs yet."""
        self.config = config
        self.config_path = config_path
        self.reg = reg
        self.notifier = notifier if notifier is not None else Notifier()
        self.log_context = log_context
        self.metrics = JumpointMetrics()
        self.client: TunnelClient = build_tunnel_client(
            state_dir=config.state_dir,
            console_url=config.console_url or reg.console_url,
            token=reg.token,
            ssl_param=ssl_for(config.trust, reg.fingerprint),
            heartbeat_seconds=config.tunnel.heartbeat_seconds,
            reconnect_min_seconds=config.tunnel.reconnect_min_seconds,
            reconnect_max_seconds=config.tunnel.reconnect_max_seconds,
            max_sessions=config.limits.max_sessions,
            prompt_timeout_seconds=config.limits.prompt_timeout_seconds,
            credential_stores=config.credential_stores,
            metrics=self.metrics,
            hostname=config.host_name(),
        )
        self.health: HealthServer | None = None
        self.publisher: StatePublisher | None = None
        self._stop = asyncio.Event()
        self._stop_signals = 0
        self._last_status = ""

    # --- the run -----------------------------------------------------------------------------------
    async def run(self) -> None:
        """Serve until SIGTERM/SIGINT (or :meth:`request_stop`), then drain and stop; ConfigError when the
        health port cannot be bound."""
        address = self.config.health.address()
        if address is not None:
            self.health = HealthServer(self.client, *address)
            try:
                await self.health.start()
            except OSError as exc:
                self.health = None
                raise ConfigError(
                    f"health.listen: cannot listen on {self.config.health.listen}: {exc.strerror or exc}",
                    hint="choose a free port, or remove health.listen to turn the port off",
                ) from None
        self.publisher = StatePublisher(
            self.config.state_dir, self.client, health=self.health.bound if self.health is not None else None
        )
        self.client.add_listener(self.publisher.changed)
        self.client.add_listener(self._announce)
        self.publisher.write()
        self._announce()
        loop = asyncio.get_running_loop()
        installed = self._install_signals(loop)
        watchdog = asyncio.create_task(watchdog_loop(self.notifier), name="systemd-watchdog")
        tunnel = asyncio.create_task(self.client.run(), name="tunnel")
        stop = asyncio.create_task(self._stop.wait(), name="stop-requested")
        try:
            await asyncio.wait((tunnel, stop), return_when=asyncio.FIRST_COMPLETED)
            if tunnel.done() and not tunnel.cancelled() and tunnel.exception() is not None:
                log.error("the tunnel client failed; stopping", exc_info=tunnel.exception())
            drain = self.config.shutdown.drain_seconds
            self.notifier.stopping(
                f"Shutting down: {self.client.active_sessions} session(s) draining",
                extend_seconds=drain + CLOSE_GRACE_SECONDS + STOP_MARGIN_SECONDS,
            )
            await self.client.drain(drain)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(tunnel), CLOSE_GRACE_SECONDS + 5)
        finally:
            for task in (stop, watchdog, tunnel):
                task.cancel()
            for task in (stop, watchdog, tunnel):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for sig in installed:
                loop.remove_signal_handler(sig)
            if self.health is not None:
                await self.health.stop()
            self.publisher.write(stopped=True)
            self.notifier.close()
        log.info("stopped")

    def request_stop(self, why: str = "asked to stop") -> None:
        """Start a graceful stop; a second request closes the remaining sessions at once."""
        self._stop_signals += 1
        if self._stop_signals == 1:
            log.info(
                "%s: shutting down (sessions get up to %.0f s; again to close them now)",
                why,
                self.config.shutdown.drain_seconds,
            )
            self._stop.set()
        else:
            log.info("%s again: closing every session now", why)
            self.client.hurry()

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> list[int]:
        installed: list[int] = []
        handlers = {
            signal.SIGTERM: lambda: self.request_stop("SIGTERM received"),
            signal.SIGINT: lambda: self.request_stop("SIGINT received"),
            signal.SIGHUP: self.reload,
        }
        for sig, handler in handlers.items():
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, handler)
                installed.append(sig)
        return installed

    # --- systemd status ----------------------------------------------------------------------------
    def status_line(self) -> str:
        """The one line ``systemctl status`` shows."""
        status, url = self.client.status, self.client.settings.console_url
        sessions = self.client.active_sessions
        if status.draining:
            return f"Shutting down: {sessions} session(s) left"
        if status.connected:
            return f"Connected to {url} as {status.jumpoint_name!r}; {sessions} session(s)"
        if status.ever_connected:
            return f"Reconnecting to {url}" + (f" (last error: {status.last_error})" if status.last_error else "")
        return f"Connecting to {url}" + (f" (last error: {status.last_error})" if status.last_error else "")

    def _announce(self) -> None:
        text = self.status_line()
        if self.client.status.connected and not self.notifier.ready:
            self.notifier.mark_ready(text)
        elif text != self._last_status:
            self.notifier.status(text)
        self._last_status = text

    # --- SIGHUP ------------------------------------------------------------------------------------
    def reload(self) -> None:
        """Read the configuration file again and apply what is safe while running.

        Applied at once: ``logging`` (level and format), ``limits`` (for new sessions), ``shutdown.drain_seconds``,
        ``tunnel`` (heartbeat from the next connection, back-off from the next retry) and ``credential_stores``
        (new sessions and requests use the new stores; sessions already running keep theirs, which are closed
        when they end). Logged as needing a restart, and left as they were: ``state_dir``, ``console_url``,
        ``trust``, ``health`` and ``hostname``. A file that does not validate changes nothing.
        """
        if self.config_path is None:
            log.warning("SIGHUP: this Jumpoint runs without --config, so there is nothing to reload")
            return
        log.info("SIGHUP: reloading %s", self.config_path)
        try:
            new = load_jumpoint_config(self.config_path)
        except JumpError as exc:
            log.error("reload failed; the running configuration stays as it was: %s", exc.message)
            return
        self.notifier.reloading()
        applied: list[str] = []
        effective: dict[str, Any] = {}
        changed = [key for key in RELOADABLE if getattr(new, key) != getattr(self.config, key)]
        # logging last, so that what this reload did is still logged at the old level
        for key in sorted(changed, key=lambda k: k == "logging"):
            if key != "logging":
                try:
                    self._apply(key, new)
                except JumpError as exc:
                    log.error("reload: %s not applied, the old settings stay: %s", key, exc.message)
                    continue
            effective[key] = getattr(new, key)
            applied.append(key)
        restart = [key for key in NEEDS_RESTART if getattr(new, key) != getattr(self.config, key)]
        if restart:
            log.warning(
                "reload: %s changed and need(s) a restart to take effect (systemctl restart openjump-jumpoint); "
                "the running values stay",
                ", ".join(restart),
            )
        log.info("configuration reloaded: %s", ("applied " + ", ".join(applied)) if applied else "nothing to apply")
        if "logging" in effective:
            self._apply("logging", new)
        self.config = self.config.model_copy(update=effective)
        self.notifier.reloaded(self.status_line())

    def _apply(self, key: str, new: JumpointConfig) -> None:
        settings = self.client.settings
        if key == "logging":
            context = self.log_context.context if self.log_context is not None else None
            self.log_context = setup_logging(new.logging.level, new.logging.format, stream=sys.stdout, context=context)
        elif key == "tunnel":
            settings.heartbeat_seconds = new.tunnel.heartbeat_seconds
            settings.reconnect_min_seconds = new.tunnel.reconnect_min_seconds
            settings.reconnect_max_seconds = new.tunnel.reconnect_max_seconds
        elif key == "limits":
            settings.max_sessions = new.limits.max_sessions
            settings.prompt_timeout_seconds = new.limits.prompt_timeout_seconds
        elif key == "credential_stores":
            state_dir = self.config.state_dir
            stores = build_credential_stores(new.credential_stores, state_dir=state_dir, metrics=self.metrics)
            self.client.replace_credentials(stores)
        # "shutdown" needs nothing more: the drain reads self.config when it starts
