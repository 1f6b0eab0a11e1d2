"""Use cases that write: record a batch of events, and project stored events into the graph."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from backend.db import event_log
from backend.domain.events import AcceptedEvent, RejectedEvent, format_time, validate_events
from backend.domain.projection import StoredEvent, project
from backend.metrics import EVENTS_DUPLICATE, EVENTS_PROJECTED, EVENTS_REJECTED, EVENTS_STORED, GRAPH_ERRORS
from graph.base import GraphError, GraphStore, LogCounts

log = logging.getLogger("ftel.ingest")


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    buffered: int = 0
    rejected: list[RejectedEvent] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "buffered": self.buffered,
            "rejected": [{"index": r.index, "error": r.error} for r in self.rejected],
        }


def _resolve_log_traces(engine: Engine, events: list[AcceptedEvent]) -> tuple[list[AcceptedEvent], dict[int, str | None], list[RejectedEvent]]:
    """Log events may omit the trace when they name a known node: find it in this batch or in the log."""
    in_batch: dict[str, str] = {}
    for ev in events:
        if ev.envelope.trace:
            for ref, _ in ev.envelope.nodes():
                in_batch.setdefault(ref.key, ev.envelope.trace)
    orphans = [ev for ev in events if ev.envelope.trace is None]
    missing = {ev.envelope.node.key for ev in orphans if ev.envelope.node and ev.envelope.node.key not in in_batch}
    known = {**event_log.known_node_traces(engine, missing), **in_batch}
    kept: list[AcceptedEvent] = []
    traces: dict[int, str | None] = {}
    rejected: list[RejectedEvent] = []
    for ev in events:
        if ev.envelope.trace is None:
            node = ev.envelope.node
            trace = known.get(node.key) if node else None
            if trace is None:
                rejected.append(RejectedEvent(ev.index, f"log names unknown node '{node.key if node else ''}' and gives no 'trace'"))
                continue
            traces[ev.index] = trace
        kept.append(ev)
    return kept, traces, rejected


def record_events(
    engine: Engine, graph: GraphStore, raw: list[Any], channel: str, account_id: int | None, batch_size: int = 1000,
    received_at: datetime | None = None,
) -> IngestResult:
    """Validate, store once (dedup), then merge into the graph. Stored events are safe even if the
    graph merge fails: they stay unprojected, the projector retries them, and they count as `buffered`.
    `received_at`: when the events reached the service (parked events are stored later)."""
    accepted, rejected = validate_events(raw, channel, received_at or datetime.now(UTC))
    accepted, traces, unknown = _resolve_log_traces(engine, accepted)
    rejected = sorted(rejected + unknown, key=lambda r: r.index)
    new = event_log.insert_events(engine, channel, account_id, accepted, traces)
    result = IngestResult(accepted=len(new), duplicates=len(accepted) - len(new), rejected=rejected)
    EVENTS_STORED.inc(result.accepted)
    EVENTS_DUPLICATE.inc(result.duplicates)
    EVENTS_REJECTED.inc(len(rejected))
    # New events are projected from memory; duplicates only if an earlier merge never finished.
    fresh = [StoredEvent(new[ev.dedup_key], ev.envelope, traces.get(ev.index, ev.envelope.trace), format_time(ev.time))
             for ev in accepted if ev.dedup_key in new]
    seen_before = [ev.dedup_key for ev in accepted if ev.dedup_key not in new]
    try:
        for start in range(0, len(fresh), batch_size):
            apply_to_graph(engine, graph, fresh[start:start + batch_size])
        for start in range(0, len(seen_before), batch_size):
            apply_to_graph(engine, graph, event_log.unprojected(engine, batch_size, seen_before[start:start + batch_size]))
    except GraphError as exc:
        GRAPH_ERRORS.inc()
        result.buffered = len(fresh)
        log.warning("graph merge deferred: %s", exc)
    return result


def apply_to_graph(engine: Engine, graph: GraphStore, events: list[StoredEvent]) -> None:
    """Merge stored events into the graph, then mark them projected (merge first: a crash in
    between only repeats an idempotent merge)."""
    if not events:
        return
    projection = project(events)
    counts = event_log.log_counts(engine, projection.log_targets)
    projection.batch.log_counts = [
        LogCounts(key=key, kind=kind, debug=c.get("debug", 0), info=c.get("info", 0), warn=c.get("warn", 0), error=c.get("error", 0))
        for (key, kind), c in counts.items()
    ]
    try:
        graph.apply(projection.batch)
    except GraphError:
        raise
    except Exception as exc:  # driver errors of any backend: the events stay unprojected
        raise GraphError(str(exc)) from exc
    event_log.mark_projected(engine, [ev.id for ev in events])
    EVENTS_PROJECTED.inc(len(events))


def project_pending(engine: Engine, graph: GraphStore, batch_size: int = 1000) -> int:
    """Merge one batch of unprojected events; returns how many were merged (0: caught up)."""
    pending = event_log.unprojected(engine, batch_size)
    apply_to_graph(engine, graph, pending)
    return len(pending)

