"""The ParkMedium protocol: where validated events wait when flow control does not store them at once.

Two media keep the same guarantees (tests/contract/test_park_media.py runs one suite on both):
`redis.RedisPark` (one Redis stream per user, shared by every process on that Redis) and
`spool.SpoolPark` (fsynced segment files under FT_DATA_DIR/spool, one process, the last resort).

- ``park`` is durable when it returns: a crash right after loses nothing.
- A medium holds *queues* (Redis: one per account and user; the spool: one, FIFO across users); within a
  queue, batches come back in the order they were parked.
- ``take`` leases the oldest batches of one queue to one holder: while the lease is live no other holder
  gets that queue (None). ``finish(lease, n)`` removes exactly the first ``n`` batches of the lease and
  gives the rest back. A lease never finished (a crash) is taken again later: draining is at-least-once,
  and the event log's dedup makes a replay harmless.
- ``depths`` counts events (not batches) per queue, exact once parkers and drainers are done.
- An unreachable medium raises an ``Unavailable`` error (RedisUnavailable for Redis).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson


@dataclass
class ParkedBatch:
    """Validated raw events of one user, with the channel, account and receive time they arrived with,
    so that storing them later yields the same dedup keys as storing them at once."""

    channel: str
    account_id: int | None
    user: str
    received_at: datetime
    events: list[Any]

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "channel": self.channel,
                "account": self.account_id,
                "user": self.user,
                "received": self.received_at.isoformat(),
                "events": self.events,
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> ParkedBatch:
        doc = orjson.loads(data)
        return cls(doc["channel"], doc["account"], doc["user"], datetime.fromisoformat(doc["received"]), doc["events"])


@dataclass
class Lease:
    """The oldest batches of one queue, held by one drainer until `finish`."""

    queue: str
    holder: str
    batches: list[ParkedBatch]
    positions: list[Any] = field(default_factory=list)  # where each batch sits in the medium (its own business)

    @property
    def events(self) -> int:
        return sum(len(b.events) for b in self.batches)


@dataclass(frozen=True)
class MediumHealth:
    reachable: bool
    used_mb: float | None = None  # memory the medium uses, when it has a limit worth watching (Redis)


class ParkMedium(Protocol):
    name: str  # "redis" | "spool": the metric label and the key in GET /flow

    def park(self, batch: ParkedBatch) -> None:
        """Keep the batch; durable on return."""
        ...

    def queues(self) -> list[str]:
        """Queues that may hold batches, in a stable order (the drainer's round robin)."""
        ...

    def take(self, queue: str, max_events: int, holder: str) -> Lease | None:
        """Lease the oldest batches of `queue`, about `max_events` events (at least one batch); None when
        another holder has it or it is empty."""
        ...

    def finish(self, lease: Lease, handled: int) -> None:
        """Remove the first `handled` batches of the lease, give the others back, end the lease."""
        ...

    def depths(self) -> dict[str, int]:
        """Events per non-empty queue."""
        ...

    def owner(self, queue: str) -> tuple[int | None, str] | None:
        """(account id, user) whose events a queue holds; None for a queue shared by every user."""
        ...

    def oldest_age(self) -> float | None:
        """Seconds since the oldest batch still held was parked; None when empty."""
        ...

    def health(self) -> MediumHealth: ...

    def close(self) -> None: ...
