"""A GraphStore whose writes take turns: every process and thread writing one Neo4j graph (API replicas,
workers; in each, the request path, the projector and the drainer) merges under one lock, so their merges
never deadlock on the same nodes and never spend their time in the driver's deadlock retries. Reads are not
serialised. Waiting for the lock is bounded: a merge that cannot get it in time fails with GraphError, like
an unreachable graph (its events stay stored and unprojected; the projector merges them)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Literal

from graph.base import DueNode, FileEdge, GraphBatch, GraphStore, QueryResult, Subgraph, TraceFilter, UserFill

WriteLock = Callable[[], AbstractContextManager[None]]


class SerializedWrites:
    def __init__(self, inner: GraphStore, lock: WriteLock) -> None:
        self.inner = inner
        self.capabilities = inner.capabilities
        self._lock = lock

    def apply(self, batch: GraphBatch) -> None:
        with self._lock():
            self.inner.apply(batch)

    def clear(self) -> None:
        with self._lock():
            self.inner.clear()

    def add_relations(self, file_edges: list[FileEdge], feeds: list[tuple[str, str]], done: list[DueNode]) -> None:
        with self._lock():
            self.inner.add_relations(file_edges, feeds, done)

    def relations_due(self, limit: int) -> list[DueNode]:
        return self.inner.relations_due(limit)

    def memberships(self, keys: list[str], kinds: list[str | None] | None = None) -> list[tuple[str, str]]:
        return self.inner.memberships(keys, kinds)

    def file_neighbours(
        self, keys: list[str], direction: Literal["upstream", "downstream"], kinds: list[str | None] | None = None
    ) -> list[dict[str, Any]]:
        return self.inner.file_neighbours(keys, direction, kinds)

    def feeds(self, key: str, direction: Literal["upstream", "downstream"]) -> list[dict[str, Any]]:
        return self.inner.feeds(key, direction)

    def stuck_files(self, before: str, limit: int) -> list[dict[str, Any]]:
        return self.inner.stuck_files(before, limit)

    def trace(self, key: str) -> dict[str, Any] | None:
        return self.inner.trace(key)

    def list_traces(self, filt: TraceFilter, limit: int, after: tuple[str, str] | None) -> list[dict[str, Any]]:
        return self.inner.list_traces(filt, limit, after)

    def count_traces(self, filt: TraceFilter) -> int:
        return self.inner.count_traces(filt)

    def trace_graph(self, key: str, limit: int | None = None) -> Subgraph:
        return self.inner.trace_graph(key, limit)

    def trace_counts(self, keys: list[str]) -> list[dict[str, Any]]:
        return self.inner.trace_counts(keys)

    def fill_users(self, traces: list[str], refill: list[UserFill] | None = None) -> list[UserFill]:
        with self._lock():
            return self.inner.fill_users(traces, refill)

    def node(self, key: str) -> dict[str, Any] | None:
        return self.inner.node(key)

    def neighbours(
        self, keys: list[str], direction: Literal["upstream", "downstream"], kinds: list[str | None] | None = None
    ) -> list[dict[str, Any]]:
        return self.inner.neighbours(keys, direction, kinds)

    def query(self, cypher: str, params: dict[str, Any], row_limit: int, timeout: float) -> QueryResult:
        return self.inner.query(cypher, params, row_limit, timeout)

    def ping(self) -> None:
        self.inner.ping()

    def close(self) -> None:
        self.inner.close()
