"""The GraphStore protocol: the lineage graph as the rest of the service sees it.

The graph is a projection of the event log (docs/architecture.md): it can always be rebuilt from events, so
every write is an idempotent merge. Nodes are labelled Trace, File, Data or Sink; a trace CONTAINS
its nodes; FLOWS_TO {op, at} links nodes. Derived by the batch app (backend/batch/relations.py), so that
"which input files made this output" and "which traces feed this one" are one hop: FILE_FLOWS_TO between
files and sinks joined by flows through data nodes only, and FEEDS from a trace to a trace that reads a node
it wrote. Times are fixed-width UTC text (see backend.domain.events.format_time), so text comparison is
time comparison in every backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from backend.errors import GraphError, QueryRejected, QueryTimeout
from graph.capabilities import Capabilities

__all__ = ["GraphError", "QueryRejected", "QueryTimeout"]  # the graph's errors, in the service's one tree

NODE_KINDS = ("file", "data", "sink")
LABELS = {"file": "File", "data": "Data", "sink": "Sink"}
NODE_FIELDS = (
    "key",
    "kind",
    "trace",
    "user",
    "name",
    "status",
    "reason",
    "code",
    "first_at",
    "last_at",
    "produced",
    "log_debug",
    "log_info",
    "log_warn",
    "log_error",
)
TRACE_FIELDS = (
    "key",
    "user",
    "name",
    "status",
    "first_at",
    "last_at",
    "has_drops",
    "started_at",  # when its earliest trace.started came (None: none came yet)
    "log_debug",
    "log_info",
    "log_warn",
    "log_error",
)

# Statuses only move forward: the highest rank seen wins, whatever order events arrive in.
NODE_STATUS_RANK = {"received": 0, "stored": 1, "written": 2, "converted": 3, "dropped": 4, "expired": 5, "deleted": 6}
TRACE_STATUS_RANK = {"open": 0, "ended": 1}

Direction = Literal["upstream", "downstream", "both"]


@dataclass
class TraceRow:
    key: str
    user: str | None = None
    name: str | None = None
    started: bool = False  # True when the row comes from trace.started: the earliest one names user and name
    started_at: str | None = None  # time of that trace.started
    status: str = "open"
    first_at: str | None = None
    last_at: str | None = None


@dataclass
class NodeRow:
    key: str
    kind: str
    trace: str | None = None
    user: str | None = None
    name: str | None = None
    status: str | None = None
    reason: str | None = None
    code: str | None = None
    produced: bool = False  # the node is the output of a flow
    first_at: str | None = None
    last_at: str | None = None

    @property
    def rank(self) -> int:
        return -1 if self.status is None else NODE_STATUS_RANK[self.status]


@dataclass(frozen=True)
class FlowRow:
    source: str
    source_kind: str
    target: str
    target_kind: str
    op: str
    at: str


@dataclass(frozen=True)
class LogCounts:
    """Absolute log counts of a node (kind given) or a trace (kind None): setting them is idempotent."""

    key: str
    kind: str | None
    debug: int = 0
    info: int = 0
    warn: int = 0
    error: int = 0


@dataclass(frozen=True)
class Membership:
    """A node of the batch also belongs to this trace (its row names only the first trace it met)."""

    trace: str
    kind: str
    key: str


@dataclass(frozen=True)
class DropRow:
    """A trace's event dropped this node: the drop is charged to that trace (the trace's summary, its
    has_drops flag), whichever trace owns the node. The earliest drop of a node by a trace gives the reason."""

    trace: str
    kind: str
    key: str
    reason: str | None
    code: str | None
    at: str


@dataclass(frozen=True)
class UserFill:
    """A node's user set from the trace that owns it (the node's `trace`): `user` in place of `was` (None: the
    node had no user)."""

    trace: str
    kind: str
    key: str
    user: str
    was: str | None = None


@dataclass
class GraphBatch:
    traces: list[TraceRow] = field(default_factory=list)
    nodes: list[NodeRow] = field(default_factory=list)
    flows: list[FlowRow] = field(default_factory=list)
    log_counts: list[LogCounts] = field(default_factory=list)
    memberships: list[Membership] = field(default_factory=list)
    drops: list[DropRow] = field(default_factory=list)

    def __len__(self) -> int:
        return (
            len(self.traces)
            + len(self.nodes)
            + len(self.flows)
            + len(self.log_counts)
            + len(self.memberships)
            + len(self.drops)
        )


@dataclass(frozen=True)
class DueNode:
    """A node whose outgoing flows changed since its relations were derived: `apply` stamps the source of
    every flow it merges with a fresh `mark`; deriving clears the mark only if it is still that one."""

    key: str
    kind: str
    mark: str


@dataclass(frozen=True)
class FileEdge:
    """A file-level lineage edge: data flows lead from `source` to `target` (files or sinks) through data
    nodes only (FILE_FLOWS_TO)."""

    source: str
    source_kind: str
    target: str
    target_kind: str


FILE_LEVEL_KINDS = ("file", "sink")
FILE_LEVEL_OP = "via data"  # the op of a file-level edge in lineage answers


@dataclass(frozen=True)
class TraceFilter:
    user: str | None = None
    status: str | None = None
    since: str | None = None
    until: str | None = None
    q: str | None = None
    has_drops: bool | None = None  # the trace's own events dropped something (True), or nothing (False)
    last_before: str | None = None  # the trace's last event is before this time


@dataclass
class Subgraph:
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    truncated: bool = False


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool


class GraphStore(Protocol):
    """Lineage graph storage.

    Guarantees every adapter keeps (tests/contract/test_graph_store.py checks them):
    - ``apply`` is idempotent: applying the same batch twice, or overlapping batches in any order,
      gives the same graph. Node status is the highest-ranked status seen.
    - ``apply`` is atomic and durable on return: the batch is committed as one transaction.
    - Reads return plain dicts/lists owned by the caller; nothing is shared with the store.
    - ``query`` runs untrusted Cypher safely: only what the sandbox's grammar allows (graph/sandbox.py: read
      clauses, an allow-list of functions, no procedures, bounded length and nesting, plain parameters)
      reaches the engine, anything else fails with QueryRejected, and it runs read-only. Its answer stops
      at ``row_limit`` rows or the adapter's byte cap (truncated=True); past ``timeout`` seconds, counted
      from the call to the last row, it fails with QueryTimeout. A query that crashes or exhausts the engine
      fails with QueryRejected and costs nothing else: ingestion (``apply``) never waits on a user query.
    - ``trace_graph`` with a ``limit`` returns at most ``limit`` nodes and ``limit`` edges, truncated=True
      when the trace has more.
    - ``apply`` stamps the source node of every flow it merges (``relations_due``), in the same transaction,
      so derived relations can follow every new flow; ``clear`` removes the derived edges too.
    - An unreachable or failing store raises GraphError (a 503 to API callers), never a driver exception.
    """

    capabilities: Capabilities

    def apply(self, batch: GraphBatch) -> None: ...

    def trace(self, key: str) -> dict[str, Any] | None: ...

    def list_traces(self, filt: TraceFilter, limit: int, after: tuple[str, str] | None) -> list[dict[str, Any]]: ...

    def count_traces(self, filt: TraceFilter) -> int:
        """How many traces `list_traces` would give over all its pages."""
        ...

    def trace_graph(self, key: str, limit: int | None = None) -> Subgraph:
        """The trace's nodes (NODE_FIELDS plus `dropped_here`: this trace's events dropped it, and `drop_reason`:
        the reason they gave) and its FLOWS_TO edges."""
        ...

    def trace_counts(self, keys: list[str]) -> list[dict[str, Any]]:
        """Per trace, node counts grouped by (kind, status, produced, dropped_here, reason, code): `dropped_here`,
        `reason` and `code` say whether that trace's events dropped the node and why (DropRow)."""
        ...

    def node(self, key: str) -> dict[str, Any] | None: ...

    def fill_users(self, traces: list[str], refill: list[UserFill] | None = None) -> list[UserFill]:
        """Nodes owned by these traces that have no user get their trace's user. `refill`: earlier fills; a node
        that still has the user a fill gave it gets its owner's user when that differs now (a late trace.started
        named another). Returns the fills it made; idempotent (a second call makes none), and a node that got a
        user of its own meanwhile keeps it."""
        ...

    def neighbours(
        self, keys: list[str], direction: Literal["upstream", "downstream"], kinds: list[str | None] | None = None
    ) -> list[dict[str, Any]]:
        """One hop along FLOWS_TO from each key: rows {source, target, op, node:{...the far node}}. `kinds`: the
        kind of each key where the caller knows it (None: unknown); a store with a table per kind then looks
        the key up in that table alone. The answer is the same with or without them."""
        ...

    def query(self, cypher: str, params: dict[str, Any], row_limit: int, timeout: float) -> QueryResult: ...

    # -- relations (backend/batch/relations.py derives them) ------------------------------------------

    def relations_due(self, limit: int) -> list[DueNode]:
        """At most `limit` nodes whose outgoing flows changed since their relations were last derived."""
        ...

    def memberships(self, keys: list[str], kinds: list[str | None] | None = None) -> list[tuple[str, str]]:
        """(node key, trace key) for every trace that CONTAINS each node; `kinds` as in `neighbours`."""
        ...

    def add_relations(self, file_edges: list[FileEdge], feeds: list[tuple[str, str]], done: list[DueNode]) -> None:
        """Merge FILE_FLOWS_TO edges and FEEDS edges (upstream trace, downstream trace) whose ends exist, and
        clear the mark of each `done` node that still carries the mark it was read with (a node marked again
        since stays due). Idempotent; atomic and durable on return, like `apply`."""
        ...

    def file_neighbours(
        self, keys: list[str], direction: Literal["upstream", "downstream"], kinds: list[str | None] | None = None
    ) -> list[dict[str, Any]]:
        """One hop along FILE_FLOWS_TO, rows as `neighbours` gives them with op FILE_LEVEL_OP."""
        ...

    def feeds(self, key: str, direction: Literal["upstream", "downstream"]) -> list[dict[str, Any]]:
        """The traces (TRACE_FIELDS) that FEED this one (upstream) or that it feeds (downstream), by key."""
        ...

    def stuck_files(self, before: str, limit: int) -> list[dict[str, Any]]:
        """Files that came in (not produced by a flow) and got no further than received or stored, whose last
        event is before `before`: {key, trace, last_at}, the most recent first, at most `limit`."""
        ...

    def clear(self) -> None:
        """Remove every node and relationship (before a rebuild from the event log)."""
        ...

    def ping(self) -> None:
        """Raise if the store cannot be reached."""
        ...

    def close(self) -> None: ...
