"""`ftel worker`: an ARQ worker process that hosts the stream consumers and runs, as ARQ cron jobs, the
jobs that must run once per cluster (ARQ runs each tick on one worker only). Several workers share one
consumer group: no entry is handled twice while they are alive. The process's periodic tasks (projector,
flow control, retention) are started by `on_start`; everything is wired in backend/bootstrap."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.typing import WorkerCoroutine
from arq.worker import Worker

from backend.streams import keys
from backend.worker.runtime import StreamRuntime

log = logging.getLogger("ftel.worker")


@dataclass(frozen=True)
class ClusterJob:
    """A job run once per tick across all workers."""

    name: str
    every_seconds: int
    run: Callable[[], Coroutine[Any, Any, object]]


def schedule(seconds: int) -> dict[str, Any]:
    """ARQ cron fields for "every `seconds`" (below a minute: on those seconds; else on whole minutes/hours)."""
    if seconds < 60:
        return {"second": set(range(0, 60, seconds))}
    minutes = seconds // 60
    if minutes < 60:
        return {"minute": set(range(0, 60, minutes)), "second": 0}
    return {"hour": set(range(0, 24, max(1, minutes // 60))), "minute": 0, "second": 0}


def _cron_function(job: ClusterJob, ready: Callable[[], bool]) -> WorkerCoroutine:
    async def run(ctx: dict[Any, Any], *args: Any, **kwargs: Any) -> Any:
        if not ready():  # the runtime's own start-up sync comes first
            return None
        return await job.run()

    run.__qualname__ = run.__name__ = job.name
    return run


def build_worker(
    redis_url: str, runtime: StreamRuntime, jobs: Sequence[ClusterJob], on_start: Callable[[], None]
) -> Worker:
    async def startup(ctx: dict[str, Any]) -> None:
        on_start()
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

    cron_jobs = [
        cron(
            _cron_function(job, lambda: runtime.started),
            name=f"cron:{job.name}",
            keep_result=60,
            **schedule(job.every_seconds),
        )
        for job in jobs
    ]
    return Worker(
        functions=[],
        cron_jobs=cron_jobs,
        redis_settings=RedisSettings.from_dsn(redis_url),
        queue_name=keys.ARQ_QUEUE,
        health_check_key=f"{keys.ARQ_QUEUE}:health-check",
        on_startup=startup,
        on_shutdown=shutdown,
        handle_signals=True,
        keep_result=0,
        poll_delay=0.5,
        max_jobs=4,
    )
