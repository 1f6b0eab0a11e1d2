"""The stream side of one process: which subscriptions to follow and one consumer per transport.
`ftel worker` hosts it inside ARQ; `ftel serve` in a thread of its own.

What is followed comes from SQL (the live subscriptions, with their owners), kept in step with the
Redis registry; it is refreshed at once on an `ft:control` message and every FT_STREAM_REFRESH_SECONDS
anyway, since pub/sub drops messages sent while an instance is disconnected.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import logging
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import IO, Any, cast

import orjson
from redis.asyncio import Redis

from backend.domain.ingest import Ingest
from backend.domain.subscriptions import Subscriptions
from backend.settings import Settings
from backend.streams import keys
from backend.streams.base import EventSource
from backend.streams.registry import Registry, without_password
from backend.worker.consumer import StreamConsumer

# The event sources of a process, given its Redis client and a "is this stream live?" check (the
# composition root decides which transports exist: Redis Streams, and Kafka when configured).
SourceFactory = Callable[[Redis, Callable[[str], Awaitable[bool]]], list[EventSource]]

log = logging.getLogger("ftel.streams.runtime")


class _Stopped(Exception):
    """Asked to stop while waiting for Redis: not an error."""


@dataclass
class ConsumerName:
    """This process's name in the consumer groups, and the slot lock that keeps it its own while it runs."""

    name: str
    _slot: IO[str] | None = None

    def close(self) -> None:
        if self._slot is not None:
            self._slot.close()  # the kernel releases the lock (also when the process is killed)
            self._slot = None


def consumer_name(settings: Settings, role: str) -> ConsumerName:
    """FT_CONSUMER_NAME, else a name stable across restarts, so that a restarted process re-reads its own
    pending entries at once instead of leaving them to the claim timeout, and groups do not fill up with the
    names of dead processes: the all-in-one's is its host and data dir; a worker's adds the lowest free slot
    of its data dir (several workers may share one), held by a file lock for as long as it runs."""
    if settings.consumer_name:
        return ConsumerName(settings.consumer_name)
    host = socket.gethostname()
    digest = hashlib.sha256(str(settings.data_dir.resolve()).encode()).hexdigest()[:8]
    if role == "serve":
        return ConsumerName(f"{host}-serve-{digest}")
    slots = settings.data_dir / "worker-slots"
    slots.mkdir(parents=True, exist_ok=True)
    for slot in range(1024):
        handle = open(slots / f"slot-{slot}.lock", "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return ConsumerName(f"{host}-worker-{digest}-{slot}", handle)
    raise RuntimeError(f"no free worker slot in {slots}")


class StreamRuntime:
    def __init__(
        self,
        settings: Settings,
        subscriptions: Subscriptions,
        ingest: Ingest,
        redis_url: str,
        connect: Callable[[], Redis],
        sources: SourceFactory,
        consumer_name: str,
    ) -> None:
        self.settings = settings
        self.subscriptions = subscriptions
        self.ingest = ingest
        self.redis_url = redis_url
        self.connect = connect
        self.make_sources = sources
        self.consumer_name = consumer_name
        self.owners: dict[str, int | None] = {}
        self.sources: list[EventSource] = []
        self._stop: asyncio.Event | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False
        self._stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Until stop(): reconcile, follow the live subscriptions, consume."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stopping.is_set():
            self._stop.set()
        self._wake = asyncio.Event()
        self._refreshing = asyncio.Lock()
        self.redis = self.connect()
        self.registry = Registry(self.redis)
        tasks: list[asyncio.Task[None]] = []
        try:
            try:
                await self._until_redis()
            except _Stopped:
                return  # asked to stop before Redis ever answered (the finally below still cleans up)
            await self.subscriptions.sync(self.registry, scan_streams=True)
            self.sources = self.make_sources(self.redis, self._is_live)
            await self.refresh()  # sources connect in their consumer task: Kafka down must not stop Redis
            self._started = True
            log.info(
                "stream consumer %s started (%s)", self.consumer_name, ", ".join(s.transport for s in self.sources)
            )
            for source in self.sources:
                consumer = StreamConsumer(source, self.ingest, self.settings, self.redis, self.owners.get)
                tasks.append(asyncio.create_task(consumer.run(self._stop), name=f"consume-{source.transport}"))
            tasks.append(asyncio.create_task(self.registry.listen(self._on_control, self._stop), name="control"))
            tasks.append(asyncio.create_task(self._refresh_loop(), name="refresh"))
            await self._stop.wait()
        finally:
            self._stop.set()
            consumers = [t for t in tasks if t.get_name().startswith("consume-")]
            if consumers:  # let a batch being stored finish (and be acked) before the stores close
                await asyncio.wait(consumers, timeout=15)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for source in self.sources:
                try:
                    await source.close()
                except Exception as exc:
                    log.warning("closing %s source: %s", source.transport, exc)
            try:
                await cast(Awaitable[Any], self.redis.hdel(keys.CONSUMERS, self.consumer_name))
            except Exception:
                pass
            await self.redis.aclose()

    async def _until_redis(self) -> None:
        delay = 0.5
        while True:
            try:
                await self.redis.ping()
                return
            except Exception as exc:
                if self._stop is not None and self._stop.is_set():
                    raise _Stopped() from None
                log.warning(
                    "redis %s unreachable (%s); retrying in %.1fs", without_password(self.redis_url), exc, delay
                )
                try:  # a stop request ends the wait at once
                    await asyncio.wait_for(self._stop.wait(), timeout=delay) if self._stop else await asyncio.sleep(
                        delay
                    )
                except TimeoutError:
                    pass
                delay = min(delay * 2, 10.0)

    def stop(self) -> None:
        """Ask run() to finish; safe from any thread."""
        self._stopping.set()
        if self._loop is not None and self._stop is not None:
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:  # the loop is already closed
                pass

    def run_in_thread(self) -> None:
        """The all-in-one's thread: run, and start over after an unexpected error (a worker process
        exits instead and lets its supervisor restart it)."""
        while not self._stopping.is_set():
            try:
                asyncio.run(self.run())
            except Exception:
                if self._stopping.is_set():
                    break
                log.exception("stream runtime stopped on an error; restarting in 5 s")
            self._stopping.wait(5.0)

    @property
    def started(self) -> bool:
        return self._started

    # -- following subscriptions -------------------------------------------------------------------

    async def refresh(self) -> None:
        """Sync SQL with the registry (cheap: no SCAN), then follow exactly the live subscriptions."""
        async with self._refreshing:
            await self._refresh()

    async def _refresh(self) -> None:
        await self.subscriptions.sync(self.registry, scan_streams=False)
        live = await asyncio.to_thread(self.subscriptions.live)
        self.owners.clear()
        self.owners.update({s.stream_key: s.account_id for s in live})
        state: dict[str, list[str]] = {}
        for source in self.sources:
            followed = sorted(s.stream_key for s in live if s.transport == source.transport)
            source.follow(followed)
            state[source.transport] = followed
        doc = orjson.dumps({"streams": state, "at": time.time(), "pid": os.getpid()}).decode()
        await cast(Awaitable[Any], self.redis.hset(keys.CONSUMERS, self.consumer_name, doc))

    async def _on_control(self, op: str, stream: str) -> None:
        log.debug("control: %s %s", op, stream)
        assert self._wake is not None
        self._wake.set()

    async def _refresh_loop(self) -> None:
        assert self._wake is not None and self._stop is not None
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.stream_refresh_seconds)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("subscription refresh failed: %s", exc)
                await asyncio.sleep(1.0)

    async def _is_live(self, stream: str) -> bool:
        """A Kafka key we do not follow yet: maybe a subscription made a moment ago elsewhere."""
        if stream in self.owners:
            return True
        record = await self.registry.get(stream)
        if record is None or not record.live:
            return False
        await self.refresh()
        return stream in self.owners
