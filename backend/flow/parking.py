"""Which park medium takes a batch: Redis while it is reachable and below FT_FLOW_REDIS_MAX_MEMORY_MB
(every replica drains it), else the fsynced disk spool of this process."""

from __future__ import annotations

import logging

from backend.errors import Unavailable
from backend.metrics import FLOW_PARKED
from backend.park.base import ParkedBatch, ParkMedium
from backend.park.spool import SpoolPark

log = logging.getLogger("ftel.flow")


class Parking:
    def __init__(self, spool: SpoolPark, redis: ParkMedium | None, redis_max_memory_mb: int = 0) -> None:
        self.spool = spool
        self.redis = redis
        self.redis_max_memory_mb = redis_max_memory_mb
        self.redis_reachable = redis is not None
        self.redis_usable = redis is not None  # reachable and below its memory threshold

    @property
    def media(self) -> list[ParkMedium]:
        """Every medium, in drain order: the spool (the oldest trouble) first."""
        return [self.spool] + ([self.redis] if self.redis is not None else [])

    def park(self, batch: ParkedBatch, reason: str) -> str:
        if self.redis is not None and self.redis_usable:
            try:
                self.redis.park(batch)
                FLOW_PARKED.labels("redis", reason).inc(len(batch.events))
                return "redis"
            except Unavailable as exc:
                log.warning("flow: Redis cannot take parked events, using the disk spool: %s", exc)
                self.redis_usable = False
        self.spool.park(batch)
        FLOW_PARKED.labels("spool", reason).inc(len(batch.events))
        return "spool"

    def lost(self, medium: ParkMedium, exc: Exception) -> None:
        """A medium failed while draining: stop using it until `check` finds it back."""
        if medium is self.redis:
            if self.redis_reachable:
                log.warning("flow: Redis unreachable (%s); parking on the disk spool until it answers", exc)
            self.redis_usable = self.redis_reachable = False

    def check(self) -> None:
        if self.redis is None:
            return
        health = self.redis.health()
        if not health.reachable:
            if self.redis_reachable:
                log.warning("flow: Redis unreachable; parking on the disk spool until it answers")
            self.redis_usable = self.redis_reachable = False
            return
        if not self.redis_reachable:
            log.info("flow: Redis reachable again; its parked events drain")
        self.redis_reachable = True
        limit = self.redis_max_memory_mb
        self.redis_usable = not (limit and (health.used_mb or 0) > limit)

    def close(self) -> None:
        for medium in self.media:
            medium.close()
