"""Administration reads and writes on the service's Redis that are not a transport: consumer-group lag,
stream activity (idle expiry), and the per-account allowances every replica shares. Synchronous client:
called from worker threads. Redis failures become RedisUnavailable."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast

import orjson
import redis

from backend.errors import RedisUnavailable
from backend.streams import keys

log = logging.getLogger("ftel.redis")

P = ParamSpec("P")
T = TypeVar("T")


def redis_errors(fn: Callable[P, T]) -> Callable[P, T]:
    """redis-py failures become RedisUnavailable at the boundary of every Redis store of ours."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:
            raise RedisUnavailable(f"redis: {exc}") from exc

    return wrapper


@dataclass(frozen=True)
class Activity:
    """When a subscription's stream last received an entry, and whether it still holds unstored ones."""

    last_ms: int  # epoch ms of the newest entry (0: none seen)
    backlog: bool  # entries pending or not yet delivered to the group


def _id_tuple(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms or 0), int(seq or 0)


class StreamAdmin:
    def __init__(self, client: redis.Redis, group: str) -> None:
        self.client = client
        self.group = group

    @redis_errors
    def consumer_lag(self) -> int:
        """Entries of the registered subscription streams not yet delivered to the group (Redis 7 `lag`)."""
        streams = cast(list[bytes], self.client.hkeys(keys.REGISTRY))[:1000]
        if not streams:
            return 0
        pipe = self.client.pipeline(transaction=False)
        for stream in streams:
            pipe.xinfo_groups(stream)
        total = 0
        for groups in pipe.execute(raise_on_error=False):
            if isinstance(groups, Exception):
                continue
            for group in groups:
                if group.get("name") in (self.group, self.group.encode()):
                    total += int(group.get("lag") or 0)
        return total

    @redis_errors
    def activity(self, redis_streams: Sequence[str], kafka_keys: Sequence[str]) -> dict[str, Activity]:
        """Redis streams: the newest entry id and the group's pending / undelivered entries. Kafka keys: the
        newest entry a consumer stamped in `ft:activity` (the topic is shared, so it has no backlog per key)."""
        out: dict[str, Activity] = {}
        if redis_streams:
            pipe = self.client.pipeline(transaction=False)
            for stream in redis_streams:
                pipe.xinfo_stream(stream)
                pipe.xinfo_groups(stream)
            replies = pipe.execute(raise_on_error=False)
            for i, stream in enumerate(redis_streams):
                info, groups = replies[2 * i], replies[2 * i + 1]
                if isinstance(info, Exception):  # no such stream (yet): no entry ever
                    out[stream] = Activity(0, False)
                    continue
                last_id = _text(info.get("last-generated-id") or "0-0")
                backlog = not isinstance(groups, Exception) and any(
                    int(g.get("pending") or 0) > 0
                    or _id_tuple(_text(g.get("last-delivered-id") or "0-0")) < _id_tuple(last_id)
                    for g in groups
                )
                out[stream] = Activity(_id_tuple(last_id)[0], backlog)
        if kafka_keys:
            stamps = cast(list[bytes | None], self.client.hmget(keys.ACTIVITY, list(kafka_keys)))
            for key, stamp in zip(kafka_keys, stamps, strict=True):
                out[key] = Activity(int(stamp or 0), False)
        return out

    @redis_errors
    def prune_consumers(self, grace_seconds: float) -> list[str]:
        """Remove consumers that are gone: not heard of in `ft:consumers` for `grace_seconds`, idle in the
        group as long, and holding nothing pending (a dead consumer's pending entries are first claimed by
        a live one, after FT_STREAM_CLAIM_IDLE_MS; deleting it earlier would lose them). Stale
        `ft:consumers` entries go too. Returns "<stream> <consumer>" of each removal."""
        now = time.time()
        heard = cast(dict[bytes, bytes], self.client.hgetall(keys.CONSUMERS))
        alive: set[str] = set()
        for raw_name, doc in heard.items():
            try:
                at = float(orjson.loads(doc).get("at") or 0)
            except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
                at = 0.0
            if now - at < grace_seconds:
                alive.add(raw_name.decode())
            else:
                self.client.hdel(keys.CONSUMERS, raw_name.decode())
        removed: list[str] = []
        for raw in cast(list[bytes], self.client.hkeys(keys.REGISTRY)):
            stream = raw.decode()
            try:
                consumers = cast(list[dict[str, Any]], self.client.xinfo_consumers(stream, self.group))
            except redis.ResponseError:  # no such stream or group (yet)
                continue
            for consumer in consumers:
                member = _text(consumer.get("name") or "")
                idle_s = int(consumer.get("idle") or 0) / 1000
                if (
                    member
                    and member not in alive
                    and int(consumer.get("pending") or 0) == 0
                    and idle_s >= grace_seconds
                ):
                    self.client.xgroup_delconsumer(stream, self.group, member)
                    removed.append(f"{stream} {member}")
        return removed

    @redis_errors
    def allowances(self) -> dict[int, dict[str, float]]:
        """Per-account allowances an admin set (`ft:flow:allowances`)."""
        stored = cast(dict[bytes, bytes], self.client.hgetall(keys.FLOW_ALLOWANCES))
        return {int(account): orjson.loads(doc) for account, doc in stored.items()}

    @redis_errors
    def save_allowance(self, account_id: int, doc: dict[str, float]) -> None:
        self.client.hset(keys.FLOW_ALLOWANCES, str(account_id), orjson.dumps(doc).decode())

    def close(self) -> None:
        self.client.close()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class SharedLock:
    """A lock every process on this Redis shares (redis-py's Lock: a token with a TTL, released only by its
    holder). While Redis cannot be reached, `hold` lets the caller go on unlocked: progress matters more
    than the ordering the lock buys (Neo4j still retries what then collides)."""

    def __init__(
        self, client: redis.Redis, name: str, ttl_seconds: float, wait_seconds: float, busy: Callable[[], Exception]
    ) -> None:
        self.client = client
        self.name = name
        self.ttl_seconds = ttl_seconds
        self.wait_seconds = wait_seconds
        self.busy = busy  # what to raise when the lock stays taken longer than `wait_seconds`

    @contextmanager
    def hold(self) -> Iterator[None]:
        lock = self.client.lock(self.name, timeout=self.ttl_seconds, blocking_timeout=self.wait_seconds)
        try:
            acquired = lock.acquire()
        except redis.RedisError as exc:
            log.warning("shared lock %s unavailable, going on without it: %s", self.name, exc)
            yield
            return
        if not acquired:
            raise self.busy()
        try:
            yield
        finally:
            try:
                lock.release()
            except redis.RedisError as exc:  # expired (held past its TTL) or Redis gone: it frees itself
                log.warning("shared lock %s not released: %s", self.name, exc)
