"""The graph as a projection of the event log: merge stored events, catch up on what is left, rebuild."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from backend.db.base import EventLog, LoggedEvent
from backend.domain.events import Envelope, format_time
from backend.domain.projection import StoredEvent, project
from backend.errors import GraphBusy
from backend.metrics import EVENTS_PENDING, EVENTS_PROJECTED
from graph.base import GraphStore, LogCounts

log = logging.getLogger("ftel.projector")


def stored_event(row: LoggedEvent) -> StoredEvent:
    return StoredEvent(
        id=row.id,
        envelope=Envelope.model_validate_json(row.payload),
        trace=row.trace_key,
        time=format_time(row.created_at),
    )


class Projector:
    """Merges stored events into the graph, merge first and mark projected after: a crash in between only
    repeats an idempotent merge. A failing graph raises GraphError and leaves the events unprojected."""

    def __init__(self, events: EventLog, graph: GraphStore, batch_size: int = 1000, grace_seconds: float = 0.0) -> None:
        self.events = events
        self.graph = graph
        self.batch_size = batch_size
        self.grace_seconds = grace_seconds

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
        self.events.mark_projected([ev.id for ev in events])
        EVENTS_PROJECTED.inc(len(events))

    def apply_logged(self, rows: list[LoggedEvent]) -> None:
        self.apply([stored_event(r) for r in rows])

    def catch_up(self) -> bool:
        """Merge one batch of the events left behind; True while there may be more (the periodic runner
        calls again at once). Events received in the last FT_PROJECTOR_GRACE_SECONDS are left to the path
        that stored them (it merges them itself, or marks them buffered): merging them here too would do the
        same work twice. Another process holding a shared graph is not a failure: the next tick retries."""
        before = datetime.now(UTC) - timedelta(seconds=self.grace_seconds)
        pending = self.events.unprojected(self.batch_size, received_before=before)
        try:
            self.apply_logged(pending)
        except GraphBusy as exc:
            log.debug("projector: %s", exc)
            return False
        if len(pending) < self.batch_size:
            EVENTS_PENDING.set(self.events.pending_count())
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
