"""Redis as a park medium: one stream per user `ft:park:<account>:<user>`, shared by every process on
that Redis (so a replica drains what another parked). Synchronous client: used from worker threads."""

from __future__ import annotations

import time
from typing import Any, cast

import redis

from backend.park.base import Lease, MediumHealth, ParkedBatch
from backend.streams import keys
from backend.streams.admin import redis_errors

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


class RedisPark:
    """ParkMedium (backend.park.base) on Redis streams; a lease is a per-user lock with a TTL."""

    name = "redis"

    def __init__(self, client: redis.Redis, lease_ttl_ms: int = 30_000) -> None:
        self.client = client
        self.lease_ttl_ms = lease_ttl_ms
        self._forget = client.register_script(_FORGET_IF_EMPTY)
        self._done = client.register_script(_DONE)
        self._claim = client.register_script(_CLAIM)

    @redis_errors
    def park(self, batch: ParkedBatch) -> None:
        key = keys.park_key(batch.account_id, batch.user)
        pipe = self.client.pipeline(transaction=True)
        pipe.xadd(key, {"b": batch.encode()})
        pipe.sadd(keys.PARKED_USERS, key)
        pipe.hincrby(keys.PARKED_DEPTH, key, len(batch.events))
        pipe.execute()

    @redis_errors
    def queues(self) -> list[str]:
        return sorted(k.decode() for k in cast(set[bytes], self.client.smembers(keys.PARKED_USERS)))

    @redis_errors
    def take(self, queue: str, max_events: int, holder: str) -> Lease | None:
        if not self._claim(keys=[keys.park_lock_key(queue)], args=[holder, self.lease_ttl_ms]):
            return None
        lease = Lease(queue, holder, [])
        start, page = "-", max(1, max_events // 10 + 1)  # a batch is usually many events: few round trips
        while lease.events < max_events:
            entries = cast(list[Any], self.client.xrange(queue, start, "+", count=page))
            for entry_id, fields in entries:
                batch = ParkedBatch.decode(fields[b"b"])
                if lease.batches and lease.events + len(batch.events) > max_events:
                    return lease
                lease.batches.append(batch)
                lease.positions.append(entry_id.decode())
            if len(entries) < page:
                break
            start = "(" + entries[-1][0].decode()
        if not lease.batches:
            self._forget(keys=[queue, keys.PARKED_USERS, keys.PARKED_DEPTH])
            self.client.delete(keys.park_lock_key(queue))
            return None
        return lease

    @redis_errors
    def finish(self, lease: Lease, handled: int) -> None:
        drained = [(lease.positions[i], len(lease.batches[i].events)) for i in range(handled)]
        try:
            if drained:
                self._done(keys=[lease.queue, keys.PARKED_DEPTH], args=[x for pair in drained for x in pair])
            self._forget(keys=[lease.queue, keys.PARKED_USERS, keys.PARKED_DEPTH])
        finally:
            self.client.delete(keys.park_lock_key(lease.queue))

    @redis_errors
    def depths(self) -> dict[str, int]:
        raw = cast(dict[bytes, bytes], self.client.hgetall(keys.PARKED_DEPTH))
        return {k.decode(): int(v) for k, v in raw.items() if int(v) > 0}

    def owner(self, queue: str) -> tuple[int | None, str] | None:
        return keys.park_owner(queue)

    @redis_errors
    def oldest_age(self) -> float | None:
        oldest: float | None = None
        for key in self.queues():
            first = cast(list[Any], self.client.xrange(key, "-", "+", count=1))
            if first:
                ms = int(first[0][0].decode().split("-")[0])
                oldest = ms / 1000 if oldest is None else min(oldest, ms / 1000)
        return None if oldest is None else max(0.0, time.time() - oldest)

    def health(self) -> MediumHealth:
        try:
            info = cast(dict[str, Any], self.client.info("memory"))
        except redis.RedisError:
            return MediumHealth(reachable=False)
        return MediumHealth(reachable=True, used_mb=float(info.get("used_memory", 0)) / (1024 * 1024))

    def close(self) -> None:
        self.client.close()
