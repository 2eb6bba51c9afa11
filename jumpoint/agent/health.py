"""The Jumpoint's local HTTP port (``health.listen``): liveness, readiness and Prometheus metrics.

* ``GET /healthz``: 200 ``{"status": "ok"}`` whenever the process answers at all (its event loop runs); for a
  liveness probe. It stays 200 while draining: the process is alive and finishing its sessions.
* ``GET /readyz``: 200 when the Jumpoint can serve a Jump now: the tunnel to the console is up and it is not
  shutting down; else 503. Both answers are JSON: ``ready``, ``connected``, ``draining``, ``console``,
  ``sessions`` and, when not ready, ``reason``.
* ``GET /metrics``: every metric of :class:`~jumpoint.agent.metrics.JumpointMetrics` in the Prometheus text
  format (0.0.4).

Nothing here changes anything, and nothing answered is secret (no tokens, no targets); there is no access log.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from jumpoint.agent.metrics import CONTENT_TYPE
from jumpoint.agent.tunnel import TunnelClient

log = logging.getLogger(__name__)


def readiness(client: TunnelClient) -> tuple[bool, dict[str, Any]]:
    """``(ready, body)`` of ``/readyz``: ready means connected to the console and not shutting down."""
    status = client.status
    body: dict[str, Any] = {
        "ready": status.connected and not status.draining,
        "connected": status.connected,
        "draining": status.draining,
        "console": client.settings.console_url,
        "sessions": client.active_sessions,
    }
    if status.draining:
        body["reason"] = "the Jumpoint is shutting down"
    elif not status.connected:
        body["reason"] = "not connected to the console" + (f": {status.last_error}" if status.last_error else "")
    return bool(body["ready"]), body


class HealthServer:
    """Serves ``/healthz``, ``/readyz`` and ``/metrics`` for one :class:`TunnelClient` on ``host:port``."""

    def __init__(self, client: TunnelClient, host: str, port: int) -> None:
        self.client = client
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        self._app = app

    @property
    def bound(self) -> str:
        """``HOST:PORT`` actually bound (after :meth:`start`; the port is the one chosen when 0 was asked)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve; raises OSError when the address cannot be bound."""
        runner = web.AppRunner(self._app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        for address in runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                self.port = int(address[1])
                break
        log.info("health and metrics on http://%s/ (/healthz, /readyz, /metrics)", self.bound)

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.StreamResponse:
        ready, body = readiness(self.client)
        return web.json_response(body, status=200 if ready else 503)

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=self.client.metrics.render().encode(), headers={"Content-Type": CONTENT_TYPE})
