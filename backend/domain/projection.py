"""Events → graph rows. Pure functions: the same events always give the same batch."""

from __future__ import annotations

from dataclasses import dataclass, field

from backend.domain.events import DROP_EVENTS, NODE_EVENTS, Envelope, EventType, NodeRef
from graph.base import DropRow, FlowRow, GraphBatch, Membership, NodeRow, TraceRow


@dataclass(frozen=True)
class StoredEvent:
    """An event as read back from the log: the envelope plus what the server settled at ingest."""

    id: int
    envelope: Envelope
    trace: str | None  # envelope.trace, or the trace resolved for a log naming a known node
    time: str


@dataclass
class Projection:
    batch: GraphBatch
    # keys whose log counts must be recounted from the event log (kind None: a trace)
    log_targets: set[tuple[str, str | None]] = field(default_factory=set)


def _merge_node(into: dict[str, NodeRow], row: NodeRow, traces: dict[str, dict[str, None]]) -> None:
    """Fold a row into the batch's row for the same key, as the graph merge would; `traces` keeps every
    trace the node met in the batch (in order), so each of them contains it."""
    if row.trace:
        traces.setdefault(row.key, {})[row.trace] = None
    old = into.get(row.key)
    if old is None:
        into[row.key] = row
        return
    if row.trace and (
        not old.trace or (row.first_at or "", row.trace) < (old.first_at or "", old.trace)
    ):  # the trace of the node's earliest event owns it, whatever order its events come in
        old.trace = row.trace
    old.user = old.user or row.user
    old.name = row.name or old.name
    old.produced = old.produced or row.produced
    old.first_at = min(x for x in (old.first_at, row.first_at) if x) if (old.first_at or row.first_at) else None
    old.last_at = max(x for x in (old.last_at, row.last_at) if x) if (old.last_at or row.last_at) else None
    if row.rank > old.rank:
        old.status, old.reason, old.code = row.status, row.reason, row.code
    elif row.rank == old.rank and row.rank >= 0:
        old.reason = row.reason or old.reason
        old.code = row.code or old.code


def _starts_earlier(row: TraceRow, old: TraceRow) -> bool:
    """Of two trace.started events, the earlier one names the trace's user (ties: the smaller user id),
    so the owner does not depend on the order events arrive in."""
    return (row.started_at or "", row.user or "") < (old.started_at or "", old.user or "")


def _merge_trace(into: dict[str, TraceRow], row: TraceRow) -> None:
    old = into.get(row.key)
    if old is None:
        into[row.key] = row
        return
    if row.started and (not old.started or _starts_earlier(row, old)):
        old.user, old.started, old.started_at = row.user, True, row.started_at
        old.name = row.name or old.name
    elif row.started:
        old.name = old.name or row.name
    elif not old.started:
        old.user = old.user or row.user
    if row.status == "ended":
        old.status = "ended"
    old.first_at = min(x for x in (old.first_at, row.first_at) if x)
    old.last_at = max(x for x in (old.last_at, row.last_at) if x)


def _row(
    ref: NodeRef,
    ev: StoredEvent,
    status: str | None = None,
    *,
    reason: str | None = None,
    code: str | None = None,
    produced: bool = False,
) -> NodeRow:
    return NodeRow(
        key=ref.key,
        kind=ref.kind,
        name=ref.name,
        status=status,
        reason=reason,
        code=code,
        produced=produced,
        trace=ev.trace,
        user=ev.envelope.user,
        first_at=ev.time,
        last_at=ev.time,
    )


def project(events: list[StoredEvent]) -> Projection:
    traces: dict[str, TraceRow] = {}
    nodes: dict[str, NodeRow] = {}
    flows: dict[tuple[str, str, str], FlowRow] = {}
    log_targets: set[tuple[str, str | None]] = set()
    met: dict[str, dict[str, None]] = {}
    drops: dict[tuple[str, str], DropRow] = {}

    for ev in events:
        env, at = ev.envelope, ev.time
        if ev.trace:
            started = env.type is EventType.trace_started
            name = (env.attrs or {}).get("name") if started else None
            _merge_trace(
                traces,
                TraceRow(
                    key=ev.trace,
                    user=env.user,
                    name=name if isinstance(name, str) else None,
                    started=started,
                    started_at=at if started else None,
                    status="ended" if env.type is EventType.trace_ended else "open",
                    first_at=at,
                    last_at=at,
                ),
            )
        if env.type in NODE_EVENTS and env.node is not None:
            _merge_node(nodes, _row(env.node, ev, NODE_EVENTS[env.type][1], reason=env.reason, code=env.code), met)
            if env.type in DROP_EVENTS and ev.trace:  # charged to the trace that reported it (its earliest drop)
                earlier = drops.get((ev.trace, env.node.key))
                if earlier is None or at < earlier.at:
                    drops[(ev.trace, env.node.key)] = DropRow(
                        ev.trace, env.node.kind, env.node.key, env.reason, env.code, at
                    )
        elif env.type is EventType.flow:
            op = env.default_op()
            for n in env.inputs:
                _merge_node(nodes, _row(n, ev, "converted"), met)
            for n in env.outputs:
                _merge_node(nodes, _row(n, ev, "converted" if n.kind == "data" else "written", produced=True), met)
            for a in env.inputs:
                for b in env.outputs:
                    flow_key = (a.key, b.key, op)
                    known = flows.get(flow_key)
                    if known is None or at < known.at:
                        flows[flow_key] = FlowRow(a.key, a.kind, b.key, b.kind, op, at)
        elif env.type is EventType.log:
            if env.node is not None:
                _merge_node(nodes, _row(env.node, ev), met)
                log_targets.add((env.node.key, env.node.kind))
            elif ev.trace:
                log_targets.add((ev.trace, None))

    memberships = [
        Membership(trace, row.kind, row.key)
        for row in nodes.values()
        for trace in met.get(row.key, {})
        if trace != row.trace
    ]
    batch = GraphBatch(
        traces=list(traces.values()),
        nodes=list(nodes.values()),
        flows=list(flows.values()),
        memberships=memberships,
        drops=list(drops.values()),
    )
    return Projection(batch=batch, log_targets=log_targets)
