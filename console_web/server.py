"""Start the console: configuration, HTTPS, database, first admin, the app, and the built-in Jumpoint.

``serve`` is what ``openjump serve`` and ``openjump allinone`` run. The built-in Jumpoint is found through
the ``openjump.builtin_jumpoint`` entry point, so the console never imports the agent: the agent connects
back over loopback through the same tunnel protocol as any other Jumpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import sys
from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from console_web.app import make_app
from console_web.config import ConsoleConfig, load_console_config
from console_web.db import repo
from console_web.db.database import Database
from console_web.tls import server_ssl_context
from jumpoint.core import event_loop, malloc_tuning
from jumpoint.core.errors import ConfigError
from jumpoint.core.logs import setup_logging

log = logging.getLogger(__name__)


class EmbeddedJumpoint(Protocol):
    """A Jumpoint run inside the console process (the ``openjump.builtin_jumpoint`` entry point)."""

    async def start(
        self,
        *,
        console_url: str,
        token: str,
        fingerprint: str | None,
        state_dir: Path,
        credential_stores: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Connect to the console; return once it is connected. ``credential_stores`` as in a Jumpoint's
        configuration (None: the local store); ConfigError naming ``builtin_jumpoint.credential_stores...``."""
        ...

    async def stop(self) -> None:
        """End its sessions and disconnect."""
        ...


def _load_embedded_jumpoint() -> EmbeddedJumpoint:
    found = entry_points(group="openjump.builtin_jumpoint")
    for ep in found:
        factory = ep.load()
        instance: EmbeddedJumpoint = factory()
        return instance
    raise ConfigError("builtin_jumpoint is enabled but no Jumpoint is installed (pip install the 'openjump' package)")


async def _ensure_first_admin(db: Database) -> None:
    if await repo.count_users(db) > 0:
        return
    password = secrets.token_urlsafe(12)
    await repo.create_user(db, "admin", password, display_name="Administrator", is_admin=True)
    print(
        "\nFirst run: created the administrator account.\n"
        f"  username: admin\n  password: {password}\n"
        "This password is shown only once: write it down, or create users with `openjump create-user`.\n",
        flush=True,
    )


async def run_console(config: ConsoleConfig, *, ready: asyncio.Event | None = None) -> None:
    """Run the console until cancelled or signalled."""
    config.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    ssl_ctx, fingerprint = server_ssl_context(config.listen.tls, config.state_dir, config.listen.host)
    db = await Database.open(config.database_url, config.database)
    try:
        await db.migrate()
        await _ensure_first_admin(db)
        app = make_app(config, db)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, config.listen.host, config.listen.port, ssl_context=ssl_ctx)
        await site.start()
        port = runner.addresses[0][1] if runner.addresses else config.listen.port
        scheme = "https" if ssl_ctx else "http"
        shown_host = "127.0.0.1" if config.listen.host in ("0.0.0.0", "::", "") else config.listen.host  # noqa: S104
        url = config.listen.public_url or f"{scheme}://{shown_host}:{port}/"
        print(f"OpenJump console listening on {url}", flush=True)
        if fingerprint:
            print(f"TLS certificate SHA-256 fingerprint: {fingerprint}", flush=True)
        embedded: EmbeddedJumpoint | None = None
        if config.builtin_jumpoint.enabled:
            jumpoint_id, token = await repo.ensure_builtin_jumpoint(db, config.builtin_jumpoint.name)
            embedded = _load_embedded_jumpoint()
            await embedded.start(
                console_url=f"{scheme}://{_url_host(shown_host)}:{port}",
                token=token,
                fingerprint=fingerprint,
                state_dir=config.state_dir / "jumpoint",
                credential_stores=config.builtin_jumpoint.credential_stores,
            )
            print(f"Built-in Jumpoint {config.builtin_jumpoint.name!r} connected (id {jumpoint_id})", flush=True)
        if ready is not None:
            ready.set()
        try:
            await _wait_for_stop_signal()
        finally:
            print("Stopping the console...", flush=True)
            if embedded is not None:
                await embedded.stop()
            await runner.cleanup()
    finally:
        await db.close()


def _url_host(host: str) -> str:
    """``host`` as it goes in a URL (IPv6 literals in brackets)."""
    return f"[{host}]" if ":" in host else host


async def _wait_for_stop_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def serve(config_path: Path | None, all_in_one: bool = False) -> int:
    """Entry point of ``openjump serve`` / ``openjump allinone``; returns the process exit code."""
    try:
        config = load_console_config(config_path)
        if all_in_one and not config.builtin_jumpoint.enabled:
            config = config.model_copy(
                update={"builtin_jumpoint": config.builtin_jumpoint.model_copy(update={"enabled": True})}
            )
        setup_logging(config.log_level)
        malloc_tuning.keep_freed_memory()
        event_loop.run(run_console(config))
    except ConfigError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
