"""The recordings' retention: a background task that deletes recordings older than ``recordings.retention_days``.

Every hour (and once at start-up) the sweep deletes the expired files, marks each of those sessions'
recordings deleted and audits ``recording.expired`` per session. ``retention_days: 0`` keeps recordings forever.
A failed sweep is logged and tried again at the next interval; it never stops the console. In a cluster, one node
per interval sweeps the shared directory (a claim in Redis), sparing the live sessions of every node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Collection

from aiohttp import web
from sqlalchemy import update

from console_web.appkeys import CLUSTER_NODE_KEY, CONFIG_KEY, DB_KEY, HUB_KEY
from console_web.config import ConsoleConfig
from console_web.db.clock import utcnow
from console_web.db.database import Database
from console_web.db.models import SessionRecord
from console_web.db.repo import add_audit
from console_web.recording.retention import sweep

log = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 3600.0
MARK_BATCH = 500


async def mark_expired(db: Database, session_ids: list[str], retention_days: int) -> None:
    """Mark the sessions' recordings deleted (now) and audit ``recording.expired`` for each."""
    now = utcnow()
    for start in range(0, len(session_ids), MARK_BATCH):
        batch = session_ids[start : start + MARK_BATCH]
        async with db.session() as session:
            await session.execute(
                update(SessionRecord)
                .where(SessionRecord.id.in_(batch), SessionRecord.recording_deleted_at.is_(None))
                .values(recording_deleted_at=now)
            )
            for session_id in batch:
                add_audit(
                    session,
                    action="recording.expired",
                    session_id=session_id,
                    detail={"retention_days": retention_days},
                )


async def sweep_once(config: ConsoleConfig, db: Database, *, live: Collection[str] = ()) -> list[str]:
    """Delete the recordings older than the retention period; return the ids of the sessions whose recordings
    were deleted (none when ``retention_days`` is 0). ``live`` sessions are never touched: one that printed
    nothing for longer than the retention period still has an old cast being written."""
    days = config.recordings.retention_days
    if days <= 0:
        return []
    expired = await asyncio.to_thread(sweep, config.recordings_dir, days, keep=frozenset(live))
    if expired:
        await mark_expired(db, list(expired), days)
        log.info("retention: deleted the recordings of %d sessions older than %d days", len(expired), days)
    return list(expired)


def live_session_ids(app: web.Application) -> list[str]:
    """The ids of the sessions the hub runs now (none without a hub)."""
    hub = app.get(HUB_KEY)
    return list(hub.sessions) if hub is not None else []


async def _sweep_forever(app: web.Application, interval: float) -> None:
    config, db = app[CONFIG_KEY], app[DB_KEY]
    node = app.get(CLUSTER_NODE_KEY)
    while True:
        try:
            if node is None:
                await sweep_once(config, db, live=live_session_ids(app))
            elif await node.bus.claim(f"retention:{config.recordings_dir}", seconds=max(1, int(interval * 0.9))):
                # one node of a cluster sweeps the shared directory per interval, sparing every node's live sessions
                await sweep_once(config, db, live=await node.live_session_ids())
        except Exception:
            log.exception("retention: the recordings sweep failed; trying again in %d seconds", int(interval))
        await asyncio.sleep(interval)


def retention_context(
    interval: float = SWEEP_INTERVAL_SECONDS,
) -> Callable[[web.Application], contextlib.AbstractAsyncContextManager[None]]:
    """A ``cleanup_ctx`` entry running the sweep every ``interval`` seconds while the application runs."""

    @contextlib.asynccontextmanager
    async def context(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_sweep_forever(app, interval), name="recordings-retention")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return context


def setup_retention(app: web.Application, *, interval: float = SWEEP_INTERVAL_SECONDS) -> None:
    """Run the retention sweep in the background of ``app`` (which must hold CONFIG_KEY and DB_KEY)."""
    app.cleanup_ctx.append(retention_context(interval))
