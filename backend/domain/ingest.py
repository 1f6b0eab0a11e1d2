"""The one way into the event log. Every producer of events (REST, the stream consumers, file uploads,
retention, the drainer of parked events) calls `Ingest.admit`, which

1. validates the batch once (each bad event is rejected with its index; the others go on),
2. asks the admission policy, per user, how many events to store now (flow control: allowances and
   pressure) and parks the rest, durably, for the drainer,
3. stores what it admitted once each (the event log's dedup),
4. merges the new events into the graph (if the graph fails they stay unprojected, count as
   `buffered`, and the projector retries them).

Nothing here knows where parked events go or how allowances are kept: those are the policy's and the
parking's business (backend/flow, backend/park).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from backend.db.base import EventLog, NewEvent, NodeLink
from backend.domain.events import AcceptedEvent, RejectedEvent, format_time, validate_events
from backend.domain.projection import StoredEvent
from backend.domain.projector import Projector
from backend.errors import GraphError, SqlUnavailable
from backend.metrics import EVENTS_DUPLICATE, EVENTS_REJECTED, EVENTS_STORED, GRAPH_ERRORS
from backend.park.base import ParkedBatch

log = logging.getLogger("ftel.ingest")

NO_USER = "-"  # the user of events that name none (a service event, a log line)


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


@dataclass(frozen=True)
class Decision:
    """Of one user's events (in order), the first `now` are stored at once; the rest are parked for `reason`."""

    now: int
    reason: str = "allowance"


class AdmissionPolicy(Protocol):
    """Flow control as the pipeline sees it (backend/flow implements it)."""

    def decide(self, account_id: int | None, user: str, events: Sequence[Any]) -> Decision: ...

    def store_failed(self, exc: SqlUnavailable) -> None:
        """The event log could not be written: what was admitted is being parked instead."""
        ...

    def graph_deferred(self) -> None:
        """Stored events could not be merged into the graph (they wait for the projector)."""
        ...


class Parker(Protocol):
    def park(self, batch: ParkedBatch, reason: str) -> str:
        """Keep a batch durably for a later `admit(..., drained=True)`; returns the medium's name."""
        ...


class AdmitAll:
    """The policy of processes without flow control (CLI commands, FT_FLOW_ENABLED=false): store everything now."""

    def decide(self, account_id: int | None, user: str, events: Sequence[Any]) -> Decision:
        return Decision(now=len(events))

    def store_failed(self, exc: SqlUnavailable) -> None:
        pass

    def graph_deferred(self) -> None:
        pass


class Ingest:
    def __init__(
        self,
        events: EventLog,
        projector: Projector,
        *,
        policy: AdmissionPolicy | None = None,
        parking: Parker | None = None,
        park_quantum: int = 200,
    ) -> None:
        self.events = events
        self.projector = projector
        self.policy: AdmissionPolicy = policy or AdmitAll()
        self.parking = parking
        self.park_quantum = park_quantum  # events per parked batch: keeps each drain step bounded

    def admit(
        self,
        raw: Sequence[Any],
        channel: str,
        account_id: int | None,
        *,
        received_at: datetime | None = None,
        on_store_error: Literal["park", "raise"] = "park",
        drained: bool = False,
    ) -> IngestResult:
        """Validate, decide, store, project. `received_at`: when the events reached the service (parked
        events keep it, so their dedup keys do not change). `on_store_error="raise"`: an unreachable event
        log raises SqlUnavailable instead of parking (a stream consumer releases its entries instead).
        `drained`: events coming back from a park medium, stored without asking the policy again."""
        now = received_at or datetime.now(UTC)
        accepted, rejected = validate_events(list(raw), channel, now)
        result = IngestResult(rejected=list(rejected))
        direct: list[AcceptedEvent] = []
        to_park: list[tuple[str, list[AcceptedEvent], str]] = []
        if drained:
            direct = accepted
        else:
            for user, events in _by_user(accepted).items():
                decision = self.policy.decide(account_id, user, [raw[ev.index] for ev in events])
                direct.extend(events[: decision.now])
                if decision.now < len(events):
                    to_park.append((user, events[decision.now :], decision.reason))
        if direct:
            try:
                stored = self._store(direct, channel, account_id)
            except SqlUnavailable as exc:
                if on_store_error == "raise" or self.parking is None or drained:
                    raise
                log.warning("event log unreachable, parking the batch: %s", exc)
                self.policy.store_failed(exc)
                to_park.extend((user, events, "sql") for user, events in _by_user(direct).items())
            else:
                result.accepted, result.duplicates, result.buffered = (
                    stored.accepted,
                    stored.duplicates,
                    stored.buffered,
                )
                result.rejected.extend(stored.rejected)
        if to_park:
            assert self.parking is not None, "a policy that parks needs a parking"
            for user, events, reason in to_park:
                for start in range(0, len(events), self.park_quantum):
                    part = events[start : start + self.park_quantum]
                    self.parking.park(
                        ParkedBatch(channel, account_id, user, now, [raw[ev.index] for ev in part]), reason
                    )
                result.buffered += len(events)
        result.rejected.sort(key=lambda r: r.index)
        return result

    def _store(self, accepted: list[AcceptedEvent], channel: str, account_id: int | None) -> IngestResult:
        """Store once (dedup), then merge into the graph. Stored events are safe even if the merge fails."""
        accepted, traces, unknown = self._resolve_log_traces(accepted)
        new = self.events.insert(channel, account_id, [_new_event(ev, traces) for ev in accepted])
        result = IngestResult(accepted=len(new), duplicates=len(accepted) - len(new), rejected=unknown)
        EVENTS_STORED.inc(result.accepted)
        EVENTS_DUPLICATE.inc(result.duplicates)
        EVENTS_REJECTED.inc(len(unknown))
        # New events are projected from memory; duplicates only if an earlier merge never finished.
        fresh = [
            StoredEvent(new[ev.dedup_key], ev.envelope, traces.get(ev.index, ev.envelope.trace), format_time(ev.time))
            for ev in accepted
            if ev.dedup_key in new
        ]
        seen_before = [ev.dedup_key for ev in accepted if ev.dedup_key not in new]
        size = self.projector.batch_size
        try:
            for start in range(0, len(fresh), size):
                self.projector.apply(fresh[start : start + size])
            for start in range(0, len(seen_before), size):
                self.projector.apply_logged(self.events.unprojected(size, seen_before[start : start + size]))
        except GraphError as exc:
            GRAPH_ERRORS.inc()
            result.buffered = len(fresh)
            log.warning("graph merge deferred: %s", exc)
            self.policy.graph_deferred()
        return result

    def _resolve_log_traces(
        self, events: list[AcceptedEvent]
    ) -> tuple[list[AcceptedEvent], dict[int, str], list[RejectedEvent]]:
        """Log events may omit the trace when they name a known node: find it in this batch or in the log."""
        in_batch: dict[str, str] = {}
        for ev in events:
            if ev.envelope.trace:
                for ref, _ in ev.envelope.nodes():
                    in_batch.setdefault(ref.key, ev.envelope.trace)
        orphans = [ev for ev in events if ev.envelope.trace is None]
        missing = {ev.envelope.node.key for ev in orphans if ev.envelope.node and ev.envelope.node.key not in in_batch}
        known = {**(self.events.known_node_traces(missing) if missing else {}), **in_batch}
        kept: list[AcceptedEvent] = []
        traces: dict[int, str] = {}
        rejected: list[RejectedEvent] = []
        for ev in events:
            if ev.envelope.trace is None:
                node = ev.envelope.node
                trace = known.get(node.key) if node else None
                if trace is None:
                    rejected.append(
                        RejectedEvent(
                            ev.index, f"log names unknown node '{node.key if node else ''}' and gives no 'trace'"
                        )
                    )
                    continue
                traces[ev.index] = trace
            kept.append(ev)
        return kept, traces, rejected


def _by_user(events: list[AcceptedEvent]) -> dict[str, list[AcceptedEvent]]:
    grouped: dict[str, list[AcceptedEvent]] = {}
    for ev in events:
        grouped.setdefault(ev.envelope.user or NO_USER, []).append(ev)
    return grouped


def _new_event(ev: AcceptedEvent, traces: dict[int, str]) -> NewEvent:
    env = ev.envelope
    return NewEvent(
        uuid=ev.uuid,
        dedup_key=ev.dedup_key,
        type=env.type.value,
        trace_key=traces.get(ev.index, env.trace),
        node_key=env.node.key if env.node else None,
        level=(env.level or "info") if env.type.value == "log" else None,
        user_id=env.user,
        created_at=ev.time,
        payload=ev.payload,
        nodes=tuple(NodeLink(ref.key, ref.kind, role) for ref, role in env.nodes()),
    )
