"""Scheduled jobs of the stream side: ARQ cron jobs in `ftel worker` (one run per tick across all
workers), a plain periodic loop in the all-in-one. `ctx["runtime"]` is the process's StreamRuntime."""

from __future__ import annotations

import logging
from typing import Any

from backend.domain import subscriptions

log = logging.getLogger("ftel.jobs")


async def reconcile_subscriptions(ctx: dict[str, Any]) -> dict[str, list[str]]:
    """Compare SQL and Redis (registry and the `ft:s:*` streams) and repair whichever side lacks something."""
    runtime = ctx["runtime"]
    if not runtime.started:
        return {}
    report = await subscriptions.sync(runtime.engine, runtime.registry, runtime.settings.stream_group, scan_streams=True)
    return report.as_json()


async def expire_idle_subscriptions(ctx: dict[str, Any]) -> list[str]:
    """Soft-delete subscriptions with no new entry for FT_SUBSCRIPTION_IDLE_MINUTES and tell every instance."""
    runtime = ctx["runtime"]
    if not runtime.started:
        return []
    closed = await subscriptions.expire_idle(runtime.engine, runtime.registry, runtime.settings)
    if closed:
        log.info("expired %d idle subscriptions", len(closed))
    return closed
