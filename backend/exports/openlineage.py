"""Lineage out as OpenLineage RunEvents (GET /traces/{key}/openlineage, exports with content `openlineage`),
made from the stored events, valid against the spec this service checks what it takes in against.

- A trace is a root run (run id derived from the trace key; job `file-telemetry/<trace name>`): its
  trace.started is the root run's START, its trace.ended the root run's COMPLETE.
- Each flow is a child run of it (run id derived from the event's id; job `file-telemetry/<op>`): one COMPLETE
  with the flow's inputs and outputs, and the parent facet naming the root run.
- Each drop is a child run `file-telemetry/drop` that FAILs with the dropped node as its input and the reason
  as the error message facet's message.
- Logs and status events are not runs: what they say is in the facet `fileTelemetry_node` of each dataset
  (its key and kind, and, as the graph holds them, its status, drop reason and log counts by level);
  `fileTelemetry_trace` on each run names the trace and its owner. Taken in again by this service, these
  facets give back the same keys, kinds, traces and edges.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from backend.db.base import EventScope, ExportedEvent, ExportStore
from backend.domain.events import default_op
from backend.domain.openlineage import FACETS_URL, NAMESPACE, NODE_FACET, PRODUCER, SCHEMA_URL, TRACE_FACET, dataset_of
from backend.exports.contents import EventsContent, Page
from graph.base import GraphStore

_NS = uuid.UUID("0d7c3f4e-5a0b-4c8e-9f21-3b6e2d1a7c55")
_ERROR_URL = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
_PARENT_URL = "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json#/$defs/ParentRunFacet"
LINEAGE_TYPES = ("trace.started", "trace.ended", "flow", "file.dropped", "data.dropped")


def root_run_id(trace: str) -> str:
    """A trace's root run id: the trace key itself when it is one (a trace taken in from OpenLineage is keyed by
    its root run's id: a catalog sees the producer's own run again), else a UUID derived from it."""
    try:
        return str(uuid.UUID(trace))
    except ValueError:
        return str(uuid.uuid5(_NS, f"trace\x1f{trace}"))


@dataclass(frozen=True)
class Facts:
    """What the graph knows of a trace: its name, owner and root job namespace, and its nodes by key."""

    name: str
    user: str | None
    nodes: dict[str, dict[str, Any]]


class TraceFacts:
    """What the graph knows of a few traces at a time (the last `keep` asked for)."""

    def __init__(self, graph: GraphStore, limit: int, keep: int = 8) -> None:
        self.graph, self.limit, self.keep = graph, limit, keep
        self._cache: OrderedDict[str, Facts] = OrderedDict()

    def __call__(self, trace: str) -> Facts:
        if trace in self._cache:
            self._cache.move_to_end(trace)
            return self._cache[trace]
        found = self.graph.trace(trace) or {}
        sub = self.graph.trace_graph(trace, self.limit) if found else None
        facts = Facts(
            str(found.get("name") or trace), found.get("user"), {n["key"]: n for n in (sub.nodes if sub else [])}
        )
        self._cache[trace] = facts
        if len(self._cache) > self.keep:
            self._cache.popitem(last=False)
        return facts


def _facet(**fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": FACETS_URL, **fields}


def _names(ref: dict[str, Any]) -> tuple[str, str]:
    """A node's dataset namespace and name: as its producer named it when the key is namespace/name of its name
    (a node taken in from OpenLineage: `bigquery` + `p.d.t`, `file` + `/tmp/a.csv`), else split from the key."""
    key, name = ref["key"], ref.get("name")
    if isinstance(name, str) and name and key.endswith(name) and len(key) > len(name):
        namespace = key[: -len(name)]
        namespace = namespace[:-1] if namespace.endswith("/") and not name.startswith("/") else namespace
        if namespace and not namespace.endswith("/"):
            return namespace, name
    return dataset_of(key)


def _dataset(ref: dict[str, Any], nodes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    namespace, name = _names(ref)
    known = nodes.get(ref["key"], {})
    facet: dict[str, Any] = {"key": ref["key"], "kind": ref["kind"]}
    if known:
        facet["status"] = known.get("status")
        if known.get("reason") or known.get("drop_reason"):
            facet["dropReason"] = known.get("drop_reason") or known.get("reason")
        facet["logs"] = {level: int(known.get(f"log_{level}") or 0) for level in ("debug", "info", "warn", "error")}
    return {"namespace": namespace, "name": name, "facets": {NODE_FACET: _facet(**facet)}}


def _origin(body: dict[str, Any]) -> dict[str, Any]:
    """Where an envelope taken in from OpenLineage came from (run id, job namespace and name, event type)."""
    found = (body.get("attrs") or {}).get("openlineage")
    return found if isinstance(found, dict) else {}


def run_events(events: Sequence[ExportedEvent], facts: Callable[[str], Facts]) -> Iterator[dict[str, Any]]:
    """The RunEvents of some stored events (those that are not lineage are skipped). Events taken in from
    OpenLineage go out under their producer's run ids, job namespaces and names, and event types."""
    for ev in events:
        if ev.type not in LINEAGE_TYPES or ev.trace_key is None:
            continue
        body = orjson.loads(ev.payload)
        trace, came = ev.trace_key, _origin(body)
        known = facts(trace)
        name = str((body.get("attrs") or {}).get("name") or known.name) if ev.type == "trace.started" else known.name
        root = {"runId": root_run_id(trace)}
        root_job = {"namespace": _root_namespace(body, came, known), "name": name}
        ours = {"trace": trace, "user": ev.user_id or body.get("user") or known.user}
        base = {"eventTime": ev.created, "producer": PRODUCER, "schemaURL": SCHEMA_URL}
        if ev.type in ("trace.started", "trace.ended"):
            state = "START" if ev.type == "trace.started" else "COMPLETE"
            if ev.type == "trace.ended" and came.get("eventType") in ("FAIL", "ABORT"):
                state = came["eventType"]  # a DAG run that failed goes out failed
            yield {
                **base,
                "eventType": state,
                "run": {**root, "facets": {TRACE_FACET: _facet(**ours, root=True)}},
                "job": root_job,
                "inputs": [],
                "outputs": [],
            }
            continue
        parent = _facet(run=root, job=root_job, root={"run": root, "job": root_job})
        parent["_schemaURL"] = _PARENT_URL
        facets: dict[str, Any] = {"parent": parent, TRACE_FACET: _facet(**ours, root=False)}
        run_id = (
            came.get("runId") if isinstance(came.get("runId"), str) else str(uuid.uuid5(_NS, f"event\x1f{ev.uuid}"))
        )
        child = {"runId": run_id, "facets": facets}
        if ev.type == "flow":
            ins, outs = body.get("inputs", []), body.get("outputs", [])
            op = body.get("op") or default_op({r["kind"] for r in ins}, {r["kind"] for r in outs})
            yield {
                **base,
                "eventType": "COMPLETE",
                "run": child,
                "job": _job(came, op),
                "inputs": [_dataset(r, known.nodes) for r in ins],
                "outputs": [_dataset(r, known.nodes) for r in outs],
            }
            continue
        reason = body.get("reason") or body.get("code") or "dropped"
        facets["errorMessage"] = {
            "_producer": PRODUCER,
            "_schemaURL": _ERROR_URL,
            "message": reason,
            "programmingLanguage": "none",
        }
        yield {
            **base,
            "eventType": "FAIL",
            "run": child,
            "job": _job(came, "drop"),
            "inputs": [_dataset(body["node"], known.nodes)],
            "outputs": [],
        }


def _root_namespace(body: dict[str, Any], came: dict[str, Any], known: Facts) -> str:
    """The root job's namespace: as the root run's own events name it; for a run of a trace taken in from
    OpenLineage, the trace's owner (which is the root job's namespace there); else this service's."""
    if body.get("type") in ("trace.started", "trace.ended") and isinstance(came.get("namespace"), str):
        return str(came["namespace"])
    if came and known.user:
        return known.user
    return NAMESPACE


def _job(came: dict[str, Any], name: str) -> dict[str, str]:
    if isinstance(came.get("namespace"), str) and isinstance(came.get("job"), str):
        return {"namespace": came["namespace"], "name": came["job"]}
    return {"namespace": NAMESPACE, "name": name}


class OpenLineageContent(EventsContent):
    """An export's RunEvents, as NDJSON: the lineage events of its scope, by log id (read a page at a time);
    a record's position and cursor are those of the event it was made from."""

    columns: Sequence[str] = ()

    def __init__(self, store: ExportStore, scope: EventScope, facts: TraceFacts, page: int = 2000) -> None:
        super().__init__(store, scope, "ndjson", page)
        self.facts = facts

    def encode_page(self, page: list[ExportedEvent]) -> Page:
        lines: list[bytes] = []
        records: list[ExportedEvent] = []
        for ev in page:
            for run_event in run_events([ev], self.facts):
                lines.append(orjson.dumps(run_event) + b"\n")
                records.append(ev)
        return lines, records
