"""Typed keys for what the aiohttp application holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from console_web.api.hubapi import HubApi
    from console_web.cluster.node import ClusterNode
    from console_web.config import ConsoleConfig
    from console_web.db.database import Database
    from console_web.hub.hub import Hub

CONFIG_KEY: web.AppKey[ConsoleConfig] = web.AppKey("config")
DB_KEY: web.AppKey[Database] = web.AppKey("db")
HUB_KEY: web.AppKey[Hub] = web.AppKey("hub")  # this node's own hub
HUB_API_KEY: web.AppKey[HubApi] = web.AppKey("hub_api")  # what the API calls: the hub, or the cluster over it
CLUSTER_NODE_KEY: web.AppKey[ClusterNode] = web.AppKey("cluster_node")  # set when this console is a cluster node
