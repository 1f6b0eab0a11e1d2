"""The Cypher both adapters share. Each adapter supplies only its label patterns and how to run a statement."""

from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from itertools import groupby
from typing import Any, Literal

from graph.base import (
    FILE_LEVEL_KINDS,
    FILE_LEVEL_OP,
    LABELS,
    NODE_FIELDS,
    NODE_KINDS,
    TRACE_FIELDS,
    TRACE_STATUS_RANK,
    DueNode,
    FileEdge,
    FlowRow,
    GraphBatch,
    NodeRow,
    QueryResult,
    Subgraph,
    TraceFilter,
    UserFill,
)
from graph.capabilities import Capabilities
from graph.sandbox import check_query

Statement = tuple[str, dict[str, Any]]


def _props(var: str, fields: tuple[str, ...]) -> str:
    return ", ".join(f"{var}.{f} AS {f}" for f in fields)


_MIN_AT = (
    "CASE WHEN {v}.first_at IS NULL OR (r.first_at IS NOT NULL AND r.first_at < {v}.first_at) "
    "THEN r.first_at ELSE {v}.first_at END"
)
_MAX_AT = (
    "CASE WHEN {v}.last_at IS NULL OR (r.last_at IS NOT NULL AND r.last_at > {v}.last_at) "
    "THEN r.last_at ELSE {v}.last_at END"
)
# A node belongs to the trace of its earliest event (ties: the smaller trace key), whatever order the events
# are merged in (a crash, a drain or a redelivery merges some later than others). Set before first_at.
_OWNER = (
    "CASE WHEN {v}.trace IS NULL OR (r.trace IS NOT NULL AND (r.first_at < {v}.first_at "
    "OR (r.first_at = {v}.first_at AND r.trace < {v}.trace))) THEN coalesce(r.trace, {v}.trace) ELSE {v}.trace END"
)
_RANK = "CASE WHEN coalesce({v}.status_rank, -1) < r.rank THEN r.rank ELSE {v}.status_rank END"


class CypherGraphStore(ABC):
    """A GraphStore written once in Cypher; subclasses say how labels look and how statements run."""

    capabilities = Capabilities()
    # True when node patterns must name the kind's label (one table per label); False when a common
    # label finds any node by key, so rows of every kind can share one statement.
    kind_in_patterns = True
    common_label: str | None = None  # the label every File, Data and Sink node has, where there is one

    # -- what an adapter provides ---------------------------------------------------------

    @abstractmethod
    def _merge_node(self, kind: str) -> str:
        """MERGE clause binding `n` to the node of this kind with key r.key."""

    @abstractmethod
    def _node(self, var: str, kind: str | None, key: str) -> str:
        """Pattern for a node with the given key expression; kind None means any node kind."""

    @abstractmethod
    def _read(self, cypher: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run a trusted read statement; rows as dicts keyed by column name."""

    @abstractmethod
    def _write(self, statements: list[Statement]) -> None:
        """Run trusted write statements in one transaction, durable on return."""

    # -- writes -----------------------------------------------------------------------------

    def apply(self, batch: GraphBatch) -> None:
        statements = self._statements(batch, fresh=None)
        if statements:
            self._write(statements)

    def _statements(self, batch: GraphBatch, fresh: set[tuple[str, str]] | None) -> list[Statement]:
        """The statements of one batch. `fresh`: (kind, key) of the batch's nodes that are absent from the
        graph, looked up in the same transaction by an adapter with a single writer; those nodes and their
        edges are CREATEd, and the other nodes (known to exist) MATCHed, instead of MERGEd: LadybugDB runs
        that about twice as fast (bench/graph_merge.py). None: nothing is known, MERGE everything."""
        known_absent = fresh or set()
        statements: list[Statement] = []
        stamp = uuid.uuid4().hex  # marks the sources of this batch's flows as due for relations (DueNode)
        if batch.traces:
            rows = [
                {
                    "key": t.key,
                    "user": t.user,
                    "name": t.name,
                    "started": t.started,
                    "started_at": t.started_at,
                    "rank": TRACE_STATUS_RANK[t.status],
                    "status": t.status,
                    "first_at": t.first_at,
                    "last_at": t.last_at,
                }
                for t in batch.traces
            ]
            # The earliest trace.started names user and name, whatever the arrival order (ties: smaller user).
            # `r.started = true`, not a bare `r.started`: LadybugDB 0.22 fails on a bare boolean in CASE WHEN.
            # Separate SET clauses: each reads what the one before wrote (name, then user, then started_at).
            wins = (
                "r.started = true AND (t.started_at IS NULL OR r.started_at < t.started_at "
                "OR (r.started_at = t.started_at AND r.user < t.user))"
            )
            statements.append(
                (
                    "UNWIND $rows AS r MERGE (t:Trace {key: r.key}) "
                    "SET t.kind = 'trace', "
                    f"t.first_at = {_MIN_AT.format(v='t')}, t.last_at = {_MAX_AT.format(v='t')}, "
                    f"t.status_rank = {_RANK.format(v='t')} "
                    "SET t.status = CASE WHEN t.status_rank = r.rank THEN r.status ELSE t.status END "
                    f"SET t.name = CASE WHEN {wins} THEN coalesce(r.name, t.name) ELSE coalesce(t.name, r.name) END "
                    f"SET t.user = CASE WHEN {wins} THEN r.user WHEN r.started = true THEN t.user "
                    "ELSE coalesce(t.user, r.user) END "
                    f"SET t.started_at = CASE WHEN {wins} THEN r.started_at ELSE t.started_at END, "
                    "t.has_drops = coalesce(t.has_drops, false)",  # set by a drop below; null: made before drops
                    {"rows": rows},
                )
            )
        by_kind = sorted(batch.nodes, key=lambda n: n.kind)
        for kind, group in groupby(by_kind, key=lambda n: n.kind):
            nodes = list(group)
            contains = "MERGE (t)-[:CONTAINS]->(n)"
            if not self.kind_in_patterns:
                # Neo4j: CONTAINS in the same statement (rows without a trace stop at the MATCH); measured faster
                statements.append(
                    (
                        self._merge_nodes_statement(kind) + f" WITH n, r MATCH (t:Trace {{key: r.trace}}) {contains}",
                        {"rows": [_node_row(n) for n in nodes]},
                    )
                )
                continue
            # LadybugDB: a separate statement; MATCH after MERGE in one statement measured 2x slower there
            first: dict[str, NodeRow] = {}
            merged: list[NodeRow] = []
            for n in nodes:  # the first row of a fresh key creates the node, later rows merge into it
                if (kind, n.key) in known_absent and n.key not in first:
                    first[n.key] = n
                else:
                    merged.append(n)
            if first:
                statements.append(
                    (self._create_nodes_statement(kind), {"rows": [_created_row(n) for n in first.values()]})
                )
            if merged:
                statements.append(
                    (
                        self._merge_nodes_statement(kind, match=fresh is not None),
                        {"rows": [_node_row(n) for n in merged]},
                    )
                )
            pairs = {(n.key, n.trace): n.key in first for n in nodes if n.trace}
            for new_edges, verb in ((True, "CREATE"), (False, "MERGE")):
                rows = [{"key": key, "trace": trace} for (key, trace), new in pairs.items() if new is new_edges]
                if rows:
                    statements.append(
                        (
                            f"UNWIND $rows AS r MATCH (t:Trace {{key: r.trace}}) MATCH {self._node('n', kind, 'r.key')} "
                            f"{verb} (t)-[:CONTAINS]->(n)",
                            {"rows": rows},
                        )
                    )
        for member_kind, members in groupby(sorted(batch.memberships, key=lambda m: m.kind), key=lambda m: m.kind):
            node = self._node("n", member_kind if self.kind_in_patterns else None, "r.key")
            statements.append(
                (  # a node met in several traces of the batch: rare, plain MERGE
                    f"UNWIND $rows AS r MATCH (t:Trace {{key: r.trace}}) MATCH {node} MERGE (t)-[:CONTAINS]->(n)",
                    {"rows": [{"trace": m.trace, "key": m.key} for m in members]},
                )
            )
        flow_groups: dict[tuple[str, str], list[FlowRow]] = {}
        for f in batch.flows:  # one statement per kind pair where patterns name the kind, else one in all
            pair = (f.source_kind, f.target_kind) if self.kind_in_patterns else ("", "")
            flow_groups.setdefault(pair, []).append(f)
        for (skind, tkind), flow_group in flow_groups.items():
            source, target = self._node("a", skind or None, "r.source"), self._node("b", tkind or None, "r.target")
            ends = f"UNWIND $rows AS r MATCH {source} MATCH {target} "
            new_flows: dict[tuple[str, str, str], FlowRow] = {}
            old_flows: list[FlowRow] = []
            for f in flow_group:  # an edge touching a node created in this batch cannot exist yet
                if (f.source_kind, f.source) in known_absent or (f.target_kind, f.target) in known_absent:
                    seen = new_flows.get((f.source, f.target, f.op))
                    if seen is None or f.at < seen.at:
                        new_flows[(f.source, f.target, f.op)] = f
                else:
                    old_flows.append(f)
            if new_flows:
                statements.append(
                    (
                        ends + "CREATE (a)-[e:FLOWS_TO {op: r.op, at: r.at}]->(b) SET a.relations_due = $stamp",
                        {"rows": [_flow_row(f) for f in new_flows.values()], "stamp": stamp},
                    )
                )
            if old_flows:
                statements.append(
                    (
                        ends + "MERGE (a)-[e:FLOWS_TO {op: r.op}]->(b) "
                        "SET e.at = CASE WHEN e.at IS NULL OR r.at < e.at THEN r.at ELSE e.at END, "
                        "a.relations_due = $stamp",
                        {"rows": [_flow_row(f) for f in old_flows], "stamp": stamp},
                    )
                )
        for drop_kind, drops in groupby(sorted(batch.drops, key=lambda d: d.kind), key=lambda d: d.kind):
            node = self._node("n", drop_kind if self.kind_in_patterns else None, "r.key")
            earlier = "c.dropped_at IS NULL OR r.at < c.dropped_at"
            statements.append(
                (  # the trace's earliest drop of the node gives the reason: reason and code first, then the time
                    f"UNWIND $rows AS r MATCH (t:Trace {{key: r.trace}}) MATCH {node} MERGE (t)-[c:CONTAINS]->(n) "
                    f"SET c.drop_reason = CASE WHEN {earlier} THEN r.reason ELSE c.drop_reason END, "
                    f"c.drop_code = CASE WHEN {earlier} THEN r.code ELSE c.drop_code END "
                    f"SET c.dropped_at = CASE WHEN {earlier} THEN r.at ELSE c.dropped_at END "
                    "SET t.has_drops = true",
                    {
                        "rows": [
                            {"trace": d.trace, "key": d.key, "reason": d.reason, "code": d.code, "at": d.at}
                            for d in drops
                        ]
                    },
                )
            )
        counts = sorted(batch.log_counts, key=lambda c: c.kind or "")
        for count_kind, count_group in groupby(counts, key=lambda c: c.kind):
            pattern = "(n:Trace {key: r.key})" if count_kind is None else self._node("n", count_kind, "r.key")
            statements.append(
                (
                    f"UNWIND $rows AS r MATCH {pattern} "
                    "SET n.log_debug = r.debug, n.log_info = r.info, n.log_warn = r.warn, n.log_error = r.error",
                    {
                        "rows": [
                            {"key": c.key, "debug": c.debug, "info": c.info, "warn": c.warn, "error": c.error}
                            for c in count_group
                        ]
                    },
                )
            )
        return statements

    def _create_nodes_statement(self, kind: str) -> str:
        """Nodes known to be absent, with the values a MERGE into nothing would have given them."""
        return (
            f"UNWIND $rows AS r CREATE (n:{LABELS[kind]} {{key: r.key, kind: r.kind, trace: r.trace, user: r.user, "
            "name: r.name, first_at: r.first_at, last_at: r.last_at, produced: r.produced, status_rank: r.rank, "
            "status: r.status, reason: r.reason, code: r.code})"
        )

    def _merge_nodes_statement(self, kind: str, match: bool = False) -> str:
        """`match`: the nodes are known to exist (MATCH finds them faster than MERGE in LadybugDB)."""
        bind = f"MATCH {self._node('n', kind, 'r.key')}" if match else self._merge_node(kind)
        return (
            f"UNWIND $rows AS r {bind} "
            f"SET n.kind = r.kind, n.trace = {_OWNER.format(v='n')}, n.user = coalesce(n.user, r.user), "
            "n.name = coalesce(r.name, n.name), "
            f"n.first_at = {_MIN_AT.format(v='n')}, n.last_at = {_MAX_AT.format(v='n')}, "
            "n.produced = coalesce(n.produced, false) OR r.produced, "
            f"n.status_rank = {_RANK.format(v='n')} "
            "SET n.status = CASE WHEN n.status_rank = r.rank THEN r.status ELSE n.status END, "
            "n.reason = CASE WHEN n.status_rank = r.rank AND r.reason IS NOT NULL THEN r.reason ELSE n.reason END, "
            "n.code = CASE WHEN n.status_rank = r.rank AND r.code IS NOT NULL THEN r.code ELSE n.code END"
        )

    def charge_old_drops(self) -> None:
        """Traces merged before drops were charged to the trace that reported them have no `has_drops` (every
        trace merged since has one): charge their nodes' drops to the trace that owns each node, as summaries
        counted them then. Run when the store opens; once done, one lookup that finds no such trace.
        `ftel graph rebuild` charges them exactly, from the events."""
        if not self._read("MATCH (t:Trace) WHERE t.has_drops IS NULL RETURN t.key AS key LIMIT 1", {}):
            return
        self._write(
            [
                (
                    "MATCH (t:Trace)-[c:CONTAINS]->(n) WHERE t.has_drops IS NULL AND n.status = 'dropped' "
                    "AND n.trace = t.key SET c.dropped_at = n.last_at, c.drop_reason = n.reason, c.drop_code = n.code",
                    {},
                ),
                (
                    "MATCH (t:Trace)-[c:CONTAINS]->() WHERE t.has_drops IS NULL AND c.dropped_at IS NOT NULL "
                    "SET t.has_drops = true",
                    {},
                ),
                ("MATCH (t:Trace) WHERE t.has_drops IS NULL SET t.has_drops = false", {}),
            ]
        )

    # -- reads ------------------------------------------------------------------------------

    def trace(self, key: str) -> dict[str, Any] | None:
        rows = self._read(f"MATCH (t:Trace {{key: $key}}) RETURN {_props('t', TRACE_FIELDS)}", {"key": key})
        return rows[0] if rows else None

    def list_traces(self, filt: TraceFilter, limit: int, after: tuple[str, str] | None) -> list[dict[str, Any]]:
        where, params = _trace_filter(filt)
        params["limit"] = limit
        if after is not None:
            where.append("(t.first_at < $after_at OR (t.first_at = $after_at AND t.key < $after_key))")
            params["after_at"], params["after_key"] = after
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        return self._read(
            f"MATCH (t:Trace) {clause}RETURN {_props('t', TRACE_FIELDS)} ORDER BY first_at DESC, key DESC LIMIT $limit",
            params,
        )

    def count_traces(self, filt: TraceFilter) -> int:
        where, params = _trace_filter(filt)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._read(f"MATCH (t:Trace) {clause}RETURN count(t) AS total", params)
        return int(rows[0]["total"]) if rows else 0

    def trace_graph(self, key: str, limit: int | None = None) -> Subgraph:
        nodes = self._in_order(
            f"MATCH (t:Trace {{key: $key}})-[c:CONTAINS]->(n) RETURN {_props('n', NODE_FIELDS)}, "
            "c.dropped_at IS NOT NULL AS dropped_here, coalesce(c.drop_reason, c.drop_code) AS drop_reason",
            "first_at, key",
            lambda r: (r["first_at"] is None, r["first_at"] or "", r["key"]),
            key,
            limit,
        )
        edges = self._in_order(
            "MATCH (t:Trace {key: $key})-[:CONTAINS]->(a)-[e:FLOWS_TO]->(b) "
            "RETURN a.key AS source, b.key AS target, e.op AS op, e.at AS at",
            "at, source, target",
            lambda r: (r["at"] is None, r["at"] or "", r["source"], r["target"]),
            key,
            limit,
        )
        truncated = limit is not None and (len(nodes) > limit or len(edges) > limit)
        return Subgraph(nodes=nodes[:limit], edges=edges[:limit], truncated=truncated)

    def _in_order(
        self, cypher: str, order: str, sort_key: Callable[[dict[str, Any]], Any], key: str, limit: int | None
    ) -> list[dict[str, Any]]:
        """The rows of a trace's statement in `order` (nulls last), at most limit + 1 of them. Sorting 10,000
        rows took LadybugDB longer than finding them (37 of 52 ms): the rows come unordered and are sorted
        here, unless there are more than `limit`, when the engine orders them to pick the first ones."""
        if limit is None:
            rows = self._read(cypher, {"key": key})
        else:
            rows = self._read(f"{cypher} LIMIT $limit", {"key": key, "limit": limit + 1})
            if len(rows) > limit:
                return self._read(f"{cypher} ORDER BY {order} LIMIT $limit", {"key": key, "limit": limit + 1})
        rows.sort(key=sort_key)
        return rows

    def trace_counts(self, keys: list[str]) -> list[dict[str, Any]]:
        if not keys:
            return []
        return self._read(
            "MATCH (t:Trace)-[c:CONTAINS]->(n) WHERE t.key IN $keys "
            "RETURN t.key AS trace, n.kind AS kind, n.status AS status, n.produced AS produced, "
            "c.dropped_at IS NOT NULL AS dropped_here, c.drop_reason AS reason, c.drop_code AS code, count(*) AS count",
            {"keys": keys},
        )

    def fill_users(self, traces: list[str], refill: list[UserFill] | None = None) -> list[UserFill]:
        """Found by reads, then set by a write that sets a node only if its user is still what was read."""
        found: list[UserFill] = []
        if traces:
            rows = self._read(
                "MATCH (t:Trace)-[:CONTAINS]->(n) WHERE t.key IN $keys AND n.trace = t.key AND n.user IS NULL "
                "AND t.user IS NOT NULL RETURN t.key AS trace, n.kind AS kind, n.key AS key, t.user AS user",
                {"keys": traces},
            )
            found += [UserFill(r["trace"], r["kind"], r["key"], r["user"]) for r in rows]
        for kind, group in self._by_kind(refill or []):
            rows = self._read(
                f"UNWIND $rows AS r MATCH {self._node('n', kind, 'r.key')} WHERE n.user = r.user "
                "MATCH (t:Trace)-[:CONTAINS]->(n) WHERE t.key = n.trace AND t.user IS NOT NULL AND t.user <> n.user "
                "RETURN t.key AS trace, n.kind AS kind, n.key AS key, t.user AS user, n.user AS was",
                {"rows": [{"key": f.key, "user": f.user} for f in group]},
            )
            found += [UserFill(r["trace"], r["kind"], r["key"], r["user"], r["was"]) for r in rows]
        statements: list[Statement] = []
        for kind, group in self._by_kind(found):
            statements.append(
                (
                    f"UNWIND $rows AS r MATCH {self._node('n', kind, 'r.key')} "
                    "WHERE (r.was IS NULL AND n.user IS NULL) OR n.user = r.was SET n.user = r.user",
                    {"rows": [{"key": f.key, "user": f.user, "was": f.was} for f in group]},
                )
            )
        if not statements:
            return []
        self._write(statements)
        kept: list[UserFill] = []
        for kind, group in self._by_kind(found):  # a node that got a user of its own in between kept it
            fills = {f.key: f for f in group}
            rows = self._read(
                f"UNWIND $keys AS k MATCH {self._node('n', kind, 'k')} RETURN n.key AS key, n.user AS user",
                {"keys": sorted(fills)},
            )
            kept += [fills[r["key"]] for r in rows if r["user"] == fills[r["key"]].user]
        return kept

    def _by_kind(self, fills: list[UserFill]) -> list[tuple[str | None, list[UserFill]]]:
        """Fills grouped by the node kind a pattern names (one group where patterns need no kind)."""
        if not self.kind_in_patterns:
            return [(None, fills)] if fills else []
        ordered = sorted(fills, key=lambda f: f.kind)
        return [(kind, list(group)) for kind, group in groupby(ordered, key=lambda f: f.kind)]

    def node(self, key: str) -> dict[str, Any] | None:
        # Where each kind is a table, a pattern without a label scans every table (48 ms at 1M nodes): look the
        # key up in each kind's primary key instead, in one statement (0.3 ms).
        kinds: tuple[str | None, ...] = NODE_KINDS if self.kind_in_patterns else (None,)
        cypher = " UNION ALL ".join(
            f"MATCH {self._node('n', kind, '$key')} RETURN {_props('n', NODE_FIELDS)}" for kind in kinds
        )
        rows = self._read(cypher, {"key": key})
        return rows[0] if rows else None

    def neighbours(
        self, keys: list[str], direction: Literal["upstream", "downstream"], kinds: list[str | None] | None = None
    ) -> list[dict[str, Any]]:
        return self._hops("FLOWS_TO", "e.op", NODE_KINDS, keys, direction, kinds)

    def file_neighbours(
        self, keys: list[str], direction: Literal["upstream", "downstream"], kinds: list[str | None] | None = None
    ) -> list[dict[str, Any]]:
        return self._hops("FILE_FLOWS_TO", f"'{FILE_LEVEL_OP}'", FILE_LEVEL_KINDS, keys, direction, kinds)

    def _by_table(
        self, keys: list[str], kinds: list[str | None] | None, tables: tuple[str, ...]
    ) -> dict[str | None, list[str]]:
        """Keys grouped by the kind whose table holds them: a key of unknown kind in each of `tables`; one
        group (None) where a common label finds every node."""
        if not self.kind_in_patterns:
            return {None: keys}
        groups: dict[str | None, list[str]] = {}
        for key, kind in zip(keys, kinds or [None] * len(keys), strict=True):
            for table in (kind,) if kind in tables else tables:
                groups.setdefault(table, []).append(key)
        return groups

    def _hops(
        self,
        rel: str,
        op: str,
        tables: tuple[str, ...],
        keys: list[str],
        direction: Literal["upstream", "downstream"],
        kinds: list[str | None] | None,
    ) -> list[dict[str, Any]]:
        """One hop along `rel` from each key (`neighbours`); `op`: the expression of the edge's op."""
        if not keys:
            return []
        near, far = ("a", "b") if direction == "downstream" else ("b", "a")
        groups = self._by_table(keys, kinds, tables)
        # The near node by its labelled key. LadybugDB 0.22 plans a plain MATCH after UNWIND as a hash join against
        # a scan of the whole table (180 ms a hop at 1M nodes); after OPTIONAL MATCH it extends from each bound
        # node (1.3 ms; a near node without edges gives a row of nulls, dropped below). One key given as a
        # parameter of its own is looked up and extended directly (0.4 ms): the usual case of a narrow lineage.
        parts: list[str] = []
        params: dict[str, Any] = {}
        for i, (kind, group) in enumerate(groups.items()):
            ret = f"RETURN a.key AS source, b.key AS target, {op} AS op, {_props(far, NODE_FIELDS)}"
            if len(group) == 1:
                parts.append(f"MATCH {self._node(near, kind, f'$k{i}')} MATCH (a)-[e:{rel}]->(b) {ret}")
                params[f"k{i}"] = group[0]
            else:
                parts.append(
                    f"UNWIND $k{i} AS k MATCH {self._node(near, kind, 'k')} OPTIONAL MATCH (a)-[e:{rel}]->(b) {ret}"
                )
                params[f"k{i}"] = group
        return [
            {"source": r["source"], "target": r["target"], "op": r["op"], "node": {f: r[f] for f in NODE_FIELDS}}
            for r in self._read(" UNION ALL ".join(parts), params)
            if r["key"] is not None
        ]

    def feeds(self, key: str, direction: Literal["upstream", "downstream"]) -> list[dict[str, Any]]:
        hop = "(o:Trace)-[:FEEDS]->(t)" if direction == "upstream" else "(t)-[:FEEDS]->(o:Trace)"
        rows = self._read(f"MATCH (t:Trace {{key: $key}}) MATCH {hop} RETURN {_props('o', TRACE_FIELDS)}", {"key": key})
        return sorted(rows, key=lambda r: r["key"])

    def stuck_files(self, before: str, limit: int) -> list[dict[str, Any]]:
        return self._read(
            f"MATCH (n:{LABELS['file']}) WHERE n.status IN ['received', 'stored'] AND coalesce(n.produced, false) = false "
            "AND n.last_at < $before RETURN n.key AS key, n.trace AS trace, n.last_at AS last_at "
            "ORDER BY last_at DESC, key LIMIT $limit",
            {"before": before, "limit": limit},
        )

    # -- relations --------------------------------------------------------------------------

    def relations_due(self, limit: int) -> list[DueNode]:
        due: list[DueNode] = []
        for kind in NODE_KINDS if self.kind_in_patterns else (None,):
            if len(due) >= limit:
                break
            label = LABELS[kind] if kind else self.common_label
            rows = self._read(
                f"MATCH (n:{label}) WHERE n.relations_due IS NOT NULL "
                "RETURN n.key AS key, n.kind AS kind, n.relations_due AS mark LIMIT $limit",
                {"limit": limit - len(due)},
            )
            due += [DueNode(r["key"], r["kind"], r["mark"]) for r in rows]
        return due

    def memberships(self, keys: list[str], kinds: list[str | None] | None = None) -> list[tuple[str, str]]:
        if not keys:
            return []
        parts, params = [], {}
        for i, (kind, group) in enumerate(self._by_table(keys, kinds, NODE_KINDS).items()):
            parts.append(
                f"UNWIND $k{i} AS k MATCH {self._node('n', kind, 'k')} OPTIONAL MATCH (t:Trace)-[:CONTAINS]->(n) "
                "RETURN n.key AS key, t.key AS trace"
            )
            params[f"k{i}"] = group
        return [(r["key"], r["trace"]) for r in self._read(" UNION ALL ".join(parts), params) if r["trace"] is not None]

    def add_relations(self, file_edges: list[FileEdge], feeds: list[tuple[str, str]], done: list[DueNode]) -> None:
        statements: list[Statement] = []
        groups: dict[tuple[str, str], list[FileEdge]] = {}
        for e in file_edges:
            groups.setdefault((e.source_kind, e.target_kind) if self.kind_in_patterns else ("", ""), []).append(e)
        for (skind, tkind), edges in groups.items():
            source, target = self._node("a", skind or None, "r.source"), self._node("b", tkind or None, "r.target")
            statements.append(
                (
                    f"UNWIND $rows AS r MATCH {source} MATCH {target} MERGE (a)-[:FILE_FLOWS_TO]->(b)",
                    {"rows": [{"source": e.source, "target": e.target} for e in edges]},
                )
            )
        if feeds:
            statements.append(
                (
                    "UNWIND $rows AS r MATCH (a:Trace {key: r.source}) MATCH (b:Trace {key: r.target}) "
                    "MERGE (a)-[:FEEDS]->(b)",
                    {"rows": [{"source": a, "target": b} for a, b in feeds]},
                )
            )
        for kind, nodes in groupby(sorted(done, key=lambda d: d.kind), key=lambda d: d.kind):
            node = self._node("n", kind if self.kind_in_patterns else None, "r.key")
            statements.append(
                (  # a node marked again since it was read keeps its new mark: its new flows are still due
                    f"UNWIND $rows AS r MATCH {node} WHERE n.relations_due = r.mark SET n.relations_due = NULL",
                    {"rows": [{"key": d.key, "mark": d.mark} for d in nodes]},
                )
            )
        if statements:
            self._write(statements)

    def mark_flows_unrelated(self) -> None:
        """A graph made before relations were derived has flows and no derived edge: mark every flow source
        due, once, so the batch app derives them (a graph that has derived edges is left as it is)."""
        for rel, source in (("FILE_FLOWS_TO", "(a)"), ("FEEDS", "(a:Trace)")):
            if self._read(f"MATCH {source}-[:{rel}]->() RETURN a.key AS key LIMIT 1", {}):
                return
        self._write([("MATCH (a)-[:FLOWS_TO]->() WHERE a.relations_due IS NULL SET a.relations_due = 'backfill'", {})])

    def query(self, cypher: str, params: dict[str, Any], row_limit: int, timeout: float) -> QueryResult:
        deadline = time.monotonic() + timeout  # parsing counts against the limit too
        check_query(cypher, params)
        return self._user_query(cypher, params, row_limit, max(0.001, deadline - time.monotonic()))

    @abstractmethod
    def _user_query(self, cypher: str, params: dict[str, Any], row_limit: int, timeout: float) -> QueryResult:
        """Run an untrusted query read-only, within `timeout` seconds end to end, `row_limit` rows and the
        adapter's byte cap (truncated=True when either cut the rows)."""

    @abstractmethod
    def clear(self) -> None: ...

    @abstractmethod
    def ping(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...


_TRACE_CONDITIONS = (  # TraceFilter field → condition on `t`, with the field as its parameter
    ("user", "t.user = $user"),
    ("status", "t.status = $status"),
    ("since", "t.last_at >= $since"),
    ("until", "t.first_at < $until"),
    ("has_drops", "coalesce(t.has_drops, false) = $has_drops"),
    ("last_before", "t.last_at < $last_before"),
)


def _trace_filter(filt: TraceFilter) -> tuple[list[str], dict[str, Any]]:
    """WHERE conditions (on `t`) and parameters of a trace filter."""
    where: list[str] = []
    params: dict[str, Any] = {}
    for name, condition in _TRACE_CONDITIONS:
        value = getattr(filt, name)
        if value is not None:
            where.append(condition)
            params[name] = value
    if filt.q:
        where.append(
            "(lower(t.key) CONTAINS $q OR lower(coalesce(t.name, '')) CONTAINS $q OR lower(coalesce(t.user, '')) CONTAINS $q)"
        )
        params["q"] = filt.q.lower()
    return where, params


def _node_row(n: NodeRow) -> dict[str, Any]:
    return {
        "key": n.key,
        "kind": n.kind,
        "trace": n.trace,
        "user": n.user,
        "name": n.name,
        "status": n.status,
        "rank": n.rank,
        "reason": n.reason,
        "code": n.code,
        "produced": n.produced,
        "first_at": n.first_at,
        "last_at": n.last_at,
    }


def _created_row(n: NodeRow) -> dict[str, Any]:
    """What `_merge_nodes_statement` leaves on a node that did not exist: no status (nor its reason and
    code) below rank 0, `produced` false rather than null."""
    ranked = n.rank >= 0
    return {
        "key": n.key,
        "kind": n.kind,
        "trace": n.trace,
        "user": n.user,
        "name": n.name,
        "status": n.status if ranked else None,
        "rank": n.rank if ranked else None,
        "reason": n.reason if ranked else None,
        "code": n.code if ranked else None,
        "produced": bool(n.produced),
        "first_at": n.first_at,
        "last_at": n.last_at,
    }


def _flow_row(f: FlowRow) -> dict[str, Any]:
    return {"source": f.source, "target": f.target, "op": f.op, "at": f.at}


def label_of(kind: str) -> str:
    return LABELS[kind]
