"""The jobs of the stream side that must run once per cluster: ARQ cron jobs in `ftel worker` (one run
per tick across all workers), periodic tasks in the all-in-one (backend/bootstrap). Each opens its
own registry client on the event loop it runs on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from redis.asyncio import Redis

from backend.domain.subscriptions import Subscriptions
from backend.streams.admin import StreamAdmin
from backend.streams.registry import Registry

log = logging.getLogger("ftel.jobs")


async def reconcile_subscriptions(subscriptions: Subscriptions, connect: Callable[[], Redis]) -> dict[str, list[str]]:
    """Compare SQL and Redis (registry and the `ft:s:*` streams) and repair whichever side lacks something."""
    redis = connect()
    try:
        report = await subscriptions.sync(Registry(redis), scan_streams=True)
    finally:
        await redis.aclose()
    return report.as_json()


async def expire_idle_subscriptions(subscriptions: Subscriptions, connect: Callable[[], Redis]) -> list[str]:
    """Soft-delete subscriptions with no new entry for FT_SUBSCRIPTION_IDLE_MINUTES and tell every instance."""
    redis = connect()
    try:
        return await subscriptions.expire_idle(Registry(redis))
    finally:
        await redis.aclose()


async def prune_consumers(admin: StreamAdmin, grace_seconds: float) -> list[str]:
    """Remove consumers of dead processes from the groups and from `ft:consumers` (nothing pending, silent
    for FT_CONSUMER_GRACE_SECONDS)."""
    removed = await asyncio.to_thread(admin.prune_consumers, grace_seconds)
    if removed:
        log.info(
            "removed %d consumers of processes gone for %.0f s: %s",
            len(removed),
            grace_seconds,
            ", ".join(removed[:20]),
        )
    return removed
