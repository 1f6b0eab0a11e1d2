"""The graph as a projection of the event log: merge stored events, catch up on what is left, rebuild.

A serving process acknowledges events once they are in the event log and merges them into the graph right
after, on a thread of its own (`start()`): `submit` hands the stored events over in memory, the thread merges
them in large batches. The hand-over is bounded (FT_PROJECTOR_QUEUE_EVENTS): past it, and whenever a merge
fails, events simply stay unprojected in the log, where the periodic `catch_up` finds them. Without the
thread (commands, and requests that ask to wait), the ingest pipeline merges with `apply` itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from backend import failpoints
from backend.db.base import EventLog, LoggedEvent
from backend.domain.events import Envelope, format_time
from backend.domain.projection import StoredEvent, project
from backend.errors import GraphBusy, GraphError, Unavailable
from backend.metrics import (
    EVENTS_PENDING,
    EVENTS_PROJECTED,
    GRAPH_ERRORS,
    PROJECTION_DEFERRED,
    PROJECTION_LAG,
    PROJECTION_QUEUE,
)
from graph.base import GraphStore, LogCounts

log = logging.getLogger("ftel.projector")


def stored_event(row: LoggedEvent) -> StoredEvent:
    return StoredEvent(
        id=row.id,
        envelope=Envelope.model_validate_json(row.payload),
        trace=row.trace_key,
        time=format_time(row.created_at),
    )


@dataclass(frozen=True)
class ProjectionState:
    """How far the graph is behind the event log (every process's stored events, not only this one's)."""

    pending: int  # stored events not yet merged
    lag_seconds: float  # age of the oldest of them (0 when none)
    projected_through: str  # every event received before this time is in the graph (now when none is pending)
    queued: int  # events handed to this process's merge thread and not merged yet

    def as_json(self) -> dict[str, object]:
        return {
            "pending": self.pending,
            "lag_seconds": round(self.lag_seconds, 3),
            "projected_through": self.projected_through,
            "queued": self.queued,
        }


class Projector:
    """Merges stored events into the graph, merge first and mark projected after: a crash in between only
    repeats an idempotent merge. A failing graph raises GraphError and leaves the events unprojected."""

    def __init__(
        self,
        events: EventLog,
        graph: GraphStore,
        batch_size: int = 1000,
        grace_seconds: float = 0.0,
        *,
        queue_events: int = 20_000,
        merge_events: int = 5000,
        on_deferred: Callable[[], None] | None = None,
    ) -> None:
        self.events = events
        self.graph = graph
        self.batch_size = batch_size  # events per merge when catching up from the log
        self.grace_seconds = grace_seconds
        self.queue_events = queue_events  # bound of the in-memory hand-over
        self.merge_events = merge_events  # events per merge on the thread
        self.on_deferred = on_deferred or (lambda: None)
        self._queue: deque[StoredEvent] = deque()
        self._cond = threading.Condition()
        self._busy = 0  # events taken by the thread and being merged
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._retry_at = 0.0  # after a failed merge the thread leaves the graph alone until then

    # -- merging --------------------------------------------------------------------------------

    def apply(self, events: list[StoredEvent]) -> None:
        if not events:
            return
        projection = project(events)
        counts = self.events.log_counts(projection.log_targets)
        projection.batch.log_counts = [
            LogCounts(
                key=key,
                kind=kind,
                debug=c.get("debug", 0),
                info=c.get("info", 0),
                warn=c.get("warn", 0),
                error=c.get("error", 0),
            )
            for (key, kind), c in counts.items()
        ]
        self.graph.apply(projection.batch)
        failpoints.hit("projector.merged")
        self.events.mark_projected([ev.id for ev in events])
        EVENTS_PROJECTED.inc(len(events))

    def apply_logged(self, rows: list[LoggedEvent]) -> None:
        self.apply([stored_event(r) for r in rows])

    def submit(self, events: list[StoredEvent]) -> None:
        """Events just stored, for the merge thread (returns at once). Events it cannot take (no thread, the
        hand-over full, a merge failed a moment ago) wait in the log for `catch_up`."""
        if not events:
            return
        with self._cond:
            room = self.queue_events - len(self._queue) - self._busy
            if self._thread is None or room < len(events) or time.monotonic() < self._retry_at:
                # The log has them; catch_up merges them once the thread has room again.
                PROJECTION_DEFERRED.inc(len(events))
                return
            self._queue.extend(events)
            PROJECTION_QUEUE.set(len(self._queue))
            self._cond.notify()

    def catch_up(self) -> bool:
        """Merge one batch of the events left behind; True while there may be more (the periodic runner
        calls again at once). Events received in the last FT_PROJECTOR_GRACE_SECONDS are left to the path
        that stored them (its merge thread, or its own merge). While this process's thread has events in
        hand, the thread goes first. Another process holding a shared graph is not a failure: the next tick
        retries."""
        self._observe_lag()
        if self.queued():
            return False
        before = datetime.now(UTC) - timedelta(seconds=self.grace_seconds)
        pending = self.events.unprojected(self.batch_size, received_before=before)
        try:
            self.apply_logged(pending)
        except GraphBusy as exc:
            log.debug("projector: %s", exc)
            return False
        return len(pending) == self.batch_size

    def project_pending(self, limit: int | None = None) -> int:
        """Merge one batch of unprojected events; how many were merged (0: caught up)."""
        pending = self.events.unprojected(limit or self.batch_size)
        self.apply_logged(pending)
        return len(pending)

    def start_rebuild(self) -> int:
        """Clear the graph and mark every event unprojected; how many events there are to merge again."""
        self.graph.clear()
        return self.events.reset_projection()

    # -- what readers and operators see ----------------------------------------------------------

    def queued(self) -> int:
        with self._cond:
            return len(self._queue) + self._busy

    def state(self) -> ProjectionState:
        pending, oldest = self.events.projection_backlog()
        now = datetime.now(UTC)
        lag = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
        through = format_time(oldest if oldest is not None else now)
        return ProjectionState(pending, lag, through, self.queued())

    def _observe_lag(self) -> None:
        try:
            state = self.state()
        except Unavailable:
            return
        EVENTS_PENDING.set(state.pending)
        PROJECTION_LAG.set(state.lag_seconds)

    # -- the merge thread --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="ftel-projector", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Merge what is in hand (at most `timeout` seconds), then stop; the rest waits in the log."""
        thread = self._thread
        if thread is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify()
        thread.join(timeout)
        self._thread = None
        with self._cond:
            left = len(self._queue)
            self._queue.clear()
        if left:
            log.info("projector stopped with %d events to merge: the next start merges them from the log", left)

    def _run(self) -> None:
        deadline: float | None = None
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    deadline = deadline or time.monotonic() + 5.0
                    if not self._queue or time.monotonic() > deadline:
                        return
                take = min(len(self._queue), self.merge_events)
                batch = [self._queue.popleft() for _ in range(take)]
                self._busy = take
                PROJECTION_QUEUE.set(len(self._queue))
            try:
                self.apply(batch)
            except Unavailable as exc:  # the graph, or the log's counts and marks
                GRAPH_ERRORS.inc()
                self._defer(exc)
            except Exception:
                log.exception("projector: merging %d events failed; they wait in the log", len(batch))
                self._defer(None)
            finally:
                with self._cond:
                    self._busy = 0

    def _defer(self, exc: Exception | None) -> None:
        """A failed merge: what is in hand waits in the log for catch_up, and new events go there too for a
        moment, so a graph outage costs the requests nothing."""
        with self._cond:
            dropped = len(self._queue)
            self._queue.clear()
            self._retry_at = time.monotonic() + 1.0
            PROJECTION_QUEUE.set(0)
        PROJECTION_DEFERRED.inc(dropped)
        if isinstance(exc, GraphBusy):
            log.debug("graph merge deferred: %s", exc)
            return
        if exc is not None:
            log.warning("graph merge deferred: %s", exc)
        if isinstance(exc, GraphError):
            self.on_deferred()
