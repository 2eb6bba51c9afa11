"""The aiohttp application factory: storage, API, session hub and pages wired together."""

from __future__ import annotations

from aiohttp import web

from console_web.api import setup_api
from console_web.appkeys import CONFIG_KEY, DB_KEY, HUB_KEY
from console_web.config import ConsoleConfig
from console_web.db.database import Database
from console_web.hub.hub import Hub, setup_hub
from console_web.recording import mp4_export
from console_web.recording_retention import setup_retention
from console_web.web.pages import setup_pages

MAX_BODY = 64 * 1024


def make_app(config: ConsoleConfig, db: Database) -> web.Application:
    """Build the console application on an open, migrated database."""
    app = web.Application(client_max_size=MAX_BODY)
    hub = Hub(config, db)
    app[CONFIG_KEY] = config
    app[DB_KEY] = db
    app[HUB_KEY] = hub
    setup_api(app)
    setup_hub(app, hub)
    setup_pages(app)
    setup_retention(app)

    async def stop_hub(_: web.Application) -> None:
        await hub.shutdown()
        mp4_export.EXPORTS.cancel_all()  # a running export stops; its .part file is replaced by the next one

    app.on_shutdown.append(stop_hub)
    return app
