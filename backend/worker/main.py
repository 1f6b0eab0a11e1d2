"""`ftel worker`: an ARQ worker process that hosts the stream consumers, merges events into the graph
and runs the scheduled jobs. Several workers share one consumer group (no entry is handled twice while
they are alive) and ARQ runs each cron tick on one worker only."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.cron import CronJob
from arq.worker import Worker

from backend.services import Services
from backend.settings import Settings
from backend.streams import keys
from backend.worker import jobs
from backend.worker.runtime import StreamRuntime, default_consumer_name

log = logging.getLogger("ftel.worker")


def schedule(seconds: int) -> dict[str, Any]:
    """ARQ cron fields for "every `seconds`" (below a minute: on those seconds; else on whole minutes/hours)."""
    if seconds < 60:
        return {"second": set(range(0, 60, seconds))}
    minutes = seconds // 60
    if minutes < 60:
        return {"minute": set(range(0, 60, minutes)), "second": 0}
    return {"hour": set(range(0, 24, max(1, minutes // 60))), "minute": 0, "second": 0}


def cron_jobs(settings: Settings) -> list[CronJob]:
    every = schedule(settings.stream_reconcile_seconds)
    return [
        cron(jobs.reconcile_subscriptions, name="cron:reconcile_subscriptions", keep_result=60, **every),
        cron(jobs.expire_idle_subscriptions, name="cron:expire_idle_subscriptions", keep_result=60, **every),
    ]


def build_worker(settings: Settings, services: Services) -> Worker:
    redis_url = settings.redis_url
    assert redis_url is not None
    runtime = StreamRuntime(settings, services.engine, services.graph, redis_url,
                            default_consumer_name(settings, "worker"), scheduled=False,
                            flow=services.flow)

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["runtime"] = runtime
        services.start_projector()
        services.start_files(uploads=False)  # retention runs here too; uploads are served by API processes
        task = asyncio.create_task(runtime.run(), name="stream-runtime")
        ctx["runtime_task"] = task

        def _ended(done: asyncio.Task[None]) -> None:
            if not done.cancelled() and done.exception() is not None:
                log.error("stream runtime failed: %r; stopping the worker", done.exception())
                os.kill(os.getpid(), signal.SIGTERM)

        task.add_done_callback(_ended)

    async def shutdown(ctx: dict[str, Any]) -> None:
        runtime.stop()
        task = ctx.get("runtime_task")
        if task is not None:
            try:
                await asyncio.wait_for(task, timeout=20)
            except (TimeoutError, Exception) as exc:
                log.warning("stream runtime did not stop cleanly: %r", exc)

    return Worker(
        functions=[], cron_jobs=cron_jobs(settings), redis_settings=RedisSettings.from_dsn(redis_url),
        queue_name=keys.ARQ_QUEUE, health_check_key=f"{keys.ARQ_QUEUE}:health-check",
        on_startup=startup, on_shutdown=shutdown, handle_signals=True, keep_result=0, poll_delay=0.5, max_jobs=4,
    )


def run_worker(settings: Settings, services: Services) -> None:
    """Run until SIGTERM/SIGINT; the stores are closed by the caller."""
    build_worker(settings, services).run()
