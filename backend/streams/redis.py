"""Redis Streams as an EventSource: one stream per subscription, one consumer group over all of them.

A member reads every followed stream with one `XREADGROUP … COUNT n BLOCK ms` (COUNT is per stream:
a bounded read per tick however long the backlog). On start, and for each newly followed stream, it
first re-reads its own pending entries (id 0). Entries left pending by a member that died or failed
are taken over with `XAUTOCLAIM` once idle for FT_STREAM_CLAIM_IDLE_MS. Acknowledged entries are
trimmed (`XTRIM MINID`) below the oldest entry some group still has pending or has not yet read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Collection, Sequence
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from backend.streams import keys
from backend.streams.base import Entry, dead_letter_record, decode_redis_fields

log = logging.getLogger("ftel.streams.redis")

TRIM_EVERY_SECONDS = 5.0


def next_id(entry_id: str) -> str:
    ms, _, seq = entry_id.partition("-")
    return f"{ms}-{int(seq or 0) + 1}"


def _ms(entry_id: str) -> int | None:
    try:
        return int(entry_id.partition("-")[0])
    except ValueError:
        return None


class RedisStreamSource:
    transport = "redis"

    def __init__(
        self, redis: Redis, group: str, consumer: str, *, claim_idle_ms: int = 60_000, dlq_maxlen: int = 100_000
    ) -> None:
        self.redis = redis
        self.group = group
        self.consumer = consumer
        self.claim_idle_ms = claim_idle_ms
        self.dlq_maxlen = dlq_maxlen
        self._followed: set[str] = set()
        self._ready: set[str] = set()  # group known to exist
        self._backlog: dict[str, str] = {}  # stream → position while re-reading own pending entries
        self._claim_every = max(0.05, min(self.claim_idle_ms / 2000, 5.0))
        self._next_claim = 0.0
        self._claim_cursor: dict[str, str] = {}
        self._last_trim: dict[str, float] = {}

    async def start(self) -> None:
        await self.redis.ping()

    def follow(self, streams: Collection[str]) -> None:
        wanted = set(streams)
        for stream in wanted - self._followed:
            self._backlog[stream] = "0"
        for stream in self._followed - wanted:
            for state in (self._backlog, self._claim_cursor, self._last_trim):
                state.pop(stream, None)
            self._ready.discard(stream)
        self._followed = wanted

    @property
    def followed(self) -> frozenset[str]:
        return frozenset(self._followed)

    async def _ensure_groups(self) -> None:
        missing = self._followed - self._ready
        for stream in missing:
            try:
                await self.redis.xgroup_create(stream, self.group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            self._ready.add(stream)

    async def fetch(self, count: int, block_ms: int) -> list[Entry]:
        if not self._followed:
            await asyncio.sleep(block_ms / 1000)
            return []
        # block_ms 0: do not wait at all (Redis itself would read BLOCK 0 as "forever")
        try:
            await self._ensure_groups()
            if self._backlog:
                entries = await self._read_backlog(count)
                if entries:
                    return entries
            if time.monotonic() >= self._next_claim:
                self._next_claim = time.monotonic() + self._claim_every
                entries = await self._claim(count)
                if entries:
                    return entries
            return await self._read_new(count, block_ms)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # a stream (or its group) vanished under us: recreate what we follow on the next call
            log.warning("stream or group missing (%s); recreating", exc)
            self._ready.clear()
            return []

    async def _read_backlog(self, count: int) -> list[Entry]:
        reply = await self.redis.xreadgroup(self.group, self.consumer, dict(self._backlog), count=count)  # type: ignore[arg-type]
        entries: list[Entry] = []
        for stream, items in reply or []:
            if not items:
                self._backlog.pop(stream, None)
                continue
            self._backlog[stream] = items[-1][0]
            entries.extend(await self._with_deliveries(stream, items))
        for stream in [s for s in self._backlog if s not in {r[0] for r in reply or []}]:
            self._backlog.pop(stream, None)
        return entries

    async def _claim(self, count: int) -> list[Entry]:
        streams = [s for s in self._followed if s not in self._backlog]
        if not streams:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for stream in streams:
                pipe.xautoclaim(
                    stream,
                    self.group,
                    self.consumer,
                    self.claim_idle_ms,
                    start_id=self._claim_cursor.get(stream, "0-0"),
                    count=count,
                )
            replies = await pipe.execute(raise_on_error=False)
        entries: list[Entry] = []
        for stream, reply in zip(streams, replies, strict=True):
            if isinstance(reply, Exception):
                if "NOGROUP" in str(reply):
                    self._ready.discard(stream)
                    continue
                raise reply
            self._claim_cursor[stream] = reply[0]
            claimed = [item for item in reply[1] if item is not None]
            if claimed:
                log.info("claimed %d idle entries of %s", len(claimed), stream)
                entries.extend(await self._with_deliveries(stream, claimed))
        return entries

    async def _read_new(self, count: int, block_ms: int) -> list[Entry]:
        streams = {s: ">" for s in self._followed if s not in self._backlog}
        if not streams:
            return []
        reply = await self.redis.xreadgroup(self.group, self.consumer, streams, count=count, block=block_ms or None)  # type: ignore[arg-type]
        entries: list[Entry] = []
        for stream, items in reply or []:
            if stream not in self._followed:
                continue  # unfollowed while the read was blocked: left pending, never stored
            entries.extend(self._entry(stream, entry_id, fields, 1) for entry_id, fields in items)
        return entries

    def _entry(self, stream: str, entry_id: str, fields: dict[str, str] | None, deliveries: int) -> Entry:
        events, error = decode_redis_fields(fields)
        return Entry(
            stream=stream,
            id=entry_id,
            fields=dict(fields or {}),
            events=events,
            error=error,
            deliveries=deliveries,
            published_ms=_ms(entry_id),
        )

    async def _with_deliveries(self, stream: str, items: list[Any]) -> list[Entry]:
        """Entries handed out again: their delivery counts come from the group's pending list."""
        ids = [entry_id for entry_id, _ in items]
        pending = await self.redis.xpending_range(
            stream, self.group, min=ids[0], max=ids[-1], count=len(ids) + 100, consumername=self.consumer
        )
        counts = {p["message_id"]: int(p["times_delivered"]) for p in pending}
        return [self._entry(stream, entry_id, fields, counts.get(entry_id, 1)) for entry_id, fields in items]

    async def ack(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        by_stream: dict[str, list[str]] = {}
        redelivered: dict[str, list[str]] = {}
        for entry in entries:
            by_stream.setdefault(entry.stream, []).append(entry.id)
            if entry.deliveries > 1:
                redelivered.setdefault(entry.stream, []).append(entry.id)
        async with self.redis.pipeline(transaction=False) as pipe:
            for stream, ids in by_stream.items():
                pipe.xack(stream, self.group, *ids)
            for stream, ids in redelivered.items():
                pipe.hdel(keys.errors_key(stream), *ids)
            await pipe.execute()
        await self._trim_due(list(by_stream))

    async def dead_letter(self, failures: Sequence[tuple[Entry, str]]) -> None:
        if not failures:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            for entry, reason in failures:
                record: dict[Any, Any] = dead_letter_record(entry, reason, self.transport)
                pipe.xadd(keys.DLQ, record, maxlen=self.dlq_maxlen, approximate=True)
                pipe.xack(entry.stream, self.group, entry.id)
                pipe.hdel(keys.errors_key(entry.stream), entry.id)
            await pipe.execute()
        for entry, reason in failures:
            log.warning("dead-lettered %s %s: %s", entry.stream, entry.id, reason[:300])

    async def release(self, entries: Sequence[Entry]) -> None:
        """Nothing to do: unacknowledged entries stay pending and are claimed once idle."""

    async def note_error(self, entries: Sequence[Entry], error: str) -> None:
        """Remember why entries failed, for the dead-letter record should they keep failing."""
        by_stream: dict[str, dict[str, str]] = {}
        for entry in entries:
            by_stream.setdefault(entry.stream, {})[entry.id] = error[:2000]
        async with self.redis.pipeline(transaction=False) as pipe:
            for stream, mapping in by_stream.items():
                pipe.hset(keys.errors_key(stream), mapping=mapping)
                pipe.expire(keys.errors_key(stream), 7 * 86400)
            await pipe.execute()

    async def last_error(self, entry: Entry) -> str | None:
        value = await cast(Awaitable[Any], self.redis.hget(keys.errors_key(entry.stream), entry.id))
        return str(value) if value is not None else None

    async def _trim_due(self, streams: list[str]) -> None:
        now = time.monotonic()
        for stream in streams:
            if now - self._last_trim.get(stream, 0.0) >= TRIM_EVERY_SECONDS:
                self._last_trim[stream] = now
                try:
                    await trim_acknowledged(self.redis, stream)
                except ResponseError as exc:
                    log.debug("trim %s: %s", stream, exc)

    async def close(self) -> None:
        """The Redis client belongs to the caller; pending entries stay with the group."""


async def trim_acknowledged(redis: Redis, stream: str) -> int:
    """Delete entries every group has acknowledged; never one that is pending or not yet delivered."""
    groups = await redis.xinfo_groups(stream)
    if not groups:
        return 0
    bound: str | None = None
    for group in groups:
        summary = await redis.xpending(stream, group["name"])
        if summary["pending"]:
            candidate = summary["min"]
        else:
            candidate = next_id(group["last-delivered-id"])
        if bound is None or _id_tuple(candidate) < _id_tuple(bound):
            bound = candidate
    if bound is None or bound == "0-1":
        return 0
    return int(await redis.xtrim(stream, minid=bound, approximate=False))


def _id_tuple(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
