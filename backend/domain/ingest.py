"""The one way into the event log. Every producer of events (REST, the stream consumers, file uploads,
retention, the drainer of parked events) calls `Ingest.admit`, which

1. validates the batch once (each bad event is rejected with its index; the others go on),
2. asks the admission policy, per user, how many events to store now (flow control: allowances and
   pressure) and parks the rest, durably, for the drainer,
3. stores what it admitted once each (the event log's dedup),
4. hands the new events to the projector, which merges them into the graph right after, on its own
   thread (if the graph fails they stay unprojected in the log and the projector's catch-up retries them).

The drainer hands parked batches back through `Ingest.admit_drained`: the same validation, store and
projection, without asking the policy again, and many batches in one store and one merge. Nothing here
knows where parked events go or how allowances are kept: those are the policy's and the parking's
business (backend/flow, backend/park).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from backend import failpoints
from backend.db.base import EventLog, NewEvent, NodeLink
from backend.domain.events import AcceptedEvent, RejectedEvent, validate_events
from backend.domain.openlineage import expand, settle
from backend.domain.projection import StoredEvent
from backend.domain.projector import Projector, stored_event
from backend.errors import GraphBusy, GraphError, SqlUnavailable
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

    def decide(self, account_id: int | None, user: str, sizes: Sequence[int]) -> Decision:
        """`sizes`: the bytes of each of the user's events (their stored form), in order."""
        ...

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

    def decide(self, account_id: int | None, user: str, sizes: Sequence[int]) -> Decision:
        return Decision(now=len(sizes))

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
        wait_for_graph: bool = False,
        only_openlineage: bool = False,
    ) -> IngestResult:
        """Validate, decide, store, project. `received_at`: when the events reached the service (parked
        events keep it, so their dedup keys do not change). `on_store_error="raise"`: an unreachable event
        log raises SqlUnavailable instead of parking (a stream consumer releases its entries instead).
        `wait_for_graph`: merge the stored events into the graph before returning (read-your-writes), instead
        of handing them to the projector's thread. OpenLineage RunEvents in the batch are taken in as the
        envelopes they stand for (`only_openlineage`: nothing else is)."""
        now = received_at or datetime.now(UTC)
        expanded = expand(raw, only_openlineage=only_openlineage)  # RunEvents → envelopes (docs/openlineage.md)
        raw = expanded.events
        accepted, rejected = validate_events(list(raw), channel, now)
        left_out, refusals = settle(expanded, rejected)  # a RunEvent is stored whole or not at all
        if left_out:
            accepted = [ev for ev in accepted if ev.index not in left_out]
        EVENTS_REJECTED.inc(len(refusals) + len(expanded.rejected))
        result = IngestResult()
        direct: list[AcceptedEvent] = []
        to_park: list[tuple[str, list[AcceptedEvent], str]] = []
        for user, events in _by_user(accepted).items():
            decision = self.policy.decide(account_id, user, [len(ev.payload.encode()) for ev in events])
            direct.extend(events[: decision.now])
            if decision.now < len(events):
                to_park.append((user, events[decision.now :], decision.reason))
        if direct:
            try:
                stored, unknown = self._store([_Item(ev, channel, account_id) for ev in direct], wait_for_graph)
            except SqlUnavailable as exc:
                if on_store_error == "raise" or self.parking is None:
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
                result.rejected.extend(RejectedEvent(item.event.index, error) for item, error in unknown)
        if to_park:
            assert self.parking is not None, "a policy that parks needs a parking"
            for user, events, reason in to_park:
                for start in range(0, len(events), self.park_quantum):
                    part = events[start : start + self.park_quantum]
                    self.parking.park(
                        ParkedBatch(channel, account_id, user, now, [raw[ev.index] for ev in part]), reason
                    )
                    failpoints.hit("park.parked")
                result.buffered += len(events)
        # indices of the batch as sent: an envelope made from a RunEvent answers by the RunEvent's index
        result.rejected = [RejectedEvent(expanded.origin[r.index], r.error) for r in result.rejected]
        result.rejected += refusals + expanded.rejected
        result.rejected.sort(key=lambda r: r.index)
        return result

    def probe(self) -> None:
        """Raise when the event log cannot be reached (a consumer tells an outage from a bad entry by it)."""
        self.events.ping()

    def admit_drained(self, batches: Sequence[ParkedBatch]) -> DrainResult:
        """Parked batches back into the log, all in one store and one merge (each batch keeps its channel,
        account and receive time, so its dedup keys are those it would have had at once). The policy is not
        asked again. An unreachable event log raises SqlUnavailable: the caller gives the batches back."""
        items: list[_Item] = []
        out = DrainResult()
        for number, batch in enumerate(batches):
            accepted, rejected = validate_events(list(batch.events), batch.channel, batch.received_at)
            items += [_Item(ev, batch.channel, batch.account_id, number) for ev in accepted]
            out.rejected += [(number, r) for r in rejected]
        stored, unknown = self._store(items)
        out.accepted, out.duplicates, out.buffered = stored.accepted, stored.duplicates, stored.buffered
        out.rejected += [(item.batch, RejectedEvent(item.event.index, error)) for item, error in unknown]
        return out

    def _store(self, items: list[_Item], wait: bool = False) -> tuple[IngestResult, list[tuple[_Item, str]]]:
        """Store once (dedup), then hand the new events to the projector: its thread merges them right after
        (`wait`: merged here, before the answer). Stored events are safe whatever the merge does. Returns
        the counts and the events refused at this step (a log naming an unknown node)."""
        items, traces, unknown = self._resolve_log_traces(items)
        rows = [_new_event(item, traces.get(n)) for n, item in enumerate(items)]
        new = self.events.insert(rows)
        failpoints.hit("ingest.stored")
        result = IngestResult(accepted=len(new), duplicates=len(items) - len(new))
        EVENTS_STORED.inc(result.accepted)
        EVENTS_DUPLICATE.inc(result.duplicates)
        EVENTS_REJECTED.inc(len(unknown))
        # New events are projected from memory; a duplicate whose first merge never finished is still
        # unprojected in the log, where the projector's catch-up finds it (or the merge here, below).
        fresh = [
            StoredEvent(new[row.dedup_key], item.event.envelope, row.trace_key, item.event.time_text)
            for item, row in zip(items, rows, strict=True)
            if row.dedup_key in new
        ]
        seen_before = [row.dedup_key for row in rows if row.dedup_key not in new]
        size = self.projector.batch_size
        if self.projector.running and not wait:
            self.projector.submit(fresh)
            for start in range(0, len(seen_before), size):  # a redelivery completes what a crash left unmerged
                self.projector.submit(
                    [stored_event(r) for r in self.events.unprojected(size, seen_before[start : start + size])]
                )
            return result, unknown
        try:
            for start in range(0, len(fresh), size):
                self.projector.apply(fresh[start : start + size])
            for start in range(0, len(seen_before), size):
                self.projector.apply_logged(self.events.unprojected(size, seen_before[start : start + size]))
        except GraphError as exc:
            GRAPH_ERRORS.inc()
            result.buffered = len(fresh)
            if isinstance(exc, GraphBusy):  # contention, not an outage: nobody needs to park for it
                log.debug("graph merge deferred: %s", exc)
            else:
                log.warning("graph merge deferred: %s", exc)
                self.policy.graph_deferred()
        return result, unknown

    def _resolve_log_traces(self, items: list[_Item]) -> tuple[list[_Item], dict[int, str], list[tuple[_Item, str]]]:
        """Log events may omit the trace when they name a known node: find it in this batch or in the log.
        Returns the items kept, the trace found for each (by position among those kept), the refused."""
        in_batch: dict[str, str] = {}
        missing: set[str] = set()
        for item in items:
            env = item.event.envelope
            if env.trace:
                if env.node is not None:
                    in_batch.setdefault(env.node.key, env.trace)
                for n in env.inputs:
                    in_batch.setdefault(n.key, env.trace)
                for n in env.outputs:
                    in_batch.setdefault(n.key, env.trace)
            elif env.node is not None:
                missing.add(env.node.key)
        missing -= in_batch.keys()
        known = {**(self.events.known_node_traces(missing) if missing else {}), **in_batch}
        kept: list[_Item] = []
        traces: dict[int, str] = {}
        refused: list[tuple[_Item, str]] = []
        for item in items:
            if item.event.envelope.trace is None:
                node = item.event.envelope.node
                trace = known.get(node.key) if node else None
                if trace is None:
                    refused.append((item, f"log names unknown node '{node.key if node else ''}' and gives no 'trace'"))
                    continue
                traces[len(kept)] = trace
            kept.append(item)
        return kept, traces, refused


@dataclass(frozen=True)
class _Item:
    """An accepted event on its way into the log, with where it came from (the batch: in admit_drained)."""

    event: AcceptedEvent
    channel: str
    account_id: int | None
    batch: int = 0


@dataclass
class DrainResult:
    accepted: int = 0
    duplicates: int = 0
    buffered: int = 0
    rejected: list[tuple[int, RejectedEvent]] = field(default_factory=list)  # (batch, event) refused


def _by_user(events: list[AcceptedEvent]) -> dict[str, list[AcceptedEvent]]:
    grouped: dict[str, list[AcceptedEvent]] = {}
    for ev in events:
        grouped.setdefault(ev.envelope.user or NO_USER, []).append(ev)
    return grouped


def _new_event(item: _Item, trace: str | None) -> NewEvent:
    ev, env = item.event, item.event.envelope
    kind = env.type.value
    node = env.node
    links: tuple[NodeLink, ...] = (NodeLink(node.key, node.kind, "node"),) if node is not None else ()
    if env.inputs:
        links += tuple(NodeLink(n.key, n.kind, "input") for n in env.inputs)
    if env.outputs:
        links += tuple(NodeLink(n.key, n.kind, "output") for n in env.outputs)
    return NewEvent(
        uuid=ev.uuid,
        dedup_key=ev.dedup_key,
        channel=item.channel,
        account_id=item.account_id,
        type=kind,
        trace_key=trace or env.trace,
        node_key=node.key if node is not None else None,
        level=(env.level or "info") if kind == "log" else None,
        user_id=env.user,
        created_at=ev.time,
        payload=ev.payload,
        nodes=links,
    )
