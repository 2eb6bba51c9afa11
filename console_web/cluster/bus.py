"""A console node's connection to the cluster's Redis: its own channel, everyone's channel, publishing.

Each node subscribes to ``oj:n:<node>`` (messages for it) and ``oj:all`` (broadcasts). Every message carries an
HMAC-SHA256 of its channel and bytes under the key the nodes share through the database
(:func:`console_web.db.node_keys.shared_key`); a message without a valid one is dropped, so a client of Redis that
cannot read the database cannot speak for a node. Redis tells a publisher how
many subscribers got a message, so a broadcast knows how many answers to wait for and a message to a node that is
not running fails at once, without any registry of nodes. Pub/sub delivers at most once: when this node's
subscription breaks, :meth:`NodeBus` calls ``on_lost`` (its pipes end, browsers reconnect and resume) and subscribes
again with back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from jumpoint.core.errors import ConfigError, ServiceError

log = logging.getLogger(__name__)

ALL_CHANNEL = "oj:all"
TAG_SIZE = 32
UNSIGNED_LOG_INTERVAL = 60.0
CONNECT_TIMEOUT = 5.0
RESUBSCRIBE_MAX_DELAY = 10.0


class NodeUnreachable(ServiceError):
    """The console node a message is for is not running (nobody is subscribed to its channel)."""

    code = "node_unreachable"
    http_status = 503


def _shown_url(url: str) -> str:
    """``url`` as messages show it: a password in its user information becomes ``***`` and its query (which may
    hold one too) is left out. The configuration refuses both (``cluster.redis_url``); this keeps any other caller's
    URL out of an operator's logs."""
    parts = urlsplit(url)
    user, at, host = parts.netloc.rpartition("@")
    if at:
        name, colon, _password = user.partition(":")
        host = f"{name}{':***' if colon else ''}@{host}"
    return f"{parts.scheme}://{host}{parts.path}"


def node_channel(node_id: str) -> str:
    """The channel a node listens on."""
    return f"oj:n:{node_id}"


class NodeBus:
    """Publish to other nodes and receive what they publish to this one (``on_message`` runs in the reader: it must
    not block)."""

    def __init__(
        self,
        node_id: str,
        url: str,
        password: str | None,
        on_message: Callable[[bytes], None],
        on_lost: Callable[[], None],
    ) -> None:
        self.node_id = node_id
        self.channel = node_channel(node_id)
        self._url = url
        self._redis = Redis.from_url(
            url, password=password, socket_connect_timeout=CONNECT_TIMEOUT, health_check_interval=15
        )
        self._on_message = on_message
        self._on_lost = on_lost
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._key = b""
        self._unsigned_logged_at = -UNSIGNED_LOG_INTERVAL

    def _tag(self, channel: str, data: bytes) -> bytes:
        return hmac.new(self._key, channel.encode() + b"\0" + data, hashlib.sha256).digest()

    def _verified(self, channel: object, data: bytes) -> bytes | None:
        name = channel.decode() if isinstance(channel, bytes) else str(channel)
        if len(data) > TAG_SIZE and hmac.compare_digest(data[:TAG_SIZE], self._tag(name, data[TAG_SIZE:])):
            return data[TAG_SIZE:]
        now = time.monotonic()
        if now - self._unsigned_logged_at >= UNSIGNED_LOG_INTERVAL:  # at most one line a minute, whatever the flood
            self._unsigned_logged_at = now
            log.warning("console node %s dropped a message on %s without a valid signature", self.node_id, name)
        return None

    async def start(self, key: bytes) -> None:
        """Connect and subscribe, signing with ``key``; ConfigError (naming the URL) when Redis cannot be reached, or
        when another running node already uses this node id."""
        if len(key) < 16:
            raise ValueError("the cluster's signing key is too short")
        self._key = key
        try:
            await self._redis.ping()
            taken = await self.listeners(self.node_id)
        except (RedisError, OSError) as exc:
            raise ConfigError(f"cannot reach the cluster's Redis at {_shown_url(self._url)}: {exc}") from None
        if taken:
            raise ConfigError(
                f"another console node already runs as cluster.node_id {self.node_id!r}: give each node its own"
            )
        await self._subscribe()
        self._reader = asyncio.create_task(self._read(), name=f"cluster bus {self.node_id}")

    async def _subscribe(self) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.channel, ALL_CHANNEL)
        self._pubsub = pubsub
        self._subscribed.set()

    async def _read(self) -> None:
        delay = 0.1
        while True:
            pubsub = self._pubsub
            try:
                if pubsub is None:
                    await self._subscribe()
                    log.warning("cluster node %s subscribed to Redis again", self.node_id)
                    delay = 0.1
                    continue
                async for message in pubsub.listen():
                    if message.get("type") == "message" and isinstance(message.get("data"), bytes):
                        data = self._verified(message.get("channel"), message["data"])
                        if data is not None:
                            self._on_message(data)
            except (RedisError, OSError) as exc:
                log.error("cluster node %s lost its Redis subscription: %s", self.node_id, exc)
            self._subscribed.clear()
            if pubsub is not None:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                self._pubsub = None
                self._on_lost()
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, RESUBSCRIBE_MAX_DELAY)

    async def send(self, node_id: str, data: bytes) -> None:
        """Publish to one node; ServiceError when that node is not running (nobody got it) or Redis failed."""
        if not await self._publish(node_channel(node_id), data):
            raise NodeUnreachable(f"console node {node_id} is not running", hint="the sessions it served have ended")

    async def broadcast(self, data: bytes) -> int:
        """Publish to every node (this one included); how many nodes got it."""
        return await self._publish(ALL_CHANNEL, data)

    async def _publish(self, channel: str, data: bytes) -> int:
        try:
            return int(await self._redis.publish(channel, self._tag(channel, data) + data))
        except (RedisError, OSError) as exc:
            raise ServiceError(f"the cluster's Redis failed: {exc}", hint="check the Redis server") from None

    async def claim(self, name: str, seconds: int) -> bool:
        """Whether this node got ``name`` for ``seconds`` (no other node claimed it within that time)."""
        try:
            return bool(await self._redis.set(f"oj:claim:{name}", self.node_id, nx=True, ex=seconds))
        except (RedisError, OSError) as exc:
            raise ServiceError(f"the cluster's Redis failed: {exc}", hint="check the Redis server") from None

    async def listeners(self, node_id: str) -> int:
        """How many subscribers a node's channel has (0: the node is not running)."""
        counts = await self._redis.pubsub_numsub(node_channel(node_id))
        return int(counts[0][1]) if counts else 0

    async def running(self, node_ids: list[str]) -> set[str]:
        """Which of these nodes are running now (their channel has a subscriber)."""
        if not node_ids:
            return set()
        try:
            counts = await self._redis.pubsub_numsub(*[node_channel(n) for n in node_ids])
        except (RedisError, OSError):
            return set(node_ids)  # cannot tell: do not end anything on a Redis hiccup
        running = set()
        for channel, count in counts:
            name = channel.decode() if isinstance(channel, bytes) else str(channel)
            if count:
                running.add(name.removeprefix("oj:n:"))
        return running

    async def close(self) -> None:
        """Unsubscribe and disconnect."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        with contextlib.suppress(Exception):
            await self._redis.aclose()
