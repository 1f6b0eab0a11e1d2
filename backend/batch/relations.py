"""Relations (#13): file-level lineage edges and trace-to-trace edges, derived from the flows the graph merged
since the last pass, so that "which input files made this output" and "which traces feed this one" are one
hop (FILE_FLOWS_TO and FEEDS, graph/base.py).

What is due: `apply` stamps the source of every flow it merges, in the merge's own transaction
(GraphStore.relations_due). A pass derives the relations of up to `batch` stamped nodes from the graph as it
is then, and clears a stamp only if no merge has stamped the node again meanwhile: a flow merged while a pass
runs is derived by the next one. Nothing depends on ids or times arriving in order, and a rebuilt graph
(every flow merged anew) has all its relations derived again.

Why the flow's source is enough: a pair of files or sinks (F, G) joined through data nodes gets its last
missing piece from some flow s → t; F is s or reaches s through data, and G is reached from s through data,
so Upstream(s) × Downstream(s), derived at s, holds the pair. A trace A feeds a trace B when a node X is
written by a flow p → X and read by a flow X → q, A contains p and X, and B contains X and q (A ≠ B): X is s
or one hop after it. Both relations only grow as flows and memberships are added, so adding edges keeps them
exact.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from graph.base import FILE_LEVEL_KINDS, DueNode, FileEdge, GraphStore

log = logging.getLogger("ftel.batch.relations")

Reach = dict[str, set[tuple[str, str]]]  # origin key → (key, kind) of the files and sinks it reaches


class Relations:
    """The `relations` batch job: `run` derives one batch of due nodes; True while more are due."""

    def __init__(self, graph: GraphStore, batch: int = 500, max_hops: int = 50) -> None:
        self.graph = graph
        self.batch = batch
        self.max_hops = max_hops  # data hops walked from a node; a longer chain is cut (and logged)

    def run(self) -> bool:
        due = self.graph.relations_due(self.batch)
        if not due:
            return False
        kinds: dict[str, str] = {d.key: d.kind for d in due}
        down, first_hops = self._walk([d.key for d in due], kinds, "downstream")
        up, _ = self._walk([d.key for d in due if d.kind not in FILE_LEVEL_KINDS], kinds, "upstream")
        edges: set[FileEdge] = set()
        for d in due:
            sources = {(d.key, d.kind)} if d.kind in FILE_LEVEL_KINDS else up[d.key]
            edges.update(FileEdge(s, sk, t, tk) for s, sk in sources for t, tk in down[d.key] if s != t)
        feeds = self._feeds(due, first_hops, kinds)
        self.graph.add_relations(
            sorted(edges, key=lambda e: (e.source, e.target)), sorted(feeds), sorted(due, key=lambda d: d.key)
        )
        log.debug("relations: %d due nodes, %d file-level edges, %d feeds", len(due), len(edges), len(feeds))
        return len(due) >= self.batch

    def _walk(
        self, origins: list[str], kinds: dict[str, str], way: Literal["upstream", "downstream"]
    ) -> tuple[Reach, list[dict[str, Any]]]:
        """For each origin, the files and sinks reached along `way` through data nodes only (one batched hop
        for all origins at a time), and the rows of the first hop."""
        reached: Reach = {o: set() for o in origins}
        passed: dict[str, set[str]] = {o: {o} for o in origins}  # node → origins whose walk went through it
        frontier: dict[str, set[str]] = {o: {o} for o in origins}  # node → origins arriving at it
        first: list[dict[str, Any]] = []
        for hop in range(self.max_hops):
            if not frontier:
                break
            keys = sorted(frontier)
            rows = self.graph.neighbours(keys, way, [kinds.get(k) for k in keys])
            if hop == 0:
                first = rows
            ahead: dict[str, set[str]] = {}
            for r in rows:
                arriving = frontier.get(r["source"] if way == "downstream" else r["target"], set())
                far, far_kind = r["node"]["key"], r["node"]["kind"]
                if far_kind in FILE_LEVEL_KINDS:
                    for origin in arriving:
                        reached[origin].add((far, far_kind))
                    continue
                kinds[far] = far_kind
                new = arriving - passed.setdefault(far, set())
                if new:
                    passed[far] |= new
                    ahead.setdefault(far, set()).update(new)
            frontier = ahead
        if frontier:
            log.warning("relations: data chains longer than %d hops cut at %d nodes", self.max_hops, len(frontier))
        return reached, first

    def _feeds(
        self, due: list[DueNode], first_hops: list[dict[str, Any]], kinds: dict[str, str]
    ) -> set[tuple[str, str]]:
        """(A, B) for each handoff node X among the due nodes and the nodes one flow after them."""
        handoffs = {d.key for d in due} | {r["target"] for r in first_hops}
        keys = sorted(handoffs)
        writers: dict[str, set[str]] = {}  # X → p of each flow p → X
        readers: dict[str, set[str]] = {}  # X → q of each flow X → q
        ways: tuple[tuple[Literal["upstream", "downstream"], dict[str, set[str]]], ...] = (
            ("upstream", writers),
            ("downstream", readers),
        )
        for way, into in ways:
            for r in self.graph.neighbours(keys, way, [kinds.get(k) for k in keys]):
                x, other = (r["target"], r["source"]) if way == "upstream" else (r["source"], r["target"])
                into.setdefault(x, set()).add(other)
                kinds[other] = r["node"]["kind"]
        ends = sorted(handoffs.union(*writers.values(), *readers.values()))
        traces: dict[str, set[str]] = {}
        for key, trace in self.graph.memberships(ends, [kinds.get(k) for k in ends]):
            traces.setdefault(key, set()).add(trace)
        feeds: set[tuple[str, str]] = set()
        for x in keys:
            own = traces.get(x, set())
            wrote = own & set().union(*(traces.get(p, set()) for p in writers.get(x, ())))
            read = own & set().union(*(traces.get(q, set()) for q in readers.get(x, ())))
            feeds.update((a, b) for a in wrote for b in read if a != b)
        return feeds
