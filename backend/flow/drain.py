"""The drainer: parked events back into the ingest pipeline at a bounded rate once the pressure is gone,
the spool first, then each medium's queues round robin (at most FT_FLOW_DRAIN_USER_QUANTUM events per
user per turn), so one user's backlog never starves the others."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections import deque

from backend import failpoints
from backend.domain.ingest import Ingest
from backend.errors import SqlUnavailable, Unavailable
from backend.flow.parking import Parking
from backend.flow.pressure import Pressure
from backend.metrics import FLOW_DRAINED
from backend.park.base import Lease, ParkMedium
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
        self._last_tick: float | None = None
        self._turn: dict[str, int] = {}
        self._drained: deque[tuple[float, int]] = deque()

    def drain_once(self) -> int:
        """One tick: parked events stored at FT_FLOW_DRAIN_EVENTS_PER_SECOND over the time since the last
        tick (at least FT_FLOW_TICK_SECONDS: storing takes time too, and the rate is per second, not per
        tick), at most one second's worth at once."""
        now = time.monotonic()
        elapsed = self.tick if self._last_tick is None else max(self.tick, now - self._last_tick)
        self._last_tick = now
        if self.pressure.pressing():
            self._tokens = 0.0
            return 0
        self._tokens = min(self.rate, self._tokens + self.rate * elapsed)
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
        """Hand a lease's batches to the pipeline in one store and one merge; the medium forgets them once
        stored, or gets them all back if the event log cannot take them."""
        handled = 0
        try:
            result = self.ingest.admit_drained(lease.batches)
            handled = len(lease.batches)
            failpoints.hit("drain.stored")
        finally:
            medium.finish(lease, handled)
        for number, rejected in result.rejected:  # e.g. a log naming a node whose event was itself never stored
            batch = lease.batches[number]
            log.warning("flow: drained event rejected (%s, user %r): %s", batch.channel, batch.user, rejected.error)
        FLOW_DRAINED.labels(medium.name).inc(lease.events)
        return lease.events

    def rate_now(self) -> float:
        """Events drained per second over the last few seconds."""
        horizon = time.monotonic() - 5.0
        while self._drained and self._drained[0][0] < horizon:
            self._drained.popleft()
        return sum(n for _, n in self._drained) / 5.0
