"""Where parked events wait: per-user Redis streams, or the disk spool when Redis cannot take them.

A parked batch is the validated raw events of one user, with the channel, account and receive time they
arrived with, so storing them later yields the same dedup keys as storing them at once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import redis

from backend.flow.spool import Spool
from backend.streams import keys

log = logging.getLogger("ftel.flow")

# Delete drained entries and lower the depth only by what this caller really deleted (drainers may race).
_DONE = """
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('XDEL', KEYS[1], ARGV[i]) == 1 then n = n + tonumber(ARGV[i + 1]) end
end
if n > 0 then redis.call('HINCRBY', KEYS[2], KEYS[1], -n) end
return n
"""

# Take the per-user drain lock, or renew it when this drainer already holds it (a drainer that lost Redis
# half-way could not release it, and must not wait out the TTL once Redis is back).
_CLAIM = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]); return 1 end
return 0
"""

# Forget the user in the round-robin set only if its stream is really empty (a park may race the drain).
_FORGET_IF_EMPTY = """
if redis.call('XLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], KEYS[1]); redis.call('HDEL', KEYS[3], KEYS[1]); return 1 end
return 0
"""


@dataclass
class ParkedBatch:
    channel: str
    account_id: int | None
    user: str
    received_at: datetime
    events: list[Any]

    def encode(self) -> bytes:
        return orjson.dumps({"channel": self.channel, "account": self.account_id, "user": self.user,
                             "received": self.received_at.isoformat(), "events": self.events})

    @classmethod
    def decode(cls, data: bytes) -> ParkedBatch:
        doc = orjson.loads(data)
        return cls(doc["channel"], doc["account"], doc["user"], datetime.fromisoformat(doc["received"]), doc["events"])


class RedisPark:
    """Per-user park streams `ft:park:<account>:<user>` (synchronous client: used from worker threads)."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._forget = self.client.register_script(_FORGET_IF_EMPTY)
        self._done = self.client.register_script(_DONE)
        self._claim = self.client.register_script(_CLAIM)

    def park(self, batch: ParkedBatch) -> None:
        key = keys.park_key(batch.account_id, batch.user)
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(key, {"b": batch.encode()})
        pipe.sadd(keys.PARKED_USERS, key)
        pipe.hincrby(keys.PARKED_DEPTH, key, len(batch.events))
        pipe.execute()

    def used_memory_mb(self) -> float:
        info: dict[str, Any] = self.client.info("memory")  # type: ignore[assignment]
        return float(info.get("used_memory", 0)) / (1024 * 1024)

    def parked_keys(self) -> list[str]:
        return sorted(k.decode() for k in self.client.smembers(keys.PARKED_USERS))  # type: ignore[union-attr]

    def claim(self, key: str, owner: str, ttl_ms: int = 30_000) -> bool:
        """One drainer per user at a time (others skip it this turn); expires if the drainer dies."""
        return bool(self._claim(keys=[keys.park_lock_key(key)], args=[owner, ttl_ms]))

    def release(self, key: str) -> None:
        self.client.delete(keys.park_lock_key(key))

    def take(self, key: str, max_events: int) -> list[tuple[str, ParkedBatch]]:
        """The oldest batches of one user, up to about `max_events` events (at least one batch)."""
        out: list[tuple[str, ParkedBatch]] = []
        total = 0
        for entry_id, fields in self.client.xrange(key, "-", "+", count=max(1, max_events // 10 + 1)):  # type: ignore[union-attr]
            batch = ParkedBatch.decode(fields[b"b"])
            if out and total + len(batch.events) > max_events:
                break
            out.append((entry_id.decode(), batch))
            total += len(batch.events)
        return out

    def done(self, key: str, drained: list[tuple[str, int]]) -> None:
        """Delete drained entries (id, events), then forget the user if nothing is left."""
        if drained:
            self._done(keys=[key, keys.PARKED_DEPTH], args=[x for pair in drained for x in pair])
        self._forget(keys=[key, keys.PARKED_USERS, keys.PARKED_DEPTH])

    def depths(self) -> dict[str, int]:
        raw = self.client.hgetall(keys.PARKED_DEPTH)
        return {k.decode(): int(v) for k, v in raw.items() if int(v) > 0}  # type: ignore[union-attr]

    def oldest_age(self) -> float | None:
        oldest: float | None = None
        for key in self.parked_keys():
            first = self.client.xrange(key, "-", "+", count=1)
            if first:
                ms = int(first[0][0].decode().split("-")[0])  # type: ignore[index]
                oldest = ms / 1000 if oldest is None else min(oldest, ms / 1000)
        return None if oldest is None else max(0.0, time.time() - oldest)

    def close(self) -> None:
        self.client.close()


class SpoolPark:
    """The disk spool as a park medium (FIFO across users: it is the last resort, not the usual path)."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool

    def park(self, batch: ParkedBatch) -> None:
        self.spool.append(batch.encode())
