"""Typed keys for what the aiohttp application holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from console_web.config import ConsoleConfig
    from console_web.db.database import Database
    from console_web.hub.hub import Hub

CONFIG_KEY: web.AppKey[ConsoleConfig] = web.AppKey("config")
DB_KEY: web.AppKey[Database] = web.AppKey("db")
HUB_KEY: web.AppKey[Hub] = web.AppKey("hub")
