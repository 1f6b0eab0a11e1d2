"""The drainer: parked events back into the ingest pipeline at a bounded rate once the pressure is gone,
the spool first, then each medium's queues round robin (at most FT_FLOW_DRAIN_USER_QUANTUM events per
user per turn), so one user's backlog never starves the others."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections import deque

from backend.domain.ingest import Ingest
from backend.errors import SqlUnavailable, Unavailable
from backend.flow.parking import Parking
from backend.flow.pressure import Pressure
from backend.metrics import FLOW_DRAINED
from backend.park.base import Lease, ParkedBatch, ParkMedium
from backend.settings import Settings

log = logging.getLogger("ftel.flow")


class Drainer:
    def __init__(self, ingest: Ingest, parking: Parking, pressure: Pressure, settings: Settings) -> None:
        self.ingest = ingest
        self.parking = parking
        self.pressure = pressure
        self.rate = settings.flow_drain_events_per_second
        self.tick = settings.flow_tick_seconds
        self.quantum = settings.flow_drain_user_quantum
        self.holder = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"  # this drainer's name on a lease
        self._tokens = 0.0
        self._turn: dict[str, int] = {}
        self._drained: deque[tuple[float, int]] = deque()

    def drain_once(self) -> int:
        """One tick: up to FT_FLOW_DRAIN_EVENTS_PER_SECOND × FT_FLOW_TICK_SECONDS parked events stored."""
        if self.pressure.pressing():
            self._tokens = 0.0
            return 0
        self._tokens = min(self.rate, self._tokens + self.rate * self.tick)
        budget = int(self._tokens)
        done = 0
        for medium in self.parking.media:
            if done >= budget or self.pressure.pressing():
                break
            if medium is self.parking.redis and not self.parking.redis_reachable:
                continue  # the check finds it back
            try:
                done += self._drain(medium, budget - done)
            except SqlUnavailable as exc:
                self.pressure.set("sql")
                log.warning("flow: draining paused, event log unreachable: %s", exc)
            except Unavailable as exc:
                self.parking.lost(medium, exc)
        self._tokens -= done
        if done:
            self._drained.append((time.monotonic(), done))
        return done

    def _drain(self, medium: ParkMedium, budget: int) -> int:
        queues = medium.queues()
        done = 0
        progress = bool(queues)
        while done < budget and progress:
            progress = False
            turn = self._turn[medium.name] = (self._turn.get(medium.name, -1) + 1) % len(queues)
            for queue in queues[turn:] + queues[:turn]:
                if done >= budget:
                    break
                lease = medium.take(queue, min(self.quantum, budget - done), self.holder)
                if lease is None:
                    continue
                count = self._store(medium, lease)
                done += count
                progress = progress or count > 0
        return done

    def _store(self, medium: ParkMedium, lease: Lease) -> int:
        """Hand a lease's batches to the pipeline; the medium forgets those stored (even when one fails)."""
        handled = events = 0
        try:
            for batch in lease.batches:
                self._admit(batch)
                handled += 1
                events += len(batch.events)
        finally:
            medium.finish(lease, handled)
            if events:
                FLOW_DRAINED.labels(medium.name).inc(events)
        return events

    def _admit(self, batch: ParkedBatch) -> None:
        result = self.ingest.admit(
            batch.events, batch.channel, batch.account_id, received_at=batch.received_at, drained=True
        )
        for rejected in result.rejected:  # e.g. a log naming a node whose event was itself never stored
            log.warning("flow: drained event rejected (%s, user %r): %s", batch.channel, batch.user, rejected.error)

    def rate_now(self) -> float:
        """Events drained per second over the last few seconds."""
        horizon = time.monotonic() - 5.0
        while self._drained and self._drained[0][0] < horizon:
            self._drained.popleft()
        return sum(n for _, n in self._drained) / 5.0
