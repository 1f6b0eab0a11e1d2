"""Administration reads and writes on the service's Redis that are not a transport: consumer-group lag,
stream activity (idle expiry), and the per-account allowances every replica shares. Synchronous client:
called from worker threads. Redis failures become RedisUnavailable."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast

import orjson
import redis

from backend.errors import RedisUnavailable
from backend.streams import keys

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
