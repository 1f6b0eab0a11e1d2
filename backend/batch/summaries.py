"""The summaries job: each trace's summary stored (backend/db/summaries.py), recomputed only for the traces
new events touched, so listing traces reads rows instead of counting every trace's nodes.

It reads the event log in id order from its cursor, up to the oldest event not yet merged into the graph and
the events received `settle` ago (an insert still committing may hold a lower id than one already visible;
the cursor must not pass it). A trace is touched by its own events and by any event naming one of its nodes
(another trace converting or dropping this one's file changes its counts). Each touched trace whose events
are all in the graph gets its row, computed from the graph through its newest event then; a trace with events
still to merge is summarised when the cursor reaches them. Open traces whose last event is older than the
idle time become idle-ended. Re-runnable: a killed pass recomputes the same traces.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson

from backend.db.base import LoggedEvent, TraceSummaries
from backend.domain.queries import summarise
from backend.domain.summaries import TraceRules, stored_summary
from graph.base import GraphStore

EVENTS_PER_PASS = 5000
TRACES_PER_READ = 200
SETTLE = timedelta(seconds=5)


def named_nodes(event: LoggedEvent) -> set[str]:
    """The node keys an event names (node, inputs, outputs)."""
    payload: dict[str, Any] = orjson.loads(event.payload)
    refs = [payload.get("node"), *(payload.get("inputs") or ()), *(payload.get("outputs") or ())]
    return {ref["key"] for ref in refs if isinstance(ref, dict) and "key" in ref}


class Summaries:
    def __init__(
        self,
        store: TraceSummaries,
        graph: GraphStore,
        rules: TraceRules,
        events_per_pass: int = EVENTS_PER_PASS,
        settle: timedelta = SETTLE,
    ) -> None:
        self.store = store
        self.graph = graph
        self.rules = rules
        self.events_per_pass = events_per_pass
        self.settle = settle

    def run(self) -> bool:
        """One pass; True while more events wait."""
        now = self.rules.clock()
        self.store.age(now - self.rules.idle)
        events = self.store.events_after(self.store.cursor(), self.events_per_pass, now - self.settle)
        if not events:
            return False
        traces = {e.trace_key for e in events if e.trace_key}
        nodes = set().union(*(named_nodes(e) for e in events))
        traces |= self.store.node_traces(sorted(nodes))
        self.summarise(sorted(traces))
        self.store.advance(events[-1].id)
        return len(events) == self.events_per_pass

    def summarise(self, keys: list[str]) -> int:
        """Store the summaries of these traces whose events are all in the graph; how many."""
        saved = 0
        for start in range(0, len(keys), TRACES_PER_READ):
            chunk = keys[start : start + TRACES_PER_READ]
            newest = self.store.newest_events(chunk)  # before the graph: a later event makes the row not current
            now = self.rules.clock()
            traces = {}
            for key in chunk:
                if key in newest and newest[key][1] == 0:
                    trace = self.graph.trace(key)
                    if trace is not None:
                        traces[key] = trace
            by_trace: dict[str, list[dict[str, Any]]] = {key: [] for key in traces}
            for c in self.graph.trace_counts(list(traces)) if traces else []:
                by_trace[c["trace"]].append(c)
            rows = [
                stored_summary(trace, summarise(by_trace[key]), newest[key][0], self.rules, now)
                for key, trace in traces.items()
            ]
            self.store.save(rows)
            saved += len(rows)
        return saved
