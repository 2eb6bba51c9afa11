"""The aiohttp application factory: storage, API, session hub and pages wired together."""

from __future__ import annotations

from aiohttp import web

from console_web.api import setup_api
from console_web.appkeys import CLUSTER_NODE_KEY, CONFIG_KEY, DB_KEY, HUB_API_KEY, HUB_KEY
from console_web.cluster.handlers import HubHandlers
from console_web.cluster.node import ClusterNode
from console_web.cluster.router import ClusterHub
from console_web.config import ConsoleConfig
from console_web.db.database import Database
from console_web.db.node_keys import shared_key
from console_web.hub.hub import Hub, setup_hub
from console_web.recording import mp4_export
from console_web.recording_retention import setup_retention
from console_web.web.pages import setup_pages

MAX_BODY = 64 * 1024


def make_app(config: ConsoleConfig, db: Database) -> web.Application:
    """Build the console application on an open, migrated database."""
    app = web.Application(client_max_size=MAX_BODY)
    node = ClusterNode(config.cluster) if config.cluster.enabled else None
    hub = Hub(config, db, node.id_prefix if node is not None else "")
    app[CONFIG_KEY] = config
    app[DB_KEY] = db
    app[HUB_KEY] = hub
    setup_api(app)
    if node is None:
        app[HUB_API_KEY] = hub
        setup_hub(app, hub, hub.handle_browser)
    else:
        cluster = ClusterHub(hub, node)
        HubHandlers(node, hub)
        app[HUB_API_KEY] = cluster
        app[CLUSTER_NODE_KEY] = node
        setup_hub(app, hub, cluster.handle_browser)
        _run_node(app, node, db)
    setup_pages(app)
    setup_retention(app)

    async def stop_hub(_: web.Application) -> None:
        await hub.shutdown()
        mp4_export.EXPORTS.cancel_all()  # a running export stops; its .part file is replaced by the next one

    app.on_shutdown.append(stop_hub)
    return app


def _run_node(app: web.Application, node: ClusterNode, db: Database) -> None:
    """Join the cluster when the app starts (ConfigError if Redis cannot be reached) and leave it last."""

    async def join(_: web.Application) -> None:
        await node.start(await shared_key(db))

    async def leave(_: web.Application) -> None:
        await node.close()

    app.on_startup.append(join)
    app.on_cleanup.append(leave)
