"""Use cases that read: traces, their summaries, nodes, lineage and read-only Cypher."""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from backend.db.base import EventLog, TraceSummaries
from backend.domain.events import format_time
from backend.domain.summaries import TraceRules, summary_of
from backend.errors import InvalidInput, NotFound, QueryRejected, QueryTimeout, Unprocessable
from graph.base import FILE_LEVEL_KINDS, GraphStore, TraceFilter

NODE_PUBLIC = ("key", "kind", "status", "reason", "code", "name", "trace", "user", "first_at", "last_at")
UNCONVERTED = {None, "received", "stored"}
TRACE_LOG_LIMIT = 200  # a trace's own log messages shown with it (the newest ones)


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Trace summary from node counts grouped by kind/status/produced/dropped_here/reason/code (trace_counts)."""
    s: dict[str, Any] = {"files": 0, "dropped": 0, "unconverted": 0, "data": 0, "outputs": 0}
    reasons: Counter[str] = Counter()
    for r in rows:
        n, incoming = int(r["count"]), not r["produced"]
        if r["kind"] == "file" and incoming:
            s["files"] += n
            if r["status"] in UNCONVERTED:
                s["unconverted"] += n
        if r["kind"] == "data":
            s["data"] += n
        if r["kind"] in ("file", "sink") and not incoming:
            s["outputs"] += n
        if r.get("dropped_here"):  # dropped by this trace's own events (the node's status may say more since)
            s["dropped"] += n
            reasons[r["reason"] or r["code"] or "unknown"] += n
    s["drop_reasons"] = dict(sorted(reasons.items()))
    return s


def _public_node(n: dict[str, Any]) -> dict[str, Any]:
    return {f: n.get(f) for f in NODE_PUBLIC}


def _trace_public(t: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": t["key"],
        "user": t["user"],
        "name": t["name"],
        "status": t["status"],
        "first_at": t["first_at"],
        "last_at": t["last_at"],
        "has_drops": bool(t.get("has_drops")),
        "logs": {lvl: t.get(f"log_{lvl}") or 0 for lvl in ("debug", "info", "warn", "error")},
    }


def encode_cursor(first_at: str, key: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([first_at, key])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        first_at, key = value
        return str(first_at), str(key)
    except Exception:
        raise InvalidInput("invalid cursor") from None


class Queries:
    """The read use cases: traces and their summaries, nodes with their events, lineage walks, Cypher.
    An unreachable graph raises GraphError (503) from the store itself."""

    def __init__(
        self,
        graph: GraphStore,
        events: EventLog,
        trace_graph_limit: int = 10_000,
        summaries: TraceSummaries | None = None,
        rules: TraceRules | None = None,
    ) -> None:
        """`summaries`: stored trace summaries (the batch job's), read where current; without them every
        summary is computed from the graph."""
        self.graph = graph
        self.events = events
        self.trace_graph_limit = trace_graph_limit
        self.summaries = summaries
        self.rules = rules or TraceRules()

    def _summaries(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """Each trace's summary: the stored one where it is computed through the trace's newest event, else
        from the graph's node counts (a trace with events since, or not summarised yet)."""
        stored = self.summaries.current(keys) if self.summaries is not None and keys else {}
        out = {key: summary_of(row) for key, row in stored.items()}
        live = [key for key in keys if key not in stored]
        by_trace: dict[str, list[dict[str, Any]]] = {key: [] for key in live}
        for c in self.graph.trace_counts(live) if live else []:
            by_trace[c["trace"]].append(c)
        out.update({key: summarise(rows) for key, rows in by_trace.items()})
        return out

    def _trace_out(self, trace: dict[str, Any], summary: dict[str, Any], now: datetime) -> dict[str, Any]:
        """A trace with its status as of now (idle-ended after its idle time) and its summary."""
        return {
            **_trace_public(trace),
            "status": self.rules.status(trace, now),
            "summary": {**summary, "user_missing": self.rules.user_missing(trace, now)},
        }

    def _status_filter(self, filt: TraceFilter, now: datetime) -> TraceFilter:
        """`open` and `idle-ended` are both open in the graph: told apart by the time of the last event."""
        bound = self.rules.idle_before(now)
        if filt.status == "idle-ended":
            return replace(filt, status="open", last_before=bound)
        if filt.status == "open":
            return replace(filt, since=max(filt.since or bound, bound))
        return filt

    def list_traces(self, filt: TraceFilter, limit: int, cursor: str | None) -> dict[str, Any]:
        after = decode_cursor(cursor) if cursor else None
        now = self.rules.clock()
        filt = self._status_filter(filt, now)
        rows = self.graph.list_traces(filt, limit + 1, after)
        page, more = rows[:limit], len(rows) > limit
        total = len(page) if not more and cursor is None else self.graph.count_traces(filt)
        summaries = self._summaries([t["key"] for t in page])
        items = [self._trace_out(t, summaries[t["key"]], now) for t in page]
        next_cursor = encode_cursor(page[-1]["first_at"] or "", page[-1]["key"]) if more and page else None
        return {"items": items, "next_cursor": next_cursor, "total": total}

    def trace_detail(self, key: str) -> dict[str, Any]:
        trace = self.graph.trace(key)
        if trace is None:
            raise NotFound(f"no trace {key!r}")
        summary = self._summaries([key])[key]
        logs = [
            {
                "time": format_time(e.created_at),
                "level": e.level or "info",
                "message": orjson.loads(e.payload).get("message"),
            }
            for e in self.events.trace_logs(key, TRACE_LOG_LIMIT)
        ]
        return {**self._trace_out(trace, summary, self.rules.clock()), "log_messages": logs}

    def trace_graph(self, key: str) -> dict[str, Any]:
        if self.graph.trace(key) is None:
            raise NotFound(f"no trace {key!r}")
        sub = self.graph.trace_graph(key, self.trace_graph_limit)
        return {
            "nodes": [
                {**_public_node(n), "dropped_here": bool(n.get("dropped_here")), "drop_reason": n.get("drop_reason")}
                for n in sub.nodes
            ],
            "edges": [{"source": e["source"], "target": e["target"], "op": e["op"]} for e in sub.edges],
            "truncated": sub.truncated,
        }

    def node_detail(self, key: str, limit: int) -> dict[str, Any]:
        node = self.graph.node(key)
        if node is None:
            raise NotFound(f"no node {key!r}")
        events = [
            {
                "id": e.uuid,
                "type": e.type,
                "time": format_time(e.created_at),
                "trace": e.trace_key,
                "role": e.role,
                "event": orjson.loads(e.payload),
            }
            for e in self.events.node_events(key, limit)
        ]
        logs = [
            {
                "time": e["time"],
                "level": e["event"].get("level", "info"),
                "message": e["event"].get("message"),
                "id": e["id"],
            }
            for e in events
            if e["type"] == "log"
        ]
        return {
            "node": {
                **_public_node(node),
                "logs": {lvl: node.get(f"log_{lvl}") or 0 for lvl in ("debug", "info", "warn", "error")},
            },
            "events": events,
            "logs": logs,
        }

    def lineage(
        self,
        key: str,
        direction: Literal["upstream", "downstream", "both"],
        depth: int,
        max_nodes: int = 5000,
        level: Literal["node", "file"] = "node",
    ) -> dict[str, Any]:
        """Breadth-first along FLOWS_TO (level node) or along the file-level edges the relations job derives
        (level file: files and sinks only), one batched hop per level. `truncated` says more lies beyond the
        depth or the node limit."""
        start = self.graph.node(key)
        if start is None:
            raise NotFound(f"no node {key!r}")
        hop = self.graph.neighbours
        if level == "file":
            if start.get("kind") not in FILE_LEVEL_KINDS:
                raise Unprocessable(
                    f"{key!r} is a {start.get('kind')} node: file-level lineage starts at a file or a sink",
                    {"level": level},
                )
            hop = self.graph.file_neighbours
        nodes: dict[str, dict[str, Any]] = {key: _public_node(start)}
        edges: dict[tuple[str, str, str], dict[str, Any]] = {}
        truncated = False
        ways: list[Literal["upstream", "downstream"]] = (
            ["upstream", "downstream"] if direction == "both" else [direction]
        )
        for way in ways:
            # each frontier node's kind goes with it: a store with a table per kind then finds it by its key
            frontier, kinds, seen = [key], [start.get("kind")], {key}
            for _ in range(depth):
                hops = hop(frontier, way, kinds)
                frontier, kinds = [], []
                for h in hops:
                    edges[(h["source"], h["target"], h["op"])] = {
                        "source": h["source"],
                        "target": h["target"],
                        "op": h["op"],
                    }
                    far = h["node"]["key"]
                    if far not in seen:
                        if len(nodes) >= max_nodes:
                            truncated = True
                            continue
                        seen.add(far)
                        nodes.setdefault(far, _public_node(h["node"]))
                        frontier.append(far)
                        kinds.append(h["node"]["kind"])
                if not frontier:
                    break
            else:
                if frontier and hop(frontier, way, kinds):
                    truncated = True
        kept = [e for e in edges.values() if e["source"] in nodes and e["target"] in nodes]
        return {
            "root": key,
            "direction": direction,
            "depth": depth,
            "nodes": list(nodes.values()),
            "edges": kept,
            "truncated": truncated,
            "level": level,
        }

    def trace_feeds(self, key: str, direction: Literal["upstream", "downstream"]) -> dict[str, Any]:
        """The traces that feed this one (upstream: they wrote a node it read) or that it feeds (downstream),
        as the relations job last derived them."""
        if self.graph.trace(key) is None:
            raise NotFound(f"no trace {key!r}")
        return {
            "trace": key,
            "direction": direction,
            "traces": [_trace_public(t) for t in self.graph.feeds(key, direction)],
        }

    def search(self, prefix: str, limit: int) -> dict[str, Any]:
        """Keys starting with `prefix`, from the event log's key indexes: traces first, then nodes."""
        return {"items": [{"key": k, "kind": kind} for k, kind in self.events.search_keys(prefix, limit)]}

    def with_projection(self, key: str, read: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
        """A trace read (`trace_detail`, `trace_graph`) with how much of the trace the graph holds: the
        graph is merged right after events are stored, so a read may come before the last of them. A trace
        that is only in the log yet is a 404 that says so."""
        try:
            out = read(key)
        except NotFound:
            pending = self.events.trace_backlog(key)
            if pending:
                raise NotFound(
                    f"trace {key!r} has {pending} stored events not merged into the graph yet; try again shortly"
                ) from None
            raise
        oldest = self.events.oldest_unprojected()  # not the count: a read needs only the time
        return {
            **out,
            "projection": {
                "pending_events": self.events.trace_backlog(key),
                "projected_through": format_time(oldest or datetime.now(UTC)),
            },
        }

    def graph_query(self, cypher: str, params: dict[str, Any], row_limit: int, timeout: float) -> dict[str, Any]:
        if not cypher.strip():
            raise InvalidInput("query is empty")
        try:
            result = self.graph.query(cypher, params, row_limit, timeout)
        except QueryTimeout as exc:
            raise Unprocessable(str(exc), {"timeout_seconds": timeout}) from None
        except QueryRejected as exc:
            raise Unprocessable(f"query rejected: {exc}") from None
        return {"columns": result.columns, "rows": result.rows, "truncated": result.truncated, "row_limit": row_limit}
